import { createQueue } from '@jobgate/core';
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
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  await app.close();
  await queue.close();
  redis.disconnect();
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ address, namespace: config.namespace }, 'jobgate api listening');
