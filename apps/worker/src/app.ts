import { createQueue } from '@jobgate/core';
import { setupTelemetry } from '@jobgate/telemetry/setup';
import { Redis } from 'ioredis';
import type { WorkerConfig } from './config.js';
import {
  createComfyUIConnector,
  createOpenAIConnector,
  createSimulationConnector,
  type Connector,
} from './connectors/index.js';
import type { Logger } from './logger.js';
import { createWorkerMetrics, startStatusServer, type StatusServer } from './metrics.js';
import { createWorker, type StopReport, type Worker } from './worker.js';

export function buildConnectors(config: WorkerConfig): Connector[] {
  const connectors: Connector[] = [];
  const models = (service: string): { models?: string[] } =>
    config.models[service] ? { models: config.models[service] } : {};
  for (const kind of config.connectors) {
    if (kind === 'simulation')
      connectors.push(
        createSimulationConnector({
          service: config.simulation.service,
          ...models(config.simulation.service),
        }),
      );
    if (kind === 'openai' && config.openai)
      connectors.push(
        createOpenAIConnector({ ...config.openai, ...models(config.openai.service) }),
      );
    if (kind === 'comfyui' && config.comfyui)
      connectors.push(
        createComfyUIConnector({ ...config.comfyui, ...models(config.comfyui.service) }),
      );
  }
  return connectors;
}

export interface RunningWorker {
  worker: Worker;
  /** `/metrics` and `/health`, when WORKER_METRICS_PORT is set. */
  status: StatusServer | undefined;
  /** Stops the worker (grace period from the config) and closes its connections. */
  shutdown(): Promise<StopReport>;
}

/** Connects, builds the worker from validated configuration and starts it. */
export async function startWorkerApp(
  config: WorkerConfig,
  log: Logger,
  version = '0.0.0',
): Promise<RunningWorker> {
  // Off (and the OpenTelemetry SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const telemetry = await setupTelemetry(config.telemetry);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (error: Error) => log.warn({ err: error.message }, 'redis connection error'));
  const queue = await createQueue({
    redis,
    namespace: config.namespace,
    defaultLeaseMs: config.leaseMs,
  });
  const metrics = config.metrics
    ? await createWorkerMetrics({ worker_id: config.workerId, machine_id: config.machineId })
    : undefined;
  const worker = createWorker({
    queue,
    redis,
    capabilities: {
      worker_id: config.workerId,
      ...(Object.keys(config.hardware).length > 0 ? { hardware: config.hardware } : {}),
      ...(Object.keys(config.models).length > 0 ? { models: config.models } : {}),
      customer_access: config.customerAccess,
      ...(config.workflowId ? { workflow_id: config.workflowId } : {}),
      ...(Object.keys(config.capabilities).length > 0 ? { capabilities: config.capabilities } : {}),
    },
    connectors: buildConnectors(config),
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    idleWaitMs: config.idleWaitMs,
    shutdownGraceMs: config.shutdownGraceMs,
    shutdownRedisTimeoutMs: config.shutdownRedisTimeoutMs,
    jobTimeoutMs: config.jobTimeoutMs,
    maxRetryAfterMs: config.maxRetryAfterMs,
    registryEveryMs: config.registryEveryMs,
    machineId: config.machineId,
    version,
    logger: log,
    ...(metrics ? { metrics } : {}),
    ...(telemetry.enabled
      ? {
          telemetry: {
            tracer: telemetry.tracer('@jobgate/worker'),
            meter: telemetry.meter('@jobgate/worker'),
          },
        }
      : {}),
  });
  // The status port first: a port already taken fails the start before anything is claimed.
  let status: StatusServer | undefined;
  if (config.metrics && metrics) {
    try {
      status = await startStatusServer(worker, metrics, {
        ...config.metrics,
        staleAfterMs: config.registryEveryMs * 3,
      });
    } catch (error) {
      await queue.close();
      redis.disconnect();
      throw new Error(
        `cannot serve metrics on ${config.metrics.host}:${config.metrics.port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    log.info({ url: status.url }, 'metrics and health served');
  }
  await worker.start();
  return {
    worker,
    status,
    async shutdown() {
      const report = await worker.stop();
      await status?.close();
      await queue.close();
      // QUIT waits for an answer; with Redis gone (the stop has already waited for it) drop the socket.
      if (report.redisUnanswered) redis.disconnect();
      else await redis.quit().catch(() => undefined);
      await telemetry.shutdown().catch(() => undefined);
      return report;
    },
  };
}
