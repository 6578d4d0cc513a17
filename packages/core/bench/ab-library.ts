/**
 * Two builds of the Lua library on ONE Redis server, windows alternating between them, so load
 * from other processes lands on both alike: each window submits `JOBS` no-op jobs (10 services,
 * priorities 0-4), loads library A or B with FUNCTION LOAD REPLACE, then drains them through
 * createWorker (one per service, `CONCURRENCY` slots), and prints Redis's CPU time per job
 * (getrusage), the script time per job (commandstats) and the commands inside scripts per job.
 * The client is this checkout's; both libraries take the same arguments.
 *
 *   LIB_A=<path to library.generated.ts> LIB_B=<path> pnpm --filter @jobgate/core exec tsx bench/ab-library.ts
 *   (JOBS, default 10000; WINDOWS, default 6; CONCURRENCY, default 8)
 */
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Connector } from '../../../apps/worker/src/connectors/types.js';
import { createWorker } from '../../../apps/worker/src/worker.js';
import { createQueue, type Queue } from '../src/index.js';
import { jobgateInputs } from './workload.js';

const JOBS = Number(process.env.JOBS ?? 10_000);
const WINDOWS = Number(process.env.WINDOWS ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const services = Array.from({ length: 10 }, (_, i) => `svc-${i}`);

async function source(path: string | undefined): Promise<string> {
  if (!path) throw new Error('set LIB_A and LIB_B to two library.generated.ts files');
  const mod = (await import(pathToFileURL(path).href)) as { LIBRARY_SOURCE: string };
  return mod.LIBRARY_SOURCE;
}

async function redisCpu(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

async function scriptStats(redis: Redis): Promise<{ usec: number; inside: number }> {
  const text = await redis.info('commandstats');
  let usec = 0;
  let inside = 0;
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'fcall') usec += Number(m[3]);
    else if (!['info', 'config|resetstat', 'function|load', 'blpop'].includes(m[1]!))
      inside += Number(m[2]);
  }
  return { usec, inside };
}

const noop = (service: string): Connector => ({
  kind: 'noop',
  service,
  run: () => Promise.resolve({}),
});

async function window(url: string, lib: string, n: number): Promise<number[]> {
  const admin = new Redis(url);
  const namespace = `ab${n}`;
  const submitter = await createQueue({ redis: admin, namespace });
  for (let i = 0; i < JOBS; i += 5_000)
    await submitter.submitMany(jobgateInputs(Math.min(5_000, JOBS - i), services));
  const connections: Redis[] = [];
  const queues: Queue[] = [];
  for (const _ of services) {
    const redis = new Redis(url);
    connections.push(redis);
    queues.push(await createQueue({ redis, namespace }));
  }
  await admin.function('LOAD', 'REPLACE', lib);
  const workers = services.map((service, k) =>
    createWorker({
      queue: queues[k]!,
      redis: connections[k]!,
      capabilities: { worker_id: `ab-${n}-${k}` },
      connectors: [noop(service)],
      concurrency: CONCURRENCY,
    }),
  );
  await admin.config('RESETSTAT');
  const cpu0 = await redisCpu(admin);
  const t0 = performance.now();
  await Promise.all(workers.map((w) => w.start()));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (workers.reduce((sum, w) => sum + w.stats().completed, 0) >= JOBS) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  const ms = performance.now() - t0;
  const cpu = (await redisCpu(admin)) - cpu0;
  const stats = await scriptStats(admin);
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1_000 })));
  await Promise.all(queues.map((q) => q.close()));
  await submitter.close();
  for (const c of connections) c.disconnect();
  await admin.flushall();
  admin.disconnect();
  return [cpu / JOBS, stats.usec / JOBS, stats.inside / JOBS, (JOBS / ms) * 1000];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const libs = { A: await source(process.env.LIB_A), B: await source(process.env.LIB_B) };
await using server = await startRedis({ own: true });
const results: Record<'A' | 'B', number[][]> = { A: [], B: [] };
for (let w = 0; w < WINDOWS; w++) {
  const order: Array<'A' | 'B'> = w % 2 ? ['B', 'A'] : ['A', 'B'];
  for (const name of order) {
    const r = await window(server.url, libs[name], w * 2 + (name === 'A' ? 0 : 1));
    results[name].push(r);
    console.log(
      `window ${w + 1} ${name}: Redis CPU ${r[0]!.toFixed(1)} us/job, scripts ${r[1]!.toFixed(1)} us/job, ` +
        `${r[2]!.toFixed(2)} commands/job, ${Math.round(r[3]!)} jobs/s`,
    );
  }
}
for (const name of ['A', 'B'] as const) {
  const col = (i: number): number => median(results[name].map((r) => r[i]!));
  console.log(
    `median ${name}: Redis CPU ${col(0).toFixed(1)} us/job, scripts ${col(1).toFixed(1)} us/job, ` +
      `${col(2).toFixed(2)} commands/job, ${Math.round(col(3))} jobs/s`,
  );
}
