import { createAttestationStore, FailureReason, FailureType } from '@jobgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type Api } from './harness.js';

let api: Api;
let acme: string;
let globex: string;

beforeAll(async () => {
  // No auth cache here, so a revoked key is refused at once (the cache is covered in auth.test.ts).
  api = await startApi({
    bodyLimitBytes: 16 * 1024,
    authCacheTtlMs: 0,
    services: ['simulation', 'openai', 'comfyui', 'custom-gpu'],
  });
  acme = await api.customer('acme');
  globex = await api.customer('globex');
});
afterAll(async () => api.close());

const simulation = (extra: Record<string, unknown> = {}) => ({
  service_required: 'simulation',
  payload: { steps: 1 },
  ...extra,
});

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['a malformed key', { authorization: 'Bearer nope' }],
    [
      'a well-formed unknown key',
      { authorization: `Bearer jgk_0123456789abcdef_${'A'.repeat(43)}` },
    ],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
  ])('answers 401 with WWW-Authenticate for %s', async (_what, headers) => {
    const response = await api.request('GET', '/api/jobs', { headers });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.body.error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
  });

  it('refuses a key whose secret was altered, and a revoked key', async () => {
    const created = await api.keys.create('tmp');
    const altered = created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A');
    expect((await api.request('GET', '/api/jobs', { key: altered })).status).toBe(401);
    expect((await api.request('GET', '/api/jobs', { key: created.key })).status).toBe(200);
    await api.keys.revoke(created.keyId);
    expect((await api.request('GET', '/api/jobs', { key: created.key })).status).toBe(401);
  });

  it('stores only a hash of the key', async () => {
    const created = await api.keys.create('hashcheck');
    const record = await api.redis.hgetall(`{${api.namespace}}:api:key:${created.keyId}`);
    expect(record.customer_id).toBe('hashcheck');
    expect(record.secret_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(record)).not.toContain(created.key.slice(-43));
  });
});

describe('POST /api/jobs', () => {
  it('creates a pending job owned by the key customer and emits job.received', async () => {
    const before = await api.streamLength();
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ priority: 5, workflow_id: 'wf-a', step: 1 }),
    });
    expect(response.status).toBe(201);
    const job = response.body.job;
    expect(job).toMatchObject({
      status: 'pending',
      customer_id: 'acme',
      service_required: 'simulation',
      priority: 5,
      workflow_id: 'wf-a',
      step: 1,
      payload: { steps: 1 },
    });
    expect(response.headers.get('location')).toBe(`/api/jobs/${job.id}`);
    expect(await api.streamLength()).toBe(before + 1);
    const got = await api.request('GET', `/api/jobs/${job.id}`, { key: acme });
    expect(got.status).toBe(200);
    expect(got.body.job.id).toBe(job.id);
    expect(got.body.attestations).toEqual([]);
  });

  it.each([
    ['unknown field', simulation({ colour: 'red' }), 400, 'colour'],
    ['unknown service', { service_required: 'teleport' }, 400, 'service_required'],
    ['negative priority', simulation({ priority: -1 }), 400, 'priority'],
    ['wrong type', simulation({ max_attempts: 'three' }), 400, 'max_attempts'],
    ['customer_id in body', simulation({ customer_id: 'globex' }), 400, 'customer_id'],
    ['array body', [simulation()], 400, '(body)'],
    [
      'bad requirement',
      simulation({ requirements: { hardware: { gpu_memory_gb: -1 } } }),
      400,
      'requirements.hardware.gpu_memory_gb',
    ],
  ])('rejects %s with %s naming %s, storing nothing', async (_what, body, status, field) => {
    const before = { stream: await api.streamLength(), counts: await api.queue.counts() };
    const response = await api.request('POST', '/api/jobs', { key: acme, body });
    expect(response.status).toBe(status);
    expect(response.body.error.field).toBe(field);
    expect(response.body.error.message).toContain(
      field === '(body)' ? 'must be a JSON object' : field,
    );
    expect(await api.streamLength()).toBe(before.stream);
    expect(await api.queue.counts()).toEqual(before.counts);
  });

  it.each([
    ['malformed JSON', '{"service_required": ', 'application/json', 400, 'invalid_json'],
    ['empty body', '', 'application/json', 400, 'invalid_json'],
    [
      'proto pollution',
      '{"service_required":"simulation","__proto__":{"x":1}}',
      'application/json',
      400,
      'forbidden_key',
    ],
    ['text body', 'service_required=simulation', 'text/plain', 415, 'unsupported_media_type'],
  ])('answers %s with a JSON %s', async (_what, raw, type, status, code) => {
    const before = await api.streamLength();
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      raw,
      headers: { 'content-type': type },
    });
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(await api.streamLength()).toBe(before);
  });

  it('answers an oversized body with 413 and stores nothing', async () => {
    const before = await api.streamLength();
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ payload: { blob: 'x'.repeat(20_000) } }),
    });
    expect(response.status).toBe(413);
    expect(response.body.error).toMatchObject({ code: 'payload_too_large', field: '(body)' });
    expect(await api.streamLength()).toBe(before);
  });

  it('rejects a deeply nested payload with 400, not a crash', async () => {
    const raw = `{"service_required":"simulation","payload":${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}}`;
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe('payload');
  });
});

