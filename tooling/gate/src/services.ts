import { createConnection } from 'node:net';
import { redact, startRedis, type RedisHandle } from '@jobgate/testkit';

/** A service the tests need could not be provided: reported as infra, never as a test failure. */
export class InfraError extends Error {
  override name = 'InfraError';
}

export interface Services {
  redis: RedisHandle;
  /** Environment for the level's tasks. REDIS_URL is pass-through; the major version is hashed. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * Redis for the integration and e2e levels: the server `REDIS_URL` names (a CI service container),
 * else a throwaway redis-server on a free loopback port. Either way it must answer PING before any
 * task runs, so a dead server is one clear infra line instead of a hundred failing tests.
 */
export async function startServices(
  timeoutMs = Number(process.env.GATE_REDIS_TIMEOUT_MS ?? 10_000),
): Promise<Services> {
  const given = process.env.REDIS_URL;
  const where = given ? redact(given) : 'a throwaway redis-server';
  let timer: NodeJS.Timeout | undefined;
  // A server that accepts the connection but never answers would hold a PING forever.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new InfraError(`Redis did not answer PING at ${where} within ${seconds(timeoutMs)}`),
        ),
      timeoutMs + 500,
    );
  });
  let redis: RedisHandle;
  try {
    redis = await Promise.race([startRedis({ startTimeoutMs: timeoutMs }), deadline]);
  } catch (error) {
    if (error instanceof InfraError) throw error;
    const message = (error as Error).message;
    throw new InfraError(
      /did not answer PING/.test(message)
        ? message
        : `Redis could not be provided (${where}): ${message}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const major = redis.version.split('.')[0] ?? 'unknown';
  return {
    redis,
    env: { REDIS_URL: redis.url, JOBGATE_REDIS_MAJOR: major },
    stop: async () => {
      if (redis.owned) await shutdownNow(redis.port);
      await redis.stop();
    },
  };
}

/**
 * `SHUTDOWN NOSAVE` to the throwaway server the gate started (never to a `REDIS_URL` server):
 * redis-server handles the SIGTERM that `stop()` sends on its next cron tick, up to 100 ms later,
 * which was a tenth of a warm run. `stop()` still follows, to wait for the exit and clean up.
 */
function shutdownNow(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 1_000);
    socket.once('connect', () => socket.write('*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n'));
    socket.once('close', done);
    socket.once('error', done);
  });
}
