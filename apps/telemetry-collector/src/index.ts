export { createApp, SERVICE_NAME, type AppDeps, type CollectorApp } from './app.js';
export {
  createCollector,
  type Collector,
  type CollectorDeps,
  type CollectorOptions,
  type CollectorStats,
} from './collector.js';
export { loadConfig, ConfigError, type CollectorConfig } from './config.js';
export {
  buildJob,
  traceIdFor,
  jobSpanIdFor,
  attemptSpanIdFor,
  type BuiltJob,
  type RecordedEvent,
} from './spans.js';
