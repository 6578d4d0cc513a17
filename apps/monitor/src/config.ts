import { ConfigError, presentEnv, problemsOf, wholeNumber } from '@jobgate/core/config';
import { z } from 'zod';

export interface MonitorConfig {
  port: number;
  host: string;
  redisUrl: string;
  namespace: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** 0 disables this process's share of the leader-elected reaper. */
  reaperIntervalMs: number;
  /** Pending longer than this counts as stuck. */
  stuckAfterMs: number;
}

/** Thrown by `loadConfig`: every bad variable at once, never a value. */
export { ConfigError };

const int = (min: number, max: number, fallback: number) => wholeNumber(min, max).default(fallback);

const schema = z.object({
  MONITOR_PORT: int(0, 65_535, 3100),
  MONITOR_HOST: z.string().trim().min(1).default('127.0.0.1'),
  REDIS_URL: z
    .string({ message: 'is required, e.g. redis://127.0.0.1:6380' })
    .trim()
    .refine((v) => /^rediss?:\/\/\S+$/.test(v) && URL.canParse(v), {
      message: 'must be a redis:// or rediss:// URL',
    }),
  QUEUE_NAMESPACE: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      message: 'must be 1-64 characters of letters, digits, _ . -',
    })
    .default('jq'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REAPER_INTERVAL_MS: int(0, 60_000, 1_000),
  STUCK_AFTER_MS: int(1_000, 24 * 3_600_000, 5 * 60_000),
});

/** The only reader of the environment. Values are never echoed (REDIS_URL may hold a password). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): MonitorConfig {
  const parsed = schema.safeParse(presentEnv(env));
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  const v = parsed.data;
  return {
    port: v.MONITOR_PORT,
    host: v.MONITOR_HOST,
    redisUrl: v.REDIS_URL,
    namespace: v.QUEUE_NAMESPACE,
    logLevel: v.LOG_LEVEL,
    reaperIntervalMs: v.REAPER_INTERVAL_MS,
    stuckAfterMs: v.STUCK_AFTER_MS,
  };
}
