import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import {
  attemptSpanIdFor,
  buildJob,
  jobSpanIdFor,
  traceIdFor,
  type RecordedEvent,
} from './spans.js';

const options = { namespace: 'jq', resource: resourceFromAttributes({}), scope: { name: 't' } };
const base = { job_id: 'j1', workflow_id: 'wf', customer_id: 'acme' };
const ev = (id: string, type: string, attempt: number, timestamp: number, data: object) =>
  ({ ...base, event_id: id, type, attempt, timestamp, data }) as RecordedEvent;

describe('ids', () => {
  it('are stable, and differ by customer for the same workflow id', () => {
    expect(traceIdFor('jq', base)).toBe(traceIdFor('jq', { ...base, job_id: 'other' }));
    expect(traceIdFor('jq', base)).not.toBe(traceIdFor('jq', { ...base, customer_id: 'globex' }));
    expect(traceIdFor('jq', { ...base, workflow_id: null })).not.toBe(traceIdFor('jq', base));
    expect(traceIdFor('jq', base)).toMatch(/^[0-9a-f]{32}$/);
    expect(jobSpanIdFor('jq', 'j1')).toMatch(/^[0-9a-f]{16}$/);
    expect(attemptSpanIdFor('jq', 'j1', '1-0')).not.toBe(attemptSpanIdFor('jq', 'j1', '2-0'));
  });
});

describe('buildJob', () => {
  it('a job handed back on shutdown and claimed again with the same attempt number gets two attempt spans', () => {
    const built = buildJob(
      [
        ev('1-0', 'job.received', 0, 1_000, { service_required: 's', priority: 0 }),
        ev('2-0', 'job.claimed', 1, 2_000, { worker_id: 'a', lease_expires_at: 9 }),
        ev('3-0', 'job.released', 1, 3_000, { reason: 'shutdown', worker_id: 'a' }),
        ev('4-0', 'job.claimed', 1, 4_000, { worker_id: 'b', lease_expires_at: 9 }),
        ev('5-0', 'job.completed', 1, 5_000, { worker_id: 'b', duration_ms: 1_000 }),
      ],
      options,
    )!;
    expect(built.finished).toBe(true);
    expect(built.partial).toBe(false);
    expect(built.attempts.map((a) => a.span.attributes['attempt.outcome'])).toEqual([
      'released',
      'completed',
    ]);
    expect(new Set(built.attempts.map((a) => a.span.spanContext().spanId)).size).toBe(2);
    expect(built.job.attributes['worker.id']).toBe('b');
  });

  it('orders by stream id, not by arrival; a running attempt is not exported', () => {
    const built = buildJob(
      [
        ev('2-0', 'job.claimed', 1, 2_000, { worker_id: 'a', lease_expires_at: 9 }),
        ev('1-0', 'job.received', 0, 1_000, { service_required: 's', priority: 0 }),
      ],
      options,
    )!;
    expect(built.finished).toBe(false);
    expect(built.attempts).toHaveLength(0);
  });

  it('an end without its claim or without job.received is partial', () => {
    const built = buildJob(
      [ev('5-0', 'job.completed', 1, 5_000, { worker_id: 'b', duration_ms: 1_000 })],
      options,
    )!;
    expect(built.partial).toBe(true);
    expect(built.job.attributes['jobgate.partial']).toBe(true);
  });
});
