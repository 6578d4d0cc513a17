import { ApiKeyStore } from '@jobgate/api';
import { dropNamespace, uniqueNamespace, waitFor, type WaitForOptions } from '@jobgate/testkit';
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
  /** A telemetry collector exporting to `otlpEndpoint` (e.g. testkit's OTLP receiver). */
  startCollector(otlpEndpoint: string, env?: Record<string, string>): Promise<AppProcess>;
  http(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }>;
  /**
   * Polls GET /api/jobs/:id until the predicate holds. Fails at once, not at the timeout, when the
   * job ends (completed, failed, cancelled) in a state the predicate rejects, when it is on more
   * attempts than it allows (handed out again and again), or when a process of the stack exited
   * that the test did not stop.
   */
  waitForJob(
    key: string,
    id: string,
    predicate: (job: any) => boolean,
    timeoutMs?: number,
  ): Promise<any>;
  /**
   * testkit's `waitFor`, failing at once when a process of the stack exited unasked or a job
   * submitted through `http` is on more attempts than it allows (a worker stuck re-claiming it).
   */
  waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions): Promise<NonNullable<T>>;
  /** Why the stack is broken (a process the test did not stop has exited), else undefined. */
  unexpectedExit(): string | undefined;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** What a wait's condition returns to give up at once: thrown as an assertion, never retried. */
export class FailNow {
  constructor(readonly message: string) {}
}

/**
 * testkit's `waitFor` whose condition may return a `FailNow` to stop waiting. The error is worded
 * `expected ...`, which the presets' retry rule treats as an assertion: a state that cannot change
 * any more is a bug, and retrying it would only triple the time to report it.
 */
export async function waitOrFail<T>(
  condition: () => T | FailNow | Promise<T | FailNow>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const value = await waitFor(condition, options);
  if (value instanceof FailNow) throw new Error(value.message);
  return value;
}

/**
 * The apps' start bundles of this run by app folder, from the e2e global setup
 * (`test/bundle-setup.ts`); a clear error when the tests run without it.
 */
export function appBundles(): Record<string, string> {
  const bundles = process.env.E2E_APP_BUNDLES;
  if (!bundles)
    throw new Error(
      'E2E_APP_BUNDLES is not set: run these tests with vitest.e2e.config.ts (its global setup builds the apps)',
    );
  return JSON.parse(bundles) as Record<string, string>;
}

/**
 * The API and N workers as real processes on the e2e Redis, in a namespace of their own, started
 * by the same launcher as `pnpm dev` (`@jobgate/testkit/stack`; services are defined there), each
 * from its start bundle of this run (`appBundles()`).
 * Workers use the simulation connector with short leases and idle waits, so failures recover in
 * seconds.
 */
