import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readTelemetryEnv, type TelemetrySettings } from '@jobgate/telemetry/setup';
import { ConfigError, presentEnv } from '@jobgate/core/config';
import { z } from 'zod';

/** Configuration errors name every bad variable at once and never echo a value (keys are secrets). */
export { ConfigError };

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const url = z.url({ protocol: /^https?$/ });

const CONNECTORS = ['simulation', 'openai', 'comfyui'] as const;

/** Zod's message without the received value (it may be a secret); a missing variable says so. */
function issueText(message: string): string {
  if (/received undefined/.test(message)) return 'required';
  return message.replace(/,?\s*received .*/, '').trim();
}

const schema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  QUEUE_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, "_", ".", ":" or "-" (1-64)')
    .default('jq'),
  WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'letters, digits, "_", ".", ":" or "-"')
    .optional(),
  MACHINE_ID: z.string().min(1).max(128).optional(),
  WORKER_CONNECTORS: list.pipe(z.array(z.enum(CONNECTORS)).min(1)).default(['simulation']),
  WORKER_CONCURRENCY: int(1, 256).default(1),
  WORKER_LEASE_MS: int(1_000).default(30_000),
  WORKER_IDLE_WAIT_MS: int(10, 60_000).default(2_000),
  WORKER_SHUTDOWN_GRACE_MS: int(0).default(30_000),
  WORKER_SHUTDOWN_REDIS_TIMEOUT_MS: int(100, 60_000).default(5_000),
  WORKER_JOB_TIMEOUT_MS: int(1).default(600_000),
  WORKER_MAX_RETRY_AFTER_MS: int(0).default(900_000),
  WORKER_REGISTRY_INTERVAL_MS: int(100).default(5_000),
  /** Port of /metrics and /health; unset = no status server. 0 picks a free port (logged). */
  WORKER_METRICS_PORT: int(0, 65_535).optional(),
  WORKER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** JSON: models per service, e.g. {"comfyui":["sdxl.safetensors"]}. */
  WORKER_MODELS: z.string().optional(),
  /** JSON: hardware, e.g. {"gpu_memory_gb":24,"cpu_cores":8}. */
  WORKER_HARDWARE: z.string().optional(),
  /** JSON: custom capabilities matched against job requirements. */
  WORKER_CAPABILITIES: z.string().optional(),
  WORKER_CUSTOMER_ISOLATION: z.enum(['none', 'loose', 'strict']).default('none'),
  WORKER_ALLOWED_CUSTOMERS: list.optional(),
  WORKER_DENIED_CUSTOMERS: list.optional(),
  WORKER_WORKFLOW_ID: z.string().min(1).optional(),
  SIMULATION_SERVICE: z.string().min(1).default('simulation'),
  OPENAI_SERVICE: z.string().min(1).default('openai'),
  OPENAI_BASE_URL: url.default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_ORGANIZATION: z.string().min(1).optional(),
  OPENAI_REQUEST_TIMEOUT_MS: int(100).default(120_000),
  OPENAI_POLL_INTERVAL_MS: int(10).default(1_000),
  COMFYUI_SERVICE: z.string().min(1).default('comfyui'),
  COMFYUI_URL: url.optional(),
  COMFYUI_REQUEST_TIMEOUT_MS: int(100).default(30_000),
  COMFYUI_POLL_INTERVAL_MS: int(10).default(1_000),
  COMFYUI_WEBSOCKET: bool.default(true),
  npm_package_version: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RawConfig = z.infer<typeof schema>;