describe('Idempotency-Key', () => {
  it('returns the same job for a retried submission', async () => {
    const headers = { 'idempotency-key': 'order-1001' };
    const first = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation(),
      headers,
    });
    const again = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation(),
      headers,
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.job.id).toBe(first.body.job.id);
  });

  it('creates exactly one job for 20 concurrent submissions with one key', async () => {
    const before = (await api.queue.counts()).pending;
    const headers = { 'idempotency-key': 'burst-7' };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.request('POST', '/api/jobs', { key: acme, body: simulation(), headers }),
      ),
    );
    expect(new Set(responses.map((r) => r.body.job.id)).size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect((await api.queue.counts()).pending).toBe(before + 1);
  });

  it('refuses the same key with a different body (422) and keeps keys per customer', async () => {
    const headers = { 'idempotency-key': 'shared-key' };
    const first = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ priority: 1 }),
      headers,
    });
    const changed = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ priority: 2 }),
      headers,
    });
    expect(changed.status).toBe(422);
    expect(changed.body.error.field).toBe('Idempotency-Key');
    const otherCustomer = await api.request('POST', '/api/jobs', {
      key: globex,
      body: simulation({ priority: 2 }),
      headers,
    });
    expect(otherCustomer.status).toBe(201);
    expect(otherCustomer.body.job.id).not.toBe(first.body.job.id);
  });

  it('rejects an unusable key', async () => {
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation(),
      headers: { 'idempotency-key': 'x'.repeat(300) },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe('Idempotency-Key');
  });
});

describe('customer isolation', () => {
  it('answers 404 for another customer job on read, cancel and subscribe-by-list', async () => {
    const { body } = await api.request('POST', '/api/jobs', { key: acme, body: simulation() });
    const id = body.job.id as string;
    const read = await api.request('GET', `/api/jobs/${id}`, { key: globex });
    const cancel = await api.request('DELETE', `/api/jobs/${id}`, { key: globex });
    const missing = await api.request('GET', '/api/jobs/00000000-0000-0000-0000-000000000000', {
      key: globex,
    });
    expect(read.status).toBe(404);
    expect(cancel.status).toBe(404);
    // Indistinguishable from a job that does not exist.
    expect(read.body.error.code).toBe(missing.body.error.code);
    expect((await api.queue.get(id))?.status).toBe('pending');
    const list = await api.request('GET', '/api/jobs?limit=200', { key: globex });
    expect(list.body.jobs.map((j: { id: string }) => j.id)).not.toContain(id);
    for (const job of list.body.jobs) expect(job.customer_id).toBe('globex');
  });
});

