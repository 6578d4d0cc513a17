import type { Redis } from 'ioredis';

/** What a service's definition may read to build its environment. */
export interface ServiceContext {
  redisUrl: string;
  namespace: string;
  /** `development` for `pnpm dev` (readable logs, request lines), `test` for the e2e suite. */
  mode: 'development' | 'test';
  /** This instance's name: the service name, or e.g. `worker-2` for a second worker. */
  instance: string;
  /** The port this instance listens on (services with `http`), else undefined. */
  port: number | undefined;
  /** Base URLs of the HTTP services started so far, by service name (`urls.api`). */
  urls: Readonly<Record<string, string>>;
}

export interface ServiceDefinition {
  /** Folder under `apps/`; the launcher runs its `src/main.ts` (or `entry`) under tsx. */
  app: string;
  entry?: string;
  /** An HTTP service: gets a port (as `PORT` unless `portEnv`) and is ready when `readyPath` is 200. */
  http?: { readyPath: string; portEnv?: string };
  /** The service's environment (the launcher's own environment is inherited underneath). */
  env(ctx: ServiceContext): Record<string, string>;
  /** Readiness for services without `http`; polled until true. */
  ready?(ctx: ServiceContext & { env: Record<string, string>; redis: Redis }): Promise<boolean>;
  /** What the `pnpm dev` banner prints after the instance's name and pid. */
  describe?(ctx: ServiceContext & { env: Record<string, string> }): string;
}

/** Local stacks deliver to receivers on this machine: http:// and loopback, never in production. */
const LOCAL_WEBHOOKS = { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8,::1/128' };

const quiet = (ctx: ServiceContext): Record<string, string> =>
  ctx.mode === 'test' ? { LOG_LEVEL: 'warn' } : { LOG_LEVEL: 'info' };

/**
 * Every service the stack can start. To add one, add an entry here (and its name to
 * `DEV_SERVICES` if `pnpm dev` should run it); `pnpm dev` and the e2e stack both read this table.
 */
export const STACK_SERVICES: Record<string, ServiceDefinition> = {
  api: {
    app: 'api',
    http: { readyPath: '/health' },
    env: (ctx) => ({
      REDIS_URL: ctx.redisUrl,
      QUEUE_NAMESPACE: ctx.namespace,
      HOST: '127.0.0.1',
      ...quiet(ctx),
      ...(ctx.mode === 'development' ? { LOG_REQUESTS: 'true' } : { WS_PING_INTERVAL_MS: '5000' }),
      ...LOCAL_WEBHOOKS,
    }),
    describe: (ctx) => {
      const url = `http://127.0.0.1:${String(ctx.port)}`;
      return `${url}   (WebSocket ${url.replace(/^http/, 'ws')}/api/ws)`;
    },
  },
  webhook: {
    app: 'webhook-service',
    http: { readyPath: '/health' },
    env: (ctx) => ({
      REDIS_URL: ctx.redisUrl,
      QUEUE_NAMESPACE: ctx.namespace,
      HOST: '127.0.0.1',
      WEBHOOK_CONSUMER_NAME: ctx.instance,
      ...quiet(ctx),
      ...LOCAL_WEBHOOKS,
      // Seconds, not hours, in tests: a killed instance's deliveries and entries come back fast.
      ...(ctx.mode === 'test'
        ? {
            WEBHOOK_RETRY_SCHEDULE_MS: '0,200,500,1000,2000',
            WEBHOOK_TIMEOUT_MS: '2000',
            WEBHOOK_LEASE_MS: '3000',
            WEBHOOK_CLAIM_IDLE_MS: '1000',
          }
        : {}),
    }),
    describe: (ctx) =>
      `http://127.0.0.1:${String(ctx.port)}/metrics   (http:// and loopback receivers allowed)`,
  },
  worker: {
    app: 'worker',
    env: (ctx) => ({
      REDIS_URL: ctx.redisUrl,
      QUEUE_NAMESPACE: ctx.namespace,
      WORKER_ID: ctx.mode === 'test' ? ctx.instance : `dev-${ctx.instance}`,
      WORKER_CONNECTORS: 'simulation',
      ...quiet(ctx),
      // Short leases and waits in tests, so a killed worker's job comes back in seconds.
      ...(ctx.mode === 'test'
        ? {
            WORKER_LEASE_MS: '2000',
            WORKER_IDLE_WAIT_MS: '100',
            WORKER_REGISTRY_INTERVAL_MS: '500',
            WORKER_SHUTDOWN_GRACE_MS: '0',
          }
        : {}),
    }),
    ready: async ({ namespace, env, redis }) =>
      (await redis.zscore(`{${namespace}}:workers`, env.WORKER_ID!)) !== null,
    describe: (ctx) => `${ctx.env.WORKER_ID ?? ctx.instance} (simulation connector)`,
  },
  telemetry: {
    app: 'telemetry-collector',
    http: { readyPath: '/health' },
    // The OTLP endpoint comes from the caller (`pnpm dev`: a local receiver or the developer's
    // OTEL_EXPORTER_OTLP_ENDPOINT; e2e: the test's receiver) or TELEMETRY_DISABLED=1.
    env: (ctx) => ({
      REDIS_URL: ctx.redisUrl,
      QUEUE_NAMESPACE: ctx.namespace,
      HOST: '127.0.0.1',
      TELEMETRY_CONSUMER: ctx.instance,
      DEPLOYMENT_ENVIRONMENT: ctx.mode,
      ...quiet(ctx),
      // Short waits so a finished job's trace is out within a second (production: 1 s blocks,
      // 5 s settle).
      TELEMETRY_BLOCK_MS: ctx.mode === 'test' ? '100' : '500',
      TELEMETRY_SWEEP_INTERVAL_MS: ctx.mode === 'test' ? '100' : '500',
      TELEMETRY_SETTLE_MS: ctx.mode === 'test' ? '200' : '1000',
      TELEMETRY_METRIC_INTERVAL_MS: ctx.mode === 'test' ? '500' : '15000',
    }),
    describe: (ctx) =>
      `http://127.0.0.1:${String(ctx.port)}/metrics   traces ${
        ctx.env.TELEMETRY_DISABLED === '1'
          ? 'disabled'
          : `-> ${ctx.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '(none)'}`
      }`,
  },
  monitor: {
    app: 'monitor',
    http: { readyPath: '/login', portEnv: 'MONITOR_PORT' },
    env: (ctx) => ({
      REDIS_URL: ctx.redisUrl,
      QUEUE_NAMESPACE: ctx.namespace,
      MONITOR_HOST: '127.0.0.1',
      ...quiet(ctx),
    }),
    describe: (ctx) => `http://127.0.0.1:${String(ctx.port)}   (sign in with the operator key)`,
  },
};

/** What `pnpm dev` starts, in order. */
export const DEV_SERVICES = ['api', 'worker', 'webhook', 'telemetry', 'monitor'];
