/**
 * Instructions redis-server executes per job, counted by valgrind's callgrind: unlike CPU time,
 * the count does not move with the load of a shared machine, so two library builds compare
 * exactly in a few thousand jobs. Start redis-server under callgrind yourself, then point this at it:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg/out redis-server --port 7395 --save '' &
 *   REDIS_URL=redis://127.0.0.1:7395 VG_PID=<valgrind's pid> CG_DIR=/tmp/cg \
 *     LIB_A=<library.generated.ts> LIB_B=<...> pnpm --filter @jobgate/core bench:instructions
 *
 * For each round and library: submit `JOBS` no-op jobs (10 services, priorities 0-4), create the
 * queues and workers (createWorker, one per service at `CONCURRENCY`; or `SHAPE=raw`, the raw
 * loop's 80 loops on one connection), load the library, zero the counters (`callgrind_control
 * -z`), drain, dump (`callgrind_control -d`), and print the dump's total per job. What is counted
 * is everything the server ran during the drain: the scripts and the commands inside them, the
 * workers' other commands, reading requests and writing replies. Cache misses are not counted:
 * instructions are a proxy for CPU time, not the same thing (Round 8 of BENCHMARKS.md).
 *
 * `SHAPE=submit` (since Round 10) counts the submit instead: `submitMany` of `JOBS` jobs.
 *
 * `BULLMQ=1` (since Round 9) adds a BullMQ window to every round, same server, same jobs
 * (bench/workload.ts: one queue per service, addBulk), drained by one BullMQ Worker per queue at
 * `CONCURRENCY` (default options): counted from creating the workers to their close after the last
 * completion, so their start-up and shutdown commands are in it (a few thousand instructions per
 * job at 1,500 jobs). It has no raw-loop counterpart: with `SHAPE=raw` it is still the Worker.
 */
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Connector } from '../../../apps/worker/src/connectors/types.js';
import { createWorker, type Worker } from '../../../apps/worker/src/worker.js';
import { createQueue, type Queue } from '../src/index.js';
import {
  bullmqConnection,
  bullmqDrain,
  bullmqQueues,
  bullmqSubmit,
  drain,
  jobgateInputs,
  startAndAwaitCompleted,
  RAW_COALESCE,
} from './workload.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:7395';
const pid = process.env.VG_PID;
if (!pid) throw new Error('set VG_PID to the pid of valgrind running redis-server');
const dir = process.env.CG_DIR ?? '/tmp/cg';
const JOBS = Number(process.env.JOBS ?? 2_000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const SHAPE = process.env.SHAPE ?? 'worker';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const services = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
// Under valgrind a drain takes minutes: a lease of an hour keeps heartbeats and expired leases
// (whose number would depend on how slow the run was) out of the count.
const LEASE_MS = 3_600_000;

const libs: Array<[string, string]> = [];
for (const name of ['A', 'B', 'C', 'D']) {
  const path = process.env[`LIB_${name}`];
  if (!path) continue;
  const mod = (await import(pathToFileURL(path).href)) as { LIBRARY_SOURCE: string };
  libs.push([name, mod.LIBRARY_SOURCE]);
}
if (libs.length === 0) throw new Error('set LIB_A (and LIB_B, ...) to library.generated.ts files');

const control = (...args: string[]): void => {
  execFileSync('callgrind_control', [...args, pid], { stdio: 'ignore', timeout: 120_000 });
};

/** The total of the dump made with `label`. */
function dumped(label: string): number {
  for (const file of readdirSync(dir)) {
    const text = readFileSync(`${dir}/${file}`, 'utf8');
    if (!text.includes(`desc: Trigger: dump ${label}\n`)) continue;
    const m = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
    if (m) return Number(m[1]);
  }
  throw new Error(`no callgrind dump "${label}" in ${dir}`);
}

const noop = (service: string): Connector => ({
  kind: 'noop',
  service,
  run: () => Promise.resolve({}),
});

async function window(lib: string, label: string): Promise<number> {
  const admin = new Redis(url);
  await admin.flushall();
  const namespace = `cg-${label}`;
  const submitter = await createQueue({ redis: admin, namespace });
  if (SHAPE === 'submit') {
    // The submit alone (since Round 10): submitMany of JOBS jobs in chunks of 5,000 (FCALLs of 500).
    await admin.function('LOAD', 'REPLACE', lib);
    control('-z');
    for (let i = 0; i < JOBS; i += 5_000)
      await submitter.submitMany(jobgateInputs(Math.min(5_000, JOBS - i), services));
    control('-d', label);
    await submitter.close();
    admin.disconnect();
    return dumped(label) / JOBS;
  }
  for (let i = 0; i < JOBS; i += 5_000)
    await submitter.submitMany(jobgateInputs(Math.min(5_000, JOBS - i), services));
  // Queues and workers first: createQueue installs this checkout's library, so `lib` goes in after.
  const connections: Redis[] = [new Redis(url)];
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  if (SHAPE === 'raw') {
    for (let i = 0; i < 80; i++)
      queues.push(
        await createQueue({
          redis: connections[0]!,
          namespace,
          defaultLeaseMs: LEASE_MS,
          coalesce: RAW_COALESCE,
        }),
      );
  } else {
    for (const [k, service] of services.entries()) {
      const redis = new Redis(url);
      connections.push(redis);
      const queue = await createQueue({ redis, namespace });
      queues.push(queue);
      workers.push(
        createWorker({
          queue,
          redis,
          capabilities: { worker_id: `cg-${label}-${k}` },
          connectors: [noop(service)],
          concurrency: CONCURRENCY,
          leaseMs: LEASE_MS,
        }),
      );
    }
  }
  await admin.function('LOAD', 'REPLACE', lib);
  control('-z');
  if (SHAPE === 'raw') {
    const done = await drain(queues, services);
    if (done !== JOBS) throw new Error(`drained ${done} of ${JOBS}`);
  } else {
    await startAndAwaitCompleted(workers, JOBS, 5);
  }
  control('-d', label);
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1_000 })));
  await Promise.all(queues.map((q) => q.close()));
  for (const c of connections) c.disconnect();
  await submitter.close();
  admin.disconnect();
  return dumped(label) / JOBS;
}

async function bullmqWindow(label: string): Promise<number> {
  const admin = new Redis(url);
  await admin.flushall();
  const connection = bullmqConnection(url);
  const prefix = `cg-${label}`;
  const queues = await bullmqQueues(services, connection, prefix);
  await bullmqSubmit(queues, JOBS);
  control('-z');
  await bullmqDrain(services, connection, prefix, CONCURRENCY, JOBS);
  control('-d', label);
  await Promise.all(queues.map((q) => q.close()));
  admin.disconnect();
  return dumped(label) / JOBS;
}

const BULLMQ = process.env.BULLMQ === '1';
const results = new Map<string, number[]>(libs.map(([name]) => [name, []]));
if (BULLMQ) results.set('BullMQ', []);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, lib] of round % 2 ? [...libs].reverse() : libs) {
    const perJob = await window(lib, `r${round + 1}${name}${process.pid}`);
    results.get(name)!.push(perJob);
    console.log(`round ${round + 1} ${name}: ${Math.round(perJob)} instructions per job`);
  }
  if (BULLMQ) {
    const perJob = await bullmqWindow(`r${round + 1}bullmq${process.pid}`);
    results.get('BullMQ')!.push(perJob);
    console.log(`round ${round + 1} BullMQ: ${Math.round(perJob)} instructions per job`);
  }
}
for (const [name, list] of results)
  console.log(`${name}: ${list.map((x) => Math.round(x)).join(', ')} instructions per job`);
