import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { reusedEngine, type RunningEngine } from './engine';
import { fileSize, findExecutable, logExcerpt, run, stopPid } from './process';

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) throw new Error(`${url} names no database`);
  return name;
}

async function withMaintenanceClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 2_000 });
  // A server shutting down while we are connected would otherwise crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

const duplicateDatabase = '42P04';
const objectInUse = '55006';

function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/** Creates the database `url` names unless it exists. */
export async function createDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withMaintenanceClient(url, async (client) => {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount) return;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } catch (error) {
      // Another process created it between our check and CREATE.
      if (sqlState(error) !== duplicateDatabase) throw error;
    }
  });
}

/** Drops the database `url` names, disconnecting its other sessions first. */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  if (['postgres', 'template0', 'template1'].includes(name))
    throw new Error(`refusing to drop the ${name} database`);
  await withMaintenanceClient(url, async (client) => {
    for (let attempt = 1; ; attempt++) {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
        return;
      } catch (error) {
        // A pool may reconnect between the terminate and the drop.
        if (sqlState(error) !== objectInUse || attempt === 5) throw error;
      }
    }
  });
}

/** True when a server answers at the url's host and port; throws when it answers with an error. */
async function isServerUp(url: string): Promise<boolean> {
  try {
    await withMaintenanceClient(url, async () => {});
    return true;
  } catch (error) {
    if (error instanceof pg.DatabaseError) {
      throw new Error(`PostgreSQL at ${new URL(url).host} refused the connection: ${error.message}`, {
        cause: error,
      });
    }
    return false;
  }
}

/** initdb and pg_ctl of one PostgreSQL version: the newest Debian install, else the ones in PATH. */
export function findPostgresBinaries(): { initdb: string; pgCtl: string } | undefined {
  const debianRoot = '/usr/lib/postgresql';
  const versions = existsSync(debianRoot)
    ? readdirSync(debianRoot).sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  for (const dir of versions.map((version) => join(debianRoot, version, 'bin'))) {
    const initdb = findExecutable('initdb', [dir]);
    const pgCtl = findExecutable('pg_ctl', [dir]);
    if (initdb && pgCtl) return { initdb, pgCtl };
  }
  const initdb = findExecutable('initdb');
  const pgCtl = findExecutable('pg_ctl');
  return initdb && pgCtl ? { initdb, pgCtl } : undefined;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export interface PostgresOptions {
  /** Reused when a server answers at its host and port (DATABASE_URL); its database is created if missing. */
  url: string;
  /** Holds the cluster (dataDir/data), its log and its Unix socket when we start one. */
  dataDir: string;
  /** Port for a server we start. */
  port: number;
}

/**
 * Reuses the PostgreSQL server at `url` when one answers, else initialises (once) and starts a
 * cluster in dataDir on `port`. Either way the url's database exists afterwards.
 */
export async function ensurePostgres({ url, dataDir, port }: PostgresOptions): Promise<RunningEngine> {
  if (await isServerUp(url)) {
    await createDatabase(url);
    return reusedEngine('postgres', url);
  }

  const binaries = findPostgresBinaries();
  if (!binaries) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(url).host} and no PostgreSQL server binaries (initdb, pg_ctl) are ` +
        'installed. Install them (apt-get install postgresql) or set DATABASE_URL to a reachable server.',
    );
  }

  const localUrl = new URL(url);
  localUrl.hostname = '127.0.0.1';
  localUrl.port = String(port);
  const superuser = decodeURIComponent(localUrl.username) || 'postgres';
  const clusterDir = join(dataDir, 'data');
  const logFile = join(dataDir, 'postgres.log');

  // PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user.
  const asRoot = process.getuid?.() === 0;
  const asServerUser = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);

  await mkdir(dataDir, { recursive: true });
  if (asRoot) {
    await run('chown', ['-R', 'postgres:', dataDir]);
    await asServerUser('test', ['-w', dataDir]).catch(() => {
      throw new Error(
        `the postgres OS user cannot write to ${dataDir}; its parent folders must be world-searchable`,
      );
    });
  }
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await asServerUser(binaries.initdb, [
      '-D',
      clusterDir,
      '-U',
      superuser,
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
      // A throw-away development cluster does not need initdb to fsync every file.
      '--no-sync',
    ]);
  }

  const serverOptions = `-p ${port} -k ${shellQuote(dataDir)} -c listen_addresses=127.0.0.1`;
  const logStart = fileSize(logFile);
  try {
    await asServerUser(binaries.pgCtl, [
      '-D',
      clusterDir,
      '-l',
      logFile,
      '-o',
      serverOptions,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`PostgreSQL did not start on port ${port}: ${reason}\n${logExcerpt(logFile, logStart)}`, {
      cause: error,
    });
  }

  // The first line of postmaster.pid is the postmaster's pid; pg_ctl has already daemonised it.
  const pid = Number.parseInt(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8'), 10);
  // SIGINT is PostgreSQL's "fast" shutdown: SIGTERM would wait for every client to disconnect.
  const stop = () => stopPid(pid, { signal: 'SIGINT', timeoutMs: 30_000 });
  try {
    await createDatabase(localUrl.toString());
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: 'postgres', url: localUrl.toString(), pid, stop };
}
