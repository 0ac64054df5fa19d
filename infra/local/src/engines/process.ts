import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  fstatSync,
  statSync,
} from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Absolute path of the first executable called `name` in `dirs` (by default the PATH). */
export function findExecutable(
  name: string,
  dirs: string[] = (process.env.PATH ?? '').split(delimiter).filter(Boolean),
): string | undefined {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion; rejects with its combined output when it exits non-zero. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8').trim();
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} ${describeExit(code, signal)}${output ? `:\n${output}` : ''}`,
          ),
        );
    });
  });
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export interface DetachedProcess {
  pid: number;
  /** Why the process ended, or undefined while it runs. */
  exitStatus(): string | undefined;
}

/**
 * Starts a process in its own process group with stdout and stderr appended to `logFile`, so it
 * outlives a Ctrl-C of the launcher and never writes to the launcher's terminal.
 */
export async function spawnDetached(
  command: string,
  args: string[],
  options: RunOptions & { logFile: string },
): Promise<DetachedProcess> {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    let exit: string | undefined;
    child.once('exit', (code, signal) => {
      exit = describeExit(code, signal);
    });
    child.unref();
    return { pid: child.pid as number, exitStatus: () => exit };
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still accepts signal 0, and nothing reaps orphans when PID 1 is not a real init.
  return procStat(pid)?.state !== 'Z';
}

function procStat(pid: number): { state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may itself contain spaces and parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state ? { state } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The command line of a live process (Linux), used to tell our process from a reused pid.
 * Undefined for a process that is gone, and for a zombie, whose cmdline is empty.
 */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface StopOptions {
  signal?: NodeJS.Signals;
  timeoutMs?: number;
}

/** Sends `signal`, waits up to `timeoutMs` for the process to exit, then SIGKILLs it. */
export async function stopPid(
  pid: number,
  { signal = 'SIGTERM', timeoutMs = 15_000 }: StopOptions = {},
): Promise<void> {
  if (!isAlive(pid)) return;
  signalPid(pid, signal);
  if (await waitForExit(pid, timeoutMs)) return;
  signalPid(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`process ${pid} is still running after SIGKILL`);
}

export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFile(path, `${pid}\n`);
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Current size of a log file, to later read only what a new run appended; 0 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What was appended to a log file after byte `fromOffset`, at most its last 1 MiB. */
function readLogSince(path: string, fromOffset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(fromOffset, size - 1024 * 1024, 0);
    const buffer = Buffer.alloc(Math.max(size - start, 0));
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8').trimEnd();
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines a log file received after byte `fromOffset`. */
export function tailFile(path: string, lines = 30, fromOffset = 0): string {
  return readLogSince(path, fromOffset).split('\n').slice(-lines).join('\n');
}

/**
 * The part of a log worth putting in a start-up error: the first ERROR/FATAL lines of this run
 * (a failing JVM logs its cause, then pages of shutdown noise) and its last 30 lines.
 */
export function logExcerpt(path: string, fromOffset: number): string {
  const errors = readLogSince(path, fromOffset)
    .split('\n')
    .filter((line) => /\b(ERROR|FATAL)\b/.test(line))
    .slice(0, 3);
  const first = errors.length > 0 ? `--- first errors in ${path} ---\n${errors.join('\n')}\n` : '';
  return `${first}--- last lines of ${path} ---\n${tailFile(path, 30, fromOffset)}`;
}

export interface WaitOptions {
  timeoutMs: number;
  /** What is being waited for, for the timeout message. */
  what: string;
  intervalMs?: number;
  /** Returns a reason to give up at once, e.g. the process being waited on has exited. */
  abortIf?: () => string | undefined;
}

/** Calls `probe` until it resolves; it signals "not ready yet" by throwing. */
export async function waitFor<T>(probe: () => Promise<T>, options: WaitOptions): Promise<T> {
  const { timeoutMs, what, intervalMs = 250, abortIf } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = abortIf?.();
    if (aborted) throw new Error(`gave up waiting for ${what}: ${aborted}`);
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${reason}`);
    }
    await sleep(intervalMs);
  }
}

export interface LaunchOptions extends RunOptions {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  /** Human-readable name for error messages, e.g. "Kafka broker on 127.0.0.1:9092". */
  what: string;
  /** Resolves once the process serves requests; should pass `abortIf` on to `waitFor`. */
  ready: (abortIf: () => string | undefined) => Promise<void>;
  stop?: StopOptions;
}

export interface LaunchedProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Spawns a long-running engine, records its pid file and waits until it is ready. A process that
 * fails to get ready is killed, and the error carries what it logged.
 */
export async function launch(options: LaunchOptions): Promise<LaunchedProcess> {
  const { command, args, logFile, pidFile, what, ready, cwd, env } = options;
  const logStart = fileSize(logFile);
  const child = await spawnDetached(command, args, { cwd, env, logFile });
  const stop = async (): Promise<void> => {
    await stopPid(child.pid, options.stop);
    await rm(pidFile, { force: true });
  };
  await writePidFile(pidFile, child.pid);
  try {
    await ready(child.exitStatus);
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${what} did not start: ${reason}\n${logExcerpt(logFile, logStart)}`, { cause: error });
  }
  return { pid: child.pid, stop };
}
