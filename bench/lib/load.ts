import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AUTOCANNON = `${ROOT}node_modules/autocannon/autocannon.js`;

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  connections?: number;
  durationSeconds?: number;
  /** Fixed request rate for latency at a given load; omit for "as fast as it goes". */
  rate?: number;
  pipelining?: number;
  /** Called with the load generator's pid once it runs (to watch its CPU). */
  onStart?: (pid: number) => void;
}

export interface LoadResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** Drives load from a separate autocannon process, so the load generator does not share our event loop. */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const args = [
    AUTOCANNON,
    '--json',
    '-c',
    String(opts.connections ?? 50),
    '-d',
    String(opts.durationSeconds ?? 10),
    '-p',
    String(opts.pipelining ?? 1),
    '-m',
    opts.method ?? 'GET',
  ];
  if (opts.rate) args.push('-R', String(opts.rate));
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (opts.body !== undefined) args.push('-b', opts.body);
  args.push(opts.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) opts.onStart?.(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
      };
      resolve({
        requestsPerSecond: r.requests.average,
        latencyP50Ms: r.latency.p50,
        latencyP99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        total: r.requests.total,
      });
    });
  });
}

/** Starts a TypeScript entrypoint as a child process and resolves once it prints `ready` (a regex). */
export function startProcess(
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    // BENCH_CPU_PROF_DIR=<dir> writes a V8 CPU profile of each service process there, to see where a figure goes.
    const profile = process.env.BENCH_CPU_PROF_DIR;
    const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    const child = spawn(process.execPath, [...profiling, '--import', 'tsx', entry], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not get ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      });
    let tail = '';
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        tail = `${tail}\n${line}`.slice(-4000);
        const match = line.match(ready);
        if (match) {
          clearTimeout(timer);
          resolve({ child, match, stop });
        }
      });
    }
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before it was ready:${tail}`));
    });
  });
}

/** Resident set size of a process in MB, now or at its highest so far, from /proc (Linux). */
export async function rssMb(pid: number, which: 'now' | 'peak' = 'now'): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = which === 'peak' ? /VmHWM:\s+(\d+)/ : /VmRSS:\s+(\d+)/;
  const kb = Number(field.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** Resolves with the first line of the child's stdout matching `pattern` from now on. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let partial = '';
    // A listener of our own rather than a second readline: closing one would pause the shared stream.
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = line.match(pattern);
        if (match) return finish(undefined, match);
      }
    };
    const onExit = (code: number | null) => finish(new Error(`process ${child.pid} exited (${code}) first`));
    const timer = setTimeout(
      () => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function finish(err: Error | undefined, match?: RegExpMatchArray) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(match!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}
