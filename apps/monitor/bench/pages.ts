// Page load time with 100 000 jobs queued: `pnpm --filter @jobgate/monitor bench` (under the heavy lock).
import { createQueue } from '@jobgate/core';
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { OperatorKeyStore } from '../src/operator-keys.js';
import { createMonitor } from '../src/server.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
await using server = await startRedis({ own: true });
const redis = new Redis(server.url);
const queue = await createQueue({ redis, namespace: 'bench' });
const services = ['simulation', 'openai', 'comfyui'];
for (let i = 0; i < JOBS; i += 5_000) {
  await queue.submitMany(
    Array.from({ length: Math.min(5_000, JOBS - i) }, (_, j) => ({
      service_required: services[(i + j) % 3]!,
      customer_id: `c${(i + j) % 50}`,
      priority: (i + j) % 5,
    })),
  );
}
const app = await createMonitor({ redis, queue, namespace: 'bench' });
await app.ready();
const key = (await new OperatorKeyStore(redis, 'bench').create('read-only')).key;
const paths = [
  '/',
  '/workers',
  '/jobs',
  '/jobs?status=pending&service=openai',
  '/jobs?customer=c7',
  '/jobs?stuck=1',
  '/jobs?unrunnable=1',
  '/redis',
];
console.log(`jobs queued: ${(await queue.counts()).pending}`);
for (const path of paths) {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const r = await app.inject({
      method: 'GET',
      url: path,
      headers: { host: 'b', authorization: `Bearer ${key}` },
    });
    times.push(performance.now() - t);
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${path.padEnd(40)} median ${times[3]!.toFixed(1)} ms  max ${times[6]!.toFixed(1)} ms  (target < 1000 ms)`,
  );
}
await app.close();
await queue.close();
redis.disconnect();
