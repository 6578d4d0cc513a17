import { Redis } from 'ioredis';
import { ConfigError, loadOpsConfig } from './config.js';
import { OPS_USAGE, OpsUsageError, runOps } from './ops.js';

const argv = process.argv.slice(2);
// Help needs neither configuration nor Redis: it is what an operator types first.
if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
  console.log(OPS_USAGE);
  process.exit(argv.length === 0 ? 2 : 0);
}

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
  console.log(await runOps(argv, { redis, namespace: config.namespace }));
  process.exitCode = 0;
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = error instanceof OpsUsageError ? 2 : 1;
} finally {
  redis.disconnect();
}
