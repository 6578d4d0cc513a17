import { startRedis, type RedisHandle } from '@jobgate/testkit';

let redis: RedisHandle | undefined;

/**
 * Gives every test file of the run one Redis: a throwaway redis-server started here, or the one
 * `REDIS_URL` names (the gate's or CI's). Test files isolate themselves by namespace.
 */
export async function setup(): Promise<void> {
  redis = await startRedis();
  const expected = process.env.JOBGATE_REDIS_MAJOR;
  const actual = redis.version.split('.')[0];
  if (expected && expected !== actual) {
    await redis.stop();
    throw new Error(
      `JOBGATE_REDIS_MAJOR=${expected} but Redis at ${redis.url} is ${redis.version}: cached results would be filed under the wrong Redis version.`,
    );
  }
  process.env.REDIS_URL = redis.url;
  process.env.JOBGATE_REDIS_VERSION = redis.version;
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
