export { waitFor, within, WaitForTimeoutError, type WaitForOptions } from './wait-for.js';
export { drain, DrainError, type DrainOptions } from './drain.js';
export { uniqueNamespace } from './namespace.js';
export { onProcessDeath, processAlive } from './process-death.js';
export {
  startRedis,
  freePort,
  dropNamespace,
  findRedisServer,
  redact,
  RedisBinaryNotFoundError,
  RedisStartError,
  type RedisHandle,
  type StartRedisOptions,
} from './redis.js';
export * from './fakes/index.js';
export {
  startRedisCluster,
  type RedisClusterHandle,
  type StartRedisClusterOptions,
} from './cluster.js';
export { buildTestBundle, buildTestBundles, testBundle, type TestBundle } from './bundle.js';
export { CHROMIUM_TEST_ARGS, PLAYWRIGHT_DISABLED_FEATURES } from './chromium.js';
