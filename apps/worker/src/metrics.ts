import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Worker } from './worker.js';

/**
 * The worker's Prometheus metrics. Every update is an in-process counter or histogram bump; none
 * reads Redis, so the per-job path costs no round trip for them.
 */
export interface WorkerMetrics {
  registry: Registry;
  /** Finished runs by outcome: completed, retried, failed, cancelled, lost, released. */
  jobs: Counter<'service' | 'outcome'>;
  /** Reported failures by classification and the queue's decision (retry or fail). */
  failures: Counter<'service' | 'failure_type' | 'failure_reason' | 'decision'>;
  /** Claim to outcome, by outcome. */
  jobSeconds: Histogram<'service' | 'outcome'>;
  /** Round trip of one claim call; `result` is `job` or `empty`. */
  claimSeconds: Histogram<'result'>;
  claimErrors: Counter;
  /** Errors thrown by connectors, by connector kind and classification. */
  connectorErrors: Counter<'connector' | 'failure_type'>;
  running: Gauge;
  concurrency: Gauge;
  draining: Gauge;
}

/**
 * Loads prom-client only here (when WORKER_METRICS_PORT is set): a worker without a status port
 * does not pay its module load (about 0.1 CPU-s a start).
 */
export async function createWorkerMetrics(
  labels: { worker_id: string; machine_id: string },
  options: { defaults?: boolean } = {},
): Promise<WorkerMetrics> {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } =
    await import('prom-client');
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    jobs: new Counter({
      name: 'jobgate_worker_jobs_total',
      help: 'Job runs finished on this worker, by outcome (completed, retried, failed, cancelled, lost, released)',
      labelNames: ['service', 'outcome'] as const,
      registers,
    }),
    failures: new Counter({
      name: 'jobgate_worker_job_failures_total',
      help: 'Failed runs reported to the queue, by failure classification and decision (retry or fail)',
      labelNames: ['service', 'failure_type', 'failure_reason', 'decision'] as const,
      registers,
    }),
    jobSeconds: new Histogram({
      name: 'jobgate_worker_job_duration_seconds',
      help: 'From claim to outcome, by outcome',
      labelNames: ['service', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    claimSeconds: new Histogram({
      name: 'jobgate_worker_claim_duration_seconds',
      help: 'Round trip of one claim call to Redis; result is job (claimed one) or empty',
      labelNames: ['result'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    claimErrors: new Counter({
      name: 'jobgate_worker_claim_errors_total',
      help: 'Claim calls that failed (Redis unreachable, script error)',
      registers,
    }),
    connectorErrors: new Counter({
      name: 'jobgate_worker_connector_errors_total',
      help: 'Errors thrown by connectors, by connector kind and failure classification',
      labelNames: ['connector', 'failure_type'] as const,
      registers,
    }),
    running: new Gauge({
      name: 'jobgate_worker_running_jobs',
      help: 'Jobs running on this worker now',
      registers,
    }),
    concurrency: new Gauge({
      name: 'jobgate_worker_concurrency',
      help: 'Jobs this worker runs at once at most',
      registers,
    }),
    draining: new Gauge({
      name: 'jobgate_worker_drained',
      help: '1 while an operator drain is in effect (the worker claims nothing new)',
      registers,
    }),
  };
}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `/metrics` (Prometheus text) and `/health` on the worker's optional status port. Health is 200
 * while the worker runs and its last registry write is recent (Redis reachable), also when
 * drained (the process is fine, it only claims nothing); 503 when stopping or out of touch.
 */
export async function startStatusServer(
  worker: Worker,
  metrics: WorkerMetrics,
  options: { port: number; host: string; staleAfterMs: number },
): Promise<StatusServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      response.end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': metrics.registry.contentType });
          response.end(text);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`metrics failed: ${(error as Error).message}\n`);
        },
      );
      return;
    }
    if (path === '/health') {
      const stats = worker.stats();
      const sinceRegistry = Date.now() - stats.lastRegistryOk;
      const running = stats.status !== 'starting' && stats.status !== 'stopped';
      const stopping = running && stats.stopping;
      const inTouch = stats.lastRegistryOk > 0 && sinceRegistry <= options.staleAfterMs;
      const ok = running && !stopping && inTouch;
      const reason = !running
        ? `worker is ${stats.status}`
        : stopping
          ? 'worker is shutting down'
          : !inTouch
            ? `no successful registry write for ${Math.round(sinceRegistry / 1000)} s (Redis unreachable?)`
            : undefined;
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          status: ok ? 'ok' : 'unavailable',
          ...(reason ? { reason } : {}),
          worker_id: worker.id,
          worker_status: stats.status,
          drained_by: stats.drain?.by ?? null,
          running_jobs: stats.active.length,
          completed: stats.completed,
          failed: stats.failed,
          last_registry_write_ms_ago: stats.lastRegistryOk > 0 ? sinceRegistry : null,
        }),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: /metrics and /health are served here\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
