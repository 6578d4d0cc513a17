export interface WaitForOptions {
  /**
   * Give up after this long. Required, and sized to what is awaited (a server's first answer, one
   * job through a worker), so a regression fails in seconds instead of hanging until the test
   * timeout.
   */
  timeoutMs: number;
  /** What is awaited, in words (`'job 42 completed'`); the timeout error starts with it. */
  what: string;
  /** Pause between polls. Default 10 ms. */
  intervalMs?: number;
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

const NOT_YET = Symbol('not yet');

/**
 * Polls `condition` until it returns a truthy value (which is returned) or `timeoutMs` passes.
 * A condition that throws counts as "not yet"; its last error is kept for the timeout message.
 * A condition that never settles (a request to a hung server) is given up on at the deadline too.
 * Tests use this instead of sleeping for a fixed time.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const { timeoutMs, what, intervalMs = 10 } = options ?? ({} as Partial<WaitForOptions>);
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs)))
    throw new TypeError(
      `waitFor needs { timeoutMs, what }: timeoutMs must be a positive number of ms sized to what is awaited (got ${String(timeoutMs)})`,
    );
  if (typeof what !== 'string' || what.trim() === '')
    throw new TypeError('waitFor needs { timeoutMs, what }: what must say what is awaited');
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let checks = 0;
  let hung = false;
  for (;;) {
    checks++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        Promise.resolve().then(condition),
        new Promise<typeof NOT_YET>((resolve) => {
          timer = setTimeout(() => resolve(NOT_YET), Math.max(0, deadline - Date.now()));
        }),
      ]);
      if (value === NOT_YET) hung = true;
      else if (value) return value;
      else lastError = undefined;
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    if (hung || Date.now() >= deadline) {
      const why = hung
        ? '; the last check had not returned'
        : lastError instanceof Error
          ? `; last error: ${lastError.message}`
          : lastError !== undefined
            ? `; last error: ${JSON.stringify(lastError)}`
            : '';
      throw new WaitForTimeoutError(
        `waitFor: ${what} not met within ${timeoutMs} ms (${checks} ${checks === 1 ? 'check' : 'checks'})${why}`,
        lastError,
      );
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, deadline - Date.now())),
    );
  }
}

/**
 * Awaits a promise that has no bound of its own (a process's exit, a socket's `open` event), for
 * at most `timeoutMs`: past it, fails like a `waitFor` timeout naming `what`. The promise is not
 * cancelled; the caller's cleanup (killing the process, closing the socket) ends it.
 */
export async function within<T>(
  promise: Promise<T>,
  options: Omit<WaitForOptions, 'intervalMs'>,
): Promise<T> {
  const { timeoutMs, what } = options ?? ({} as Partial<WaitForOptions>);
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs)))
    throw new TypeError(
      `within needs { timeoutMs, what }: timeoutMs must be a positive number of ms (got ${String(timeoutMs)})`,
    );
  if (typeof what !== 'string' || what.trim() === '')
    throw new TypeError('within needs { timeoutMs, what }: what must say what is awaited');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new WaitForTimeoutError(
                `waitFor: ${what} not met within ${timeoutMs} ms (the awaited promise had not settled)`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
