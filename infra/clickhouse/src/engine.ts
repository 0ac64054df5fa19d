import { mkdir } from 'node:fs/promises';
import { drainPending, Session, type SessionOptions } from 'chdb';
import type { Logger } from 'pino';
import { quoteIdentifier, quoteString } from './sql';

/** What one HTTP request sets on the engine; none of it may outlive the request. */
export interface RequestScope {
  database: string;
  settings: ReadonlyMap<string, string>;
  params: ReadonlyMap<string, string>;
  /** Settings the statement itself assigns (a `SET` sent as the query), undone like the others. */
  assigned: readonly string[];
}

/** Runs tasks one at a time in arrival order. */
class FifoLock {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await task();
    } finally {
      release();
    }
  }
}

// `implicit_select` is on in chdb only; a server would reject `SELECT`-less queries.
const SESSION_OPTIONS: SessionOptions = { connectionArgs: ['--implicit_select=0'] };

/**
 * One chdb session: the engine is a process-wide singleton bound to one data directory, and a
 * session is its only connection. Settings, query parameters and the current database are state
 * of that connection, so every request runs alone (chdb runs a session's queries one at a time
 * anyway), sets its own state first and undoes it afterwards. That is what keeps a setting such as
 * `insert_deduplication_token` from riding along on the next request, as it would with
 * `chdb/connection`, which prefixes `SET k = v;` and never resets.
 */
export class Engine {
  readonly #lock = new FifoLock();

  private constructor(
    private session: Session,
    private readonly dataDir: string,
    private readonly logger: Logger,
    readonly version: string,
    readonly timezone: string,
  ) {}

  static async open(dataDir: string, logger: Logger): Promise<Engine> {
    await mkdir(dataDir, { recursive: true });
    const session = new Session(dataDir, SESSION_OPTIONS);
    try {
      const [version = '', timezone = ''] = (
        await session.queryAsync('SELECT version(), timezone()', { format: 'TSV' })
      )
        .text()
        .trim()
        .split('\t');
      return new Engine(session, dataDir, logger, version, timezone);
    } catch (err) {
      session.close();
      throw err;
    }
  }

  /**
   * Runs `task` with the request's database, settings and parameters in force, and resets the
   * settings afterwards even if the task failed. Query parameters cannot be removed from a
   * session, so the caller must make sure a statement only uses parameters its request supplied.
   */
  run<T>(scope: RequestScope, task: (session: Session) => Promise<T>): Promise<T> {
    return this.#lock.run(async () => {
      const assignments = [
        ...[...scope.settings].map(([name, value]) => `${name} = ${quoteString(value)}`),
        ...[...scope.params].map(([name, value]) => `param_${name} = ${quoteString(value)}`),
      ];
      const changed = [...new Set([...scope.settings.keys(), ...scope.assigned])];
      try {
        // The previous request may have switched database (its own `USE`), so always set it.
        const setup = [`USE ${quoteIdentifier(scope.database)}`];
        if (assignments.length > 0) setup.push(`SET ${assignments.join(', ')}`);
        await this.session.queryAsync(setup.join('; '));
        return await task(this.session);
      } finally {
        if (changed.length > 0) await this.#reset(changed);
      }
    });
  }

  /** Waits for every queued request, then releases the data directory. */
  close(): Promise<void> {
    return this.#lock.run(async () => this.session.close());
  }

  async #reset(names: string[]): Promise<void> {
    try {
      await this.session.queryAsync(`SET ${names.map((n) => `${n} = DEFAULT`).join(', ')}`);
    } catch (err) {
      // An unknown name (a typo the request was already told about), or a setting that stops the
      // engine parsing even this statement (a tiny max_query_size): start over on a new
      // connection, which begins with every setting at its default and no query parameters.
      this.logger.debug({ err, settings: names }, 'could not reset settings; reopening the session');
      this.session.close();
      await drainPending();
      this.session = new Session(this.dataDir, SESSION_OPTIONS);
    }
  }
}
