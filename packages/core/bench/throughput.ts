/**
 * jobgate vs BullMQ on one throwaway redis-server, the same no-op workload through both:
 *  - worker: what users run. jobgate's `createWorker` against BullMQ's `Worker`, one per service,
 *    at concurrency 8 and at 1;
 *  - raw: the bare queue loop (claim, then completeAndClaim) against BullMQ Workers;
 *  - latency: jobgate's claim latency with 1,000 and with 100,000 pending jobs it cannot run.
 * Rounds alternate jobgate and BullMQ on fresh namespaces; every round and the best of each is
 * printed.
 *
 *   pnpm --filter @jobgate/core bench   (JOBS, SERVICES, ROUNDS, WORKERS, BULLMQ_CONCURRENCY,
 *                                        PARTS=worker8,worker1,raw,latency override)
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createQueue, type Queue, type SubmitInput, type WorkerSpec } from '../src/index.js';
import {
  bullmqConnection,
  bullmqDrain,
  bullmqQueues,
  bullmqSubmit,
  drain,
  jobgateInputs,
  jobgateWorkerDrain,
  RAW_COALESCE,
} from './workload.js';

const JOBS = Number(process.env.JOBS ?? 50_000);
const SERVICES = Number(process.env.SERVICES ?? 10);
const BULLMQ_CONCURRENCY = Number(process.env.BULLMQ_CONCURRENCY ?? 8);
// BullMQ runs one Worker per service queue, each with BULLMQ_CONCURRENCY slots; jobgate gets the
// same total number of jobs in flight (default 10 x 8 = 80), each worker serving all services.
const WORKERS = Number(process.env.WORKERS ?? SERVICES * BULLMQ_CONCURRENCY);
const LATENCY_SAMPLES = 2_000;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
// COALESCE=0: the workers' queues send every call on its own (the lever's before/after).
const COALESCE = process.env.COALESCE !== '0';
const PARTS = new Set((process.env.PARTS ?? 'worker8,worker1,raw,latency').split(','));
const JG_CONNECTIONS = Number(process.env.JG_CONNECTIONS ?? 1);

const services = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
const rate = (jobs: number, ms: number): number => Math.round((jobs / ms) * 1_000);

type Run = { submitMs: number; processMs: number };

/** Submits the workload to `namespace`; -> the time it took and the submitting queue. */
async function jobgateSubmit(
  url: string,
  namespace: string,
): Promise<{ submitMs: number; submitter: Queue; admin: Redis }> {
  const admin = new Redis(url);
  const submitter = await createQueue({ redis: admin, namespace });
  const inputs = jobgateInputs(JOBS, services);
  const t0 = performance.now();
  // All chunks issued at once, as the BullMQ side issues every queue's addBulk at once: each
  // submitMany validates and sends its chunk before the next one is prepared, so Node prepares
  // chunk n+1 while Redis runs chunk n.
  const chunks: SubmitInput[][] = [];
  for (let i = 0; i < inputs.length; i += 5_000) chunks.push(inputs.slice(i, i + 5_000));
  await Promise.all(chunks.map((chunk) => submitter.submitMany(chunk)));
  return { submitMs: performance.now() - t0, submitter, admin };
}

async function checkCompleted(submitter: Queue): Promise<void> {
  const counts = await submitter.counts();
  if (counts.completed !== JOBS)
    throw new Error(`jobgate completed ${counts.completed} of ${JOBS}`);
}

async function benchJobgateWorker(url: string, round: number, concurrency: number): Promise<Run> {
  const namespace = `bench-jgw${concurrency}-${round}`;
  const { submitMs, submitter, admin } = await jobgateSubmit(url, namespace);
  const processMs = await jobgateWorkerDrain(url, namespace, services, concurrency, JOBS, COALESCE);
  await checkCompleted(submitter);
  await submitter.close();
  admin.disconnect();
  return { submitMs, processMs };
}

async function benchBullmqWorker(url: string, round: number, concurrency: number): Promise<Run> {
  const prefix = `bench-bullw${concurrency}-${round}`;
  const connection = bullmqConnection(url);
  const queues = await bullmqQueues(services, connection, prefix);
  const t0 = performance.now();
  await bullmqSubmit(queues, JOBS);
  const submitMs = performance.now() - t0;
  const processMs = await bullmqDrain(services, connection, prefix, concurrency, JOBS);
  await Promise.all(queues.map((q) => q.close()));
  return { submitMs, processMs };
}

