import { startRedisCluster, type RedisClusterHandle } from '@jobgate/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, LIBRARY_VERSION, type Queue } from '../../src/index.js';

// A private three-master Redis Cluster: the library must load on every master, and a namespace
// (one hash tag, one slot) must work whichever master serves it.
let cluster: RedisClusterHandle;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  client = new Cluster(cluster.startupNodes);
});

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

async function onNode<T>(url: string, fn: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis(url);
  try {
    return await fn(node);
  } finally {
    node.disconnect();
  }
}

/** One namespace per master: `ns-<n>` names tried in order until each master has one. */
async function namespacePerMaster(): Promise<string[]> {
  const found = new Map<string, string>();
  for (let n = 0; found.size < cluster.masters.length; n++) {
    const namespace = `ns-${n}`;
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `{${namespace}}:jobs`));
    const url = cluster.masterForSlot(slot).url;
    if (!found.has(url)) found.set(url, namespace);
  }
  return cluster.masters.map((m) => found.get(m.url)!);
}

describe('Redis Cluster', () => {
  it('loads the library on every master and runs a namespace on each of them', async () => {
    const namespaces = await namespacePerMaster();
    const queues: Queue[] = [];
    for (const namespace of namespaces)
      queues.push(await createQueue({ redis: client, namespace }));
    const versions = await Promise.all(
      cluster.masters.map((m) => onNode(m.url, (node) => node.fcall_ro('jobgate_version', 0))),
    );
    expect(versions.map(Number)).toEqual([LIBRARY_VERSION, LIBRARY_VERSION, LIBRARY_VERSION]);

    for (const [i, queue] of queues.entries()) {
      const ids = (
        await queue.submitMany([
          { service_required: 'svc', priority: 1 },
          { service_required: 'svc', priority: 5 },
        ])
      ).map((r) => r.id);
      const w = { worker_id: `w${i}`, services: ['svc'] };
      const first = await queue.claim(w);
      expect(first?.id).toBe(ids[1]);
      const second = await queue.completeAndClaim(ids[1]!, w.worker_id, { n: i }, w);
      expect(second?.id).toBe(ids[0]);
      await queue.complete(ids[0]!, w.worker_id, null);
      expect(await queue.counts()).toMatchObject({ pending: 0, active: 0, completed: 2 });
      expect((await queue.get(ids[1]!))?.result).toEqual({ n: i });
      expect((await queue.list({ status: 'completed' })).jobs.map((j) => j.id)).toEqual([
        ids[1],
        ids[0],
      ]);
      // The namespace lives on the master that serves its slot (the others answer MOVED).
      expect(
        await onNode(cluster.masters[i]!.url, (node) =>
          node.exists(queue.keys.jobs, queue.keys.events),
        ),
      ).toBe(2);
    }
    await Promise.all(queues.map((q) => q.close()));
  });

  it('reinstalls by itself when one master lost the library (restart or failover)', async () => {
    const [, , namespace] = await namespacePerMaster();
    const queue = await createQueue({ redis: client, namespace: namespace! });
    await onNode(cluster.masters[2]!.url, (node) => node.function('FLUSH'));
    const { id } = await queue.submit({ service_required: 'svc' });
    expect((await queue.claim({ worker_id: 'w', services: ['svc'] }))?.id).toBe(id);
    expect(
      Number(await onNode(cluster.masters[2]!.url, (node) => node.fcall_ro('jobgate_version', 0))),
    ).toBe(LIBRARY_VERSION);
    await queue.close();
  });
});
