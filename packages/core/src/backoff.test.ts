import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';

const policy = { baseMs: 1_000, maxMs: 60_000 };

describe('backoffDelay', () => {
  it('doubles per attempt, between half and all of the exponential step', () => {
    expect(backoffDelay(1, policy, 0)).toBe(500);
    expect(backoffDelay(1, policy, 0.999999)).toBe(999);
    expect(backoffDelay(2, policy, 0)).toBe(1_000);
    expect(backoffDelay(3, policy, 0.5)).toBe(3_000);
  });

  it('caps the exponential part at maxMs', () => {
    expect(backoffDelay(30, policy, 0)).toBe(30_000);
    expect(backoffDelay(30, policy, 0.999999)).toBeLessThan(60_000);
  });

  it('never returns zero or negative delays for a positive base', () => {
    for (let attempt = 0; attempt < 50; attempt++)
      expect(backoffDelay(attempt, policy, 0)).toBeGreaterThan(0);
  });
});

describe('DEFAULT_BACKOFF', () => {
  it('starts at 0.5-1 s and caps the exponential part at 5 minutes', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, 0)).toBe(500);
    expect(backoffDelay(1, DEFAULT_BACKOFF, 0.999999)).toBe(999);
    expect(backoffDelay(30, DEFAULT_BACKOFF, 0)).toBe(150_000);
  });
});
