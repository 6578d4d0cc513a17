import type { Meter } from '@opentelemetry/api';
import type { Queue } from '@jobgate/core';
import type { Redis } from 'ioredis';

const SEP = '\0';

/**
 * The submit time of the oldest pending job (retry backoffs and unrunnable jobs included), or
 * null when none is pending. `{ns}:by-status` orders pending members by submit sequence.
 */
export async function oldestPendingCreatedAt(redis: Redis, queue: Queue): Promise<number | null> {
  const [member] = await redis.zrangebylex(
    queue.keys['by-status'],
    `[pending${SEP}`,
    `(pending\x01`,
    'LIMIT',
    0,
    1,
  );
  if (!member) return null;
  const id = member.split(SEP)[2];
  if (!id) return null;
  const raw = await redis.hget(queue.keys.jobs, id);
  if (!raw) return null;
  const created = (JSON.parse(raw) as { created_at?: unknown }).created_at;
  return typeof created === 'number' ? created : null;
}

/**
 * Queue metrics as OTLP metrics: depth per service, pending/active/delayed totals, the oldest
 * pending job's age; and the throughput counter the collector feeds from finished jobs.
 */
export function registerQueueMetrics(
  meter: Meter,
  deps: { redis: Redis; queue: Queue; clock?: () => number; openSpans?: () => Promise<number> },
): { jobFinished(service: string, status: string): void } {
  const clock = deps.clock ?? Date.now;
  const depth = meter.createObservableGauge('jobgate.queue.depth', {
    description: 'Claimable pending jobs per service',
    unit: '{job}',
  });
  const pending = meter.createObservableGauge('jobgate.queue.pending', {
    description: 'Pending jobs (retry backoffs and unrunnable included)',
    unit: '{job}',
  });
  const active = meter.createObservableGauge('jobgate.queue.active', {
    description: 'Jobs running under a lease',
    unit: '{job}',
  });
  const delayed = meter.createObservableGauge('jobgate.queue.delayed', {
    description: 'Pending jobs waiting out a retry backoff',
    unit: '{job}',
  });
  const oldest = meter.createObservableGauge('jobgate.queue.oldest_pending_age', {
    description: 'Age of the oldest pending job',
    unit: 'ms',
  });
  const open = meter.createObservableGauge('jobgate.collector.open_spans', {
    description: 'Jobs whose span is not exported yet',
    unit: '{span}',
  });
  const finished = meter.createCounter('jobgate.jobs.finished', {
    description: 'Jobs that reached a terminal state (throughput), by service and status',
    unit: '{job}',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      const [counts, created, openSpans] = await Promise.all([
        deps.queue.counts(),
        oldestPendingCreatedAt(deps.redis, deps.queue),
        deps.openSpans?.() ?? Promise.resolve(null),
      ]);
      for (const [service, n] of Object.entries(counts.by_service))
        result.observe(depth, n, { 'job.service': service });
      result.observe(pending, counts.pending);
      result.observe(active, counts.active);
      result.observe(delayed, counts.delayed);
      result.observe(oldest, created === null ? 0 : Math.max(0, clock() - created));
      if (openSpans !== null) result.observe(open, openSpans);
    },
    [depth, pending, active, delayed, oldest, open],
  );
  return {
    jobFinished(service, status) {
      finished.add(1, { 'job.service': service, 'job.status': status });
    },
  };
}
