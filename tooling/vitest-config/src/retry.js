// @ts-check
/**
 * Which failures an integration or e2e test may be retried for (ADR-002 Q4): network and timing
 * trouble only. An assertion that compares wrong values is a bug and fails at once, even when the
 * values read like network trouble (`expected 'job_timeout' to be ...`, `status: expected
 * 'timeout' ...`): vitest tests this against the message alone (a function condition is dropped
 * from a config file, which would retry everything), so assertion messages are excluded by their
 * shape, `[label: ]expected ...`.
 * Nor is vitest's own `Test timed out in` / `Hook timed out in` retried: every wait in a test is
 * bounded below it (a `waitFor` timeout is retried), so reaching it means a hang, and the hung
 * attempt keeps running behind a retry (vitest cannot stop it), tripling the cost of a hang.
 */
export const RETRYABLE_FAILURE =
  /^(?!(?:[^\n:]*: )?expected |(?:Test|Hook) timed out in )[\s\S]*?(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|Connection is closed|\btimed out\b|\b[Tt]imeout\b|TimeoutError|not met within)/;

/** At most this many extra attempts, integration and e2e only. */
export const MAX_RETRIES = 2;
