import {
  deliveryView,
  endpointView,
  TargetRefusedError,
  WEBHOOK_EVENT_TYPES,
  type EndpointRecord,
} from '@jobgate/webhook-service';
import type { FastifyPluginCallback } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { HttpError } from '../http-error.js';
import { parseOrThrow } from '../validation.js';
import { webhookRegistry, type WebhookOptions } from '../webhook-store.js';

const eventList = z
  .array(
    z.enum(['*', ...WEBHOOK_EVENT_TYPES], {
      message: `must be "*" or one of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
    }),
    {
      message: 'must be an array of event types, e.g. ["job.completed"] or ["*"]',
    },
  )
  .min(1, { message: 'must name at least one event type (or "*")' })
  .max(WEBHOOK_EVENT_TYPES.length + 1);
const url = z
  .string({ message: 'must be a string' })
  .min(1)
  .max(2_048, { message: 'must be at most 2048 characters' });
const description = z
  .string({ message: 'must be a string' })
  .max(500, { message: 'must be at most 500 characters' });
const workflowId = z
  .string({ message: 'must be a string or null' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, {
    message: 'must be 1-128 characters of letters, digits, _ . : -',
  })
  .nullable();

const createSchema = z.strictObject({
  url,
  events: eventList,
  description: description.optional(),
  workflow_id: workflowId.optional(),
});
const patchSchema = z
  .strictObject({
    url: url.optional(),
    events: eventList.optional(),
    description: description.optional(),
    workflow_id: workflowId.optional(),
    enabled: z.boolean({ message: 'must be true or false' }).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change' });
const endpointParams = z.strictObject({ id: z.string().min(1).max(64) });
const deliveryParams = z.strictObject({
  id: z.string().min(1).max(64),
  delivery_id: z.string().min(1).max(64),
});
const deliveriesQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, { message: 'must be a whole number from 1 to 200' })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { message: 'must be at least 1' })
        .max(200, { message: 'must be at most 200' }),
    )
    .optional(),
  status: z
    .enum(['pending', 'delivering', 'succeeded', 'failed', 'dead'], {
      message: 'must be one of pending, delivering, succeeded, failed, dead',
    })
    .optional(),
});

/**
 * `/api/webhooks`: customers register endpoints, rotate secrets, read every delivery attempt and
 * resend. Endpoints belong to the key's customer; another customer's ids answer 404.
 */
export function webhookRoutes(
  ctx: AppContext,
  options: WebhookOptions = {},
): FastifyPluginCallback {
  const registry = webhookRegistry(ctx.redis, ctx.namespace, options);
  const { store } = registry;
  const now = Date.now;

  async function own(customerId: string, id: string): Promise<EndpointRecord> {
    const endpoint = await store.get(customerId, id);
    if (!endpoint) throw new HttpError(404, 'not_found', `webhook ${id} not found`, 'id');
    return endpoint;
  }

  async function checkUrl(raw: string): Promise<string> {
    try {
      return (await registry.check(raw)).href;
    } catch (error) {
      if (error instanceof TargetRefusedError)
        throw new HttpError(400, 'validation_error', error.message, 'url');
      throw error;
    }
  }

  return (app, _options, done) => {
    app.addHook('onRequest', ctx.authenticate);

    app.post('/api/webhooks', async (request, reply) => {
      const body = parseOrThrow(createSchema, request.body);
      const target = await checkUrl(body.url);
      const { endpoint, secret } = await store.create(request.customerId, {
        url: target,
        events: body.events,
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.workflow_id !== undefined ? { workflow_id: body.workflow_id } : {}),
      });
      return reply
        .code(201)
        .header('location', `/api/webhooks/${endpoint.id}`)
        .send({ webhook: endpointView(endpoint, now()), secret });
    });

    app.get('/api/webhooks', async (request) => {
      const endpoints = await store.list(request.customerId);
      return { webhooks: endpoints.map((e) => endpointView(e, now())) };
    });

    app.get('/api/webhooks/:id', async (request) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      return { webhook: endpointView(await own(request.customerId, id), now()) };
    });

    app.patch('/api/webhooks/:id', async (request) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      const patch = parseOrThrow(patchSchema, request.body);
      await own(request.customerId, id);
      if (patch.url !== undefined) patch.url = await checkUrl(patch.url);
      const updated = await store.update(request.customerId, id, patch);
      if (!updated) throw new HttpError(404, 'not_found', `webhook ${id} not found`, 'id');
      return { webhook: endpointView(updated, now()) };
    });

    app.delete('/api/webhooks/:id', async (request) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      const endpoint = await own(request.customerId, id);
      await store.delete(request.customerId, id);
      return { webhook: endpointView(endpoint, now()), deleted: true };
    });

    app.post('/api/webhooks/:id/rotate-secret', async (request) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      await own(request.customerId, id);
      const rotated = await store.rotateSecret(request.customerId, id);
      if (!rotated) throw new HttpError(404, 'not_found', `webhook ${id} not found`, 'id');
      return { webhook: endpointView(rotated.endpoint, now()), secret: rotated.secret };
    });

    app.get('/api/webhooks/:id/deliveries', async (request) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      const query = parseOrThrow(deliveriesQuery, request.query);
      await own(request.customerId, id);
      const deliveries = await store.deliveries(request.customerId, id, {
        limit: query.limit ?? 50,
        ...(query.status ? { status: query.status } : {}),
      });
      return { deliveries: deliveries.map(deliveryView) };
    });

    app.get('/api/webhooks/:id/deliveries/:delivery_id', async (request) => {
      const { id, delivery_id } = parseOrThrow(deliveryParams, request.params);
      await own(request.customerId, id);
      const delivery = await store.delivery(request.customerId, delivery_id);
      if (!delivery || delivery.endpoint_id !== id)
        throw new HttpError(404, 'not_found', `delivery ${delivery_id} not found`, 'delivery_id');
      return { delivery: deliveryView(delivery) };
    });

    app.post('/api/webhooks/:id/deliveries/:delivery_id/retry', async (request, reply) => {
      const { id, delivery_id } = parseOrThrow(deliveryParams, request.params);
      const endpoint = await own(request.customerId, id);
      const delivery = await store.delivery(request.customerId, delivery_id);
      if (!delivery || delivery.endpoint_id !== id)
        throw new HttpError(404, 'not_found', `delivery ${delivery_id} not found`, 'delivery_id');
      if (endpoint.status !== 'enabled')
        throw new HttpError(
          409,
          'webhook_disabled',
          `webhook ${id} is disabled; enable it first (PATCH {"enabled": true})`,
          'id',
        );
      const result = await store.retry(request.customerId, delivery_id);
      if (result === 'in_progress')
        throw new HttpError(
          409,
          'delivery_in_progress',
          `delivery ${delivery_id} is still being attempted`,
          'delivery_id',
        );
      if (result === 'not_found')
        throw new HttpError(404, 'not_found', `delivery ${delivery_id} not found`, 'delivery_id');
      const queued = await store.delivery(request.customerId, delivery_id);
      return reply.code(202).send({ delivery: deliveryView(queued!) });
    });

    app.post('/api/webhooks/:id/test', async (request, reply) => {
      const { id } = parseOrThrow(endpointParams, request.params);
      const endpoint = await own(request.customerId, id);
      if (endpoint.status !== 'enabled')
        throw new HttpError(
          409,
          'webhook_disabled',
          `webhook ${id} is disabled; enable it first (PATCH {"enabled": true})`,
          'id',
        );
      const delivery = await store.sendTest(endpoint);
      return reply.code(202).send({ delivery: deliveryView(delivery) });
    });

    done();
  };
}