export interface WorkerConfig {
  /** The worker's own spans and metrics (`OTEL_EXPORTER_OTLP_ENDPOINT` unset: off). */
  telemetry: TelemetrySettings;
  redisUrl: string;
  namespace: string;
  workerId: string;
  machineId: string;
  connectors: Array<(typeof CONNECTORS)[number]>;
  concurrency: number;
  leaseMs: number;
  idleWaitMs: number;
  shutdownGraceMs: number;
  shutdownRedisTimeoutMs: number;
  jobTimeoutMs: number;
  maxRetryAfterMs: number;
  registryEveryMs: number;
  /** The status server (/metrics, /health); undefined when WORKER_METRICS_PORT is unset. */
  metrics: { port: number; host: string } | undefined;
  models: Record<string, string[]>;
  hardware: Record<string, number>;
  capabilities: Record<string, string | number | boolean | Array<string | number | boolean>>;
  customerAccess: {
    isolation: 'none' | 'loose' | 'strict';
    allowed_customers?: string[];
    denied_customers?: string[];
  };
  workflowId: string | undefined;
  simulation: { service: string };
  openai:
    | {
        service: string;
        baseUrl: string;
        apiKey: string;
        organization?: string;
        requestTimeoutMs: number;
        pollIntervalMs: number;
      }
    | undefined;
  comfyui:
    | {
        service: string;
        baseUrl: string;
        requestTimeoutMs: number;
        pollIntervalMs: number;
        websocket: boolean;
      }
    | undefined;
  logLevel: RawConfig['LOG_LEVEL'];
  /** Reported in the registry; set by pnpm when started through a package script. */
  version: string;
}

function json<T>(
  name: string,
  raw: string | undefined,
  check: z.ZodType<T>,
  issues: string[],
): T | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    issues.push(`${name}: must be JSON`);
    return undefined;
  }
  const parsed = check.safeParse(value);
  if (!parsed.success) {
    issues.push(
      `${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
    return undefined;
  }
  return parsed.data;
}

/** Reads and validates the worker's configuration; the only place that touches the environment. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  // Empty variables count as unset, as in most deployment UIs.
  const cleaned = presentEnv(env);
  const parsed = schema.safeParse(cleaned);
  // Every problem in one report: the JSON and cross-variable checks run even when a plain
  // variable is already wrong, on the raw text where the parse failed.
  const issues: string[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${issueText(i.message)}`);
  const raw = (name: string): string | undefined =>
    typeof cleaned[name] === 'string' ? cleaned[name] : undefined;
  const connectors: readonly string[] = parsed.success
    ? parsed.data.WORKER_CONNECTORS
    : (raw('WORKER_CONNECTORS') ?? 'simulation').split(',').map((x) => x.trim());
  const models =
    json(
      'WORKER_MODELS',
      raw('WORKER_MODELS'),
      z.record(z.string(), z.array(z.string().min(1))),
      issues,
    ) ?? {};
  const hardware =
    json(
      'WORKER_HARDWARE',
      raw('WORKER_HARDWARE'),
      z.record(z.string(), z.number().nonnegative()),
      issues,
    ) ?? {};
  const capabilities =
    json(
      'WORKER_CAPABILITIES',
      raw('WORKER_CAPABILITIES'),
      z.record(
        z.string(),
        z.union([
          z.string(),
          z.number(),
          z.boolean(),
          z.array(z.union([z.string(), z.number(), z.boolean()])),
        ]),
      ),
      issues,
    ) ?? {};
  if (connectors.includes('openai') && !raw('OPENAI_API_KEY'))
    issues.push('OPENAI_API_KEY: required when WORKER_CONNECTORS includes openai');
  if (connectors.includes('comfyui') && !raw('COMFYUI_URL'))
    issues.push('COMFYUI_URL: required when WORKER_CONNECTORS includes comfyui');
  if (parsed.success && Math.floor(parsed.data.WORKER_LEASE_MS / 3) < 100)
    issues.push('WORKER_LEASE_MS: too short for heartbeats (needs >= 300)');
  const telemetry = readTelemetryEnv(cleaned, 'jobgate-worker');
  issues.push(...telemetry.problems.map((problem) => problem.replace(' ', ': ')));
  if (!parsed.success || !telemetry.settings || issues.length > 0)
    throw new ConfigError(issues, 'worker configuration');
  const c = parsed.data;

  const host = hostname();
  return {
    telemetry: telemetry.settings,
    redisUrl: c.REDIS_URL,
    namespace: c.QUEUE_NAMESPACE,
    // Unique per process by default: two workers on one machine must not share leases.
    workerId: c.WORKER_ID ?? `${host}-${process.pid}-${randomBytes(3).toString('hex')}`,
    machineId: c.MACHINE_ID ?? host,
    connectors: [...new Set(c.WORKER_CONNECTORS)],
    concurrency: c.WORKER_CONCURRENCY,
    leaseMs: c.WORKER_LEASE_MS,
    idleWaitMs: c.WORKER_IDLE_WAIT_MS,
    shutdownGraceMs: c.WORKER_SHUTDOWN_GRACE_MS,
    shutdownRedisTimeoutMs: c.WORKER_SHUTDOWN_REDIS_TIMEOUT_MS,
    jobTimeoutMs: c.WORKER_JOB_TIMEOUT_MS,
    maxRetryAfterMs: c.WORKER_MAX_RETRY_AFTER_MS,
    registryEveryMs: c.WORKER_REGISTRY_INTERVAL_MS,
    metrics:
      c.WORKER_METRICS_PORT === undefined
        ? undefined
        : { port: c.WORKER_METRICS_PORT, host: c.WORKER_METRICS_HOST },
    models,
    hardware,
    capabilities,
    customerAccess: {
      isolation: c.WORKER_CUSTOMER_ISOLATION,
      ...(c.WORKER_ALLOWED_CUSTOMERS ? { allowed_customers: c.WORKER_ALLOWED_CUSTOMERS } : {}),
      ...(c.WORKER_DENIED_CUSTOMERS ? { denied_customers: c.WORKER_DENIED_CUSTOMERS } : {}),
    },
    workflowId: c.WORKER_WORKFLOW_ID,
    simulation: { service: c.SIMULATION_SERVICE },
    openai:
      c.WORKER_CONNECTORS.includes('openai') && c.OPENAI_API_KEY
        ? {
            service: c.OPENAI_SERVICE,
            baseUrl: c.OPENAI_BASE_URL,
            apiKey: c.OPENAI_API_KEY,
            ...(c.OPENAI_ORGANIZATION ? { organization: c.OPENAI_ORGANIZATION } : {}),
            requestTimeoutMs: c.OPENAI_REQUEST_TIMEOUT_MS,
            pollIntervalMs: c.OPENAI_POLL_INTERVAL_MS,
          }
        : undefined,
    comfyui:
      c.WORKER_CONNECTORS.includes('comfyui') && c.COMFYUI_URL
        ? {
            service: c.COMFYUI_SERVICE,
            baseUrl: c.COMFYUI_URL,
            requestTimeoutMs: c.COMFYUI_REQUEST_TIMEOUT_MS,
            pollIntervalMs: c.COMFYUI_POLL_INTERVAL_MS,
            websocket: c.COMFYUI_WEBSOCKET,
          }
        : undefined,
    logLevel: c.LOG_LEVEL,
    version: c.npm_package_version ?? '0.0.0',
  };
}

