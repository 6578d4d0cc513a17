import fastifyWebsocket from '@fastify/websocket';
import { JobNotFoundError, ValidationError, type Queue } from '@jobgate/core';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Redis } from 'ioredis';
import { ApiKeyStore, bearerFromProtocols, parseBearer, WS_PROTOCOL } from './auth.js';
import { EventHub } from './event-hub.js';
import { IdempotencyStore } from './idempotency.js';
import { createMetrics, type ApiMetrics } from './metrics.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import { wsRoutes } from './routes/ws.js';
import { RequestValidationError, type FieldIssue } from './validation.js';

export interface ServerOptions {
  namespace: string;
  services: readonly string[];
  bodyLimitBytes?: number;
  wsPingIntervalMs?: number;
  wsMaxBufferedBytes?: number;
  authCacheTtlMs?: number;
  idempotencyTtlSeconds?: number;
}

export interface ServerDeps extends ServerOptions {
  /** A shared connection for commands; the server duplicates it once for the blocking stream reader. */
  redis: Redis;
  /** `@jobgate/core`'s queue on the same Redis and namespace. */
  queue: ApiQueue;
  /** Pino logger, or `false` for none (tests). */
  logger?: FastifyBaseLogger | false;
}

/** What the API needs of `@jobgate/core`'s queue. */
export type ApiQueue = Pick<Queue, 'submit' | 'get' | 'cancel' | 'list' | 'counts'>;

export interface AppContext {
  redis: Redis;
  queue: ApiQueue;
  namespace: string;
  services: readonly string[];
  keys: ApiKeyStore;
  idempotency: IdempotencyStore;
  hub: EventHub;
  metrics: ApiMetrics;
  streamKey: string;
  wsPingIntervalMs: number;
  wsMaxBufferedBytes: number;
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    customerId: string;
  }
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, field?: string, issues?: FieldIssue[]) {
  return { error: { code, message, ...(field ? { field } : {}), ...(issues ? { issues } : {}) } };
}

/** Fastify's own 4xx errors, in the API's error shape. */
const FASTIFY_CODES: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [
    413,
    'payload_too_large',
    'request body is larger than the configured limit',
  ],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    415,
    'unsupported_media_type',
    'send the body as application/json',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    400,
    'invalid_content_length',
    'Content-Length does not match the body',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json', 'the body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json', 'the body is not valid JSON'],
};

/**
 * Builds the API (not listening). The caller owns `redis` and `queue`; the server owns the stream
 * reader connection it duplicates and closes it on `close()`.
 */
export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // Let fastify reject `__proto__`/`constructor` keys in JSON with a 400 rather than parse them.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Per-request info logs cost more than the request at this API's rates; errors are still logged.
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
  const metrics = createMetrics({
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
    streamKey,
    wsPingIntervalMs: deps.wsPingIntervalMs ?? 30_000,
    wsMaxBufferedBytes: deps.wsMaxBufferedBytes ?? 1024 * 1024,
    authenticate: async (request, reply) => {
      const presented =
        parseBearer(request.headers.authorization) ??
        bearerFromProtocols(request.headers['sec-websocket-protocol']);
      const customer = await keys.verify(presented);
      if (!customer) {
        await reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send(
            errorBody(
              'unauthorized',
              'send a valid API key as "Authorization: Bearer <key>"',
              'authorization',
            ),
          );
        return reply;
      }
      request.customerId = customer;
    },
  };
  app.decorateRequest('customerId', '');
  // JSON only: a form or text body is a client mistake to name (415), not a string to validate.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof RequestValidationError) {
      const first = error.issues[0]!;
      return reply
        .code(400)
        .send(
          errorBody(
            'validation_error',
            `${first.field} ${first.message}`,
            first.field,
            error.issues,
          ),
        );
    }
    if (error instanceof ValidationError) {
      const issues = error.issues.map((i) => ({ field: i.path, message: i.message }));
      const first = issues[0] ?? { field: '(body)', message: error.message };
      return reply
        .code(400)
        .send(
          errorBody('validation_error', `${first.field} ${first.message}`, first.field, issues),
        );
    }
    if (error instanceof JobNotFoundError) {
      return reply.code(404).send(errorBody('not_found', `job ${error.jobId} not found`, 'id'));
    }
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.field));
    }
    const code = (error as FastifyError).code;
    const known = code ? FASTIFY_CODES[code] : undefined;
    if (known) return reply.code(known[0]).send(errorBody(known[1], known[2], '(body)'));
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send(errorBody('bad_request', error.message));
    }
    if (isRedisUnavailable(error)) {
      request.log.warn({ err: error }, 'redis unavailable');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send(errorBody('unavailable', 'the job store is unavailable; retry shortly'));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('internal_error', 'internal error'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.addHook('onResponse', (request, reply, hookDone) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1_000);
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

  app.addHook('onReady', async () => {
    await hub.start();
  });
  app.addHook('onClose', async () => {
    await hub.stop();
  });
  return app;
}

function isRedisUnavailable(error: Error): boolean {
  return (
    /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|MaxRetriesPerRequest|LOADING|ETIMEDOUT/.test(
      error.message,
    ) || error.name === 'MaxRetriesPerRequestError'
  );
}
