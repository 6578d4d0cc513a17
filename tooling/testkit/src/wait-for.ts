export interface WaitForOptions {
  /** Give up after this long. Default 5 000 ms. */
  timeoutMs?: number;
  /** Pause between polls. Default 10 ms. */
  intervalMs?: number;
  /** Says what was awaited, for the timeout error. */
  message?: string;
}

export class WaitForTimeoutError extends Error {
  override name = 'WaitForTimeoutError';
  constructor(
    message: string,
    readonly lastError?: unknown,
  ) {
    super(message, { cause: lastError });
  }
}

/**
 * Polls `condition` until it returns a truthy value (which is returned) or the deadline passes.
 * A condition that throws counts as "not yet"; its last error is kept for the timeout message.
 * Tests use this instead of sleeping for a fixed time.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 5_000, intervalMs = 10, message = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new WaitForTimeoutError(
        `waitFor: ${message} not met within ${timeoutMs} ms${why}`,
        lastError,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
