import { startRedis, type RedisHandle } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, installLibrary, LIBRARY_VERSION, LibraryVersionError } from '../../src/index.js';
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
  return LIBRARY_SOURCE.replace(/^local LIBRARY_VERSION = \d+$/m, `local LIBRARY_VERSION = ${version}`);
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
      new RegExp(`Redis has jobgate library version ${LIBRARY_VERSION + 1}, newer than version ${LIBRARY_VERSION}.*Upgrade @jobgate/core`),
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
});
