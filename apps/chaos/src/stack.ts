import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyStore } from '@jobgate/api';
import { createQueue, type Queue } from '@jobgate/core';
import { freePort, onProcessDeath, startRedis, waitFor, type RedisHandle } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { chaosConfig } from './config.js';
import { startBundle, type AppProcess } from './processes.js';

export interface ChaosStackOptions {
  /** Scenario name: names the temp directory and the kept logs. */
  name: string;
  workers: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  /** `everysec` (default) or `always`. */
  appendfsync?: 'everysec' | 'always';
  leaseMs?: number;
}

/** A service process with its own HTTP port (`/health`, `/metrics`). */
export type ServiceProcess = AppProcess & { url: string };

export interface ChaosStack extends AsyncDisposable {
  namespace: string;
  redisUrl: string;
  apiUrl: string;
  wsUrl: string;
  leaseMs: number;
  /** A client for the suite's own reads; it reconnects by itself after a Redis restart. */
  redis: Redis;
  queue: Queue;
  api: AppProcess;
  /** Workers started so far, dead or alive. */
  workers: AppProcess[];
  liveWorkers(): AppProcess[];
  startWorker(env?: Record<string, string>): Promise<AppProcess>;
  /**
   * A webhook-service instance (the built bundle), ready when its `/health` answers 200. Test
   * settings: http:// and loopback receivers allowed, a retry schedule of seconds.
   */
  startWebhookService(env?: Record<string, string>): Promise<ServiceProcess>;
  /** A telemetry-collector instance exporting to `otlpUrl`, ready when its `/health` answers 200. */
  startCollector(otlpUrl: string, env?: Record<string, string>): Promise<ServiceProcess>;
  /** Webhook services and collectors started so far. */
  services: AppProcess[];
  customer(id: string): Promise<string>;
  /** Graceful Redis shutdown (SIGTERM: the AOF is flushed), waits until it has exited. */
  stopRedis(): Promise<void>;
  /** `kill -9` on redis-server: only what reached the AOF (and fsync) survives. */
  killRedis(): Promise<void>;
  /** Starts Redis again from the same directory on the same port. */
  startRedis(): Promise<void>;
  /** Every process's output, for a failure message. */
  logs(): string;
}

/**
 * Redis with AOF in a temp directory, the built API bundle and N built worker bundles as real
 * processes, all on loopback. Leases are short (default 2 s) so stalls recover within seconds.
 */
