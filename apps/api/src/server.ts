import fastifyWebsocket from '@fastify/websocket';
import { createInspector } from '@jobgate/core';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiKeyStore, authenticateWith, WS_PROTOCOL } from './auth.js';
import type { ApiQueue, AppContext } from './context.js';
import { installErrorHandling } from './error-handler.js';
import { installLoadShedding, type LoadLimits } from './load-shedding.js';
import { EventHub } from './event-hub.js';
import { IdempotencyStore } from './idempotency.js';
import { parseJsonBody } from './json-body.js';
import { createMetrics } from './metrics.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import { webhookRoutes } from './routes/webhooks.js';
import { wsRoutes } from './routes/ws.js';
import { installTracing, type ApiTelemetry } from './tracing.js';
import type { WebhookOptions } from './webhook-store.js';

export type { ApiQueue, AppContext } from './context.js';

export interface ServerOptions {
  namespace: string;
  services: readonly string[];
  bodyLimitBytes?: number;
  wsPingIntervalMs?: number;
  wsMaxBufferedBytes?: number;
  authCacheTtlMs?: number;
  idempotencyTtlSeconds?: number;
  /** One info line per HTTP request (method, path, status, ms), for development. Default off. */
  logRequests?: boolean;
  /** Webhook registration policy (http://, allowed CIDRs); default https to public addresses only. */
  webhooks?: WebhookOptions;
  /** When to shed load with 503/429 + Retry-After (`src/load-shedding.ts`). Default: no limits. */
  limits?: Partial<LoadLimits>;
}

export interface ServerDeps extends ServerOptions {
  /** A shared connection for commands; the server duplicates it once for the blocking stream reader. */
  redis: Redis;
  /** `@jobgate/core`'s queue on the same Redis and namespace. */
  queue: ApiQueue;
  /** Pino logger, or `false` for none (tests). */
  logger?: FastifyBaseLogger | false;
  /** Spans and metrics of every request over OTLP (`@jobgate/telemetry/setup`); none when absent. */
  telemetry?: ApiTelemetry;
}

/**
 * Builds the API (not listening). The caller owns `redis` and `queue`; the server owns the stream
 * reader connection it duplicates and closes it on `close()`.
 */
export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // Fastify's two lines per request cost more than the request at this API's rates; errors are
    // still logged, and `logRequests` adds one short line per request for development.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    routerOptions: { maxParamLength: 256 },
  });
  const log = app.log;
  const streamKey = `{${deps.namespace}}:events`;
  const reader = deps.redis.duplicate();
  reader.on('error', (error) => log.warn({ err: error }, 'event stream connection error'));
  const hub = new EventHub(reader, streamKey, log);

  const wsClients = () => app.websocketServer?.clients.size ?? 0;
  // Both queue gauges of one scrape share a single counts() call.
  let scrape: { at: number; counts: ReturnType<ApiQueue['counts']> } | undefined;
  const countsOnce = (): ReturnType<ApiQueue['counts']> => {
    if (!scrape || Date.now() - scrape.at > 250)
      scrape = { at: Date.now(), counts: deps.queue.counts() };
    return scrape.counts;
  };
  const inspector = createInspector({
    redis: deps.redis,
    queue: deps.queue,
    namespace: deps.namespace,
  });
  const metrics = createMetrics({
    oldestPending: () => inspector.oldestPendingByService(),
    expiredLeases: () => inspector.expiredLeaseCount(),
    queueDepth: async () => {
      const counts = await countsOnce();
      // Every configured service appears, at 0 when idle, so dashboards do not show gaps.
      const depth: Record<string, number> = {};
      for (const service of deps.services) depth[service] = 0;
      return Object.assign(depth, counts.by_service);
    },
    jobsByStatus: async () => {
      const { pending, active, completed, failed, cancelled } = await countsOnce();
      return { pending, active, completed, failed, cancelled };
    },
    wsClients,
  });

  const keys = new ApiKeyStore(deps.redis, deps.namespace, deps.authCacheTtlMs ?? 5_000);
  const ctx: AppContext = {
    redis: deps.redis,
    queue: deps.queue,
    namespace: deps.namespace,
    services: deps.services,
    keys,
    idempotency: new IdempotencyStore(
      deps.redis,
      deps.namespace,
      deps.idempotencyTtlSeconds ?? 24 * 3600,
    ),
    hub,
    metrics,
    inspector,
    streamKey,
    wsPingIntervalMs: deps.wsPingIntervalMs ?? 30_000,
    wsMaxBufferedBytes: deps.wsMaxBufferedBytes ?? 1024 * 1024,
    authenticate: authenticateWith(keys),
  };
  app.decorateRequest('customerId', '');
  // JSON only: a form or text body is a client mistake to name (415), not a string to validate.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  if (deps.telemetry) installTracing(app, deps.telemetry);
  installErrorHandling(app);
  installLoadShedding(
    app,
    { maxInFlight: 0, maxEventLoopDelayMs: 0, maxPendingJobs: 0, ...deps.limits },
    async () => (await countsOnce()).pending,
    (reason) => metrics.shed.inc({ reason }),
  );

  app.addHook('onResponse', (request, reply, hookDone) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1_000);
    if (deps.logRequests) {
      request.log.info(
        `${request.method} ${request.url.split('?')[0]} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)} ms`,
      );
    }
    hookDone();
  });

  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: 64 * 1024,
      // Never echo the key-carrying subprotocol back; agree on the plain one if offered.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  await app.register(systemRoutes(ctx));
  await app.register(jobRoutes(ctx));
  await app.register(wsRoutes(ctx));
  await app.register(webhookRoutes(ctx, deps.webhooks));

  app.addHook('onReady', async () => {
    await hub.start();
  });
  app.addHook('onClose', async () => {
    await hub.stop();
  });
  return app;
}
