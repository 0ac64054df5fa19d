import type { Job, Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import type { Component } from '@tidemark/runtime';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

export interface QueueStats {
  queue: string;
  counts: Record<(typeof STATES)[number], number>;
  /** How long the oldest waiting job has been waiting; 0 when none waits. */
  oldestWaitingMs: number;
}

/**
 * When a waiting job became runnable: its creation plus its delay, or for a job delayed again
 * after a run (retry, rescheduled delivery) that run's start plus the new delay.
 */
function waitingSince(job: Job): number {
  return (job.processedOn ?? job.timestamp) + (job.delay ?? 0);
}

export async function queueStats(queue: Queue): Promise<QueueStats> {
  const [counts, oldest] = await Promise.all([
    queue.getJobCounts(...STATES),
    // Ascending order of the wait list: the oldest first.
    queue.getJobs(['wait'], 0, 0, true),
  ]);
  const job = oldest[0];
  return {
    queue: queue.name,
    counts: Object.fromEntries(STATES.map((s) => [s, counts[s] ?? 0])) as QueueStats['counts'],
    oldestWaitingMs: job ? Math.max(0, Date.now() - waitingSince(job)) : 0,
  };
}

/**
 * Queue gauges read at scrape time, and the `queues` readiness check: a job that has waited longer
 * than `stuckAfterMs` while nothing of its queue is active means no worker is taking jobs (all
 * stuck, paused or gone), which a backlog alone (workers busy) does not.
 */
export function queueHealth(queues: Queue[], registry: Registry, stuckAfterMs: number): Component {
  // Both gauges are collected concurrently on a scrape: they share one read of Redis in flight.
  let inFlight: Promise<QueueStats[]> | undefined;
  const stats = () => {
    inFlight ??= Promise.all(queues.map(queueStats)).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  new Gauge<'queue' | 'state'>({
    name: 'tidemark_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const s of await stats()) {
        for (const state of STATES) this.set({ queue: s.queue, state }, s.counts[state]);
      }
    },
  });
  new Gauge<'queue'>({
    name: 'tidemark_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting to be taken, per queue (0 when none waits)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const s of await stats()) this.set({ queue: s.queue }, s.oldestWaitingMs / 1_000);
    },
  });

  return {
    name: 'queues',
    healthcheck: async () => {
      const stuck = (await stats()).filter((s) => s.oldestWaitingMs > stuckAfterMs && s.counts.active === 0);
      if (stuck.length > 0) {
        throw new Error(
          stuck
            .map(
              (s) => `${s.queue}: a job has waited ${Math.round(s.oldestWaitingMs / 1_000)} s, none active`,
            )
            .join('; '),
        );
      }
    },
  };
}
