import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { WebhookService } from './service.js';

/** `/health` (503 when Redis or the stream reader is down) and `/metrics` on the service's own port. */
export function createStatusServer(
  service: WebhookService,
  logger?: FastifyBaseLogger,
): FastifyInstance {
  const app = Fastify(
    logger ? { loggerInstance: logger, disableRequestLogging: true } : { logger: false },
  );
  app.get('/health', async (_request, reply) => {
    const health = await service.health();
    return reply
      .code(health.ok ? 200 : 503)
      .send({ status: health.ok ? 'ok' : 'unavailable', ...health });
  });
  app.get('/metrics', async (_request, reply) => {
    const registry = service.metrics.registry;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });
  return app;
}
