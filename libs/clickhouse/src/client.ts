import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Component } from '@tidemark/runtime';

export type ClickHouse = ClickHouseClient;

export interface ClickHouseConfig {
  url: string;
  database: string;
  username?: string;
  password?: string;
  requestTimeoutMs?: number;
  maxOpenConnections?: number;
}

export function createClickHouse(config: ClickHouseConfig): ClickHouse {
  return createClient({
    url: config.url,
    database: config.database,
    username: config.username ?? 'default',
    password: config.password ?? '',
    request_timeout: config.requestTimeoutMs ?? 30_000,
    max_open_connections: config.maxOpenConnections ?? 10,
    application: 'tidemark',
    // Every failure reaches the caller as an error, which it logs with context through pino; the
    // client's own multi-line stderr output would only break the JSON log stream.
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: {
      // Dates come back as UTC text; period maths happens in our code with explicit zones.
      date_time_output_format: 'iso',
    },
  });
}

export function clickhouseComponent(client: ClickHouse): Component {
  return {
    name: 'clickhouse',
    healthcheck: async () => {
      const res = await client.ping();
      if (!res.success) throw res.error;
    },
    onShutdown: () => client.close(),
  };
}
