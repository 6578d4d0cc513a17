import { createQueue } from '@jobgate/core';
import { setupTelemetry } from '@jobgate/telemetry/setup';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { createStatusServer } from './server.js';
import { createWebhookService } from './service.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}

const logger = pino({ level: config.logLevel });
// Off (and the OpenTelemetry SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const telemetry = await setupTelemetry(config.telemetry);
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
const queue = await createQueue({ redis, namespace: config.namespace });
const service = createWebhookService({
  redis,
  jobs: queue,
  logger,
  namespace: config.namespace,
  policy: { allowHttp: config.allowHttp, allowCidrs: config.allowCidrs },
  ...(config.consumerName ? { consumerName: config.consumerName } : {}),
  timeoutMs: config.timeoutMs,
  concurrencyPerEndpoint: config.concurrencyPerEndpoint,
  maxInFlight: config.maxInFlight,
  schedule: config.schedule,
  ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
  claimIdleMs: config.claimIdleMs,
  disableAfterMs: config.disableAfterMs,
  retentionMs: config.retentionMs,
  ...(telemetry.enabled
    ? {
        telemetry: {
          tracer: telemetry.tracer('@jobgate/webhook-service'),
          meter: telemetry.meter('@jobgate/webhook-service'),
        },
      }
    : {}),
});
const app = createStatusServer(service, logger);

// The longest a stop may take: open requests' outcomes (each bounded by the timeout), then slack.
const stopWithinMs = config.timeoutMs + 20_000;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  // Every step below is bounded (Redis gone included); this is the backstop should one still hang.
  setTimeout(() => {
    logger.error('shutdown did not finish in time: exiting; claimed deliveries are sent again');
    process.exit(1);
  }, stopWithinMs).unref();
  await app.close();
  await service.stop();
  await queue.close();
  redis.disconnect();
  await telemetry.shutdown().catch(() => undefined);
  logger.info('shutdown complete');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await service.start();
const address = await app.listen({ port: config.port, host: config.host });
logger.info(
  {
    address,
    namespace: config.namespace,
    consumer: service.consumer,
    telemetry: config.telemetry.otlp ? config.telemetry.otlp.endpoint : 'off',
  },
  'jobgate webhook service listening',
);
