/**
 * Where redis-server spends its CPU during a drain: submits `JOBS` no-op jobs (10 services), loads
 * the library of `LIB` (a library.generated.ts; default this checkout's), then runs Linux `perf
 * record -e cpu-clock` on the server's process for the drain only, through createWorker (one per
 * service, `CONCURRENCY` slots) or, with `SHAPE=raw`, the raw loop (80 loops on one connection),
 * and prints the drain's commands per job (commandstats) and Redis CPU per job. Read the profile
 * with `perf report -i $OUT --sort sym`: Debian's redis-server is stripped, so Lua's internal
 * functions show as addresses (see BENCHMARKS.md, Round 8, for how they were named).
 *
 *   LIB=<path> JOBS=20000 SHAPE=worker OUT=/tmp/drain.perf pnpm --filter @jobgate/core bench:profile
 */
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { Connector } from '../../../apps/worker/src/connectors/types.js';
import { createWorker, type Worker } from '../../../apps/worker/src/worker.js';
import { createQueue, type Queue } from '../src/index.js';
import { drain, jobgateInputs, startAndAwaitCompleted } from './workload.js';

const JOBS = Number(process.env.JOBS ?? 20_000);
const SHAPE = process.env.SHAPE ?? 'worker';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const OUT = process.env.OUT ?? '/tmp/jobgate-drain.perf';
const services = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
const libPath =
  process.env.LIB ?? new URL('../src/lua/library.generated.ts', import.meta.url).pathname;
const lib = ((await import(pathToFileURL(libPath).href)) as { LIBRARY_SOURCE: string })
  .LIBRARY_SOURCE;

await using server = await startRedis({ own: true });
const admin = new Redis(server.url);
const submitter = await createQueue({ redis: admin, namespace: 'p' });
for (let i = 0; i < JOBS; i += 5_000)
  await submitter.submitMany(jobgateInputs(Math.min(5_000, JOBS - i), services));
// Queues and workers first: createQueue installs this checkout's library, so LIB is loaded after.
const noop = (service: string): Connector => ({
  kind: 'noop',
  service,
  run: () => Promise.resolve({}),
});
const connections: Redis[] = [new Redis(server.url)];
const queues: Queue[] = [];
const workers: Worker[] = [];
if (SHAPE === 'raw') {
  for (let i = 0; i < 80; i++)
    queues.push(await createQueue({ redis: connections[0]!, namespace: 'p' }));
} else {
  for (const [k, service] of services.entries()) {
    const redis = new Redis(server.url);
    connections.push(redis);
    const queue = await createQueue({ redis, namespace: 'p' });
    queues.push(queue);
    workers.push(
      createWorker({
        queue,
        redis,
        capabilities: { worker_id: `profile-${k}` },
        connectors: [noop(service)],
        concurrency: CONCURRENCY,
      }),
    );
  }
}
await admin.function('LOAD', 'REPLACE', lib);
const cpu = async (): Promise<number> => {
  const t = await admin.info('cpu');
  const f = (n: string): number => Number(new RegExp(`^${n}:([0-9.]+)`, 'm').exec(t)?.[1]);
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1e6;
};
const perf = spawn(
  'perf',
  ['record', '-e', 'cpu-clock', '-F', '4999', '-p', String(server.pid), '-o', OUT],
  {
    stdio: 'ignore',
  },
);
// perf prints nothing when it is attached: give it a moment before the drain starts.
await new Promise((r) => setTimeout(r, 300));
await admin.config('RESETSTAT');
const c0 = await cpu();
const t0 = performance.now();
if (SHAPE === 'raw') {
  await drain(queues, services);
} else {
  await startAndAwaitCompleted(workers, JOBS);
}
const ms = performance.now() - t0;
const used = (await cpu()) - c0;
perf.kill('SIGINT');
await new Promise((r) => perf.on('exit', r));
const cs = await admin.info('commandstats');
for (const line of cs.split('\n')) {
  const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
  if (m)
    console.log(
      `${m[1]!.padEnd(12)} ${(Number(m[2]) / JOBS).toFixed(2).padStart(6)} calls/job ${(Number(m[3]) / JOBS).toFixed(2).padStart(7)} us/job ${(Number(m[3]) / Number(m[2])).toFixed(2).padStart(6)} us/call`,
    );
}
console.log(
  `${SHAPE}: ${Math.round((JOBS / ms) * 1000)} jobs/s, Redis CPU ${(used / JOBS).toFixed(1)} us/job`,
);
await Promise.all(workers.map((w) => w.stop({ graceMs: 1_000 })));
await Promise.all(queues.map((q) => q.close()));
for (const c of connections) c.disconnect();
await submitter.close();
admin.disconnect();