export async function startStack(
  options: {
    workers?: number;
    workerEnv?: Record<string, string>;
    apiEnv?: Record<string, string>;
  } = {},
): Promise<Stack> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: run through the e2e vitest preset');
  const namespace = uniqueNamespace('e2e');
  const launcher = new Launcher({ redisUrl, namespace, mode: 'test', bundles: appBundles() });
  const redis = launcher.redis;
  const workers: AppProcess[] = [];
  // Every process of the stack, and whether the test asked it to stop (a worker killed on purpose
  // is no reason to give up a wait; one that crashed is).
  const watched: { app: AppProcess; stopped: boolean }[] = [];
  const track = (app: AppProcess): AppProcess => {
    const entry = { app, stopped: false };
    watched.push(entry);
    return {
      ...app,
      stop: (signal, graceMs) => {
        entry.stopped = true;
        return app.stop(signal, graceMs);
      },
      kill: (signal) => {
        entry.stopped = true;
        return app.kill(signal);
      },
    };
  };
  const unexpectedExit = (): string | undefined => {
    const gone = watched.find((entry) => !entry.stopped && !entry.app.running());
    if (!gone) return undefined;
    const { child } = gone.app;
    return `expected ${gone.app.name} to keep running, but it exited (${String(child.signalCode ?? child.exitCode)})\n--- ${gone.app.name} output (last lines) ---\n${gone.app.output().slice(-3_000)}`;
  };
  /**
   * A job submitted through `http` on more attempts than it allows: a worker keeps claiming it (a
   * broken claim), so nothing else that needs a worker can be awaited any more.
   */
  const runaway = async (except?: string): Promise<string | undefined> => {
    for (const [id, key] of submitted) {
      if (id === except) continue;
      const job = (await stack.http('GET', `/api/jobs/${id}`, key)).body?.job;
      if (job && job.attempts > job.max_attempts)
        return `expected every job to run at most its max_attempts times, but job ${id} is on attempt ${job.attempts} of ${job.max_attempts}: a worker keeps claiming it: ${JSON.stringify(job)}`;
    }
    return undefined;
  };
  /** Fails at once on a process that exited unasked, and (every 10th check) on a runaway job. */
  const stackWait = <T>(
    condition: () => T | FailNow | Promise<T | FailNow>,
    options: WaitForOptions,
    awaitedJob?: string,
  ): Promise<NonNullable<T>> => {
    let checks = 0;
    return waitOrFail(async () => {
      const exit = unexpectedExit();
      if (exit) return new FailNow(`${exit}\n(while waiting for ${options.what})`);
      if (++checks % 10 === 1) {
        const stuck = await runaway(awaitedJob);
        if (stuck) return new FailNow(`${stuck}\n(while waiting for ${options.what})`);
      }
      return condition();
    }, options);
  };
  // Jobs submitted through `http`, with their customer's key: a wait notices another job stuck in
  // a claim loop (a worker busy re-running it never claims the awaited one).
  const submitted = new Map<string, string>();
  const dispose = async (): Promise<void> => {
    await launcher.stopApps();
    await dropNamespace(redis, namespace).catch(() => undefined);
    await launcher.stop();
  };
  let api: AppProcess;
  try {
    api = track(await launcher.start('api', { env: options.apiEnv ?? {} }));
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
      const worker = track(
        await launcher.start('worker', {
          instance: `${namespace}-w${String(workers.length + 1)}`,
          env: { ...options.workerEnv, ...env },
        }),
      );
      workers.push(worker);
      return worker;
    },
    startWebhookService: async (env = {}) => track(await launcher.start('webhook', { env })),
    startCollector: async (otlpEndpoint, env = {}) =>
      track(
        await launcher.start('telemetry', {
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, ...env },
        }),
      ),
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
      const parsed = text ? JSON.parse(text) : undefined;
      if (method === 'POST' && path === '/api/jobs' && typeof parsed?.job?.id === 'string')
        submitted.set(parsed.job.id, key);
      return { status: response.status, body: parsed };
    },
    waitForJob: async (key, id, predicate, timeoutMs = 30_000) => {
      let last: unknown;
      try {
        return await stackWait(
          async () => {
            const { body } = await stack.http('GET', `/api/jobs/${id}`, key);
            last = body;
            const job = body?.job;
            if (!job) return null;
            if (predicate(job)) return job;
            // More attempts than allowed cannot happen: the job is handed out again and again
            // (a broken claim), and no awaited state will hold still long enough to be seen.
            if (job.attempts > job.max_attempts)
              return new FailNow(
                `expected job ${id} to run at most ${job.max_attempts} times, but it is on attempt ${job.attempts}: ${JSON.stringify(job)}`,
              );
            // A finished job never changes again: waiting out the timeout (and its retries) for
            // a state it cannot reach only makes a wrong result slow to report.
            if (FINAL.has(job.status))
              return new FailNow(
                `expected job ${id} to reach the awaited state, but it ended ${job.status}, which is final: ${JSON.stringify(job)}`,
              );
            return null;
          },
          { timeoutMs, intervalMs: 50, what: `job ${id} reaching the expected state` },
          id,
        );
      } catch (error) {
        if ((error as Error).message.startsWith('expected ')) throw error;
        throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`, {
          cause: error,
        });
      }
    },
    waitFor: (condition, options) => stackWait(condition, options),
    unexpectedExit,
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
  // A server that accepts the connection but never answers the upgrade fails the handshake here.
  const socket = new WebSocket(wsUrl, {
    headers: { authorization: `Bearer ${key}` },
    handshakeTimeout: 5_000,
  });
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8'))));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', (error) =>
      reject(new Error(`websocket ${wsUrl} did not open: ${error.message}`, { cause: error })),
    );
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`websocket ${wsUrl}: upgrade refused with HTTP ${response.statusCode}`)),
    );
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
    /** Fails at once when the socket has closed: no event can arrive any more. */
    waitForEvent: (predicate: (event: any) => boolean, timeoutMs = 30_000) =>
      waitOrFail(
        () => {
          const found = messages.find((m) => m.type === 'event' && predicate(m.event))?.event;
          if (found) return found;
          if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING)
            return new FailNow(
              `expected the websocket to stay open while waiting for an event, but it closed; ${messages.length} messages received`,
            );
          return undefined;
        },
        { timeoutMs, intervalMs: 20, what: 'a websocket event matching the predicate' },
      ),
    close: () => socket.terminate(),
  };
}
