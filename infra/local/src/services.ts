import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { launch, stopPid, waitFor } from './engines/process';
import { REPO_ROOT } from './stack';

export const SERVICE_NAMES = ['api', 'ingest', 'consumer', 'worker'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface RunningService {
  name: ServiceName;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const entrypoint = (name: ServiceName) => join(REPO_ROOT, 'services', name, 'src', 'main.ts');

async function ready(url: string): Promise<void> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
  if (res.status !== 200) throw new Error(`/readyz answered ${res.status}: ${await res.text()}`);
}

export interface ServiceLaunch {
  name: ServiceName;
  port: number;
  env: Record<string, string>;
}

/** A service in the background, its output in `<dir>/logs/<name>.log` (`npm run up`). */
export async function startServiceDetached(s: ServiceLaunch, dir: string): Promise<RunningService> {
  const url = `http://127.0.0.1:${s.port}`;
  const proc = await launch({
    command: process.execPath,
    args: ['--import', 'tsx', entrypoint(s.name)],
    cwd: REPO_ROOT,
    env: { ...process.env, ...s.env, PORT: String(s.port) },
    logFile: join(dir, 'logs', `${s.name}.log`),
    pidFile: join(dir, `${s.name}.pid`),
    what: `${s.name} service on ${url}`,
    ready: (abortIf) => waitFor(() => ready(url), { timeoutMs: 90_000, what: `${url}/readyz`, abortIf }),
  });
  return { name: s.name, url, pid: proc.pid, stop: proc.stop };
}

/** A service in the foreground, its log lines prefixed with its name on our terminal (`npm start`). */
export async function startServiceAttached(s: ServiceLaunch): Promise<RunningService> {
  const url = `http://127.0.0.1:${s.port}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entrypoint(s.name)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...s.env, PORT: String(s.port), LOG_FORMAT: 'pretty' },
    // Its own process group: a Ctrl-C reaches the launcher, which then stops services in order.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${s.name}] ${line}\n`));
  }
  const pid = child.pid!;
  const stop = () => stopPid(pid, { timeoutMs: 20_000 });
  try {
    await waitFor(() => ready(url), {
      timeoutMs: 90_000,
      what: `${s.name} at ${url}/readyz`,
      abortIf: () => exit,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: s.name, url, pid, stop };
}
