/**
 * Where Redis spends its time per job: runs the benchmark's jobgate workload once (submit, then
 * claim -> completeAndClaim until empty; then through createWorker, one per service at concurrency
 * 8) and BullMQ's (its Worker at concurrency 8) on a throwaway redis-server and prints `INFO
 * commandstats` for each phase, divided by the number of jobs. Commands run inside the Redis
 * Functions are counted by Redis itself, so this shows what each transition costs.
 * Each phase also prints Redis's CPU time per job (`INFO cpu`, getrusage): unlike the commands'
 * usec (wall time inside a command, which grows whenever a shared machine preempts Redis
 * mid-script), it counts only what Redis ran, so it is the steadier figure on a loaded machine.
 *
 *   pnpm --filter @jobgate/core bench:commandstats      (JOBS, SERVICES, WORKERS override;
 *                                                        CONCURRENCY: both Workers' slots, default 8)
 */
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createQueue } from '../src/index.js';
import {
  bullmqConnection,
  bullmqDrain,
  bullmqQueues,
  bullmqSubmit,
  drain,
  jobgateInputs,
  jobgateWorkerDrain,
} from './workload.js';

const JOBS = Number(process.env.JOBS ?? 50_000);
const SERVICES = Number(process.env.SERVICES ?? 10);
const WORKERS = Number(process.env.WORKERS ?? 80);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const services = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);

type Stat = { calls: number; usec: number };

async function commandstats(redis: Redis): Promise<Map<string, Stat>> {
  const text = await redis.info('commandstats');
  const out = new Map<string, Stat>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

/** Redis's own CPU time so far (getrusage: user + sys, all threads), in microseconds. */
async function redisCpu(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

let cpuMark = 0;

/**
 * Marks the start of a phase: resets the command stats and notes Redis's CPU time. That CPU time is
 * what the process really ran (getrusage), so unlike the commands' usec, which count wall time
 * inside a command, it does not grow when the shared machine preempts Redis mid-script.
 */
async function startPhase(redis: Redis): Promise<void> {
  await redis.config('RESETSTAT');
  cpuMark = await redisCpu(redis);
}

function print(
  phase: string,
  stats: Map<string, Stat>,
  wallMs: number,
  cpuMs?: number,
  redisCpuUs?: number,
): void {
  const rows = [...stats.entries()]
    .filter(([name]) => !['info', 'config|resetstat', 'config'].includes(name))
    .sort((a, b) => b[1].usec - a[1].usec);
  const per = (v: number): string => (v / JOBS).toFixed(2).padStart(8);
  const cpu =
    cpuMs === undefined ? '' : `, Node CPU ${((cpuMs * 1000) / JOBS).toFixed(1)} usec/job`;
  console.log(`\n${phase}: ${Math.round((JOBS / wallMs) * 1000)} jobs/s${cpu}`);
  console.log(`${'command'.padEnd(20)} ${'calls/job'.padStart(9)} ${'usec/job'.padStart(9)}`);
  let calls = 0;
  for (const [name, s] of rows) {
    console.log(`${name.padEnd(20)} ${per(s.calls)}  ${per(s.usec)}`);
    if (!['fcall', 'fcall_ro', 'evalsha', 'eval'].includes(name)) calls += s.calls;
  }
  const scripts = ['fcall', 'fcall_ro', 'evalsha', 'eval'].reduce(
    (sum, name) => sum + (stats.get(name)?.usec ?? 0),
    0,
  );
  console.log(`Redis commands inside scripts per job: ${(calls / JOBS).toFixed(2)}`);
  console.log(
    `Redis usec per job in scripts (FCALL/EVALSHA, with the commands they run): ${(scripts / JOBS).toFixed(2)}`,
  );
  if (redisCpuUs !== undefined)
    console.log(
      `Redis CPU per job (getrusage user + sys, the whole server): ${(redisCpuUs / JOBS).toFixed(2)} usec`,
    );
}

/** Prints the phase since startPhase: its command stats, Redis CPU and Node CPU per job. */
async function report(redis: Redis, phase: string, wallMs: number, cpuMs?: number): Promise<void> {
  const stats = await commandstats(redis);
  print(phase, stats, wallMs, cpuMs, (await redisCpu(redis)) - cpuMark);
}

const server = await startRedis({ own: true });
try {
  const admin = new Redis(server.url);
  const namespace = 'profile';
  const submitter = await createQueue({ redis: admin, namespace });
  const inputs = jobgateInputs(JOBS, services);
  await startPhase(admin);
  let t = performance.now();
  for (let i = 0; i < inputs.length; i += 5_000)
    await submitter.submitMany(inputs.slice(i, i + 5_000));
  await report(admin, 'submit', performance.now() - t);

  const connection = new Redis(server.url);
  const queues = await Promise.all(
    Array.from({ length: WORKERS }, () => createQueue({ redis: connection, namespace })),
  );
  await startPhase(admin);
  t = performance.now();
  let cpu = process.cpuUsage();
  const processed = await drain(queues, services);
  cpu = process.cpuUsage(cpu);
  await report(admin, 'claim + complete', performance.now() - t, (cpu.user + cpu.system) / 1000);
  if (processed !== JOBS) throw new Error(`processed ${processed} of ${JOBS}`);
  await Promise.all(queues.map((q) => q.close()));
  connection.disconnect();
  await submitter.close();

  // What users run: one createWorker per service at CONCURRENCY, as the BullMQ side below.
  const workerNs = 'profile-worker';
  const workerSubmitter = await createQueue({ redis: admin, namespace: workerNs });
  for (let i = 0; i < inputs.length; i += 5_000)
    await workerSubmitter.submitMany(inputs.slice(i, i + 5_000));
  await startPhase(admin);
  t = performance.now();
  cpu = process.cpuUsage();
  await jobgateWorkerDrain(server.url, workerNs, services, CONCURRENCY, JOBS);
  cpu = process.cpuUsage(cpu);
  await report(
    admin,
    `createWorker (concurrency ${CONCURRENCY}) claim + complete`,
    performance.now() - t,
    (cpu.user + cpu.system) / 1000,
  );
  await workerSubmitter.close();

  // BullMQ, the same workload: one queue and one Worker (CONCURRENCY) per service.
  const bullConnection = bullmqConnection(server.url);
  const bullQueues = await bullmqQueues(services, bullConnection, 'profile-bull');
  await startPhase(admin);
  t = performance.now();
  await bullmqSubmit(bullQueues, JOBS);
  await report(admin, 'BullMQ submit', performance.now() - t);
  await startPhase(admin);
  t = performance.now();
  cpu = process.cpuUsage();
  await bullmqDrain(services, bullConnection, 'profile-bull', CONCURRENCY, JOBS);
  cpu = process.cpuUsage(cpu);
  await report(
    admin,
    `BullMQ Worker (concurrency ${CONCURRENCY}) claim + complete`,
    performance.now() - t,
    (cpu.user + cpu.system) / 1000,
  );
  await Promise.all(bullQueues.map((q) => q.close()));
  admin.disconnect();
} finally {
  await server.stop();
}
