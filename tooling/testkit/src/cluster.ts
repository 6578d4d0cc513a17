import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisHandle, type StartRedisOptions } from './redis.js';
import { waitFor } from './wait-for.js';

const SLOTS = 16_384;

export interface RedisClusterHandle extends AsyncDisposable {
  /** One handle per master, in slot order: `masters[0]` serves the lowest slots. */
  masters: RedisHandle[];
  /** `{ host, port }` of every master, for `new Cluster(startupNodes)`. */
  startupNodes: Array<{ host: string; port: number }>;
  /** The master that serves `slot` (0-16383). */
  masterForSlot(slot: number): RedisHandle;
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions extends Pick<
  StartRedisOptions,
  'binary' | 'startTimeoutMs'
> {
  /** Number of masters (no replicas), each with an even share of the slots. Default 3. */
  masters?: number;
}

/**
 * A throwaway Redis Cluster: `masters` private redis-servers on free loopback ports (bus ports
 * chosen free too), slots split evenly, joined with CLUSTER MEET; resolves once every node
 * reports `cluster_state:ok`. Stops every server on `stop()`, also when starting fails half way.
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const count = options.masters ?? 3;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`masters must be a positive integer (got ${count})`);
  }
  const masters: RedisHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(masters.map((m) => m.stop()));
  };
  const clients: Redis[] = [];
  const busPorts: number[] = [];
  const ranges = Array.from({ length: count }, (_, i) => [
    Math.floor((i * SLOTS) / count),
    Math.floor(((i + 1) * SLOTS) / count) - 1,
  ]);
  try {
    for (let i = 0; i < count; i++) {
      // The bus port defaults to port + 10000, which may be taken or past 65535.
      busPorts.push(await freePort());
      masters.push(
        await startRedis({
          own: true,
          binary: options.binary,
          startTimeoutMs: options.startTimeoutMs,
          args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i])],
        }),
      );
    }
    for (const [i, master] of masters.entries()) {
      const client = new Redis(master.url, { lazyConnect: true });
      clients.push(client);
      await client.connect();
      await client.call('CLUSTER', 'ADDSLOTSRANGE', String(ranges[i]![0]), String(ranges[i]![1]));
    }
    for (const client of clients.slice(1)) {
      await client.call(
        'CLUSTER',
        'MEET',
        '127.0.0.1',
        String(masters[0]!.port),
        String(busPorts[0]),
      );
    }
    await waitFor(
      async () => {
        const infos = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO')));
        return infos.every((info) => /cluster_state:ok/.test(String(info))) || undefined;
      },
      {
        timeoutMs: options.startTimeoutMs ?? 20_000,
        intervalMs: 50,
        what: `a ${count}-master Redis Cluster reporting cluster_state:ok on every node`,
      },
    );
  } catch (error) {
    for (const client of clients) client.disconnect();
    await stop();
    throw error;
  }
  for (const client of clients) client.disconnect();
  return {
    masters,
    startupNodes: masters.map((m) => ({ host: '127.0.0.1', port: m.port })),
    masterForSlot(slot: number): RedisHandle {
      const i = ranges.findIndex(([from, to]) => slot >= from! && slot <= to!);
      if (i < 0) throw new RangeError(`slot must be 0-${SLOTS - 1} (got ${slot})`);
      return masters[i]!;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
