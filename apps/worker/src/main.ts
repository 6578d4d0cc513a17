import { pino } from 'pino';
import { ConfigError, describeConfig, loadConfig } from './config.js';
import { startWorkerApp } from './app.js';

const bootLog = pino({ name: 'jobgate-worker' });
let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    bootLog.fatal({ issues: error.issues }, error.message);
    process.exit(2);
  }
  throw error;
}
const log = pino({ name: 'jobgate-worker', level: config.logLevel });
log.info({ config: describeConfig(config) }, 'configuration loaded');

let app: Awaited<ReturnType<typeof startWorkerApp>>;
try {
  app = await startWorkerApp(config, log, config.version);
} catch (error) {
  log.fatal({ err: (error as Error).message }, 'worker failed to start');
  process.exit(1);
}
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) {
    log.warn(
      { signal },
      'second signal: exiting now; running jobs will be recovered when their leases expire',
    );
    process.exit(1);
  }
  log.info({ signal }, 'shutting down');
  // Every step of the stop is bounded; this is the backstop should one still hang.
  setTimeout(
    () => {
      log.error('shutdown did not finish in time: exiting; leases and the registry record expire');
      process.exit(1);
    },
    config.shutdownGraceMs + 4 * config.shutdownRedisTimeoutMs + 10_000,
  ).unref();
  app.shutdown().then(
    (report) => {
      if (report.redisUnanswered) {
        log.error(
          report,
          'shutdown incomplete: Redis did not answer; jobs left running are taken by another worker when their leases expire',
        );
        process.exit(1);
      }
      log.info(report, 'shutdown complete');
      process.exit(0);
    },
    (error: unknown) => {
      log.error({ err: (error as Error).message }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
