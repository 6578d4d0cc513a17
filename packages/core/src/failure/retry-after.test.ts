import { describe, expect, it } from 'vitest';
import { parseDuration, parseRetryAfter, retryAfterFrom } from './retry-after.js';

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds, fractions and HTTP dates', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
  });

  it('reads Go durations from x-ratelimit-reset-*', () => {
    expect(parseDuration('6m0s')).toBe(360_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('120ms')).toBe(120);
    expect(parseDuration('later')).toBeUndefined();
    expect(
      retryAfterFrom({ 'x-ratelimit-reset-requests': '2s', 'x-ratelimit-reset-tokens': '6s' }, ''),
    ).toBe(6_000);
  });

  it('prefers retry-after-ms, then Retry-After, then the message text', () => {
    expect(
      retryAfterFrom({ 'retry-after-ms': '250', 'retry-after': '9' }, 'try again in 20s'),
    ).toBe(250);
    expect(retryAfterFrom({ 'Retry-After': ['4'] }, 'try again in 20s')).toBe(4_000);
    expect(retryAfterFrom(undefined, 'Please try again in 824ms.')).toBe(824);
    expect(retryAfterFrom(undefined, 'Please retry after 1 minute')).toBe(60_000);
    expect(retryAfterFrom(undefined, 'no hint')).toBeUndefined();
  });
});
