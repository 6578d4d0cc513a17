import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisCluster } from '../../src/index.js';

describe('startRedisCluster', () => {
  it('starts three masters that share the 16,384 slots and serve keys through a Cluster client', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    let pids: number[] = [];
    try {
      const client = new Cluster(cluster.startupNodes);
      try {
        // Keys of different slots land on different masters.
        for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) await client.set(key, key);
        const slotsOwned = await Promise.all(
          cluster.masters.map(async (m) => {
            const node = new Redis(m.url);
            try {
              const info = String(await node.call('CLUSTER', 'INFO'));
              pids.push(Number(/process_id:(\d+)/.exec(await node.info('server'))?.[1]));
              return Number(/cluster_slots_assigned:(\d+)/.exec(info)?.[1]);
            } finally {
              node.disconnect();
            }
          }),
        );
        expect(slotsOwned).toEqual([16_384, 16_384, 16_384]);
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', 'a'));
        const owner = new Redis(cluster.masterForSlot(slot).url);
        expect(await owner.get('a')).toBe('a');
        owner.disconnect();
      } finally {
        client.disconnect();
      }
    } finally {
      await cluster.stop();
    }
    // Stopped means gone: no redis-server of the cluster is left running.
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    pids = [];
  });
});
