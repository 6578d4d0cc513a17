import {
  createQueue,
  recentOperatorActions,
  registryKeys,
  WorkerRegistry,
  type Queue,
  type WorkerRecord,
} from '@jobgate/core';
import { dropNamespace, uniqueNamespace, waitFor } from '@jobgate/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperatorKeyStore } from '../../src/operator-keys.js';
import { createMonitor } from '../../src/server.js';

let redis: Redis;
let queue: Queue;
let app: FastifyInstance;
let namespace: string;
let operatorKey: string;
let readOnlyKey: string;

beforeEach(async () => {
  redis = new Redis(process.env.REDIS_URL!);
  namespace = uniqueNamespace('mon');
  queue = await createQueue({ redis, namespace });
  app = await createMonitor({ redis, queue, namespace });
  await app.ready();
  const store = new OperatorKeyStore(redis, namespace);
  operatorKey = (await store.create('operator', 'on-call')).key;
  readOnlyKey = (await store.create('read-only', 'viewer')).key;
});

afterEach(async () => {
  await app.close();
  await queue.close();
  await dropNamespace(redis, namespace);
  redis.disconnect();
});

const get = (url: string, key?: string, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'GET',
    url,
    headers: { host: 'mon.test', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  });

const post = (url: string, key: string, body: string, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url,
    payload: body,
    headers: {
      host: 'mon.test',
      authorization: `Bearer ${key}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
  });

describe('access', () => {
  it('needs an operator key: none, a customer key or a wrong one get no data', async () => {
    await queue.submit({ id: 'secret-job', service_required: 'svc', customer_id: 'acme' });
    const anonymous = await get('/jobs');
    expect(anonymous.statusCode).toBe(302);
    expect(anonymous.headers.location).toBe('/login');
    expect((await get('/jobs', undefined, { 'x-fragment': '1' })).statusCode).toBe(401);
    const customerKey = `jgk_${'a'.repeat(16)}_${'b'.repeat(43)}`;
    const asCustomer = await get('/jobs', customerKey, { 'x-fragment': '1' });
    expect(asCustomer.statusCode).toBe(401);
    expect(asCustomer.body).not.toContain('secret-job');
    const ok = await get('/jobs', readOnlyKey);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('secret-job');
  });

  it('refuses cross-origin requests, even with a valid key', async () => {
    const response = await get('/', operatorKey, { origin: 'https://evil.example' });
    expect(response.statusCode).toBe(403);
    const cross = await post('/actions/reap', operatorKey, 'confirm=yes', {
      'sec-fetch-site': 'cross-site',
    });
    expect(cross.statusCode).toBe(403);
    expect((await get('/', operatorKey, { origin: 'http://mon.test' })).statusCode).toBe(200);
  });

  it('a read-only key cannot cancel; an operator key can, confirmed, and the action is recorded', async () => {
    const { id } = await queue.submit({ service_required: 'svc' });
    const denied = await post('/actions/cancel', readOnlyKey, `job_id=${id}&confirm=yes`);
    expect(denied.statusCode).toBe(403);
    expect((await queue.get(id))?.status).toBe('pending');
    const unconfirmed = await post('/actions/cancel', operatorKey, `job_id=${id}`);
    expect(unconfirmed.statusCode).toBe(400);
    expect((await queue.get(id))?.status).toBe('pending');
    const done = await post('/actions/cancel', operatorKey, `job_id=${id}&confirm=yes`, {
      accept: 'application/json',
    });
    expect(done.json()).toEqual({ result: 'cancelled' });
    expect((await queue.get(id))?.status).toBe('cancelled');
    const overview = await get('/', readOnlyKey, { 'x-fragment': '1' });
    expect(overview.body).toMatch(/on-call<\/td><td>cancel<\/td><td>[^<]*<\/td><td>cancelled/);
    // The read-only view of the job offers no action buttons.
    expect((await get(`/jobs/${id}`, readOnlyKey)).body).not.toContain('action-');
  });

  it('signs in with a key into an HttpOnly SameSite=Strict cookie, never echoing the key in a page', async () => {
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      payload: `key=${encodeURIComponent(operatorKey)}`,
      headers: { host: 'mon.test', 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(login.statusCode).toBe(302);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    const page = await get('/', undefined, { cookie: cookie.split(';')[0]! });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain(operatorKey);
    const bad = await app.inject({
      method: 'POST',
      url: '/login',
      payload: 'key=jgk_nope',
      headers: { host: 'mon.test', 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(bad.headers.location).toBe('/login?failed=1');
  });
});

describe('drain and undrain a worker', () => {
  const publishWorker = (id: string, extra: Partial<WorkerRecord> = {}) =>
    new WorkerRegistry(redis, namespace, 60_000).publish({
      worker_id: id,
      machine_id: 'gpu-box-1',
      hostname: 'gpu-box-1',
      pid: 1,
      version: '0.0.0',
      status: 'busy',
      services: ['simulation'],
      connectors: ['simulation'],
      capabilities: { services: ['simulation'] },
      concurrency: 1,
      current_jobs: ['job-1'],
      jobs_completed: 0,
      jobs_failed: 0,
      started_at: Date.now(),
      last_heartbeat: Date.now(),
      ...extra,
    });
  const drainKey = (id: string) => registryKeys(namespace).drain(id);

  it('an operator key drains, confirmed and recorded; a read-only key cannot; an unknown worker is refused', async () => {
    await publishWorker('w-1');
    const page = await get('/workers', operatorKey, { 'x-fragment': '1' });
    expect(page.body).toContain('data-worker-action="w-1"');
    expect(page.body).toContain('Drain worker w-1? It finishes its 1 running job(s)');
    expect((await get('/workers', readOnlyKey)).body).not.toContain('data-worker-action');

    const denied = await post('/actions/drain', readOnlyKey, 'worker_id=w-1&confirm=yes');
    expect(denied.statusCode).toBe(403);
    const unconfirmed = await post('/actions/drain', operatorKey, 'worker_id=w-1');
    expect(unconfirmed.statusCode).toBe(400);
    const unknown = await post('/actions/drain', operatorKey, 'worker_id=w-9&confirm=yes');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('no live worker "w-9"');
    expect(await redis.exists(drainKey('w-1'), drainKey('w-9'))).toBe(0);
    expect(await recentOperatorActions(redis, namespace, 10)).toEqual([]);

    const done = await post('/actions/drain', operatorKey, 'worker_id=w-1&confirm=yes');
    expect(done.statusCode).toBe(302);
    expect(done.headers.location).toBe('/workers');
    expect(JSON.parse((await redis.get(drainKey('w-1')))!)).toMatchObject({ by: 'on-call' });
    // What the worker writes at its next heartbeat, with the request it read.
    await publishWorker('w-1', {
      status: 'draining',
      drain: { requested_at: Date.now(), by: 'on-call' },
    });
    // The inspector reads the registry at most every 500 ms.
    const drained = await waitFor(
      async () => {
        const r = await get('/workers', readOnlyKey, { 'x-fragment': '1' });
        return /data-worker-status="w-1">draining</.test(r.body) ? r : null;
      },
      { timeoutMs: 5_000, what: 'the workers page showing w-1 draining' },
    );
    expect(drained.body).toContain('drained by on-call');
    const overview = await get('/', readOnlyKey, { 'x-fragment': '1' });
    expect(overview.body).toMatch(/on-call<\/td><td>drain<\/td><td>w-1<\/td><td>drain requested/);

    const undone = await post('/actions/undrain', operatorKey, 'worker_id=w-1&confirm=yes', {
      accept: 'application/json',
    });
    expect(undone.json()).toEqual({ result: 'undrain requested' });
    expect(await redis.exists(drainKey('w-1'))).toBe(0);
    expect((await recentOperatorActions(redis, namespace, 10)).map((a) => a.action)).toEqual([
      'undrain',
      'drain',
    ]);
  });
});

describe('pages', () => {
  it('render the overview, workers, jobs with reasons, job detail, workflow and Redis', async () => {
    const big = await queue.submit({
      service_required: 'comfyui',
      workflow_id: 'wf-1',
      step: 1,
      requirements: { hardware: { gpu_memory_gb: 80 } },
    });
    await queue.submit({ service_required: 'comfyui', workflow_id: 'wf-1', step: 2 });
    const overview = await get('/', readOnlyKey);
    expect(overview.body).toContain('Degraded: no live worker serves &quot;comfyui&quot;');
    expect(overview.body).toMatch(/id="count-pending"[^>]*><b>2<\/b>/);
    const jobs = await get('/jobs?status=pending&service=comfyui', readOnlyKey);
    expect(jobs.body).toContain('no live worker serves the service &quot;comfyui&quot;');
    const detail = await get(`/jobs/${big.id}`, operatorKey);
    expect(detail.body).toContain('data-event="job.received"');
    expect(detail.body).toContain('action-cancel');
    expect((await get('/workflows/wf-1', readOnlyKey)).body).toContain('pending: 2');
    expect((await get('/workers', readOnlyKey)).body).toContain('no live workers');
    const redisPage = await get('/redis', readOnlyKey);
    expect(redisPage.body).toMatch(/functions library<\/td><td>\d+ \(this build needs \d+\)/);
    expect((await get('/jobs?stuck=1', readOnlyKey)).statusCode).toBe(200);
    expect((await get('/jobs?unrunnable=1', readOnlyKey)).body).toContain(big.id);
  });
});
