export interface RunningEngine {
  name: 'kafka' | 'redis' | 'postgres' | 'clickhouse';
  /** Connection string services get: a URL, or `host:port` for Kafka brokers. */
  url: string;
  /** Present only when this process started the engine; absent when an existing server was reused. */
  pid?: number;
  /** No-op for a reused server; otherwise stops the engine and resolves once it has exited. */
  stop(): Promise<void>;
}

/** The subset of a pino logger (or `console`) the launchers need, so callers can pass either. */
export interface EngineLogger {
  info(message: string): void;
}

export function reusedEngine(name: RunningEngine['name'], url: string): RunningEngine {
  return { name, url, stop: async () => {} };
}
