import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '@jobgate/api';
import { dropNamespace, freePort, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const running = new Set<ChildProcess>();
process.once('exit', () => {
  // A test run that dies without teardown must not leave API or worker processes behind.
  for (const child of running) child.kill('SIGKILL');
});

export interface AppProcess {
  name: string;
  child: ChildProcess;
  /** Everything it printed (stdout + stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<string>;
}

/** Runs an app's `src/main.ts` under tsx, as `pnpm dev` would, with only the given environment added. */
export function startApp(
  name: string,
  app: 'api' | 'worker',
  env: Record<string, string>,
): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: `${root}apps/${app}`,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? String(code));
    });
  });
  return {
    name,
    child,
    output: () => output,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export interface Stack extends AsyncDisposable {
  namespace: string;
  redis: Redis;
  apiUrl: string;
  wsUrl: string;
  api: AppProcess;
  workers: AppProcess[];
  customer(id: string): Promise<string>;
  startWorker(env?: Record<string, string>): Promise<AppProcess>;
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
 * The API and N workers as real processes on the e2e Redis, in a namespace of their own. Workers
 * use the simulation connector with short leases and idle waits, so failures recover in seconds.
 */
export async function startStack(
  options: { workers?: number; workerEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: run through the e2e vitest preset');
  const namespace = uniqueNamespace('e2e');
  const redis = new Redis(redisUrl);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const api = startApp('api', 'api', {
    REDIS_URL: redisUrl,
    QUEUE_NAMESPACE: namespace,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    WS_PING_INTERVAL_MS: '5000',
  });
  const workers: AppProcess[] = [];
  let n = 0;
  const stack: Stack = {
    namespace,
    redis,
    apiUrl,
    wsUrl: `ws://127.0.0.1:${port}/api/ws`,
    api,
    workers,
    customer: async (id) => (await new ApiKeyStore(redis, namespace, 0).create(id)).key,
    startWorker: async (env = {}) => {
      const workerId = `${namespace}-w${++n}`;
      const worker = startApp(workerId, 'worker', {
        REDIS_URL: redisUrl,
        QUEUE_NAMESPACE: namespace,
        WORKER_ID: workerId,
        WORKER_CONNECTORS: 'simulation',
        WORKER_LEASE_MS: '2000',
        WORKER_IDLE_WAIT_MS: '100',
        WORKER_REGISTRY_INTERVAL_MS: '500',
        WORKER_SHUTDOWN_GRACE_MS: '0',
        LOG_LEVEL: 'warn',
        ...options.workerEnv,
        ...env,
      });
      workers.push(worker);
      await waitFor(
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
          return (await redis.zscore(`{${namespace}}:workers`, workerId)) !== null;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: `worker ${workerId} registered` },
      );
      return worker;
    },
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
    [Symbol.asyncDispose]: async () => {
      await Promise.all([api, ...workers].map((p) => p.kill('SIGTERM')));
      await dropNamespace(redis, namespace);
      redis.disconnect();
    },
  };
  try {
    // An API that exits at start (bad config, crash) fails the fixture at once, not after a timeout.
    await Promise.race([
      waitFor(async () => (await fetch(`${apiUrl}/health`)).status === 200, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'the API answering /health with 200',
      }),
      api.exited.then((how) => {
        throw new Error(`the API exited (${how}) before answering /health`);
      }),
    ]);
    for (let i = 0; i < (options.workers ?? 1); i++) await stack.startWorker();
  } catch (error) {
    await stack[Symbol.asyncDispose]();
    throw new Error(`${(error as Error).message}\n--- api output ---\n${api.output()}`, {
      cause: error,
    });
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
