/**
 * The local stack's one command line: `start` (foreground, Ctrl-C stops everything), `up`
 * (background, returns once every service is ready), `down`, `status`, `migrate`, `test`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { envInt, envPort, parseEnv, z } from '@tidemark/config';
import { isAlive, commandLine, stopPid } from './engines/process';
import { localSecrets, migrate, REPO_ROOT, startEngines, type Engines } from './stack';
import {
  SERVICE_NAMES,
  startServiceAttached,
  startServiceDetached,
  type RunningService,
  type ServiceName,
} from './services';

const cliEnv = z.object({
  TIDEMARK_DIR: z.string().default('.tidemark/local'),
  API_PORT: envPort(3000),
  INGEST_PORT: envPort(3001),
  CONSUMER_PORT: envPort(3002),
  WORKER_PORT: envPort(3003),
  KAFKA_PORT: envPort(9092),
  KAFKA_CONTROLLER_PORT: envPort(9093),
  CLICKHOUSE_PORT: envPort(8123),
  REDIS_PORT: envPort(6379),
  POSTGRES_PORT: envPort(5432),
  DATABASE_URL: z.url().optional(),
  REDIS_URL: z.url().optional(),
  CLICKHOUSE_URL: z.url().optional(),
  KAFKA_BROKERS: z.string().optional(),
  CLICKHOUSE_DATABASE: z.string().default('tidemark'),
  REDIS_PREFIX: z.string().default('tidemark'),
  RAW_RETENTION_DAYS: envInt(90, { min: 1 }),
});

type CliConfig = z.infer<typeof cliEnv>;

interface StateFile {
  /** Every process this stack started, in start order; `down` stops them in reverse. */
  processes: { name: string; pid: number; url: string }[];
  env: Record<string, string>;
}

const log = (message: string) => console.log(`[tidemark] ${message}`);

function stackDir(config: CliConfig) {
  return resolve(REPO_ROOT, config.TIDEMARK_DIR);
}

