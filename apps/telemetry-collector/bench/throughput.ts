/**
 * `pnpm --filter @jobgate/telemetry-collector bench` (run it under the heavy lock):
 * 1. events/s turned into exported spans by one in-process collector against the loopback OTLP
 *    receiver, from a stream pre-filled by the real Lua library (received, claimed, completed);
 * 2. memory with 100,000 open spans (jobs received, never claimed).
 * BENCH_JOBS / BENCH_OPEN change the sizes.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createQueue } from '@jobgate/core';
import { startOtlpReceiver, startRedis, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createApp, loadConfig } from '../src/index.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const OPEN = Number(process.env.BENCH_OPEN ?? 100_000);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const redisHandle = await startRedis({ own: true });
const receiver = await startOtlpReceiver();
const redis = new Redis(redisHandle.url);

async function collector(namespace: string, extra: Record<string, string> = {}) {
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
  const { app, client } = await collector(ns);
  const started = performance.now();
  await app.start();
  await waitFor(() => receiver.spans.length >= JOBS * 2, {
    timeoutMs: 600_000,
    intervalMs: 20,
    what: `${JOBS * 2} spans`,
  });
  const seconds = (performance.now() - started) / 1_000;
  await app.close();
  client.disconnect();
  await queue.close();
  const eventsPerSecond = Math.round(events / seconds);

  // 2. Memory with OPEN open spans.
  receiver.spans.length = 0;
  const ns2 = uniqueNamespace('bench');
  const queue2 = await createQueue({ redis, namespace: ns2, eventsMaxLen: 10_000_000 });
  for (let i = 0; i < OPEN; i += 1_000)
    await queue2.submitMany(
      Array.from({ length: Math.min(1_000, OPEN - i) }, () => ({ service_required: 'svc' })),
    );
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const redisBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  const second = await collector(ns2, { TELEMETRY_MAX_OPEN_SPANS: String(OPEN * 2) });
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
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${redisHandle.version}`,
  );
  console.log(
    `load before/after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${execSync('uptime').toString().trim()})`,
  );
  console.log(
    `throughput: ${events} events (${JOBS} jobs) -> ${JOBS * 2} spans in ${seconds.toFixed(2)} s = ${eventsPerSecond} events/s (target 20,000: ${(eventsPerSecond / 20_000).toFixed(2)}x)`,
  );
  console.log(
    `open spans: ${OPEN}: collector RSS +${mb(rssAfter - rssBefore)} MB (${mb(rssAfter)} MB total), Redis used_memory +${mb(redisAfter - redisBefore)} MB`,
  );
} finally {
  redis.disconnect();
  await receiver.close();
  await redisHandle.stop();
}
