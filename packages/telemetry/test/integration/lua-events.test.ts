import { createQueue, type EventType as CoreEventType, type WorkerSpec } from '@jobgate/core';
import { dropNamespace, uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  EVENT_TYPES,
  eventDataShapes,
  parseStreamEntry,
  strictEventSchemas,
  type EventType,
} from '../../src/index.js';

function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run through the integration preset');
  return url;
}

const worker = (id: string): WorkerSpec => ({ worker_id: id, services: ['svc'] });
const failure = (retryable: boolean) => ({
  retryable,
  failure_type: retryable ? 'network_error' : 'validation_error',
  failure_reason: retryable ? 'connection_reset' : 'invalid_input',
  message: 'upstream said no',
});

describe('the schemas against what the Lua library writes', () => {
  it("core's event type list and this package's are the same", () => {
    expectTypeOf<EventType>().toEqualTypeOf<CoreEventType>();
  });

  it('every event type, every variant: each entry passes its strict schema, and every field the schemas name is written by some transition', async () => {
    const redis = new Redis(redisUrl());
    const namespace = uniqueNamespace('tel');
    let now = 1_700_000_000_000;
    const queue = await createQueue({ redis, namespace, clock: () => now });
    try {
      // received (workflow, customer, step) -> claimed -> progress (both fields) -> completed
      const a = await queue.submit({
        service_required: 'svc',
        priority: 5,
        workflow_id: 'wf-1',
        customer_id: 'acme',
        step: 1,
        payload: { prompt: 'x' },
      });
      await queue.claim(worker('w1'), { leaseMs: 10_000 });
      now += 100;
      await queue.progress(a.id, 'w1', { percent: 42.5, message: 'sampling' });
      await queue.progress(a.id, 'w1', { percent: 50 });
      await queue.progress(a.id, 'w1', { message: 'only a message' });
      now += 100;
      await queue.complete(a.id, 'w1', { ok: true });

      // no workflow/customer; retry_scheduled (with and without retry_after), then failed after
      // retries ran out
      const b = await queue.submit({ service_required: 'svc', max_attempts: 3 });
      await queue.claim(worker('w2'));
      await queue.fail(b.id, 'w2', { ...failure(true), retry_after_ms: 1_000 });
      now += 2_000;
      await queue.reapExpired();
      await queue.claim(worker('w2'));
      await queue.fail(b.id, 'w2', failure(true));
      now += 60_000;
      await queue.reapExpired();
      await queue.claim(worker('w2'));
      await queue.fail(b.id, 'w2', failure(true));

      // permanent failure
      const c = await queue.submit({ service_required: 'svc' });
      await queue.claim(worker('w3'));
      await queue.fail(c.id, 'w3', failure(false));

      // lease runs out: stalled (requeued), then failed as stalled on the last attempt
      const d = await queue.submit({ service_required: 'svc', max_attempts: 2 });
      await queue.claim(worker('w4'), { leaseMs: 1_000 });
      now += 2_000;
      await queue.reapExpired();
      await queue.claim(worker('w5'), { leaseMs: 1_000 });
      now += 2_000;
      await queue.reapExpired();
      expect((await queue.get(d.id))?.status).toBe('failed');

      // released on shutdown; cancelled while active, and while pending
      const e = await queue.submit({ service_required: 'svc' });
      await queue.claim(worker('w6'));
      await queue.release(e.id, 'w6');
      await queue.claim(worker('w7'));
      await queue.cancel(e.id);
      const f = await queue.submit({ service_required: 'svc', customer_id: 'acme' });
      await queue.cancel(f.id);

      // malformed requirements (another client's submit, past the client's validation):
      // received with unrunnable_reason. ARGV as documented in the library's header.
      await redis.fcall(
        'jobgate_submit',
        queue.keys.list.length,
        ...queue.keys.list,
        String(now),
        '1000',
        '1',
        'bad-hardware',
        'svc',
        'abcdef',
        '0',
        (10n ** 16n).toString().padStart(17, '0'),
        '{"hardware":{"gpu_memory_gb":"lots"}}',
        '',
        '',
        '',
        '3',
        '{}',
      );

      const entries = await redis.xrange(queue.keys.events, '-', '+');
      const seenTypes = new Set<string>();
      const seenFields = new Map<string, Set<string>>();
      for (const [id, fields] of entries) {
        const result = parseStreamEntry(id, fields);
        if (!result.ok) throw new Error(`entry ${id} ${fields.join(' ')}: ${result.error}`);
        const event = result.event;
        const strict = strictEventSchemas[event.type].safeParse(event);
        if (!strict.success)
          throw new Error(
            `entry ${id} (${event.type}) has fields the schema does not name: ${strict.error.message}`,
          );
        // The envelope holds exactly these fields; anything else would be a format change.
        const names = [];
        for (let i = 0; i < fields.length; i += 2) names.push(fields[i]);
        expect(names.sort()).toEqual(
          ['attempt', 'customer_id', 'data', 'job_id', 'timestamp', 'type', 'workflow_id'].sort(),
        );
        seenTypes.add(event.type);
        const set = seenFields.get(event.type) ?? new Set<string>();
        for (const key of Object.keys(event.data)) set.add(key);
        seenFields.set(event.type, set);
      }

      expect([...seenTypes].sort()).toEqual([...EVENT_TYPES].sort());
      for (const type of EVENT_TYPES) {
        expect([...(seenFields.get(type) ?? [])].sort(), type).toEqual(
          Object.keys(eventDataShapes[type]).sort(),
        );
      }

      // Spot checks of what a consumer relies on.
      const events = entries.map(([id, fields]) => {
        const r = parseStreamEntry(id, fields);
        if (!r.ok) throw new Error(r.error);
        return r.event;
      });
      const ofA = events.filter((ev) => ev.job_id === a.id);
      expect(ofA.map((ev) => ev.type)).toEqual([
        'job.received',
        'job.claimed',
        'job.progress',
        'job.progress',
        'job.progress',
        'job.completed',
      ]);
      expect(ofA[0]).toMatchObject({
        workflow_id: 'wf-1',
        customer_id: 'acme',
        attempt: 0,
        timestamp: 1_700_000_000_000,
        data: { service_required: 'svc', priority: 5, step: 1 },
      });
      expect(ofA[5]).toMatchObject({ attempt: 1, data: { worker_id: 'w1', duration_ms: 200 } });
      const ofB = events.filter((ev) => ev.job_id === b.id);
      expect(ofB[0]).toMatchObject({ workflow_id: null, customer_id: null });
      expect(ofB.at(-1)).toMatchObject({
        type: 'job.failed',
        attempt: 3,
        data: { retries_exhausted: true, failure: { failure_reason: 'connection_reset' } },
      });
      const stalledFail = events.find((ev) => ev.job_id === d.id && ev.type === 'job.failed');
      expect(stalledFail).toMatchObject({
        attempt: 2,
        data: { stalled: true, worker_id: 'w5', failure: { failure_reason: 'stalled' } },
      });
      const released = events.find((ev) => ev.type === 'job.released');
      expect(released).toMatchObject({ attempt: 1, data: { reason: 'shutdown', worker_id: 'w6' } });
    } finally {
      await queue.close();
      await dropNamespace(redis, namespace);
      redis.disconnect();
    }
  });
});