function readState(dir: string): StateFile | undefined {
  const file = join(dir, 'stack.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StateFile;
}

const servicePort = (config: CliConfig, name: ServiceName) =>
  ({
    api: config.API_PORT,
    ingest: config.INGEST_PORT,
    consumer: config.CONSUMER_PORT,
    worker: config.WORKER_PORT,
  })[name];

async function bringUpEngines(config: CliConfig): Promise<Engines> {
  const dir = stackDir(config);
  return startEngines({
    dir,
    ports: {
      kafka: config.KAFKA_PORT,
      kafkaController: config.KAFKA_CONTROLLER_PORT,
      clickhouse: config.CLICKHOUSE_PORT,
      redis: config.REDIS_PORT,
      postgres: config.POSTGRES_PORT,
    },
    databaseUrl: config.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${config.POSTGRES_PORT}/tidemark`,
    redisUrl: config.REDIS_URL ?? `redis://127.0.0.1:${config.REDIS_PORT}`,
    clickhouseUrl: config.CLICKHOUSE_URL ?? `http://127.0.0.1:${config.CLICKHOUSE_PORT}`,
    kafkaBrokers: config.KAFKA_BROKERS,
    clickhouseDatabase: config.CLICKHOUSE_DATABASE,
    redisPrefix: config.REDIS_PREFIX,
    topicEvents: 'tidemark.events.v1',
    topicDlq: 'tidemark.events.dlq',
    rawRetentionDays: config.RAW_RETENTION_DAYS,
    reuseClickHouse: true,
    logger: { info: log },
  });
}

/** Refuses to start a second copy over a running one, and clears a state file left by a crash. */
function checkNotRunning(dir: string): StateFile | undefined {
  const state = readState(dir);
  if (!state) return undefined;
  const alive = state.processes.filter((p) => isAlive(p.pid));
  if (alive.length > 0) return state;
  rmSync(join(dir, 'stack.json'), { force: true });
  return undefined;
}

function printUrls(services: { name: string; url: string }[], env: Record<string, string>) {
  log('the stack is ready:');
  for (const s of services) {
    const what =
      s.name === 'api'
        ? ' (dashboard at /, API under /api/v1, OpenAPI at /docs)'
        : s.name === 'ingest'
          ? ' (tracker at /js/script.js)'
          : '';
    log(`  ${s.name.padEnd(9)} ${s.url}${what}`);
  }
  log(`  kafka     ${env.KAFKA_BROKERS}`);
  log(`  clickhouse ${env.CLICKHOUSE_URL}`);
  log(`  postgres  ${env.DATABASE_URL}`);
  log(`  redis     ${env.REDIS_URL}`);
}

async function up(config: CliConfig, attached: boolean) {
  const dir = stackDir(config);
  const running = checkNotRunning(dir);
  if (running) {
    log(`already running (state in ${join(dir, 'stack.json')}); \`npm run down\` stops it`);
    printUrls(
      running.processes.filter((p) => (SERVICE_NAMES as readonly string[]).includes(p.name)),
      running.env,
    );
    return;
  }
  log('building the dashboard...');
  const { buildDashboard } = await import('../../../services/api/dashboard/build');
  await buildDashboard();
  const engines = await bringUpEngines(config);
  const env = {
    ...engines.env,
    ...localSecrets(dir),
    NODE_ENV: 'development',
    // The dashboard's tracker snippet points browsers at this ingest.
    PUBLIC_INGEST_URL: `http://127.0.0.1:${config.INGEST_PORT}`,
  };
  const services: RunningService[] = [];
  const writeState = () => {
    const state: StateFile = {
      processes: [
        ...engines.engines.filter((e) => e.pid).map((e) => ({ name: e.name, pid: e.pid!, url: e.url })),
        ...services.map((s) => ({ name: s.name, pid: s.pid, url: s.url })),
      ],
      env,
    };
    writeFileSync(join(dir, 'stack.json'), JSON.stringify(state, null, 2));
  };
  const stopAll = async () => {
    for (const s of [...services].reverse()) await s.stop().catch(() => {});
    await engines.stop();
    rmSync(join(dir, 'stack.json'), { force: true });
  };
  writeState();
  try {
    // The api first (it owns the metadata), the consumer before ingest so nothing waits in Kafka.
    for (const name of ['api', 'consumer', 'worker', 'ingest'] as const) {
      const launchOpts = { name, port: servicePort(config, name), env };
      services.push(
        attached ? await startServiceAttached(launchOpts) : await startServiceDetached(launchOpts, dir),
      );
      writeState();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  printUrls(services, env);
  if (!attached) {
    log(`running in the background; logs in ${join(dir, 'logs')}; \`npm run down\` stops it`);
    return;
  }
  log('press Ctrl-C to stop');
  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      log('stopping...');
      void stopAll().then(resolveStop);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log('stopped');
}

async function down(config: CliConfig) {
  const dir = stackDir(config);
  const state = readState(dir);
  if (!state) {
    log('nothing to stop');
    return;
  }
  for (const p of [...state.processes].reverse()) {
    // Only signal a pid that still runs one of our commands: pids are reused after a reboot.
    const cmd = commandLine(p.pid) ?? '';
    if (!isAlive(p.pid) || !/node|java/.test(cmd)) continue;
    log(`stopping ${p.name} (pid ${p.pid})`);
    await stopPid(p.pid, { timeoutMs: 20_000 });
  }
  rmSync(join(dir, 'stack.json'), { force: true });
  log('stopped');
}

function status(config: CliConfig) {
  const state = readState(stackDir(config));
  if (!state) {
    log('not running');
    return;
  }
  for (const p of state.processes)
    log(`${p.name.padEnd(10)} pid ${p.pid} ${isAlive(p.pid) ? 'running' : 'gone'} ${p.url}`);
}

function runTests(args: string[]): Promise<number> {
  return new Promise((resolveExit) => {
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args],
      {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      },
    );
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const [command = 'start', ...rest] = process.argv.slice(2);
  const config = parseEnv(cliEnv);
  switch (command) {
    case 'start':
      return up(config, true);
    case 'up':
      return up(config, false);
    case 'down':
      return down(config);
    case 'status':
      return status(config);
    case 'migrate': {
      const env = {
        DATABASE_URL: config.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${config.POSTGRES_PORT}/tidemark`,
        CLICKHOUSE_URL: config.CLICKHOUSE_URL ?? `http://127.0.0.1:${config.CLICKHOUSE_PORT}`,
        CLICKHOUSE_DATABASE: config.CLICKHOUSE_DATABASE,
        RAW_RETENTION_DAYS: String(config.RAW_RETENTION_DAYS),
      };
      const applied = await migrate(env);
      log(`postgres: ${applied.postgres.length ? applied.postgres.join(', ') : 'up to date'}`);
      log(`clickhouse: ${applied.clickhouse.length ? applied.clickhouse.join(', ') : 'up to date'}`);
      return;
    }
    case 'test':
      process.exitCode = await runTests(rest);
      return;
    default:
      console.error(`unknown command ${command}; use start, up, down, status, migrate or test`);
      process.exitCode = 2;
  }
}

main().catch((err: Error) => {
  console.error(`[tidemark] ${err.message}`);
  process.exit(1);
});
