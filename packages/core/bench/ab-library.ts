/**
 * Two (or more) builds of the Lua library on ONE Redis server, windows alternating between them,
 * so load from other processes lands on all alike: each window submits `JOBS` no-op jobs (10
 * services, priorities 0-4), loads library A, B (, C, D) with FUNCTION LOAD REPLACE, then drains
 * them through createWorker (one per service, `CONCURRENCY` slots) or, with `SHAPE=raw`, through
 * the bench's raw queue loop (80 loops on one connection, each serving all 10 services, one
 * operation per call), and prints Redis's CPU time per job (getrusage), the script time per job
 * (commandstats) and the commands inside scripts per job. The order of the builds turns around
 * every window. The client is this checkout's; the libraries take the same arguments.
 *
 *   LIB_A=<path to library.generated.ts> LIB_B=<path> [LIB_C=<path> LIB_D=<path>] \
 *     pnpm --filter @jobgate/core exec tsx bench/ab-library.ts
 *   (JOBS, default 10000; WINDOWS, default 6; CONCURRENCY, default 8; SHAPE worker | raw)
 */
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Connector } from '../../../apps/worker/src/connectors/types.js';
import { createWorker } from '../../../apps/worker/src/worker.js';
import { createQueue, type Queue } from '../src/index.js';
import { drain, jobgateInputs, RAW_COALESCE, startAndAwaitCompleted } from './workload.js';

const JOBS = Number(process.env.JOBS ?? 10_000);
const WINDOWS = Number(process.env.WINDOWS ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const SHAPE = process.env.SHAPE ?? 'worker';
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
  if (SHAPE === 'raw') return rawWindow(url, admin, submitter, lib);
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
  await startAndAwaitCompleted(workers, JOBS);
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

/** The raw loop's drain (bench `raw` part): 80 loops on one connection, one operation per call. */
async function rawWindow(
  url: string,
  admin: Redis,
  submitter: Queue,
  lib: string,
): Promise<number[]> {
  const conn = new Redis(url);
  const queues: Queue[] = [];
  for (let i = 0; i < 80; i++)
    queues.push(
      await createQueue({ redis: conn, namespace: submitter.namespace, coalesce: RAW_COALESCE }),
    );
  await admin.function('LOAD', 'REPLACE', lib);
  await admin.config('RESETSTAT');
  const cpu0 = await redisCpu(admin);
  const t0 = performance.now();
  const done = await drain(queues, services);
  const ms = performance.now() - t0;
  const cpu = (await redisCpu(admin)) - cpu0;
  const stats = await scriptStats(admin);
  if (done !== JOBS) throw new Error(`raw loop processed ${done} of ${JOBS} jobs`);
  await Promise.all(queues.map((q) => q.close()));
  await submitter.close();
  conn.disconnect();
  await admin.flushall();
  admin.disconnect();
  return [cpu / JOBS, stats.usec / JOBS, stats.inside / JOBS, (JOBS / ms) * 1000];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const names = ['A', 'B', 'C', 'D'].filter((name, i) => i < 2 || process.env[`LIB_${name}`]);
const libs: Record<string, string> = {};
for (const name of names) libs[name] = await source(process.env[`LIB_${name}`]);
await using server = await startRedis({ own: true });
const results: Record<string, number[][]> = Object.fromEntries(names.map((name) => [name, []]));
for (let w = 0; w < WINDOWS; w++) {
  const order = w % 2 ? [...names].reverse() : names;
  for (const name of order) {
    const r = await window(server.url, libs[name]!, w * names.length + names.indexOf(name));
    results[name]!.push(r);
    console.log(
      `window ${w + 1} ${name}: Redis CPU ${r[0]!.toFixed(1)} us/job, scripts ${r[1]!.toFixed(1)} us/job, ` +
        `${r[2]!.toFixed(2)} commands/job, ${Math.round(r[3]!)} jobs/s`,
    );
  }
}
for (const name of names) {
  const col = (i: number): number => median(results[name]!.map((r) => r[i]!));
  console.log(
    `median ${name}: Redis CPU ${col(0).toFixed(1)} us/job, scripts ${col(1).toFixed(1)} us/job, ` +
      `${col(2).toFixed(2)} commands/job, ${Math.round(col(3))} jobs/s`,
  );
}
