import { createQueue, type Queue } from '@jobgate/core';
import {
  dropNamespace,
  startWebhookReceiver,
  uniqueNamespace,
  type ReceivedWebhook,
  type WebhookReceiver,
} from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { vi } from 'vitest';
import {
  createWebhookService,
  type WebhookService,
  type WebhookServiceDeps,
} from '../../src/service.js';
import { WebhookStore } from '../../src/store.js';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run through the integration preset');
  return url;
}

/** A clock tests move by hand: retry schedules are checked without waiting for them. */
export interface Clock {
  now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.parse('2026-03-01T12:00:00Z')): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export const LOOPBACK = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };

export interface Harness extends AsyncDisposable {
  namespace: string;
  redis: Redis;
  queue: Queue;
  store: WebhookStore;
  receiver: WebhookReceiver;
  clock: Clock;
  service(overrides?: Partial<WebhookServiceDeps>): WebhookService;
  /** A job of `customer` submitted, claimed and completed (or failed permanently) through core. */
  runJob(customer: string, outcome?: 'complete' | 'fail', workflowId?: string): Promise<string>;
}

export async function startHarness(): Promise<Harness> {
  const namespace = uniqueNamespace('wh');
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  const clock = manualClock();
  const queue = await createQueue({ redis, namespace, clock: clock.now });
  const store = new WebhookStore(redis, namespace, clock.now);
  const receiver = await startWebhookReceiver();
  const services: WebhookService[] = [];
  let n = 0;
  return {
    namespace,
    redis,
    queue,
    store,
    receiver,
    clock,
    service(overrides = {}) {
      const service = createWebhookService({
        redis,
        jobs: queue,
        namespace,
        policy: LOOPBACK,
        now: clock.now,
        random: () => 0.5,
        // Generous: the receiver answers in the same process, and on a starved machine a delayed
        // event loop runs an expired 500 ms timer before the request reaches the receiver; the
        // attempt then "times out" and its retry waits on a clock the test never moves. Tests
        // of the timeout itself set their own.
        timeoutMs: 5_000,
        claimIdleMs: 0,
        defaultMetrics: false,
        consumerName: `test-${++n}`,
        ...overrides,
      });
      services.push(service);
      return service;
    },
    async runJob(customer, outcome = 'complete', workflowId) {
      const { id } = await queue.submit({
        service_required: 'simulation',
        customer_id: customer,
        payload: { prompt: 'hi' },
        max_attempts: 1,
        ...(workflowId ? { workflow_id: workflowId } : {}),
      });
      const job = await queue.claim({ worker_id: 'w1', services: ['simulation'] });
      if (!job || job.id !== id) throw new Error(`expected to claim ${id}`);
      if (outcome === 'complete') await queue.complete(id, 'w1', { text: 'done' });
      else {
        await queue.fail(id, 'w1', {
          retryable: false,
          failure_type: 'validation_error',
          failure_reason: 'invalid_prompt',
          message: 'the prompt was refused',
        });
      }
      return id;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(services.map((s) => s.stop()));
      await receiver.close();
      await queue.close();
      await dropNamespace(redis, namespace).catch(() => undefined);
      redis.disconnect();
    },
  };
}

/**
 * Verifies a received webhook with the independent `standardwebhooks` library. The library checks
 * the timestamp against its own clock (5 min tolerance), so Date is set to the delivery's time.
 */
export function verifyWebhook(secret: string, request: ReceivedWebhook): unknown {
  const timestamp = String(request.headers['webhook-timestamp']);
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Number(timestamp) * 1_000);
    return new Webhook(secret).verify(request.rawBody, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': timestamp,
      'webhook-signature': String(request.headers['webhook-signature']),
    });
  } finally {
    vi.useRealTimers();
  }
}
