/**
 * `pnpm --filter @jobgate/telemetry-collector bench` (run it under the heavy lock):
 * 1. events/s turned into exported spans by one collector against the loopback OTLP receiver,
 *    from a stream pre-filled by the real Lua library (received, claimed, completed);
 * 2. memory with 100,000 open spans (jobs received, never claimed).
 *
 * The collector runs as users run it: the esbuild bundle (`dist/main.js`, built by
 * `scripts/build.mjs` first) in a `node` process of its own, configured through its environment.
 * Its events/s are timed from its "listening" log line (the read loop has started) to the last
 * span at the receiver; its CPU is read from `/proc/<pid>/stat` over the same interval (every
 * thread of the process, nothing of this harness). The receiver runs in a process of its own
 * (`bench/receiver-process.ts`), as a backend would; BENCH_RECEIVER=inline puts it in this
 * harness process instead.
 *
 * BENCH_JOBS / BENCH_OPEN change the sizes. BENCH_VARIANTS='default;TELEMETRY_EXPORT_CONCURRENCY=4'
 * runs variants side by side on the same stream (each through a consumer group of its own);
 * `SRC=<folder>` in a variant (or SRC for all) bundles and runs another copy of `src/` (for
 * before/after: copy the old `src/` under this package, e.g. `node_modules/.bench/before`, so its
 * imports resolve); `NODE=<flag>` adds a node flag; BENCH_WARMUP=1 runs the first variant once,
 * unrecorded, before the rounds (the receiver's JIT warms up); `TSX=1` runs the source through tsx instead
 * of the bundle (as `dev` and the tests do). BENCH_ROUNDS=n runs the list n times
 * (rounds). BENCH_PROFILE=<dir> writes a CPU profile of each collector process (`--cpu-prof`).
 */