async function benchJobgate(url: string, round: number): Promise<Run> {
  const namespace = `bench-jg-${round}`;
  const { submitMs, submitter, admin } = await jobgateSubmit(url, namespace);

  // Workers share JG_CONNECTIONS connections round-robin (default 1: like one BullMQ Worker whose
  // concurrency slots share its connection, so concurrent calls are pipelined together).
  const connections = Array.from({ length: JG_CONNECTIONS }, () => new Redis(url));
  const queues = await Promise.all(
    Array.from({ length: WORKERS }, (_, n) =>
      createQueue({
        redis: connections[n % JG_CONNECTIONS]!,
        namespace,
        coalesce: RAW_COALESCE,
      }),
    ),
  );
  const t1 = performance.now();
  const processed = await drain(queues, services);
  const processMs = performance.now() - t1;
  if (processed !== JOBS) throw new Error(`jobgate processed ${processed} of ${JOBS}`);
  await checkCompleted(submitter);
  await Promise.all(queues.map((q) => q.close()));
  for (const c of connections) c.disconnect();
  await submitter.close();
  admin.disconnect();
  return { submitMs, processMs };
}

async function benchBullmq(url: string, round: number): Promise<Run> {
  const prefix = `bench-bull-${round}`;
  const connection = bullmqConnection(url);
  const queues = await bullmqQueues(services, connection, prefix);
  const t0 = performance.now();
  await bullmqSubmit(queues, JOBS);
  const submitMs = performance.now() - t0;
  const processMs = await bullmqDrain(services, connection, prefix, BULLMQ_CONCURRENCY, JOBS);
  await Promise.all(queues.map((q) => q.close()));
  return { submitMs, processMs };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface LatencyCase {
  unrunnable: number;
  samples: number[];
  claim: () => Promise<void>;
  check: () => Promise<void>;
  close: () => Promise<void>;
}

async function latencyCase(url: string, unrunnable: number): Promise<LatencyCase> {
  const redis = new Redis(url);
  const queue = await createQueue({ redis, namespace: `bench-lat-${unrunnable}` });
  const blockers: SubmitInput[] = [];
  for (let i = 0; i < unrunnable; i++) {
    // Higher priority than anything runnable, spread over 10 model requirements the worker lacks,
    // in the worker's own service: exactly what starved the seed's top-N scan.
    blockers.push({
      service_required: 'svc-0',
      priority: 100,
      requirements: { models: [`missing-${i % 10}`] },
    });
  }
  for (let i = 0; i < blockers.length; i += 5_000) {
    await queue.submitMany(blockers.slice(i, i + 5_000));
  }
  await queue.submitMany(
    Array.from({ length: LATENCY_SAMPLES }, () => ({ service_required: 'svc-0', priority: 1 })),
  );
  const w: WorkerSpec = {
    worker_id: 'lat',
    services: ['svc-0', 'svc-1'],
    models: { 'svc-0': ['present'] },
  };
  return {
    unrunnable,
    samples: [],
    claim: async () => {
      if (!(await queue.claim(w))) throw new Error('claim found no runnable job');
    },
    check: async () => {
      if ((await queue.counts()).pending !== unrunnable) throw new Error('a blocker was claimed');
    },
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** Claims alternate between the cases, so a load spike from other processes hits both alike. */
async function claimLatency(
  url: string,
  depths: number[],
): Promise<Array<{ unrunnable: number; p50: number; p99: number }>> {
  const cases: LatencyCase[] = [];
  for (const depth of depths) cases.push(await latencyCase(url, depth));
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    for (const c of cases) {
      const t = performance.now();
      await c.claim();
      c.samples.push(performance.now() - t);
    }
  }
  const out = [];
  for (const c of cases) {
    await c.check();
    await c.close();
    const sorted = [...c.samples].sort((a, b) => a - b);
    out.push({
      unrunnable: c.unrunnable,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    });
  }
  return out;
}

const row = (name: string, r: Run): string =>
  `${name.padEnd(8)} submit ${String(rate(JOBS, r.submitMs)).padStart(7)} jobs/s   ` +
  `claim+complete ${String(rate(JOBS, r.processMs)).padStart(7)} jobs/s   ` +
  `end-to-end ${String(rate(JOBS, r.submitMs + r.processMs)).padStart(7)} jobs/s`;
const ratio = (a: number, b: number): string => (b / a).toFixed(2);
const ratios = (jg: Run, bull: Run, target: string): string =>
  `ratio jobgate/bullmq: end-to-end ${ratio(jg.submitMs + jg.processMs, bull.submitMs + bull.processMs)}x, ` +
  `processing ${ratio(jg.processMs, bull.processMs)}x, submit ${ratio(jg.submitMs, bull.submitMs)}x (target >= ${target})`;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const server = await startRedis({ own: true });
try {
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ` +
      `Redis ${server.version}; load average before: ${load()}`,
  );
  console.log(
    `workload: ${JOBS} no-op jobs over ${SERVICES} services, priorities 0-4, submitted in bulk, then drained; ` +
      `${ROUNDS} alternating rounds per part; jobgate Worker calls coalesced: ${COALESCE}`,
  );
  // Alternating rounds on fresh namespaces: other processes on a shared machine slow a run down,
  // never speed it up, so the best round of each is the fairest comparison.
  const compare = async (
    title: string,
    target: string,
    jgRun: (round: number) => Promise<Run>,
    bullRun: (round: number) => Promise<Run>,
  ): Promise<void> => {
    console.log(`\n${title}`);
    const rounds: Array<{ jg: Run; bull: Run }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const jg = await jgRun(round);
      const bull = await bullRun(round);
      rounds.push({ jg, bull });
      console.log(`round ${round} (load after: ${load()}):`);
      console.log(`  ${row('jobgate', jg)}`);
      console.log(`  ${row('bullmq', bull)}`);
      console.log(`  ${ratios(jg, bull, target)}`);
    }
    const best = (runs: Run[]): Run => ({
      submitMs: Math.min(...runs.map((r) => r.submitMs)),
      processMs: Math.min(...runs.map((r) => r.processMs)),
    });
    const jgBest = best(rounds.map((r) => r.jg));
    const bullBest = best(rounds.map((r) => r.bull));
    console.log(`best of ${ROUNDS}:`);
    console.log(`  ${row('jobgate', jgBest)}`);
    console.log(`  ${row('bullmq', bullBest)}`);
    console.log(`  ${ratios(jgBest, bullBest, target)}`);
  };
  for (const concurrency of [8, 1]) {
    if (!PARTS.has(`worker${concurrency}`)) continue;
    await compare(
      `worker: createWorker vs BullMQ Worker, one per service, concurrency ${concurrency}`,
      concurrency === 1 ? '1.0x' : '1.2x',
      (round) => benchJobgateWorker(server.url, round, concurrency),
      (round) => benchBullmqWorker(server.url, round, concurrency),
    );
  }
  if (PARTS.has('raw')) {
    await compare(
      `raw: ${WORKERS} claim/completeAndClaim loops on ${JG_CONNECTIONS} connection(s), RAW_COALESCE=${process.env.RAW_COALESCE ?? 'connection'}, vs BullMQ Workers (concurrency ${BULLMQ_CONCURRENCY})`,
      '1.2x',
      (round) => benchJobgate(server.url, round),
      (round) => benchBullmq(server.url, round),
    );
  }
  if (!PARTS.has('latency')) {
    console.log(`\nload average after: ${load()}`);
  } else {
    const [small, large] = await claimLatency(server.url, [1_000, 100_000]);
    const ms = (v: number): string => `${v.toFixed(3)} ms`;
    console.log(
      `claim latency, 1,000 unrunnable pending:   p50 ${ms(small!.p50)}  p99 ${ms(small!.p99)}`,
    );
    console.log(
      `claim latency, 100,000 unrunnable pending: p50 ${ms(large!.p50)}  p99 ${ms(large!.p99)}`,
    );
    console.log(`p99 ratio 100k/1k: ${(large!.p99 / small!.p99).toFixed(2)} (target <= 1.5)`);
    console.log(`load average after: ${load()}`);
  }
} finally {
  await server.stop();
}
