import { createQueue, type Queue } from '@jobgate/core';
import { metricExporter, serviceResource, traceExporter } from '@jobgate/telemetry';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { createCollector, type Collector, type CollectorLogger } from './collector.js';
import type { CollectorConfig } from './config.js';
import { ThreadSpanExporter } from './export-thread.js';
import { registerQueueMetrics } from './queue-metrics.js';

export const SERVICE_NAME = 'jobgate-telemetry-collector';

export interface AppDeps {
  redis: Redis;
  config: CollectorConfig;
  logger: CollectorLogger;
  /** Defaults to the OTLP/HTTP protobuf exporters for `config.otlp`. */
  spanExporter?: SpanExporter;
  metricExporter?: PushMetricExporter;
  clock?: () => number;
}

export interface CollectorApp {
  server: FastifyInstance;
  /** Undefined when telemetry is disabled. */
  collector: Collector | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The collector, its queue metrics and its `/health` + `/metrics` server, not yet started. */
export async function createApp(deps: AppDeps): Promise<CollectorApp> {
  const { config, redis } = deps;
  const resource = serviceResource({
    serviceName: SERVICE_NAME,
    serviceVersion: config.serviceVersion,
    environment: config.environment,
  });
  let collector: Collector | undefined;
  let meterProvider: MeterProvider | undefined;
  let queue: Queue | undefined;
  let threadExporter: ThreadSpanExporter | undefined;
  if (config.otlp) {
    queue = await createQueue({ redis, namespace: config.namespace });
    meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: deps.metricExporter ?? metricExporter(config.otlp),
          exportIntervalMillis: config.metricIntervalMs,
          exportTimeoutMillis: Math.min(config.metricIntervalMs, config.otlp.timeoutMs),
        }),
      ],
    });
    const queueMetrics = registerQueueMetrics(meterProvider.getMeter('jobgate.queue'), {
      redis,
      queue,
      clock: deps.clock,
      openSpans: () => collector?.openSpans() ?? Promise.resolve(0),
    });
    if (!deps.spanExporter && config.exportThread)
      threadExporter = new ThreadSpanExporter(config.otlp, resource);
    collector = createCollector({
      redis,
      exporter: deps.spanExporter ?? threadExporter ?? traceExporter(config.otlp),
      resource,
      logger: deps.logger,
      clock: deps.clock,
      options: config,
      onJobExported: (job) => queueMetrics.jobFinished(job.service ?? 'unknown', job.status),
    });
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jobgate_collector_' });
  const c = collector;
  if (c) {
    new Counter({
      name: 'jobgate_collector_events_total',
      help: 'Stream entries read, by result',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: 'accepted' }, c.decoder.counts.accepted);
        this.inc({ result: 'filtered' }, c.decoder.counts.filtered);
        this.inc({ result: 'malformed' }, c.decoder.counts.dropped.malformed);
        this.inc({ result: 'unknown_type' }, c.decoder.counts.dropped.unknown_type);
      },
    });
    new Counter({
      name: 'jobgate_collector_spans_exported_total',
      help: 'Spans exported over OTLP, by kind',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ kind: 'job' }, c.stats.spansExported.job);
        this.inc({ kind: 'attempt' }, c.stats.spansExported.attempt);
      },
    });
    new Counter({
      name: 'jobgate_collector_export_failures_total',
      help: 'Failed OTLP exports (each followed by a backoff)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(c.stats.exportFailures);
      },
    });
    new Counter({
      name: 'jobgate_collector_jobs_closed_incomplete_total',
      help: 'Jobs open past the limits, exported as incomplete',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(c.stats.jobsClosedIncomplete);
      },
    });
    new Gauge({
      name: 'jobgate_collector_open_spans',
      help: 'Jobs whose span is not exported yet (all instances)',
      registers: [registry],
      async collect() {
        this.set(await c.openSpans());
      },
    });
    new Gauge({
      name: 'jobgate_collector_stream_backlog',
      help: 'Entries of the group read but not acknowledged (pending) or not yet read (lag)',
      labelNames: ['kind'],
      registers: [registry],
      async collect() {
        const backlog = await c.backlog();
        this.set({ kind: 'pending' }, backlog.pending);
        if (backlog.lag !== null) this.set({ kind: 'lag' }, backlog.lag);
      },
    });
  }

  const server = Fastify({ logger: false });
  server.get('/health', async (_request, reply) => {
    if (!c) return reply.send({ status: 'disabled' });
    let redisOk = true;
    try {
      await redis.ping();
    } catch {
      redisOk = false;
    }
    const exporting = c.stats.failingSince === null ? 'ok' : 'failing';
    const status = !c.running || !redisOk ? 'down' : exporting === 'ok' ? 'ok' : 'degraded';
    // An export outage is the backend's problem, not a reason to restart this process: 200.
    return reply.code(status === 'down' ? 503 : 200).send({
      status,
      redis: redisOk ? 'ok' : 'unreachable',
      exporting,
      failing_since: c.stats.failingSince,
      batches: c.stats.batches,
      dropped: c.decoder.counts.dropped,
    });
  });
  server.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });

  return {
    server,
    collector,
    async start() {
      await collector?.start();
    },
    async close() {
      await collector?.stop();
      await threadExporter?.shutdown().catch(() => undefined);
      await meterProvider?.shutdown().catch(() => undefined);
      await queue?.close();
      await server.close();
    },
  };
}
