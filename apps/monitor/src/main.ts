import { createQueue, createReaper } from '@jobgate/core';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { createMonitor } from './server.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}

const logger = pino({
  level: config.logLevel,
  redact: ['req.headers.authorization', 'req.headers.cookie'],
});
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
const queue = await createQueue({ redis, namespace: config.namespace });
const app = await createMonitor({
  redis,
  queue,
  namespace: config.namespace,
  logger,
  stuckAfterMs: config.stuckAfterMs,
});
// The monitor shares the reaper's lock with the API instances: whoever holds it reaps.
const reaper =
  config.reaperIntervalMs > 0
    ? createReaper({
        redis,
        queue,
        intervalMs: config.reaperIntervalMs,
        lockTtlMs: Math.max(5 * config.reaperIntervalMs, 2_000),
        owner: `monitor-${process.pid}`,
        onReap: (result) => logger.info(result, 'reaped expired leases and due retries'),
        onError: (error) => logger.warn({ err: (error as Error).message }, 'reaper pass failed'),
      })
    : undefined;

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await reaper?.stop();
  await app.close();
  await queue.close();
  redis.disconnect();
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ address, namespace: config.namespace }, 'jobgate monitor listening');
reaper?.start();
