import { createQueue, createReaper } from '@jobgate/core';
import { setupTelemetry } from '@jobgate/telemetry/setup';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { createServer } from './server.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}

const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
// Off (and the OpenTelemetry SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const telemetry = await setupTelemetry(config.telemetry);
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
const queue = await createQueue({ redis, namespace: config.namespace });
const app = await createServer({
  redis,
  queue,
  logger,
  namespace: config.namespace,
  services: config.services,
  bodyLimitBytes: config.bodyLimitBytes,
  wsPingIntervalMs: config.wsPingIntervalMs,
  wsMaxBufferedBytes: config.wsMaxBufferedBytes,
  authCacheTtlMs: config.authCacheTtlMs,
  idempotencyTtlSeconds: config.idempotencyTtlSeconds,
  logRequests: config.logRequests,
  webhooks: { allowHttp: config.webhookAllowHttp, allowCidrs: config.webhookAllowCidrs },
  limits: config.limits,
  ...(telemetry.enabled
    ? {
        telemetry: {
          tracer: telemetry.tracer('@jobgate/api'),
          meter: telemetry.meter('@jobgate/api'),
        },
      }
    : {}),
});

// Expired leases are requeued even when no worker is alive to claim (and so reap); API instances
// and monitors share one Redis lock, so one of them reaps at a time.
const reaper =
  config.reaperIntervalMs > 0
    ? createReaper({
        redis,
        queue,
        intervalMs: config.reaperIntervalMs,
        lockTtlMs: Math.max(5 * config.reaperIntervalMs, 2_000),
        owner: `api-${process.pid}`,
        onReap: (result) => logger.info(result, 'reaped expired leases and due retries'),
        onError: (error) => logger.warn({ err: (error as Error).message }, 'reaper pass failed'),
      })
    : undefined;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  await reaper?.stop();
  await app.close();
  await queue.close();
  redis.disconnect();
  await telemetry.shutdown().catch(() => undefined);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

const address = await app.listen({ port: config.port, host: config.host });
logger.info(
  {
    address,
    namespace: config.namespace,
    telemetry: config.telemetry.otlp ? config.telemetry.otlp.endpoint : 'off',
  },
  'jobgate api listening',
);
reaper?.start();
