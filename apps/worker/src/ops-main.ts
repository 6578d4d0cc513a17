import { Redis } from 'ioredis';
import { ConfigError, loadOpsConfig } from './config.js';
import { OpsUsageError, runOps } from './ops.js';

let config;
try {
  config = loadOpsConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
const redis = new Redis(config.redisUrl, {
  maxRetriesPerRequest: 1,
  lazyConnect: true,
  retryStrategy: () => null,
});
// Connection errors surface through the failed command below; the event would only add noise.
redis.on('error', () => {});
try {
  await redis.connect().catch((error: unknown) => {
    throw new Error(`cannot reach Redis (REDIS_URL): ${(error as Error).message}`, {
      cause: error,
    });
  });
  console.log(await runOps(process.argv.slice(2), { redis, namespace: config.namespace }));
  process.exitCode = 0;
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = error instanceof OpsUsageError ? 2 : 1;
} finally {
  redis.disconnect();
}