describe('payloads checked at submit', () => {
  it.each([
    ['simulation', { duration_ms: 'fast' }, 'payload.duration_ms'],
    ['simulation', { steps: -1 }, 'payload.steps'],
    ['simulation', { fail: { on_attempts: [1] } }, 'payload.fail.message'],
    ['openai', { prompt: 'a cat' }, 'payload.model'],
    ['openai', { model: 'gpt-4o', operation: 'speech' }, 'payload.operation'],
    ['comfyui', { workflow: 'not a graph' }, 'payload.workflow'],
  ])(
    'answers 400 naming the field for a bad %s payload, and stores nothing',
    async (service, payload, field) => {
      const before = await api.streamLength();
      const response = await api.request('POST', '/api/jobs', {
        key: acme,
        body: { service_required: service, payload },
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('validation_error');
      expect(response.body.error.field).toBe(field);
      expect(response.body.error.message).toContain(field);
      expect(await api.streamLength()).toBe(before);
    },
  );

  it("accepts a valid payload as sent (defaults are the worker's), and any object for a service without a known schema", async () => {
    const ok = await api.request('POST', '/api/jobs', {
      key: acme,
      body: { service_required: 'simulation', payload: { duration_ms: 10, extra: 'kept' } },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.job.payload).toEqual({ duration_ms: 10, extra: 'kept' });
    const custom = await api.request('POST', '/api/jobs', {
      key: acme,
      body: { service_required: 'custom-gpu', payload: { duration_ms: 'fast', anything: [1] } },
    });
    expect(custom.status).toBe(201);
  });
});

describe('forbidden keys', () => {
  it.each([
    ['at the top', '{"service_required":"simulation","__proto__":{"x":1}}', '__proto__'],
    ['in the payload', '{"service_required":"simulation","payload":{"__proto__":{}}}', '__proto__'],
    ['spelled with escapes', '{"service_required":"simulation","\\u005f_proto__":{}}', '__proto__'],
    ['as constructor.prototype', '{"payload":{"constructor":{"prototype":{}}}}', 'constructor'],
  ])('names the key when it comes %s, and stores nothing', async (_what, raw, key) => {
    const before = await api.streamLength();
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('forbidden_key');
    expect(response.body.error.field).toBe(key);
    expect(response.body.error.message).toContain(`"${key}"`);
    expect(response.body.error.message).toContain('not allowed');
    expect(response.body.error.message).not.toContain('not valid JSON');
    expect(await api.streamLength()).toBe(before);
  });

  it('still accepts payload text that merely mentions the words', async () => {
    const response = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ payload: { prompt: 'a __proto__ constructor \\u0041' } }),
    });
    expect(response.status).toBe(201);
    expect(response.body.job.payload.prompt).toBe('a __proto__ constructor \\u0041');
  });
});

describe('DELETE /api/jobs/:id', () => {
  it('answers with the same representation as GET (payload and attestations included)', async () => {
    const { body } = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ payload: { steps: 3, label: 'keep me' } }),
    });
    const cancelled = await api.request('DELETE', `/api/jobs/${body.job.id}`, { key: acme });
    const read = await api.request('GET', `/api/jobs/${body.job.id}`, { key: acme });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.job.payload).toEqual({ steps: 3, label: 'keep me' });
    expect(cancelled.body).toEqual(read.body);
  });

  it('cancels a pending job, and refuses to cancel a finished one with 409', async () => {
    const { body } = await api.request('POST', '/api/jobs', { key: acme, body: simulation() });
    const cancelled = await api.request('DELETE', `/api/jobs/${body.job.id}`, { key: acme });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.job.status).toBe('cancelled');

    const { body: second } = await api.request('POST', '/api/jobs', {
      key: acme,
      body: simulation({ service_required: 'openai', payload: { model: 'gpt-4o-mini' } }),
    });
    const claimed = await api.queue.claim({ worker_id: 'w1', services: ['openai'] });
    expect(claimed?.id).toBe(second.job.id);
    await api.queue.complete(second.job.id, 'w1', { ok: true });
    const refused = await api.request('DELETE', `/api/jobs/${second.job.id}`, { key: acme });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('already_finished');
    expect((await api.queue.get(second.job.id))?.status).toBe('completed');
  });
});

