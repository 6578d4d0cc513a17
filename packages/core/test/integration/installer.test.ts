import { readFile } from 'node:fs/promises';
import { startRedis, type RedisHandle } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createQueue,
  installLibrary,
  LIBRARY_VERSION,
  LibraryVersionError,
} from '../../src/index.js';
import { priorityKey, requirementSignature } from '../../src/encoding.js';
import { LIBRARY_SOURCE } from '../../src/installer.js';

// FUNCTION FLUSH and foreign library versions affect the whole server: a private one.
let server: RedisHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis({ own: true });
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function withVersion(version: number): string {
  return LIBRARY_SOURCE.replace(
    /^local LIBRARY_VERSION = \d+$/m,
    `local LIBRARY_VERSION = ${version}`,
  );
}

async function serverVersion(): Promise<number> {
  return Number(await redis.fcall_ro('jobgate_version', 0));
}

describe('installer', () => {
  it('installs when missing, keeps an equal version and upgrades an older one', async () => {
    await redis.function('FLUSH');
    expect(await installLibrary(redis)).toBe('installed');
    expect(await serverVersion()).toBe(LIBRARY_VERSION);
    expect(await installLibrary(redis)).toBe('unchanged');
    await redis.function('LOAD', 'REPLACE', withVersion(LIBRARY_VERSION - 1));
    expect(await serverVersion()).toBe(LIBRARY_VERSION - 1);
    expect(await installLibrary(redis)).toBe('upgraded');
    expect(await serverVersion()).toBe(LIBRARY_VERSION);
  });

  it('refuses to replace a newer library and leaves it in place', async () => {
    await redis.function('LOAD', 'REPLACE', withVersion(LIBRARY_VERSION + 1));
    const error = await createQueue({ redis, namespace: 'newer' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LibraryVersionError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `Redis has jobgate library version ${LIBRARY_VERSION + 1}, newer than version ${LIBRARY_VERSION}.*Upgrade @jobgate/core`,
      ),
    );
    expect(await serverVersion()).toBe(LIBRARY_VERSION + 1);
    await redis.function('LOAD', 'REPLACE', LIBRARY_SOURCE);
  });

  it('reinstalls by itself after FUNCTION FLUSH (a restarted or failed-over Redis) and loses no call', async () => {
    const queue = await createQueue({ redis, namespace: 'heal' });
    const { id } = await queue.submit({ service_required: 'svc' });
    await redis.function('FLUSH');
    // Several calls at once hit the missing library together; all succeed.
    const [claimed, second] = await Promise.all([
      queue.claim({ worker_id: 'w', services: ['svc'] }),
      queue.submit({ service_required: 'svc' }),
      queue.counts(),
    ]);
    expect(claimed?.id).toBe(id);
    expect(second.created).toBe(true);
    expect(await serverVersion()).toBe(LIBRARY_VERSION);
    await redis.function('FLUSH');
    expect((await queue.complete(id, 'w', { ok: true })).status).toBe('completed');
    await queue.close();
  });

  // The key list versions 10 to 12 took (before `depth` was retired and `bucket-len` renamed).
  const legacyKeys = (ns: string): string[] =>
    [
      'jobs',
      'payloads',
      'results',
      'pending',
      'buckets',
      'bucket-len',
      'specs',
      'wf-pending',
      'active',
      'delayed',
      'events',
      'seq',
      'wake',
      'depth',
      'unrunnable',
      'all',
      'by-customer',
      'by-workflow',
      'by-status',
      'heads',
    ].map((name) => `{${ns}}:${name}`);

  it.each([10, 12])(
    'upgrades a namespace written by library version %i: order, counts, listing and completion stay right',
    async (version) => {
      // As released (test/fixtures): version 10 also kept active jobs in {ns}:by-status and a
      // per-service counter in {ns}:depth; up to 12 the bucket heads lived in {ns}:bucket-len.
      const old = await readFile(
        new URL(`../fixtures/jobgate-v${version}.lua`, import.meta.url),
        'utf8',
      );
      const ns = `from-v${version}`;
      await redis.function('LOAD', 'REPLACE', old);
      expect(await serverVersion()).toBe(version);
      const keys = legacyKeys(ns);
      // Called the way a client of that version did: its 20 keys, two buckets (one customer's).
      const ids = ['old-a', 'old-b', 'old-c', 'old-d'];
      for (const [i, id] of ids.entries()) {
        const customer = i % 2 === 0 ? '' : 'acme';
        await redis.fcall(
          'jobgate_submit',
          keys.length,
          ...keys,
          String(Date.now()),
          '1000',
          1,
          id,
          'svc',
          requirementSignature({}, customer || undefined),
          '0',
          priorityKey(0),
          '{}',
          customer,
          '',
          '',
          '3',
          '{}',
        );
      }
      const w = { worker_id: 'w', services: ['svc'] };
      const oldClaim = async (): Promise<string> => {
        const reply = (await redis.fcall(
          'jobgate_claim',
          keys.length,
          ...keys,
          String(Date.now()),
          '1000',
          JSON.stringify(w),
          '30000',
          '0',
        )) as [string, string];
        return (JSON.parse(reply[0]) as { id: string }).id;
      };
      expect(await oldClaim()).toBe(ids[0]);
      expect(await oldClaim()).toBe(ids[1]);
      expect(await redis.exists(`{${ns}}:bucket-len`)).toBe(1);
      if (version === 10) expect(await redis.exists(`{${ns}}:depth`)).toBe(1);

      // A restarted app: createQueue upgrades the library and drops the retired keys.
      const queue = await createQueue({ redis, namespace: ns });
      expect(await serverVersion()).toBe(LIBRARY_VERSION);
      expect(await redis.exists(`{${ns}}:depth`, `{${ns}}:bucket-len`)).toBe(0);
      expect((await queue.complete(ids[0]!, 'w', { ok: 1 })).status).toBe('completed');
      expect(await queue.counts()).toMatchObject({
        pending: 2,
        active: 1,
        completed: 1,
        by_service: { svc: 2 },
      });
      expect((await queue.list({ status: 'active' })).jobs.map((j) => j.id)).toEqual([ids[1]]);
      expect((await queue.list({ status: 'completed' })).jobs.map((j) => j.id)).toEqual([ids[0]]);
      expect(await redis.zrangebylex(`{${ns}}:by-status`, '[active\0', '(active\x01')).toEqual([]);
      // The bucket heads, rebuilt from {ns}:heads, keep the exact order across both buckets.
      expect((await queue.claim(w))?.id).toBe(ids[2]);
      expect((await queue.claim(w))?.id).toBe(ids[3]);
      expect(await queue.claim(w)).toBeNull();
      expect((await queue.complete(ids[1]!, 'w', null)).status).toBe('completed');
      expect(await redis.hlen(queue.keys['bucket-heads'])).toBe(0);
      await queue.close();
    },
  );

  it('upgrades a namespace written by library version 14 (same data layout, new search order) mid-flight', async () => {
    // Version 15 changed only the order in which a claim searches (a worker of one or two
    // services reads its own services' buckets first); what is stored is the same. A namespace
    // written and half drained by version 14 is served on by version 15 in exact order.
    const queue = await createQueue({ redis, namespace: 'from-v14' });
    const old = await readFile(new URL('../fixtures/jobgate-v14.lua', import.meta.url), 'utf8');
    await redis.function('LOAD', 'REPLACE', old);
    expect(await serverVersion()).toBe(14);
    const services = ['a', 'b', 'c', 'd', 'e', 'f'];
    const submitted = await queue.submitMany(
      Array.from({ length: 60 }, (_, i) => ({
        service_required: services[i % services.length]!,
        // Service a's jobs rank below every other service's, so its heads sort last.
        priority: i % services.length === 0 ? i % 3 : 5 + (i % 2),
        customer_id: i % 4 === 0 ? 'acme' : undefined,
        payload: { i },
      })),
    );
    const own = submitted
      .map(({ id }, i) => ({ id, i, priority: i % 3 }))
      .filter(({ i }) => i % services.length === 0)
      .sort((x, y) => y.priority - x.priority || x.i - y.i)
      .map(({ id }) => id);
    const w = { worker_id: 'w', services: ['a'] };
    // Version 14 claims the first, through its global head list.
    const first = await queue.claim(w);
    expect(first?.id).toBe(own[0]);

    expect(await installLibrary(redis)).toBe('upgraded');
    expect(await serverVersion()).toBe(LIBRARY_VERSION);
    const rest: string[] = [];
    let job = await queue.completeAndClaim(first!.id, 'w', { ok: 1 }, w);
    while (job) {
      rest.push(job.id);
      job = await queue.completeAndClaim(job.id, 'w', null, w);
    }
    expect(rest).toEqual(own.slice(1));
    expect(await queue.counts()).toMatchObject({
      pending: 60 - own.length,
      active: 0,
      completed: own.length,
    });
    // A worker of every service takes the rest through the global head list, highest first.
    const all = await queue.claim({ worker_id: 'w2', services });
    expect(all?.priority).toBe(6);
    await queue.close();
  });
  it('upgrades a namespace written by library version 18 (states in the old JSON form) mid-flight', async () => {
    // Version 19 stores a state as its cold fields' JSON, then a tab and the hot fields. States
    // version 18 wrote (cjson's key order, no whitespace) are read as they are and move to the new
    // form at their next write: an active job completes, a waiting retry, a released job and plain
    // pending jobs are claimed in exact order, and every reader sees the same values.
    let now = Date.now();
    const queue = await createQueue({ redis, namespace: 'from-v18', clock: () => now });
    const old = await readFile(new URL('../fixtures/jobgate-v18.lua', import.meta.url), 'utf8');
    await redis.function('LOAD', 'REPLACE', old);
    expect(await serverVersion()).toBe(18);
    const submitted = await queue.submitMany(
      Array.from({ length: 6 }, (_, i) => ({
        service_required: 's',
        priority: i < 2 ? 9 : 5 - i,
        customer_id: i % 2 === 0 ? 'acme' : undefined,
        payload: { i },
      })),
    );
    const ids = submitted.map((r) => r.id);
    const w = { worker_id: 'w', services: ['s'] };
    // Under version 18: job 0 active, job 1 failed and waiting to retry, job 2 released.
    expect((await queue.claim(w))?.id).toBe(ids[0]);
    expect((await queue.claim(w))?.id).toBe(ids[1]);
    await queue.fail(ids[1]!, 'w', {
      retryable: true,
      failure_type: 'RATE_LIMIT',
      failure_reason: 'upstream_429',
      message: 'later',
      retry_after_ms: 100,
    });
    expect((await queue.claim(w))?.id).toBe(ids[2]);
    await queue.release(ids[2]!, 'w');
    const oldStates = await redis.hmget(queue.keys.jobs, ...ids);
    for (const raw of oldStates) expect(raw).not.toContain('\t');
    const before = await Promise.all(ids.map((id) => queue.get(id)));

    expect(await installLibrary(redis)).toBe('upgraded');
    expect(await serverVersion()).toBe(LIBRARY_VERSION);
    // Nothing is rewritten by the upgrade itself.
    expect(await redis.hmget(queue.keys.jobs, ...ids)).toEqual(oldStates);
    expect(await Promise.all(ids.map((id) => queue.get(id)))).toEqual(before);

    await queue.complete(ids[0]!, 'w', { ok: 0 });
    const done = (await queue.get(ids[0]!))!;
    expect(done).toEqual({
      ...before[0],
      status: 'completed',
      lease_expires_at: null,
      finished_at: done.finished_at,
      result: { ok: 0 },
    });
    // The retry's time has passed: in priority order the retried job (9) is first, then job 2
    // (released, same attempt), then 3, 4, 5.
    now += 100;
    const order: string[] = [];
    let job = await queue.claim(w);
    while (job) {
      order.push(job.id);
      if (job.id === ids[1])
        expect(job).toMatchObject({ attempts: 2, last_failure: { message: 'later' } });
      if (job.id === ids[2]) expect(job.attempts).toBe(1);
      expect(job.customer_id).toBe(before[ids.indexOf(job.id)]!.customer_id);
      expect(job.created_at).toBe(before[ids.indexOf(job.id)]!.created_at);
      job = await queue.completeAndClaim(job.id, 'w', null, w);
    }
    expect(order).toEqual([ids[1], ids[2], ids[3], ids[4], ids[5]]);
    for (const raw of await redis.hmget(queue.keys.jobs, ...ids)) {
      expect(raw).toContain(',\t"attempts":');
      expect(JSON.parse(raw!)).toMatchObject({ status: 'completed' });
    }
    expect(await queue.counts()).toMatchObject({ pending: 0, active: 0, completed: 6 });
    await queue.close();
  });
});
