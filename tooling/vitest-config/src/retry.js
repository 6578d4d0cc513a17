// @ts-check
/**
 * Which failures an integration or e2e test may be retried for (ADR-002 Q4): network and timing
 * trouble only. An assertion that compares wrong values is a bug and fails at once.
 */
export const RETRYABLE_FAILURE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|Connection is closed|timed out|Timeout|timeout|not met within/;

/** At most this many extra attempts, integration and e2e only. */
export const MAX_RETRIES = 2;
