import { startWebhookReceiver, waitFor } from '@jobgate/testkit';
import { createWebhookService } from '@jobgate/webhook-service';
import { describe, expect, it } from 'vitest';
import { startApi } from './harness.js';

const LOOPBACK = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };

describe('/api/webhooks', () => {
  it('registers an endpoint, shows the secret once, and keeps it to its customer', async () => {
    await using api = await startApi({ webhooks: LOOPBACK });
    await using receiver = await startWebhookReceiver();
    const acme = await api.customer('acme');
    const globex = await api.customer('globex');

    const created = await api.request('POST', '/api/webhooks', {
      key: acme,
      body: { url: receiver.url(), events: ['job.completed'], description: 'prod' },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const id = created.body.webhook.id as string;
    expect(created.body.webhook).toMatchObject({
      url: receiver.url(),
      events: ['job.completed'],
      status: 'enabled',
    });
    expect(created.headers.get('location')).toBe(`/api/webhooks/${id}`);

    const listed = await api.request('GET', '/api/webhooks', { key: acme });
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toEqual([id]);
    expect(listed.text).not.toContain(created.body.secret);
    expect((await api.request('GET', `/api/webhooks/${id}`, { key: acme })).text).not.toContain(
      'whsec_',
    );

    for (const [method, path] of [
      ['GET', `/api/webhooks/${id}`],
      ['PATCH', `/api/webhooks/${id}`],
      ['DELETE', `/api/webhooks/${id}`],
      ['POST', `/api/webhooks/${id}/rotate-secret`],
      ['POST', `/api/webhooks/${id}/test`],
      ['GET', `/api/webhooks/${id}/deliveries`],
    ] as const) {
      const response = await api.request(method, path, {
        key: globex,
        ...(method === 'PATCH' ? { body: { description: 'x' } } : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    expect((await api.request('GET', '/api/webhooks', { key: globex })).body.webhooks).toEqual([]);
    expect((await api.request('GET', '/api/webhooks')).status).toBe(401);
  });

  it('patches, rotates, disables and deletes', async () => {
    await using api = await startApi({ webhooks: LOOPBACK });
    await using receiver = await startWebhookReceiver();
    const acme = await api.customer('acme');
    const { body } = await api.request('POST', '/api/webhooks', {
      key: acme,
      body: { url: receiver.url(), events: ['*'] },
    });
    const id = body.webhook.id as string;
    const patched = await api.request('PATCH', `/api/webhooks/${id}`, {
      key: acme,
      body: { events: ['job.failed'], workflow_id: 'wf-1', enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.webhook).toMatchObject({
      events: ['job.failed'],
      workflow_id: 'wf-1',
      status: 'disabled',
      disabled_reason: 'disabled by the customer',
    });
    expect((await api.request('POST', `/api/webhooks/${id}/test`, { key: acme })).status).toBe(409);
    const enabled = await api.request('PATCH', `/api/webhooks/${id}`, {
      key: acme,
      body: { enabled: true },
    });
    expect(enabled.body.webhook.status).toBe('enabled');

    const rotated = await api.request('POST', `/api/webhooks/${id}/rotate-secret`, { key: acme });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(body.secret);
    const ends = Date.parse(rotated.body.webhook.secret_rotation_ends_at as string);
    expect(ends - Date.now()).toBeGreaterThan(23 * 3_600_000);

    expect((await api.request('DELETE', `/api/webhooks/${id}`, { key: acme })).status).toBe(200);
    expect((await api.request('GET', `/api/webhooks/${id}`, { key: acme })).status).toBe(404);
  });

  it('names what is wrong with a registration and stores nothing', async () => {
    await using api = await startApi({
      webhooks: {
        resolve: (host) =>
          Promise.resolve([
            { address: host === 'internal.example.com' ? '10.0.0.7' : '93.184.216.34', family: 4 },
          ]),
      },
    });
    const acme = await api.customer('acme');
    const cases: [unknown, RegExp, string][] = [
      [{ url: 'http://hooks.example.com/x', events: ['*'] }, /https/, 'url'],
      [{ url: 'https://127.0.0.1/x', events: ['*'] }, /loopback/, 'url'],
      [{ url: 'https://[::ffff:127.0.0.1]/x', events: ['*'] }, /loopback/, 'url'],
      [{ url: 'https://169.254.169.254/latest', events: ['*'] }, /linkLocal/, 'url'],
      [{ url: 'https://[fd00:ec2::254]/', events: ['*'] }, /uniqueLocal/, 'url'],
      [
        { url: 'https://internal.example.com/x', events: ['*'] },
        /private address \(10\.0\.0\.7\)/,
        'url',
      ],
      [{ url: 'https://hooks.example.com/x', events: [] }, /at least one/, 'events'],
      [{ url: 'https://hooks.example.com/x', events: ['job.exploded'] }, /one of/, 'events.0'],
      [{ url: 'https://hooks.example.com/x', events: ['*'], secret: 'mine' }, /secret/, '(body)'],
    ];
    for (const [body, message, field] of cases) {
      const response = await api.request('POST', '/api/webhooks', { key: acme, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.message).toMatch(message);
      if (field !== '(body)') expect(response.body.error.field).toBe(field);
    }
    expect((await api.request('GET', '/api/webhooks', { key: acme })).body.webhooks).toEqual([]);
    const ok = await api.request('POST', '/api/webhooks', {
      key: acme,
      body: { url: 'https://hooks.example.com/x', events: ['job.completed'] },
    });
    expect(ok.status).toBe(201);
  });

  it('lists delivery attempts, resends one, and sends a test event', async () => {
    await using api = await startApi({ webhooks: LOOPBACK });
    await using receiver = await startWebhookReceiver();
    receiver.enqueue({ status: 400 });
    const acme = await api.customer('acme');
    const { body } = await api.request('POST', '/api/webhooks', {
      key: acme,
      body: { url: receiver.url(), events: ['job.received'] },
    });
    const id = body.webhook.id as string;
    const service = createWebhookService({
      redis: api.redis,
      jobs: api.queue,
      namespace: api.namespace,
      policy: LOOPBACK,
      defaultMetrics: false,
    });
    try {
      await api.request('POST', '/api/jobs', {
        key: acme,
        body: { service_required: 'simulation', payload: {} },
      });
      await service.pump();
      const listed = await api.request('GET', `/api/webhooks/${id}/deliveries`, { key: acme });
      expect(listed.body.deliveries).toHaveLength(1);
      const delivery = listed.body.deliveries[0];
      expect(delivery).toMatchObject({
        event_type: 'job.received',
        status: 'failed',
        response_code: 400,
        attempts: 1,
      });
      expect(delivery.attempt_log[0]).toMatchObject({ response_code: 400, outcome: 'failed' });
      expect(delivery.latency_ms).toBeGreaterThanOrEqual(0);

      const failedOnly = await api.request(
        'GET',
        `/api/webhooks/${id}/deliveries?status=succeeded`,
        { key: acme },
      );
      expect(failedOnly.body.deliveries).toEqual([]);
      expect(
        (await api.request('GET', `/api/webhooks/${id}/deliveries?limit=0`, { key: acme })).status,
      ).toBe(400);

      const retried = await api.request(
        'POST',
        `/api/webhooks/${id}/deliveries/${delivery.id}/retry`,
        { key: acme },
      );
      expect(retried.status).toBe(202);
      expect(retried.body.delivery.status).toBe('pending');
      await service.pump();
      expect(receiver.requests.map((r) => r.id)).toEqual([delivery.id, delivery.id]);
      const one = await api.request('GET', `/api/webhooks/${id}/deliveries/${delivery.id}`, {
        key: acme,
      });
      expect(one.body.delivery).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        response_code: 200,
      });

      const test = await api.request('POST', `/api/webhooks/${id}/test`, { key: acme });
      expect(test.status).toBe(202);
      await service.pump();
      await waitFor(() => receiver.requests.length === 3, {
        timeoutMs: 5_000,
        what: 'the test event received',
      });
      expect(receiver.requests[2]!.body?.type).toBe('webhook.test');
    } finally {
      await service.stop();
    }
  });
});
