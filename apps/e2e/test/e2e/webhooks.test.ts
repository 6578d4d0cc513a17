import { startWebhookReceiver, type ReceivedWebhook } from '@jobgate/testkit';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startStack } from '../../src/stack.js';

function verify(secret: string, r: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(r.rawBody, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}

describe('webhooks end to end', () => {
  it('a completed job and a permanently failed one reach the receiver, signed', async () => {
    await using stack = await startStack({ workers: 1 });
    await using receiver = await startWebhookReceiver();
    await stack.startWebhookService();
    const key = await stack.customer('acme');
    const registered = await stack.http('POST', '/api/webhooks', key, {
      url: receiver.url('/acme'),
      events: ['job.completed', 'job.failed'],
    });
    expect(registered.status).toBe(201);
    const secret = registered.body.secret as string;

    const done = await stack.http('POST', '/api/jobs', key, {
      service_required: 'simulation',
      payload: { steps: 1, result: { image: 'cat.png' } },
    });
    const failed = await stack.http('POST', '/api/jobs', key, {
      service_required: 'simulation',
      max_attempts: 3,
      payload: { fail: { message: 'Incorrect API key provided', http_status: 401 } },
    });
    await stack.waitFor(() => receiver.accepted('/acme').length >= 2, {
      timeoutMs: 30_000,
      what: 'both job events delivered',
    });
    const byType = new Map(receiver.accepted('/acme').map((r) => [r.body?.type, r]));
    const completed = verify(secret, byType.get('job.completed')!) as {
      data: Record<string, unknown>;
    };
    expect(completed.data).toMatchObject({
      job_id: done.body.job.id,
      status: 'completed',
      result: { image: 'cat.png' },
    });
    const failure = verify(secret, byType.get('job.failed')!) as { data: Record<string, unknown> };
    expect(failure.data).toMatchObject({
      job_id: failed.body.job.id,
      status: 'failed',
      failure: { type: 'auth_error', retryable: false },
    });

    const deliveries = await stack.http(
      'GET',
      `/api/webhooks/${registered.body.webhook.id}/deliveries`,
      key,
    );
    expect(deliveries.body.deliveries.map((d: { status: string }) => d.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
  });

  it('two service instances, one killed with SIGKILL mid-delivery: every event once per id', async () => {
    await using stack = await startStack({ workers: 1 });
    await using receiver = await startWebhookReceiver({ mode: { status: 200, delayMs: 300 } });
    const first = await stack.startWebhookService();
    await stack.startWebhookService();
    const key = await stack.customer('acme');
    await stack.http('POST', '/api/webhooks', key, {
      url: receiver.url(),
      events: ['job.completed'],
    });
    const jobs: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { body } = await stack.http('POST', '/api/jobs', key, {
        service_required: 'simulation',
        payload: { steps: 1 },
      });
      jobs.push(body.job.id as string);
    }
    await stack.waitFor(() => receiver.requests.length >= 2, {
      timeoutMs: 30_000,
      what: 'deliveries under way',
    });
    await first.stop('SIGKILL');
    await stack.waitFor(
      () => new Set(receiver.accepted().map((r) => r.body?.data.job_id)).size === jobs.length,
      {
        timeoutMs: 30_000,
        what: 'every job.completed accepted',
      },
    );
    const idsPerJob = new Map<unknown, Set<string | undefined>>();
    for (const r of receiver.requests) {
      const job = r.body?.data.job_id;
      idsPerJob.set(job, (idsPerJob.get(job) ?? new Set()).add(r.id));
    }
    expect([...idsPerJob.keys()].sort()).toEqual([...jobs].sort());
    for (const [job, ids] of idsPerJob) expect(ids.size, `webhook-ids of ${String(job)}`).toBe(1);
  });
});
