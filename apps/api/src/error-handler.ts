import { JobNotFoundError, ValidationError } from '@jobgate/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { errorBody, HttpError } from './http-error.js';
import { RequestValidationError } from './validation.js';

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

export function isRedisUnavailable(error: Error): boolean {
  return (
    /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|MaxRetriesPerRequest|LOADING|ETIMEDOUT/.test(
      error.message,
    ) || error.name === 'MaxRetriesPerRequestError'
  );
}

/** A route pattern (`/api/jobs/:id`, `/files/*`) as a regular expression over request paths. */
export function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment === '*'
        ? '.*'
        : segment.startsWith(':')
          ? '[^/]+'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * The API's error answers: every error in one JSON shape, 404 for unknown paths, and 405 with
 * `Allow` for a known path asked with a method it does not serve. Call before registering routes:
 * it records each route (also those of plugins registered later) to answer 405s.
 */
export function installErrorHandling(app: FastifyInstance): void {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const existing = routes.find((r) => r.pattern.source === routePattern(route.url).source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else routes.push({ pattern: routePattern(route.url), methods: new Set(methods) });
  });

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
      return reply
        .code(error.statusCode)
        .headers(error.headers)
        .send(errorBody(error.code, error.message, error.field));
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

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = new Set<string>();
    for (const route of routes) {
      if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
    }
    if (allowed.size > 0) {
      const allow = [...allowed].sort().join(', ');
      return reply
        .code(405)
        .header('allow', allow)
        .send(
          errorBody(
            'method_not_allowed',
            `${request.method} is not allowed on ${path}; use ${allow}`,
            'method',
          ),
        );
    }
    return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`));
  });
}
