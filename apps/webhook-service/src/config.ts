import { ConfigError, presentEnv, problemsOf, wholeNumber } from '@jobgate/core/config';
import { readTelemetryEnv, type TelemetrySettings } from '@jobgate/telemetry/setup';
import { z } from 'zod';
import { STANDARD_SCHEDULE_MS } from './schedule.js';

/** The webhook service's whole configuration, read once from the environment by `loadConfig`. */
export interface WebhookServiceConfig {
  /** The service's own spans and metrics (`OTEL_EXPORTER_OTLP_ENDPOINT` unset: off). */
  telemetry: TelemetrySettings;
  port: number;
  host: string;
  redisUrl: string;
  namespace: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  consumerName: string | undefined;
  timeoutMs: number;
  concurrencyPerEndpoint: number;
  maxInFlight: number;
  schedule: number[];
  leaseMs: number | undefined;
  claimIdleMs: number;
  disableAfterMs: number;
  retentionMs: number;
  allowHttp: boolean;
  allowCidrs: string[];
}

/** Thrown by `loadConfig`: every bad variable at once, never a value. */
export { ConfigError };

const bool = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;

const schema = z.object({
  PORT: wholeNumber(0, 65_535).default(3100),
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
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  WEBHOOK_CONSUMER_NAME: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, {
      message: 'must be 1-128 characters of letters, digits, _ . : -',
    })
    .optional(),
  WEBHOOK_TIMEOUT_MS: wholeNumber(100, 60_000).default(10_000),
  WEBHOOK_CONCURRENCY_PER_ENDPOINT: wholeNumber(1, 1_000).default(10),
  WEBHOOK_MAX_IN_FLIGHT: wholeNumber(1, 10_000).default(256),
  WEBHOOK_RETRY_SCHEDULE_MS: z
    .string()
    .trim()
    .regex(/^\d+(,\d+)*$/, {
      message: 'must be comma-separated whole milliseconds, e.g. 0,5000,300000',
    })
    .transform((v) => v.split(',').map(Number))
    .optional(),
  WEBHOOK_LEASE_MS: wholeNumber(1_000, 3_600_000).optional(),
  WEBHOOK_CLAIM_IDLE_MS: wholeNumber(100, 3_600_000).default(30_000),
  WEBHOOK_DISABLE_AFTER_MS: wholeNumber(60_000, 90 * 24 * 3_600_000).default(5 * 24 * 3_600_000),
  WEBHOOK_RETENTION_MS: wholeNumber(60_000, 90 * 24 * 3_600_000).default(7 * 24 * 3_600_000),
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  WEBHOOK_ALLOW_CIDRS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((c) => CIDR.test(c)), {
      message: 'must be comma-separated CIDRs, e.g. 127.0.0.0/8,::1/128',
    }),
});

/**
 * Validates the environment and names every bad value at once. Values are never echoed:
 * REDIS_URL may hold a password.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WebhookServiceConfig {
  const present = presentEnv(env);
  const parsed = schema.safeParse(present);
  const telemetry = readTelemetryEnv(present, 'jobgate-webhook-service');
  if (!parsed.success || !telemetry.settings) {
    throw new ConfigError([
      ...(parsed.success ? [] : problemsOf(parsed.error)),
      ...telemetry.problems,
    ]);
  }
  const v = parsed.data;
  return {
    telemetry: telemetry.settings,
    port: v.PORT,
    host: v.HOST,
    redisUrl: v.REDIS_URL,
    namespace: v.QUEUE_NAMESPACE,
    logLevel: v.LOG_LEVEL,
    consumerName: v.WEBHOOK_CONSUMER_NAME,
    timeoutMs: v.WEBHOOK_TIMEOUT_MS,
    concurrencyPerEndpoint: v.WEBHOOK_CONCURRENCY_PER_ENDPOINT,
    maxInFlight: v.WEBHOOK_MAX_IN_FLIGHT,
    schedule: v.WEBHOOK_RETRY_SCHEDULE_MS ?? [...STANDARD_SCHEDULE_MS],
    leaseMs: v.WEBHOOK_LEASE_MS,
    claimIdleMs: v.WEBHOOK_CLAIM_IDLE_MS,
    disableAfterMs: v.WEBHOOK_DISABLE_AFTER_MS,
    retentionMs: v.WEBHOOK_RETENTION_MS,
    allowHttp: v.WEBHOOK_ALLOW_HTTP,
    allowCidrs: v.WEBHOOK_ALLOW_CIDRS,
  };
}
