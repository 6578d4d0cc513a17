export {
  createWorker,
  type Worker,
  type WorkerOptions,
  type WorkerStats,
  type StopReport,
} from './worker.js';
export {
  loadConfig,
  loadOpsConfig,
  describeConfig,
  ConfigError,
  type WorkerConfig,
} from './config.js';
export { runOps, OpsUsageError, OPS_USAGE } from './ops.js';
export { startWorkerApp, buildConnectors, type RunningWorker } from './app.js';
export { listWorkers, registryKeys, type WorkerRecord, type WorkerStatus } from './registry.js';
export { silentLogger, type Logger } from './logger.js';
export * from './connectors/index.js';
