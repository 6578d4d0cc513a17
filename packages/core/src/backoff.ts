export interface BackoffPolicy {
  /** Delay scale of the first retry. Default 1 000 ms. */
  baseMs: number;
  /** Upper bound of the exponential part. Default 5 minutes. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 };

/**
 * Delay before retry number `attempt` (the attempt that just failed, 1-based): exponential
 * `base * 2^(attempt-1)` capped at `max`, with "equal jitter" (half fixed, half random from
 * `sample` in [0, 1)) so retries spread out but never fire immediately. The Lua library applies
 * the same formula (jobgate_fail); an integration test checks that the two agree.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, sample: number): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(exponential / 2 + (sample * exponential) / 2);
}
