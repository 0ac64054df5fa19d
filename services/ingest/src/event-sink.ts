import {
  COMPRESSION_CODECS,
  Partitioners,
  type Admin,
  type CompressionName,
  type Kafka,
  type Producer,
} from '@tidemark/kafka';
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
  compression: CompressionName;
}

interface Pending {
  messages: OutgoingMessage[];
  resolve: () => void;
  reject: (err: Error) => void;
  /** The caller was already answered 503 before these were sent: they are not sent any more. */
  abandoned?: boolean;
}

/**
 * A produce request carries at most this much (one request's events always go, however large):
 * uncompressed, a partition's share must stay under the broker's `message.max.bytes` (1 MB by
 * default), and a request too large for Kafka then fails alone rather than with its neighbours.
 */
const PRODUCE_MAX_CHARS = 512 * 1024;

type CreatePartitioner = NonNullable<NonNullable<Parameters<Kafka['producer']>[0]>['createPartitioner']>;

/**
 * The partitioner hashes every message's key (murmur2 in JS, a few percent of ingest's CPU), and a
 * batch request's events share one key and sit side by side: the last key's partition is reused.
 * Same key and partition count give the same partition, so nothing changes but the cost.
 */
export function rememberLastKey(create: CreatePartitioner): CreatePartitioner {
  return () => {
    const partitioner = create();
    let lastKey: unknown;
    let lastCount = -1;
    let lastPartition = -1;
    return (args) => {
      const { key, partition } = args.message;
      const count = args.partitionMetadata.length;
      if (partition == null && typeof key === 'string' && key === lastKey && count === lastCount)
        return lastPartition;
      const chosen = partitioner(args);
      if (partition == null && typeof key === 'string') {
        lastKey = key;
        lastCount = count;
        lastPartition = chosen;
      }
      return chosen;
    };
  };
}

/**
 * The only way ingest writes to Kafka. A request's events are gathered with others into one
 * idempotent `acks=all` produce request, and the request is answered only once Kafka acknowledged
 * them. One produce request is in flight at a time (the idempotent producer allows no more per
 * broker anyway): what arrives meanwhile waits for its answer and goes out as the next request, so
 * batches grow with load instead of with a fixed delay. What is waiting is bounded: past
 * `maxInflight` events, or when Kafka does not acknowledge in time, the caller gets 503
 * `unavailable` with `Retry-After` instead of the process buffering without limit.
 */
export class EventSink {
  private readonly producer: Producer;
  private readonly admin: Admin;
  /** Start times of produce requests not yet answered by Kafka. */
  private readonly unanswered = new Set<number>();
  private queue: Pending[] = [];
  private queuedMessages = 0;
  private inflight = 0;
  /** A produce request is waiting for Kafka; the queue goes out when it is answered. */
  private producing = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
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
      createPartitioner: rememberLastKey(Partitioners.DefaultPartitioner),
    });
    this.admin = opts.kafka.admin();
    // Not the CONNECT event: kafkajs emits it before the idempotent producer has its producer id,
    // and a send in that window goes out without one (and fails releasing a lock it never took).
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
    this.connecting ??= this.producer
      .connect()
      .then(() => {
        this.connected = true;
      })
      .finally(() => {
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
    let pending: Pending | undefined;
    const acked = new Promise<void>((resolve, reject) => {
      pending = { messages, resolve, reject };
      this.queue.push(pending);
      this.queuedMessages += messages.length;
      // While a produce request is out, its answer sends the queue; otherwise linger a little so
      // that the requests of this moment share one produce request.
      if (this.producing) return;
      if (this.queuedMessages >= this.opts.batchMax) this.flush();
      else if (!this.timer) {
        // 0 still gathers the requests whose bodies arrived in the same turn of the event loop.
        this.timer =
          this.opts.lingerMs > 0
            ? setTimeout(() => this.flush(), this.opts.lingerMs)
            : setImmediate(() => this.flush());
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.metrics.rejected.inc({ reason: 'timeout' }, messages.length);
        pending!.abandoned = true;
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

  /** Requests answered 503 while queued behind a produce request that Kafka did not answer in time. */
  private dropAbandoned(): void {
    if (!this.queue.some((p) => p.abandoned)) return;
    const dropped = this.queue.filter((p) => p.abandoned).reduce((n, p) => n + p.messages.length, 0);
    this.queue = this.queue.filter((p) => !p.abandoned);
    this.queuedMessages -= dropped;
    this.inflight -= dropped;
    this.metrics.inflight.set(this.inflight);
  }

  /** Sends up to `batchMax` queued messages (whole requests) as one produce request. */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    if (this.producing) return;
    this.dropAbandoned();
    if (this.queue.length === 0) return;
    let take = 0;
    let count = 0;
    let chars = 0;
    while (take < this.queue.length) {
      const next = this.queue[take]!.messages;
      const nextChars = next.reduce((n, m) => n + m.key.length + m.value.length, 0);
      if (take > 0 && (count + next.length > this.opts.batchMax || chars + nextChars > PRODUCE_MAX_CHARS))
        break;
      count += next.length;
      chars += nextChars;
      take++;
    }
    const batch = this.queue.splice(0, take);
    this.queuedMessages -= count;
    this.producing = true;
    const started = process.hrtime.bigint();
    const startedAt = Date.now();
    this.unanswered.add(startedAt);
    const release = () => {
      this.inflight -= count;
      this.metrics.inflight.set(this.inflight);
    };
    const messages: OutgoingMessage[] = [];
    for (const p of batch) for (const m of p.messages) messages.push(m);
    this.ensureConnected()
      .then(() =>
        this.producer.send({
          topic: this.opts.topic,
          acks: -1,
          timeout: this.opts.ackTimeoutMs,
          compression: COMPRESSION_CODECS[this.opts.compression],
          messages,
        }),
      )
      .finally(() => this.unanswered.delete(startedAt))
      .then(
        () => {
          this.lastError = undefined;
          release();
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
      )
      .finally(() => {
        this.producing = false;
        // What queued while this request was out has waited long enough: send it now.
        this.flush();
      });
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
