import { ConfigError, presentEnv, problemsOf, wholeNumber } from '@jobgate/core/config';
import { readTelemetryEnv, type TelemetrySettings } from '@jobgate/telemetry/setup';
import { z } from 'zod';

/** The API's whole configuration, read once from the environment by `loadConfig`. */
export interface ApiConfig {
  port: number;
  host: string;
  redisUrl: string;
  namespace: string;
  bodyLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One info line per HTTP request (`pnpm dev` turns it on). */
  logRequests: boolean;
  /** Services a job may name in `service_required`; anything else is a 400. */
  services: string[];
  wsPingIntervalMs: number;
  wsMaxBufferedBytes: number;
  authCacheTtlMs: number;
  idempotencyTtlSeconds: number;
  /** Webhook URLs may use http:// (development only). */
  webhookAllowHttp: boolean;
  /** CIDRs webhook URLs may resolve to despite being private/loopback (development, tests). */
  webhookAllowCidrs: string[];
  /** How often this instance tries to reap expired leases and due retries (one instance leads); 0 = never. */
  reaperIntervalMs: number;
  limits: { maxInFlight: number; maxEventLoopDelayMs: number; maxPendingJobs: number };
  /** The API's own spans and metrics (`OTEL_EXPORTER_OTLP_ENDPOINT` unset: off). */
  telemetry: TelemetrySettings;
}

/** Thrown by `loadConfig`: every bad variable at once, never a value. */
export { ConfigError };

const SERVICE_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const schema = z.object({
  PORT: wholeNumber(0, 65_535).default(3000),
  HOST: z.string().trim().min(1, { message: 'must not be empty' }).default('0.0.0.0'),
  REDIS_URL: z
    .string({ message: 'is required, e.g. redis://127.0.0.1:6380' })
    .trim()
    .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
      message: 'must be a redis:// or rediss:// URL',
    }),
  QUEUE_NAMESPACE: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      message: 'must be 1-64 characters of letters, digits, _ . -',
    })
    .default('jq'),
  BODY_LIMIT_BYTES: wholeNumber(1_024, 64 * 1024 * 1024).default(1024 * 1024),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_REQUESTS: z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(false),
  SERVICES: z
    .string()
    .default('simulation,openai,comfyui')
    .transform((value) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0, { message: 'must name at least one service' })
    .refine((list) => list.every((s) => SERVICE_NAME.test(s)), {
      message: 'must be a comma-separated list of lower-case service names',
    }),
  WS_PING_INTERVAL_MS: wholeNumber(100, 600_000).default(30_000),
  WS_MAX_BUFFERED_BYTES: wholeNumber(1_024, 1024 * 1024 * 1024).default(1024 * 1024),
  AUTH_CACHE_TTL_MS: wholeNumber(0, 600_000).default(5_000),
  IDEMPOTENCY_TTL_SECONDS: wholeNumber(60, 30 * 24 * 3600).default(24 * 3600),
  WEBHOOK_ALLOW_HTTP: z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  WEBHOOK_ALLOW_CIDRS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((c) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(c)), {
      message: 'must be comma-separated CIDRs, e.g. 127.0.0.0/8,::1/128',
    }),
  REAPER_INTERVAL_MS: wholeNumber(0, 60_000).default(1_000),
  MAX_IN_FLIGHT: wholeNumber(0, 1_000_000).default(1024),
  MAX_EVENT_LOOP_DELAY_MS: wholeNumber(0, 600_000).default(1000),
  MAX_PENDING_JOBS: wholeNumber(0, 1_000_000_000).default(0),
});

/**
 * Validates the environment and names every bad value at once, so an operator fixes a deploy in
 * one round. Values are never echoed: REDIS_URL may hold a password.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const present = presentEnv(env);
  const parsed = schema.safeParse(present);
  const telemetry = readTelemetryEnv(present, 'jobgate-api');
  if (!parsed.success || !telemetry.settings) {
    throw new ConfigError([
      ...(parsed.success ? [] : problemsOf(parsed.error)),
      ...telemetry.problems,
    ]);
  }
  const v = parsed.data;
  return {
    port: v.PORT,
    host: v.HOST,
    redisUrl: v.REDIS_URL,
    namespace: v.QUEUE_NAMESPACE,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    logLevel: v.LOG_LEVEL,
    logRequests: v.LOG_REQUESTS,
    services: [...new Set(v.SERVICES)],
    wsPingIntervalMs: v.WS_PING_INTERVAL_MS,
    wsMaxBufferedBytes: v.WS_MAX_BUFFERED_BYTES,
    authCacheTtlMs: v.AUTH_CACHE_TTL_MS,
    idempotencyTtlSeconds: v.IDEMPOTENCY_TTL_SECONDS,
    webhookAllowHttp: v.WEBHOOK_ALLOW_HTTP,
    webhookAllowCidrs: v.WEBHOOK_ALLOW_CIDRS,
    reaperIntervalMs: v.REAPER_INTERVAL_MS,
    limits: {
      maxInFlight: v.MAX_IN_FLIGHT,
      maxEventLoopDelayMs: v.MAX_EVENT_LOOP_DELAY_MS,
      maxPendingJobs: v.MAX_PENDING_JOBS,
    },
    telemetry: telemetry.settings,
  };
}
