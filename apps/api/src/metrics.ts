import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'method' | 'route'>;
  wsClients: Gauge;
  wsEvents: Counter;
  wsDisconnects: Counter<'reason'>;
  jobsSubmitted: Counter;
  shed: Counter<'reason'>;
}

export interface MetricSources {
  queueDepth(): Promise<Record<string, number>>;
  jobsByStatus(): Promise<Record<string, number>>;
  wsClients(): number;
  /** Age in ms of the oldest pending job per service. */
  oldestPending(): Promise<Record<string, number>>;
  /** Active jobs whose lease expired (their worker stopped heartbeating). */
  expiredLeases(): Promise<number>;
}

/** A registry per server (not prom-client's global one), so several servers in one process never collide. */
export function createMetrics(sources: MetricSources): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jobgate_api_' });
  const requests = new Counter({
    name: 'jobgate_api_http_requests_total',
    help: 'HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'jobgate_api_http_request_duration_seconds',
    help: 'HTTP request latency by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const wsClients = new Gauge({
    name: 'jobgate_api_ws_clients',
    help: 'Connected WebSocket clients',
    registers: [registry],
    collect() {
      this.set(sources.wsClients());
    },
  });
  const wsEvents = new Counter({
    name: 'jobgate_api_ws_events_sent_total',
    help: 'Job events sent to WebSocket clients',
    registers: [registry],
  });
  const wsDisconnects = new Counter({
    name: 'jobgate_api_ws_disconnects_total',
    help: 'WebSocket connections the server ended, by reason (slow_consumer, ping_timeout)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const jobsSubmitted = new Counter({
    name: 'jobgate_api_jobs_submitted_total',
    help: 'Jobs accepted by POST /api/jobs (idempotent replays excluded)',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'jobgate_api_shed_total',
    help: 'Requests answered 503/429 at once because the API was overloaded, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'jobgate_queue_depth',
    help: 'Pending jobs per service',
    labelNames: ['service'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      // A scrape during a Redis outage still answers, without the Redis-backed series.
      const depths = await sources.queueDepth().catch(() => ({}));
      for (const [service, depth] of Object.entries(depths)) this.set({ service }, depth);
    },
  });
  new Gauge({
    name: 'jobgate_jobs',
    help: 'Jobs by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await sources.jobsByStatus().catch(() => ({}));
      for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'jobgate_queue_oldest_pending_seconds',
    help: 'Age of the oldest pending job per service (retries waiting out a backoff included)',
    labelNames: ['service'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const ages = await sources.oldestPending().catch(() => ({}));
      for (const [service, ms] of Object.entries(ages)) this.set({ service }, ms / 1_000);
    },
  });
  new Gauge({
    name: 'jobgate_jobs_expired_leases',
    help: 'Active jobs holding an expired lease; the reaper requeues them within seconds',
    registers: [registry],
    async collect() {
      const count = await sources.expiredLeases().catch(() => null);
      if (count !== null) this.set(count);
    },
  });
  return { registry, requests, latency, wsClients, wsEvents, wsDisconnects, jobsSubmitted, shed };
}
