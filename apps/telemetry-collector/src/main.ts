import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}

const logger = pino({ level: config.logLevel });
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
const app = await createApp({ redis, config, logger });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  await app.close();
  redis.disconnect();
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

const address = await app.server.listen({ port: config.port, host: config.host });
await app.start();
logger.info(
  {
    address,
    namespace: config.namespace,
    consumer: config.consumer,
    exporting: config.otlp ? config.otlp.endpoint : 'disabled',
  },
  'jobgate telemetry collector listening',
);
