import {
  payloadSchemaFor,
  readJobAttestations,
  readWorkflowAttestations,
  type Job,
} from '@jobgate/core';
import { randomUUID } from 'node:crypto';
import type { FastifyPluginCallback } from 'fastify';
import { idempotentJobId } from '../idempotency.js';
import type { AppContext } from '../context.js';
import { isRedisUnavailable } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import {
  idempotencyKeyHeader,
  jobIdParams,
  listJobsQuery,
  parseOrThrow,
  submitJobSchema,
  workflowIdParams,
} from '../validation.js';

/** 404 for a job that does not exist and for another customer's job alike: ids are not probeable. */
async function ownJob(ctx: AppContext, customerId: string, id: string): Promise<Job> {
  const job = await ctx.queue.get(id);
  if (!job || job.customer_id !== customerId)
    throw new HttpError(404, 'not_found', `job ${id} not found`, 'id');
  return job;
}

/** What GET and DELETE of `/api/jobs/:id` answer: the job as `get` reads it, with its attestations. */
async function jobView(ctx: AppContext, customerId: string, id: string) {
  const job = await ownJob(ctx, customerId, id);
  const [attestations, why] = await Promise.all([
    readJobAttestations(ctx.redis, ctx.namespace, id),
    ctx.inspector.explain(job),
  ]);
  return {
    // Why a pending job is not running yet (null for any other status).
    job: { ...job, waiting_reason: why.waiting_reason },
    attestations: attestations.filter((a) => a.customer_id === customerId),
  };
}

const MAX_WORKFLOW_JOBS = 1_000;

export function jobRoutes(ctx: AppContext): FastifyPluginCallback {
  const submitSchema = submitJobSchema(ctx.services);
  return (app, _options, done) => {
    app.addHook('onRequest', ctx.authenticate);

    app.post('/api/jobs', async (request, reply) => {
      if (
        request.body === null ||
        typeof request.body !== 'object' ||
        Array.isArray(request.body)
      ) {
        throw new HttpError(400, 'validation_error', '(body) must be a JSON object', '(body)');
      }
      if ('customer_id' in request.body) {
        throw new HttpError(
          400,
          'validation_error',
          'customer_id is not accepted: jobs belong to the customer of the API key',
          'customer_id',
        );
      }
      const body = parseOrThrow(submitSchema, request.body);
      // The service's connector would reject this payload as invalid_payload on the worker:
      // say so now, naming the field. Stored as sent (the schema's defaults are the worker's).
      const payloadSchema = payloadSchemaFor(body.service_required);
      if (payloadSchema) parseOrThrow(payloadSchema, body.payload, 'payload');
      const rawKey = request.headers['idempotency-key'];
      const idempotencyKey =
        rawKey === undefined
          ? undefined
          : parseOrThrow(
              idempotencyKeyHeader,
              Array.isArray(rawKey) ? rawKey.join(',') : rawKey,
              'Idempotency-Key',
            );
      const customerId = request.customerId;

      const idempotency =
        idempotencyKey === undefined
          ? undefined
          : await ctx.idempotency.check(customerId, idempotencyKey, body);
      if (idempotency?.reused) {
        throw new HttpError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was already used with a different request body',
          'Idempotency-Key',
        );
      }
      // The id is chosen before the call, so an answer lost to a Redis failover or restart can
      // still name the job that may have been stored (core's submit never creates an id twice).
      const id =
        idempotencyKey === undefined ? randomUUID() : idempotentJobId(customerId, idempotencyKey);
      let created: boolean;
      let job: Job | null;
      try {
        ({ created } = await ctx.queue.submit({ ...body, customer_id: customerId, id }));
        job = await ctx.queue.get(id);
      } catch (error) {
        if (!(error instanceof Error) || !isRedisUnavailable(error)) {
          await idempotency?.release().catch(() => undefined);
          throw error;
        }
        request.log.warn({ err: error, job_id: id }, 'submit outcome unknown: redis unavailable');
        return reply
          .code(503)
          .header('retry-after', '1')
          .header('location', `/api/jobs/${encodeURIComponent(id)}`)
          .send({
            error: {
              code: 'outcome_unknown',
              message:
                `the job store did not confirm this submission; job ${id} may have been stored. ` +
                `Check GET /api/jobs/${id} before submitting again (404: it was not stored), ` +
                'or retry with an Idempotency-Key, which never creates a second job',
              job_id: id,
            },
          });
      }
      if (!job || job.customer_id !== customerId) {
        // Only reachable if a derived id collided with a foreign job: never hand that job out.
        throw new HttpError(
          409,
          'idempotency_conflict',
          'choose a different Idempotency-Key',
          'Idempotency-Key',
        );
      }
      // Without an Idempotency-Key the id is new, so an existing one can only be this request's
      // own submit, sent again by the Redis client after a reconnect: it is still a creation.
      if (idempotencyKey === undefined) created = true;
      if (!created) return reply.code(200).header('idempotent-replayed', 'true').send({ job });
      ctx.metrics.jobsSubmitted.inc();
      return reply
        .code(201)
        .header('location', `/api/jobs/${encodeURIComponent(id)}`)
        .send({ job });
    });

    app.get('/api/jobs/:id', async (request) => {
      const { id } = parseOrThrow(jobIdParams, request.params);
      return jobView(ctx, request.customerId, id);
    });

    app.delete('/api/jobs/:id', async (request) => {
      const { id } = parseOrThrow(jobIdParams, request.params);
      await ownJob(ctx, request.customerId, id);
      const { cancelled, job } = await ctx.queue.cancel(id);
      if (!cancelled && job.status !== 'cancelled') {
        throw new HttpError(
          409,
          'already_finished',
          `job ${id} is already ${job.status} and cannot be cancelled`,
          'id',
        );
      }
      // cancel() answers with the job's state only; the client gets what GET would show.
      return jobView(ctx, request.customerId, id);
    });

    app.get('/api/jobs', async (request) => {
      const query = parseOrThrow(listJobsQuery, request.query);
      const page = await ctx.queue.list({
        customer_id: request.customerId,
        limit: query.limit,
        ...(query.status ? { status: query.status } : {}),
        ...(query.workflow_id ? { workflow_id: query.workflow_id } : {}),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return { jobs: page.jobs, next_cursor: page.cursor };
    });

    app.get('/api/workflows/:id', async (request) => {
      const { id } = parseOrThrow(workflowIdParams, request.params);
      const jobs: Job[] = [];
      let cursor: string | null = null;
      do {
        const page = await ctx.queue.list({
          customer_id: request.customerId,
          workflow_id: id,
          limit: 200,
          ...(cursor ? { cursor } : {}),
        });
        jobs.push(...page.jobs);
        cursor = page.cursor;
      } while (cursor && jobs.length < MAX_WORKFLOW_JOBS);
      if (jobs.length === 0)
        throw new HttpError(404, 'not_found', `workflow ${id} not found`, 'id');
      jobs.sort((a, b) => (a.step ?? 0) - (b.step ?? 0) || a.created_at - b.created_at);
      // Workflow ids are chosen by customers and may collide: only this customer's jobs' records.
      const own = new Set(jobs.map((job) => job.id));
      const attestations = (await readWorkflowAttestations(ctx.redis, ctx.namespace, id)).filter(
        (a) => a.customer_id === request.customerId && own.has(a.job_id),
      );
      const counts: Record<string, number> = {};
      for (const job of jobs) counts[job.status] = (counts[job.status] ?? 0) + 1;
      return {
        workflow: { id, status_counts: counts, jobs, attestations, truncated: cursor !== null },
      };
    });

    done();
  };
}