/** The stacks' temp directories not yet removed by their dispose. */
const dirs = new Set<string>();
// A stack whose start threw before it existed, or a test stopped at its timeout (vitest then ends
// the worker with SIGTERM), never reaches its dispose: its directory goes when the process does.
onProcessDeath(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const dir = mkdtempSync(join(tmpdir(), `jobgate-chaos-${options.name}-`));
  dirs.add(dir);
  const redisDir = join(dir, 'redis');
  mkdirSync(redisDir);
  const redisArgs = [
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'everysec',
    '--loglevel',
    'warning',
  ];
  // The first start picks a free port (and another if that one is taken meanwhile: the level's
  // scenarios start at the same time); a restart takes the same port again.
  let redisHandle: RedisHandle | undefined = await startRedis({
    own: true,
    dir: redisDir,
    args: redisArgs,
  });
  const redisPort = redisHandle.port;
  const launchRedis = (): Promise<RedisHandle> =>
    startRedis({ own: true, dir: redisDir, port: redisPort, args: redisArgs });
  const redisUrl = redisHandle.url;
  const namespace = 'chaos';
  const leaseMs = options.leaseMs ?? 2_000;
  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: () => 50,
  });
  redis.on('error', () => {});
  const queue = await createQueue({ redis, namespace });
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = startBundle('api', 'api', {
    REDIS_URL: redisUrl,
    QUEUE_NAMESPACE: namespace,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SERVICES: 'simulation',
    AUTH_CACHE_TTL_MS: '60000',
    ...options.apiEnv,
  });
  const workers: AppProcess[] = [];
  const services: AppProcess[] = [];
  let n = 0;
  const startHttpService = async (
    name: string,
    app: 'webhook-service' | 'telemetry-collector',
    env: Record<string, string>,
  ): Promise<ServiceProcess> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = startBundle(name, app, {
      REDIS_URL: redisUrl,
      QUEUE_NAMESPACE: namespace,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    });
    services.push(child);
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.status === 200, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `${name} answering /health with 200`,
      }),
      child.exited.then((how) => {
        throw new Error(`${name} exited (${how}) before answering /health:\n${child.output()}`);
      }),
    ]);
    return { ...child, url };
  };

  const stack: ChaosStack = {
    namespace,
    redisUrl,
    apiUrl,
    wsUrl: `ws://127.0.0.1:${apiPort}/api/ws`,
    leaseMs,
    redis,
    queue,
    api,
    workers,
    liveWorkers: () => workers.filter((w) => w.alive()),
    startWorker: async (env = {}) => {
      const workerId = `w${++n}`;
      const worker = startBundle(workerId, 'worker', {
        REDIS_URL: redisUrl,
        QUEUE_NAMESPACE: namespace,
        WORKER_ID: workerId,
        WORKER_CONNECTORS: 'simulation',
        WORKER_LEASE_MS: String(leaseMs),
        WORKER_IDLE_WAIT_MS: '200',
        WORKER_REGISTRY_INTERVAL_MS: '500',
        WORKER_SHUTDOWN_GRACE_MS: '0',
        LOG_LEVEL: 'warn',
        ...options.workerEnv,
        ...env,
      });
      workers.push(worker);
      await waitFor(
        async () => {
          if (!worker.alive()) throw new Error(`worker exited: ${worker.output()}`);
          return (await redis.zscore(`{${namespace}}:workers`, workerId)) !== null;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: `worker ${workerId} registered` },
      );
      return worker;
    },
    services,
    startWebhookService: (env = {}) => {
      const name = `webhook${services.filter((p) => p.name.startsWith('webhook')).length + 1}`;
      return startHttpService(name, 'webhook-service', {
        WEBHOOK_CONSUMER_NAME: name,
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
        ...env,
      });
    },
    startCollector: (otlpUrl, env = {}) => {
      const name = `collector${services.filter((p) => p.name.startsWith('collector')).length + 1}`;
      return startHttpService(name, 'telemetry-collector', {
        TELEMETRY_CONSUMER: name,
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
        ...env,
      });
    },
    customer: async (id) => (await new ApiKeyStore(redis, namespace, 0).create(id)).key,
    stopRedis: async () => {
      await redisHandle?.stop();
      redisHandle = undefined;
    },
    killRedis: async () => {
      if (redisHandle?.pid) process.kill(redisHandle.pid, 'SIGKILL');
      await redisHandle?.stop();
      redisHandle = undefined;
    },
    startRedis: async () => {
      redisHandle = await launchRedis();
    },
    logs: () =>
      [api, ...workers, ...services]
        .map((p) => `--- ${p.name} (pid ${p.pid}) ---\n${p.output().slice(-3_000)}`)
        .join('\n'),
    [Symbol.asyncDispose]: async () => {
      await Promise.all([api, ...workers, ...services].map((p) => p.stop('SIGTERM', 5_000)));
      if (chaosConfig.keepDir) {
        mkdirSync(chaosConfig.keepDir, { recursive: true });
        writeFileSync(join(chaosConfig.keepDir, `${options.name}.log`), stack.logs());
      }
      await queue.close().catch(() => undefined);
      redis.disconnect();
      await redisHandle?.stop();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
  try {
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
    // Started together; `workers` lists them in the order of their names (w1, w2, ...).
    await Promise.all(Array.from({ length: options.workers }, () => stack.startWorker()));
  } catch (error) {
    const logs = stack.logs();
    await stack[Symbol.asyncDispose]();
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  }
  return stack;
}