describe('GET /api/jobs', () => {
  it('pages through a customer jobs newest first, filtered by status and workflow', async () => {
    const key = await api.customer('lister');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { body } = await api.request('POST', '/api/jobs', {
        key,
        body: simulation({ workflow_id: i < 4 ? 'wf-list' : 'wf-other', step: i }),
      });
      ids.push(body.job.id);
    }
    await api.request('DELETE', `/api/jobs/${ids[1]}`, { key });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      // 7 jobs at 3 a page: a cursor that never runs out is a bug, not a reason to loop forever.
      expect(++pages, 'pages for 7 jobs').toBeLessThanOrEqual(3);
      const page: { status: number; body: { jobs: { id: string }[]; next_cursor: string | null } } =
        await api.request('GET', `/api/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(page.status).toBe(200);
      expect(page.body.jobs.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.jobs.map((j) => j.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const cancelled = await api.request('GET', '/api/jobs?status=cancelled', { key });
    expect(cancelled.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[1]]);
    const wf = await api.request('GET', '/api/jobs?workflow_id=wf-list&status=pending', { key });
    expect(wf.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[3], ids[2], ids[0]]);
  });

  it.each([
    ['status=done', 'status'],
    ['limit=0', 'limit'],
    ['cursor=xyz', 'cursor'],
    ['customer_id=acme', 'customer_id'],
  ])('rejects ?%s naming %s', async (query, field) => {
    const response = await api.request('GET', `/api/jobs?${query}`, { key: acme });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe(field);
  });
});

describe('GET /api/workflows/:id', () => {
  it('returns the workflow jobs in step order with their attestations, only the customer own', async () => {
    const key = await api.customer('wf-owner');
    const other = await api.customer('wf-intruder');
    const first = await api.request('POST', '/api/jobs', {
      key,
      body: simulation({ workflow_id: 'render-42', step: 2 }),
    });
    const second = await api.request('POST', '/api/jobs', {
      key,
      body: simulation({ workflow_id: 'render-42', step: 1 }),
    });
    // The same workflow id chosen by another customer must not leak into this one.
    const foreign = await api.request('POST', '/api/jobs', {
      key: other,
      body: simulation({ workflow_id: 'render-42', step: 1 }),
    });
    const store = createAttestationStore({ redis: api.redis, namespace: api.namespace });
    const base = {
      workflow_id: 'render-42',
      step: 2,
      attempt: 1,
      max_attempts: 3,
      worker_id: 'w1',
      machine_id: 'm1',
      service_type: 'simulation',
      failure_type: FailureType.RATE_LIMIT,
      failure_reason: FailureReason.REQUESTS_PER_MINUTE,
      failure_description: 'rate limited',
      message: '429',
      retryable: true,
      decision: 'retry',
      decision_reason: 'transient',
      retry_after_ms: 1000,
      started_at: 1,
      failed_at: 2,
    } as const;
    await store.record({ ...base, job_id: first.body.job.id, customer_id: 'wf-owner' });
    await store.record({ ...base, job_id: foreign.body.job.id, customer_id: 'wf-intruder' });

    const response = await api.request('GET', '/api/workflows/render-42', { key });
    expect(response.status).toBe(200);
    const workflow = response.body.workflow;
    expect(workflow.jobs.map((j: { id: string }) => j.id)).toEqual([
      second.body.job.id,
      first.body.job.id,
    ]);
    expect(workflow.attestations).toHaveLength(1);
    expect(workflow.attestations[0]).toMatchObject({
      job_id: first.body.job.id,
      failure_type: 'rate_limit',
      decision: 'retry',
    });
    expect(workflow.status_counts).toEqual({ pending: 2 });

    const job = await api.request('GET', `/api/jobs/${first.body.job.id}`, { key });
    expect(job.body.attestations).toHaveLength(1);
    expect((await api.request('GET', '/api/workflows/render-404', { key })).status).toBe(404);
    expect((await api.request('GET', '/api/workflows/bad%20id', { key })).status).toBe(400);
  });
});

describe('unknown routes', () => {
  it('answers JSON 404', async () => {
    const response = await api.request('GET', '/api/nothing', { key: acme });
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('not_found');
  });

  it.each([
    ['PUT', '/api/jobs/some-id', ['DELETE', 'GET']],
    ['PATCH', '/api/jobs', ['GET', 'POST']],
    ['POST', '/health', ['GET']],
    ['DELETE', '/api/workflows/wf-1', ['GET']],
  ])('answers %s %s with 405 and Allow', async (method, path, methods) => {
    const response = await api.request(method, path, { key: acme });
    expect(response.status).toBe(405);
    const allow = (response.headers.get('allow') ?? '').split(/,\s*/);
    for (const m of methods) expect(allow).toContain(m);
    expect(response.body.error.code).toBe('method_not_allowed');
    expect(response.body.error.message).toContain(method);
  });
});
