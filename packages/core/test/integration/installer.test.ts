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

  it('upgrades a namespace written by library version 10: counts, listing and completion stay right', async () => {
    // Version 10 as released (test/fixtures/jobgate-v10.lua): it also kept active jobs in
    // {ns}:by-status and a per-service counter in {ns}:depth, both derived since version 11.
    const v10 = await readFile(new URL('../fixtures/jobgate-v10.lua', import.meta.url), 'utf8');
    const queue = await createQueue({ redis, namespace: 'from-v10' });
    await redis.function('LOAD', 'REPLACE', v10);
    expect(await serverVersion()).toBe(10);
    // Submitted the way a version 10 client did: the 20 keys only.
    const ids = ['v10-a', 'v10-b', 'v10-c'];
    for (const id of ids) {
      await redis.fcall(
        'jobgate_submit',
        queue.keys.list.length,
        ...queue.keys.list,
        String(Date.now()),
        '1000',
        1,
        id,
        'svc',
        requirementSignature({}, undefined),
        '0',
        priorityKey(0),
        '{}',
        '',
        '',
        '',
        '3',
        '{}',
      );
    }
    const w = { worker_id: 'w', services: ['svc'] };
    expect((await queue.claim(w))?.id).toBe(ids[0]);
    expect((await queue.claim(w))?.id).toBe(ids[1]);
    expect(await redis.exists(queue.keys.depth)).toBe(1);

    expect(await installLibrary(redis)).toBe('upgraded');
    expect((await queue.complete(ids[0]!, 'w', { ok: 1 })).status).toBe('completed');
    expect(await queue.counts()).toMatchObject({
      pending: 1,
      active: 1,
      completed: 1,
      by_service: { svc: 1 },
    });
    expect((await queue.list({ status: 'active' })).jobs.map((j) => j.id)).toEqual([ids[1]]);
    expect((await queue.list({ status: 'completed' })).jobs.map((j) => j.id)).toEqual([ids[0]]);
    // Nothing of the old layout is left behind to go stale.
    expect(await redis.exists(queue.keys.depth)).toBe(0);
    expect(await redis.zrangebylex(queue.keys['by-status'], '[active\0', '(active\x01')).toEqual(
      [],
    );
    expect((await queue.claim(w))?.id).toBe(ids[2]);
    expect((await queue.complete(ids[1]!, 'w', null)).status).toBe('completed');
    await queue.close();
  });
});
