import { describe, expect, it } from 'vitest';
import { uniqueNamespace } from './namespace.js';
import { waitFor, WaitForTimeoutError, within } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value of the condition', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `ready after ${calls}` : null), {
      timeoutMs: 1_000,
      what: 'the third call',
      intervalMs: 1,
    });
    expect(value).toBe('ready after 3');
  });

  it('treats a throwing condition as not yet, and names what it waited for and the last error', async () => {
    const error = await waitFor(
      () => {
        throw new Error('still booting');
      },
      { timeoutMs: 30, intervalMs: 1, what: 'server up' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitForTimeoutError);
    expect((error as Error).message).toMatch(
      /^waitFor: server up not met within 30 ms \(\d+ checks\); last error: still booting$/,
    );
  });

  it('awaits async conditions', async () => {
    let n = 0;
    await expect(
      waitFor(async () => Promise.resolve(++n > 1), {
        timeoutMs: 1_000,
        what: 'n > 1',
        intervalMs: 1,
      }),
    ).resolves.toBe(true);
  });

  it('gives up at the deadline on a condition that never returns', async () => {
    const started = Date.now();
    const error = await waitFor(() => new Promise<boolean>(() => {}), {
      timeoutMs: 50,
      what: 'a hung server to answer',
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((error as Error).message).toBe(
      'waitFor: a hung server to answer not met within 50 ms (1 check); the last check had not returned',
    );
  });

  it('requires a timeout and a description, so no wait is unbounded or anonymous', async () => {
    const never = () => false;
    for (const options of [
      undefined,
      { what: 'x' },
      { timeoutMs: 0, what: 'x' },
      { timeoutMs: Infinity, what: 'x' },
      { timeoutMs: 10 },
      { timeoutMs: 10, what: ' ' },
    ]) {
      await expect(
        waitFor(never, options as unknown as { timeoutMs: number; what: string }),
        JSON.stringify(options),
      ).rejects.toThrow(/^waitFor needs \{ timeoutMs, what \}/);
    }
  });
});

describe('uniqueNamespace', () => {
  it('gives a different namespace each call, with the prefix', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueNamespace('jq')));
    expect(names.size).toBe(1000);
    for (const name of names) expect(name).toMatch(/^jq-[0-9a-f]{12}$/);
  });
});

describe('within', () => {
  it('returns what the promise resolves with, and passes its rejection on', async () => {
    expect(await within(Promise.resolve(7), { timeoutMs: 1_000, what: 'seven' })).toBe(7);
    await expect(
      within(Promise.reject(new Error('refused')), { timeoutMs: 1_000, what: 'x' }),
    ).rejects.toThrow('refused');
  });

  it('gives up on a promise that never settles, naming what it awaited', async () => {
    const error = await within(new Promise(() => undefined), {
      timeoutMs: 20,
      what: 'the worker exiting after SIGTERM',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitForTimeoutError);
    expect((error as Error).message).toBe(
      'waitFor: the worker exiting after SIGTERM not met within 20 ms (the awaited promise had not settled)',
    );
  });

  it('requires a bound and a description', async () => {
    await expect(within(Promise.resolve(1), { timeoutMs: 0, what: 'x' })).rejects.toThrow(
      'within needs { timeoutMs, what }',
    );
    await expect(
      within(Promise.resolve(1), { timeoutMs: 10 } as { timeoutMs: number; what: string }),
    ).rejects.toThrow('what must say what is awaited');
  });
});
