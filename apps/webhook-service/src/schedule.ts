/**
 * The Standard Webhooks retry schedule: the first attempt at once, then after 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h and 10 h. Entry i is the wait before attempt i + 1.
 */
export const STANDARD_SCHEDULE_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** A Retry-After longer than this is treated as this: a receiver cannot park a delivery forever. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export type AttemptOutcome =
  | { kind: 'success' }
  | { kind: 'retry' }
  | { kind: 'fail' }
  /** 410 Gone: the receiver asks us to stop; the endpoint is disabled. */
  | { kind: 'gone' };

/** 2xx succeed; 408, 429, 5xx (and redirects, which are not followed) retry; 410 disables; other 4xx fail. */
export function classifyStatus(status: number): AttemptOutcome['kind'] {
  if (status >= 200 && status < 300) return 'success';
  if (status === 410) return 'gone';
  if (status === 408 || status === 429 || status >= 500 || (status >= 300 && status < 400))
    return 'retry';
  return 'fail';
}

/** `Retry-After` as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1_000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(at - now, 0), MAX_RETRY_AFTER_MS);
}

/**
 * When the next attempt is due after `attemptsDone` attempts failed, or null when the schedule is
 * spent (dead letter). The scheduled wait gets ±`jitter` (a fraction) so a receiver recovering
 * from an outage is not hit by every retry in the same second; a Retry-After longer than the
 * scheduled wait is honoured.
 */
export function nextAttemptAt(
  now: number,
  attemptsDone: number,
  schedule: readonly number[],
  options: { retryAfterMs?: number; random?: () => number; jitter?: number } = {},
): number | null {
  const base = schedule[attemptsDone];
  if (base === undefined) return null;
  const jitter = options.jitter ?? 0.1;
  const random = options.random ?? Math.random;
  const wait = Math.round(base * (1 - jitter + 2 * jitter * random()));
  return now + Math.max(wait, options.retryAfterMs ?? 0);
}
