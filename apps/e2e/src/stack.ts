import { ApiKeyStore } from '@jobgate/api';
import { dropNamespace, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Stack as Launcher, type AppProcess } from '@jobgate/testkit/stack';
import type { Redis } from 'ioredis';
import { WebSocket } from 'ws';

export type { AppProcess } from '@jobgate/testkit/stack';

export interface Stack extends AsyncDisposable {
  namespace: string;
  redis: Redis;
  apiUrl: string;
  wsUrl: string;
  api: AppProcess;
  workers: AppProcess[];
  customer(id: string): Promise<string>;
  startWorker(env?: Record<string, string>): Promise<AppProcess>;
  /** A webhook service instance (several share the work); ready when its /health is 200. */
  startWebhookService(env?: Record<string, string>): Promise<AppProcess>;
  http(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }>;
  /** Polls GET /api/jobs/:id until the predicate holds. */
  waitForJob(
    key: string,
    id: string,
    predicate: (job: any) => boolean,
    timeoutMs?: number,
  ): Promise<any>;
}

/**
 * The API and N workers as real processes on the e2e Redis, in a namespace of their own, started
 * by the same launcher as `pnpm dev` (`@jobgate/testkit/stack`; services are defined there).
 * Workers use the simulation connector with short leases and idle waits, so failures recover in
 * seconds.
 */
export async function startStack(
  options: { workers?: number; workerEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: run through the e2e vitest preset');
  const namespace = uniqueNamespace('e2e');
  const launcher = new Launcher({ redisUrl, namespace, mode: 'test' });
  const redis = launcher.redis;
  const workers: AppProcess[] = [];
  const dispose = async (): Promise<void> => {
    await launcher.stopApps();
    await dropNamespace(redis, namespace).catch(() => undefined);
    await launcher.stop();
  };
  let api: AppProcess;
  try {
    api = await launcher.start('api');
  } catch (error) {
    await dispose();
    throw error;
  }
  const apiUrl = launcher.urls.api!;
  const stack: Stack = {
    namespace,
    redis,
    apiUrl,
    wsUrl: `${apiUrl.replace(/^http/, 'ws')}/api/ws`,
    api,
    workers,
    customer: async (id) => (await new ApiKeyStore(redis, namespace, 0).create(id)).key,
    startWorker: async (env = {}) => {
      const worker = await launcher.start('worker', {
        instance: `${namespace}-w${String(workers.length + 1)}`,
        env: { ...options.workerEnv, ...env },
      });
      workers.push(worker);
      return worker;
    },
    startWebhookService: (env = {}) => launcher.start('webhook', { env }),
    http: async (method, path, key, body) => {
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    waitForJob: async (key, id, predicate, timeoutMs = 30_000) => {
      let last: unknown;
      try {
        return await waitFor(
          async () => {
            const { body } = await stack.http('GET', `/api/jobs/${id}`, key);
            last = body;
            return body?.job && predicate(body.job) ? body.job : null;
          },
          { timeoutMs, intervalMs: 50, what: `job ${id} reaching the expected state` },
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`, {
          cause: error,
        });
      }
    },
    [Symbol.asyncDispose]: dispose,
  };
  try {
    for (let i = 0; i < (options.workers ?? 1); i++) await stack.startWorker();
  } catch (error) {
    await dispose();
    throw error;
  }
  return stack;
}

/** A WebSocket client of the API that records every message. */
export async function watch(
  wsUrl: string,
  key: string,
  subscribe: Record<string, unknown> = { all: true },
) {
  const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${key}` } });
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8'))));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'subscribe', ...subscribe }));
  await waitFor(() => messages.some((m) => m.type === 'subscribed'), {
    timeoutMs: 5_000,
    what: 'the websocket subscribed',
  });
  return {
    socket,
    messages,
    events: (jobId?: string) =>
      messages
        .filter((m) => m.type === 'event' && (!jobId || m.event.job_id === jobId))
        .map((m) => m.event),
    waitForEvent: (predicate: (event: any) => boolean, timeoutMs = 30_000) =>
      waitFor(() => messages.find((m) => m.type === 'event' && predicate(m.event))?.event, {
        timeoutMs,
        intervalMs: 20,
        what: 'a websocket event matching the predicate',
      }),
    close: () => socket.terminate(),
  };
}