import { execFileSync, execSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { createQueue } from '@jobgate/core';
import { startOtlpReceiver, startRedis, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const OPEN = Number(process.env.BENCH_OPEN ?? 100_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const TICKS = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

const redisHandle = await startRedis({ own: true });
interface Receiver {
  url: string;
  /** Its process, when it has one of its own. */
  pid?: number;
  count(): Promise<number>;
  reset(): Promise<void>;
  close(): Promise<void>;
}
const INLINE = process.env.BENCH_RECEIVER === 'inline';
async function startReceiver(): Promise<Receiver> {
  if (INLINE) {
    const r = await startOtlpReceiver();
    return {
      url: r.url,
      count: () => Promise.resolve(r.spans.length),
      reset: () => {
        r.spans.length = 0;
        return Promise.resolve();
      },
      close: () => r.close(),
    };
  }
  const child = fork(new URL('./receiver-process.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
  });
  const next = <T>(key: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (message: Record<string, unknown>): void => {
        if (!(key in message)) return;
        child.off('message', on);
        resolve(message as T);
      };
      child.on('message', on);
    });
  const { url } = await next<{ url: string }>('url');
  return {
    url,
    pid: child.pid,
    count: async () => {
      const reply = next<{ spans: number }>('spans');
      child.send('count');
      return (await reply).spans;
    },
    reset: async () => {
      const reply = next('reset');
      child.send('reset');
      await reply;
    },
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('close');
      await exited;
    },
  };
}
const receiver = await startReceiver();
const redis = new Redis(redisHandle.url);

/** The bundle of a copy of `src/` (this package's own `src/` -> `dist/main.js`), built once. */
const bundles = new Map<string, string>();
function bundle(folder: string | undefined): string {
  const src = resolve(APP_DIR, folder ?? 'src');
  let out = bundles.get(src);
  if (out) return out;
  out =
    folder === undefined
      ? join(APP_DIR, 'dist/main.js')
      : join(
          APP_DIR,
          'node_modules/.bench/bundles',
          createHash('sha256').update(src).digest('hex').slice(0, 12),
          'main.js',
        );
  execFileSync(process.execPath, ['scripts/build.mjs'], {
    cwd: APP_DIR,
    env: {
      ...process.env,
      COLLECTOR_BUNDLE_ENTRY: join(src, 'main.ts'),
      COLLECTOR_BUNDLE_OUTFILE: out,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  bundles.set(src, out);
  return out;
}

/**
 * CPU seconds (user + system) of a process, all threads, from /proc; with `thread`, of that
 * thread only (the main thread's id is the process id).
 */
function cpuSeconds(pid: number, thread?: number): number {
  const stat = readFileSync(
    thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
    'utf8',
  );
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}
function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

interface CollectorProcess {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** The bundle in a process of its own; resolves once it logged that it is listening (reading). */
async function collector(
  namespace: string,
  extra: Record<string, string>,
  options: { folder?: string; nodeFlags?: string[]; profile?: string; tsx?: boolean } = {},
): Promise<CollectorProcess> {
  // TSX=1: the source through tsx, as `dev` and the tests run it (for comparison only).
  const main = options.tsx
    ? join(resolve(APP_DIR, options.folder ?? 'src'), 'main.ts')
    : bundle(options.folder);
  const flags = [...(options.tsx ? ['--import', 'tsx'] : []), ...(options.nodeFlags ?? [])];
  if (options.profile) {
    mkdirSync(dirname(options.profile), { recursive: true });
    flags.push(
      '--cpu-prof',
      `--cpu-prof-dir=${dirname(options.profile)}`,
      `--cpu-prof-name=${relative(dirname(options.profile), options.profile)}`,
    );
  }
  const child = spawn(process.execPath, [...flags, main], {
    cwd: APP_DIR,
    env: {
      ...process.env,
      REDIS_URL: redisHandle.url,
      QUEUE_NAMESPACE: namespace,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      TELEMETRY_CONSUMER: 'bench',
      TELEMETRY_METRIC_INTERVAL_MS: '60000',
      TELEMETRY_SETTLE_MS: '0',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      if (buffered.includes('jobgate telemetry collector listening')) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`collector exited (${String(code)}) before listening:\n${buffered}`)),
    );
  });
  return {
    child,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

try {
  // 1. Throughput.
  const ns = uniqueNamespace('bench');
  const queue = await createQueue({ redis, namespace: ns, eventsMaxLen: 10_000_000 });
  const w = { worker_id: 'w', services: ['svc'] };
  for (let i = 0; i < JOBS; i += 1_000) {
    await queue.submitMany(
      Array.from({ length: Math.min(1_000, JOBS - i) }, (_, j) => ({
        service_required: 'svc',
        workflow_id: `wf-${(i + j) % 100}`,
      })),
    );
  }
  let job = await queue.claim(w);
  while (job) job = await queue.completeAndClaim(job.id, 'w', {}, w);
  const events = await redis.xlen(`{${ns}}:events`);
  // Variants side by side on the same stream: each reads it through a consumer group of its own.
  const variants = (process.env.BENCH_VARIANTS ?? 'default')
    .split(';')
    .map((v) => v.trim())
    .filter(Boolean);
  const results: {
    variant: string;
    round: number;
    eventsPerSecond: number;
    seconds: number;
    cpuSeconds: number;
    mainThreadCpuSeconds: number;
    /** Of the receiver's process and of redis-server, over the same interval (same machine). */
    receiverCpuSeconds: number | undefined;
    redisCpuSeconds: number | undefined;
    load: number;
  }[] = [];
  const loadBefore = execSync('uptime').toString().trim();
  let run = 0;
  // BENCH_WARMUP=1: the first variant once, unrecorded, before the rounds: the receiver's process
  // decodes faster once its JIT is warm, which favoured whichever variant ran later.
  const WARMUP = process.env.BENCH_WARMUP === '1';
  for (let round = WARMUP ? 0 : 1; round <= ROUNDS; round++) {
    for (const variant of round === 0 ? variants.slice(0, 1) : variants) {
      run++;
      const extra: Record<string, string> = { TELEMETRY_GROUP: `bench-${String(run)}` };
      let folder = process.env.SRC;
      const nodeFlags: string[] = [];
      let tsx = false;
      if (variant !== 'default') {
        for (const pair of variant.split(',')) {
          const at = pair.indexOf('=');
          const k = pair.slice(0, at).trim();
          const v = pair.slice(at + 1).trim();
          if (at < 0) continue;
          if (k === 'SRC') folder = v;
          else if (k === 'NODE') nodeFlags.push(v);
          else if (k === 'TSX') tsx = v === '1';
          else extra[k] = v;
        }
      }
      await receiver.reset();
      const profile = process.env.BENCH_PROFILE
        ? resolve(process.env.BENCH_PROFILE, `run-${String(run)}.cpuprofile`)
        : undefined;
      const proc = await collector(ns, extra, { folder, nodeFlags, profile, tsx });
      const started = performance.now();
      const cpuBefore = cpuSeconds(proc.pid);
      const mainBefore = cpuSeconds(proc.pid, proc.pid);
      const receiverBefore = receiver.pid ? cpuSeconds(receiver.pid) : undefined;
      const redisBefore = redisHandle.pid ? cpuSeconds(redisHandle.pid) : undefined;
      await waitFor(async () => (await receiver.count()) >= JOBS * 2, {
        timeoutMs: 600_000,
        intervalMs: 20,
        what: `${JOBS * 2} spans`,
      });
      const seconds = (performance.now() - started) / 1_000;
      const cpu = cpuSeconds(proc.pid) - cpuBefore;
      const mainThread = cpuSeconds(proc.pid, proc.pid) - mainBefore;
      const receiverCpu =
        receiverBefore === undefined ? undefined : cpuSeconds(receiver.pid!) - receiverBefore;
      const redisCpu =
        redisBefore === undefined ? undefined : cpuSeconds(redisHandle.pid!) - redisBefore;
      await proc.stop();
      if (round === 0) continue;
      results.push({
        variant,
        round,
        seconds,
        eventsPerSecond: Math.round(events / seconds),
        cpuSeconds: cpu,
        mainThreadCpuSeconds: mainThread,
        receiverCpuSeconds: receiverCpu,
        redisCpuSeconds: redisCpu,
        load: loadavg()[0]!,
      });
    }
  }
  const loadAfter = execSync('uptime').toString().trim();
  await queue.close();

  // 2. Memory with OPEN open spans.
  await receiver.reset();
  const ns2 = uniqueNamespace('bench');
  const queue2 = await createQueue({ redis, namespace: ns2, eventsMaxLen: 10_000_000 });
  for (let i = 0; i < OPEN; i += 1_000)
    await queue2.submitMany(
      Array.from({ length: Math.min(1_000, OPEN - i) }, () => ({ service_required: 'svc' })),
    );
  const redisBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  const second = await collector(
    ns2,
    { TELEMETRY_GROUP: 'bench-open', TELEMETRY_MAX_OPEN_SPANS: String(Math.max(OPEN * 2, 1)) },
    { folder: process.env.SRC },
  );
  const rssBefore = rssBytes(second.pid);
  await waitFor(async () => (await redis.zcard(`{${ns2}}:otel:bench-open:open`)) >= OPEN, {
    timeoutMs: 600_000,
    what: `${OPEN} open spans`,
  });
  const rssAfter = rssBytes(second.pid);
  const redisAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  await second.stop();
  await queue2.close();

  const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${redisHandle.version}; collector: the bundle in its own process; receiver ${INLINE ? 'in the harness process' : 'in its own process'}`,
  );
  console.log(`load before: ${loadBefore}`);
  console.log(`load after:  ${loadAfter}`);
  const perEvent = (seconds: number | undefined): string =>
    seconds === undefined ? '?' : `${String(Math.round((seconds / events) * 1e6))} µs`;
  for (const r of results)
    console.log(
      `throughput [${r.variant}] round ${String(r.round)}: ${events} events (${JOBS} jobs) -> ${JOBS * 2} spans in ${r.seconds.toFixed(2)} s = ${r.eventsPerSecond} events/s (target 20,000: ${(r.eventsPerSecond / 20_000).toFixed(2)}x); collector CPU ${r.cpuSeconds.toFixed(2)} s = ${Math.round((r.cpuSeconds / events) * 1e6)} µs per event (main thread ${perEvent(r.mainThreadCpuSeconds)}); receiver ${perEvent(r.receiverCpuSeconds)}, redis-server ${perEvent(r.redisCpuSeconds)} per event; load ${r.load.toFixed(2)}`,
    );
  console.log(
    `open spans: ${OPEN}: collector RSS +${mb(rssAfter - rssBefore)} MB (${mb(rssAfter)} MB total), Redis used_memory +${mb(redisAfter - redisBefore)} MB`,
  );
} finally {
  redis.disconnect();
  await receiver.close();
  await redisHandle.stop();
}
