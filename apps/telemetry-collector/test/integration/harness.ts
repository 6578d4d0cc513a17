import { createQueue, type Queue, type WorkerSpec } from '@jobgate/core';
import {
  dropNamespace,
  startOtlpReceiver,
  uniqueNamespace,
  type OtlpReceiver,
} from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createApp, loadConfig, type CollectorApp } from '../../src/index.js';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run through the integration preset');
  return url;
}

/** Silent unless COLLECTOR_TEST_LOG=1 (then every collector log line goes to stderr). */
const log =
  (level: string) =>
  (obj: object, msg: string): void => {
    if (process.env.COLLECTOR_TEST_LOG === '1') console.error(level, msg, JSON.stringify(obj));
  };
export const quietLogger = { info: log('info'), warn: log('warn'), error: log('error') };

/** Collector settings fast enough for tests: short blocks, sweeps and backoffs. */
export function testEnv(namespace: string, endpoint: string, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: redisUrl(),
    QUEUE_NAMESPACE: namespace,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    DEPLOYMENT_ENVIRONMENT: 'test',
    SERVICE_VERSION: '1.2.3',
    TELEMETRY_BLOCK_MS: '100',
    TELEMETRY_SWEEP_INTERVAL_MS: '100',
    TELEMETRY_SETTLE_MS: '0',
    TELEMETRY_BACKOFF_BASE_MS: '50',
    TELEMETRY_BACKOFF_MAX_MS: '400',
    // Queue metrics every 5 s: one export every 200 ms cost each test CPU (protobuf, HTTP, the
    // receiver's decoding) for numbers only the metrics case reads; it asks for 200 ms itself.
    TELEMETRY_METRIC_INTERVAL_MS: '5000',
    TELEMETRY_CONSUMER: 'c1',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

export interface Stack extends AsyncDisposable {
  namespace: string;
  redis: Redis;
  queue: Queue;
  receiver: OtlpReceiver;
  clock: { now: number };
  /** Starts (another) in-process collector on this namespace. */
  collector(extra?: Record<string, string>): Promise<CollectorApp & { url: string }>;
}

/** A namespace, a queue with a hand-moved clock, an OTLP receiver; collectors on demand. */
export async function startStack(): Promise<Stack> {
  const namespace = uniqueNamespace('tel');
  const redis = new Redis(redisUrl());
  // Near the real time: the collector ages open spans by its own clock.
  const clock = { now: Date.now() };
  const queue = await createQueue({ redis, namespace, clock: () => clock.now });
  const receiver = await startOtlpReceiver();
  const apps: CollectorApp[] = [];
  const clients: Redis[] = [];
  return {
    namespace,
    redis,
    queue,
    receiver,
    clock,
    async collector(extra = {}) {
      const client = new Redis(redisUrl());
      clients.push(client);
      const config = loadConfig(testEnv(namespace, receiver.url, extra));
      const app = await createApp({ redis: client, config, logger: quietLogger });
      apps.push(app);
      const url = await app.server.listen({ port: 0, host: '127.0.0.1' });
      await app.start();
      return Object.assign(app, { url });
    },
    async [Symbol.asyncDispose]() {
      for (const app of apps) await app.close();
      for (const client of clients) client.disconnect();
      await receiver.close();
      await queue.close();
      await dropNamespace(redis, namespace);
      redis.disconnect();
    },
  };
}

export const worker = (id: string, services = ['svc']): WorkerSpec => ({
  worker_id: id,
  services,
});
