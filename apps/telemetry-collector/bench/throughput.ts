/**
 * `pnpm --filter @jobgate/telemetry-collector bench` (run it under the heavy lock):
 * 1. events/s turned into exported spans by one in-process collector against the loopback OTLP
 *    receiver, from a stream pre-filled by the real Lua library (received, claimed, completed);
 * 2. memory with 100,000 open spans (jobs received, never claimed).
 * BENCH_JOBS / BENCH_OPEN change the sizes. The receiver runs in a process of its own
 * (`bench/receiver-process.ts`), as a backend would; BENCH_RECEIVER=inline puts it in this process
 * (its protobuf decoding then shares the collector's event loop, as in the first recorded run).
 * BENCH_VARIANTS='default;TELEMETRY_EXPORT_CONCURRENCY=4' runs variants side by side on the same
 * stream; a variant's `SRC=<folder>` (or SRC for all) runs the collector from another copy of
 * `src/` (before/after: copy the old `src/` somewhere under this package, e.g.
 * `node_modules/.bench/before`, so its imports resolve).
 */
import { execSync, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Session } from 'node:inspector';
import { cpus, loadavg } from 'node:os';
import { createQueue } from '@jobgate/core';
import { startOtlpReceiver, startRedis, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import * as ownSrc from '../src/index.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const OPEN = Number(process.env.BENCH_OPEN ?? 100_000);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const redisHandle = await startRedis({ own: true });
interface Receiver {
  url: string;
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

type Src = typeof ownSrc;
const sources = new Map<string, Promise<Src>>();
function source(folder: string | undefined): Promise<Src> {
  if (!folder) return Promise.resolve(ownSrc);
  const path = resolve(folder);
  let loaded = sources.get(path);
  if (!loaded) {
    loaded = import(pathToFileURL(`${path}/index.ts`).href) as Promise<Src>;
    sources.set(path, loaded);
  }
  return loaded;
}

async function collector(
  namespace: string,
  extra: Record<string, string> = {},
  folder = process.env.SRC,
) {
  const { createApp, loadConfig } = await source(folder);
  const config = loadConfig({
    REDIS_URL: redisHandle.url,
    QUEUE_NAMESPACE: namespace,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    TELEMETRY_CONSUMER: 'bench',
    TELEMETRY_METRIC_INTERVAL_MS: '60000',
    TELEMETRY_SETTLE_MS: '0',
    LOG_LEVEL: 'silent',
    ...extra,
  });
  const client = new Redis(redisHandle.url);
  const app = await createApp({ redis: client, config, logger: silent });
  return { app, client };
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
    eventsPerSecond: number;
    seconds: number;
    cpuSeconds: number;
  }[] = [];
  for (const [index, variant] of variants.entries()) {
    const extra: Record<string, string> = { TELEMETRY_GROUP: `bench-${String(index)}` };
    let folder = process.env.SRC;
    if (variant !== 'default') {
      for (const pair of variant.split(',')) {
        const [k, v] = pair.split('=');
        if (k?.trim() === 'SRC') folder = v?.trim();
        else if (k && v !== undefined) extra[k.trim()] = v.trim();
      }
    }
    await receiver.reset();
    const { app, client } = await collector(ns, extra, folder);
    // BENCH_PROFILE=<dir>: a CPU profile of this process during each variant's run only.
    const session = process.env.BENCH_PROFILE ? new Session() : undefined;
    const post = (method: string): Promise<unknown> =>
      new Promise((resolve, reject) =>
        session!.post(method, (error, result) => (error ? reject(error) : resolve(result))),
      );
    if (session) {
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.start');
    }
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await app.start();
    await waitFor(async () => (await receiver.count()) >= JOBS * 2, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: `${JOBS * 2} spans`,
    });
    const seconds = (performance.now() - started) / 1_000;
    const cpu = process.cpuUsage(cpuBefore);
    if (session) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      mkdirSync(process.env.BENCH_PROFILE!, { recursive: true });
      writeFileSync(
        `${process.env.BENCH_PROFILE!}/variant-${String(index)}.cpuprofile`,
        JSON.stringify(profile),
      );
      session.disconnect();
    }
    await app.close();
    client.disconnect();
    results.push({
      variant,
      seconds,
      eventsPerSecond: Math.round(events / seconds),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    });
  }
  await queue.close();

  // 2. Memory with OPEN open spans.
  await receiver.reset();
  const ns2 = uniqueNamespace('bench');
  const queue2 = await createQueue({ redis, namespace: ns2, eventsMaxLen: 10_000_000 });
  for (let i = 0; i < OPEN; i += 1_000)
    await queue2.submitMany(
      Array.from({ length: Math.min(1_000, OPEN - i) }, () => ({ service_required: 'svc' })),
    );
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const redisBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  const second = await collector(ns2, { TELEMETRY_MAX_OPEN_SPANS: String(Math.max(OPEN * 2, 1)) });
  await second.app.start();
  await waitFor(async () => (await second.app.collector!.openSpans()) >= OPEN, {
    timeoutMs: 600_000,
    what: `${OPEN} open spans`,
  });
  global.gc?.();
  const rssAfter = process.memoryUsage().rss;
  const redisAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  await second.app.close();
  second.client.disconnect();
  await queue2.close();

  const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${redisHandle.version}; receiver ${INLINE ? 'in this process' : 'in its own process'}`,
  );
  console.log(
    `load before/after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${execSync('uptime').toString().trim()})`,
  );
  for (const r of results)
    console.log(
      `throughput [${r.variant}]: ${events} events (${JOBS} jobs) -> ${JOBS * 2} spans in ${r.seconds.toFixed(2)} s = ${r.eventsPerSecond} events/s (target 20,000: ${(r.eventsPerSecond / 20_000).toFixed(2)}x); this process used ${r.cpuSeconds.toFixed(2)} CPU-s = ${Math.round(events / r.cpuSeconds)} events per CPU-second`,
    );
  console.log(
    `open spans: ${OPEN}: collector RSS +${mb(rssAfter - rssBefore)} MB (${mb(rssAfter)} MB total), Redis used_memory +${mb(redisAfter - redisBefore)} MB`,
  );
} finally {
  redis.disconnect();
  await receiver.close();
  await redisHandle.stop();
}
