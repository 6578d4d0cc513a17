import { describe, expect, it } from 'vitest';
import { uniqueNamespace } from './namespace.js';
import { waitFor, WaitForTimeoutError } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value of the condition', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `ready after ${calls}` : null), {
      intervalMs: 1,
    });
    expect(value).toBe('ready after 3');
  });

  it('treats a throwing condition as not yet, and names the last error on timeout', async () => {
    const error = await waitFor(
      () => {
        throw new Error('still booting');
      },
      { timeoutMs: 30, intervalMs: 1, message: 'server up' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitForTimeoutError);
    expect((error as Error).message).toBe(
      'waitFor: server up not met within 30 ms; last error: still booting',
    );
  });

  it('awaits async conditions', async () => {
    let n = 0;
    await expect(waitFor(async () => Promise.resolve(++n > 1), { intervalMs: 1 })).resolves.toBe(
      true,
    );
  });
});

describe('uniqueNamespace', () => {
  it('gives a different namespace each call, with the prefix', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueNamespace('jq')));
    expect(names.size).toBe(1000);
    for (const name of names) expect(name).toMatch(/^jq-[0-9a-f]{12}$/);
  });
});
