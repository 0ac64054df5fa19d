import { CompressionTypes, Partitioners, type Admin, type Kafka, type Producer } from '@tidemark/kafka';
import type { Component } from '@tidemark/runtime';
import { ApiError } from '@tidemark/http';
import type { Logger } from '@tidemark/logging';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram } from 'prom-client';

export interface OutgoingMessage {
  key: string;
  value: string;
}

export interface EventSinkOptions {
  kafka: Kafka;
  topic: string;
  logger: Logger;
  registry: Registry;
  maxInflight: number;
  ackTimeoutMs: number;
  lingerMs: number;
  batchMax: number;
  compression: 'gzip' | 'none';
}

interface Pending {
  messages: OutgoingMessage[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The only way ingest writes to Kafka. A request's events are gathered with others for a few
 * milliseconds into one idempotent `acks=all` produce request, and the request is answered only
 * once Kafka acknowledged them. What is waiting is bounded: past `maxInflight` events, or when
 * Kafka does not acknowledge in time, the caller gets 503 `unavailable` with `Retry-After`
 * instead of the process buffering without limit.
 */
export class EventSink {
  private readonly producer: Producer;
  private readonly admin: Admin;
  /** Start times of produce requests not yet answered by Kafka. */
  private readonly unanswered = new Set<number>();
  private queue: Pending[] = [];
  private queuedMessages = 0;
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private lastError: string | undefined;
  private readonly metrics: {
    produced: Counter;
    rejected: Counter<'reason'>;
    inflight: Gauge;
    latency: Histogram;
  };

  constructor(private readonly opts: EventSinkOptions) {
    this.producer = opts.kafka.producer({
      idempotent: true,
      // Idempotence keeps per-partition order only with one request in flight per broker.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 on the key, as the Java client: a visitor's events land on the same partition
      // whichever client produced them.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = opts.kafka.admin();
    this.producer.on(this.producer.events.CONNECT, () => {
      this.connected = true;
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = false;
    });
    this.metrics = {
      produced: new PromCounter({
        name: 'tidemark_ingest_events_produced_total',
        help: 'Events acknowledged by Kafka',
        registers: [opts.registry],
      }),
      rejected: new PromCounter({
        name: 'tidemark_ingest_events_unavailable_total',
        help: 'Events refused with 503 because Kafka could not take them',
        labelNames: ['reason'],
        registers: [opts.registry],
      }),
      inflight: new PromGauge({
        name: 'tidemark_ingest_inflight_events',
        help: 'Events waiting for a Kafka acknowledgement',
        registers: [opts.registry],
        collect: () => undefined,
      }),
      latency: new PromHistogram({
        name: 'tidemark_ingest_produce_seconds',
        help: 'Time from a produce request to its acknowledgement',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [opts.registry],
      }),
    };
  }

  /** Connects in the background so ingest starts (and says it is not ready) while Kafka is down. */
  start(): void {
    void this.ensureConnected().catch((err: Error) => {
      this.opts.logger.warn({ err: err.message }, 'kafka not reachable yet; will retry on the next send');
    });
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= this.producer.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Resolves once Kafka acknowledged every message; rejects with a 503 ApiError otherwise. */
  send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(ApiError.unavailable('ingest is shutting down', 1));
    if (this.inflight + messages.length > this.opts.maxInflight) {
      this.metrics.rejected.inc({ reason: 'backpressure' }, messages.length);
      return Promise.reject(
        ApiError.unavailable('ingest is shedding load: too many events are waiting for Kafka', 1),
      );
    }
    this.inflight += messages.length;
    this.metrics.inflight.set(this.inflight);
    const acked = new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
      this.queuedMessages += messages.length;
      if (this.queuedMessages >= this.opts.batchMax) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.metrics.rejected.inc({ reason: 'timeout' }, messages.length);
        reject(
          ApiError.unavailable(
            `Kafka did not acknowledge the events within ${this.opts.ackTimeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`,
            2,
          ),
        );
      }, this.opts.ackTimeoutMs);
    });
    return Promise.race([acked, timeout]).finally(() => {
      clearTimeout(timer);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedMessages = 0;
    const started = process.hrtime.bigint();
    const startedAt = Date.now();
    this.unanswered.add(startedAt);
    const release = () => {
      const count = batch.reduce((n, p) => n + p.messages.length, 0);
      this.inflight -= count;
      this.metrics.inflight.set(this.inflight);
      return count;
    };
    this.ensureConnected()
      .then(() =>
        this.producer.send({
          topic: this.opts.topic,
          acks: -1,
          timeout: this.opts.ackTimeoutMs,
          compression: this.opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          messages: batch.flatMap((p) => p.messages),
        }),
      )
      .finally(() => this.unanswered.delete(startedAt))
      .then(
        () => {
          this.lastError = undefined;
          const count = release();
          this.metrics.produced.inc(count);
          this.metrics.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
          for (const p of batch) p.resolve();
        },
        (err: Error) => {
          this.lastError = err.message;
          release();
          this.opts.logger.error({ err: err.message }, 'kafka produce failed');
          const apiError = ApiError.unavailable(`Kafka could not take the events: ${err.message}`, 2);
          for (const p of batch) p.reject(apiError);
        },
      );
  }

  component(): Component {
    return {
      name: 'kafka',
      // Ready means Kafka takes events now: no produce request is stuck past the ack timeout, the
      // last one did not fail, and the cluster answers (which also covers an idle ingest).
      healthcheck: async () => {
        const oldest = Math.min(...this.unanswered);
        if (Date.now() - oldest > this.opts.ackTimeoutMs) {
          throw new Error(`a produce request has waited ${Date.now() - oldest} ms for Kafka`);
        }
        if (this.lastError) throw new Error(`last produce failed: ${this.lastError}`);
        await this.admin.connect();
        await this.admin.describeCluster();
      },
      onShutdown: async () => {
        this.closed = true;
        this.flush();
        // Let what was accepted reach Kafka before the connection goes.
        const deadline = Date.now() + this.opts.ackTimeoutMs;
        while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await this.producer.disconnect();
        await this.admin.disconnect();
      },
    };
  }
}
