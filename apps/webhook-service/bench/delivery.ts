/**
 * `pnpm --filter @jobgate/webhook-service bench`: one service instance delivering `job.received`
 * events (submitted through core at a fixed rate) to a local receiver answering 200. Reports
 * deliveries per second and event-to-receipt latency (the event's timestamp to the receiver
 * reading the request), with 1 endpoint and with 100 endpoints (100 customers, one each), plus a
 * burst run for the ceiling. Run under the heavy lock; record `uptime` with the numbers.
 */
import { cpus, loadavg } from 'node:os';
import { createQueue } from '@jobgate/core';
import { startRedis, startWebhookReceiver, uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createWebhookService } from '../src/service.js';
import { WebhookStore } from '../src/store.js';

const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 5_000);

interface Result {
  name: string;
  offered: string;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function run(
  redisUrl: string,
  name: string,
  endpoints: number,
  mode: { rate: number; seconds: number } | { burst: number },
  concurrencyPerEndpoint?: number,
): Promise<Result> {
  const namespace = uniqueNamespace('bench');
  const redis = new Redis(redisUrl);
  const queue = await createQueue({ redis, namespace, eventsMaxLen: 1_000_000 });
  const store = new WebhookStore(redis, namespace);
  const receiver = await startWebhookReceiver();
  const latencies: number[] = [];
  let firstAt = 0;
  let lastAt = 0;
  receiver.onRequest = (r) => {
    const at = Date.now();
    firstAt ||= at;
    lastAt = at;
    const sent = r.body ? Date.parse(r.body.timestamp) : NaN;
    latencies.push(at - sent);
  };
  // Keep only latencies: the receiver's own log would grow by every body.
  const customers: string[] = [];
  for (let i = 0; i < endpoints; i++) {
    const customer = `c${i}`;
    customers.push(customer);
    await store.create(customer, { url: receiver.url(`/e${i}`), events: ['job.received'] });
  }
  const service = createWebhookService({
    redis,
    jobs: queue,
    namespace,
    policy: { allowHttp: true, allowCidrs: ['127.0.0.0/8'] },
    defaultMetrics: false,
    // The service's default poll (20 ms): new events and finished requests wake it up.
    ...(process.env.BENCH_POLL_MS ? { pollMs: Number(process.env.BENCH_POLL_MS) } : {}),
    ...(concurrencyPerEndpoint ? { concurrencyPerEndpoint } : {}),
  });
  await service.start();
  const total = 'burst' in mode ? mode.burst : mode.rate * mode.seconds;
  let n = 0;
  const job = () => ({
    service_required: 'bench',
    customer_id: customers[n++ % customers.length]!,
    payload: {},
  });
  if ('burst' in mode) {
    for (let i = 0; i < total; i += 500) {
      await queue.submitMany(Array.from({ length: Math.min(500, total - i) }, job));
    }
  } else {
    // 10 ms ticks, each submitting its share, catching up when a tick ran late.
    const start = Date.now();
    while (n < total) {
      const due = Math.min(total, Math.floor(((Date.now() - start) / 1_000) * mode.rate));
      if (due > n) await queue.submitMany(Array.from({ length: due - n }, job));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const deadline = Date.now() + 120_000;
  while (latencies.length < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await service.stop();
  await receiver.close();
  await queue.close();
  const keys = await redis.keys(`{${namespace}}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    name,
    offered: 'burst' in mode ? `${total} at once` : `${mode.rate}/s for ${mode.seconds} s`,
    deliveries: latencies.length,
    perSecond: Math.round(latencies.length / Math.max(0.001, (lastAt - firstAt) / 1_000)),
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? NaN,
  };
}

const redis = await startRedis({ own: true });
try {
  const results: Result[] = [];
  results.push(await run(redis.url, '1 endpoint', 1, { rate: RATE, seconds: SECONDS }));
  results.push(
    await run(redis.url, '1 endpoint, concurrency 50', 1, { rate: RATE, seconds: SECONDS }, 50),
  );
  results.push(await run(redis.url, '100 endpoints', 100, { rate: RATE, seconds: SECONDS }));
  results.push(await run(redis.url, '1 endpoint, burst', 1, { burst: BURST }));
  results.push(await run(redis.url, '100 endpoints, burst', 100, { burst: BURST }));
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${redis.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    '| run | offered | delivered | deliveries/s | p50 ms | p99 ms | max ms | p99 vs 100 ms target |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.offered} | ${r.deliveries} | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.max} | ${(r.p99 / 100).toFixed(2)}x |`,
    );
  }
} finally {
  await redis.stop();
}