/** The configuration as it may be logged: secrets and URL credentials replaced. */
export function describeConfig(config: WorkerConfig): Record<string, unknown> {
  const hideUrl = (value: string): string => {
    try {
      const u = new URL(value);
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return '<invalid url>';
    }
  };
  return {
    ...config,
    redisUrl: hideUrl(config.redisUrl),
    openai: config.openai ? { ...config.openai, apiKey: '***' } : undefined,
    // OTLP headers usually carry a token (Dash0's Authorization): names only.
    telemetry: {
      ...config.telemetry,
      otlp: config.telemetry.otlp
        ? {
            ...config.telemetry.otlp,
            headers: Object.fromEntries(
              Object.keys(config.telemetry.otlp.headers).map((name) => [name, '***']),
            ),
          }
        : 'off',
    },
  };
}

/** The operator commands need only the queue's Redis and namespace. */
export function loadOpsConfig(env: Record<string, string | undefined> = process.env): {
  redisUrl: string;
  namespace: string;
} {
  const parsed = schema.pick({ REDIS_URL: true, QUEUE_NAMESPACE: true }).safeParse(presentEnv(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${issueText(i.message)}`),
      'worker configuration',
    );
  }
  return { redisUrl: parsed.data.REDIS_URL, namespace: parsed.data.QUEUE_NAMESPACE };
}
