import { describe, expect, it } from 'vitest';
import { headerValue, parseDuration, parseRetryAfter, retryAfterFrom } from './retry-after.js';

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

  it('reads numbers, refuses negative and non-finite ones, and trims text', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(2.5)).toBe(2_500);
    expect(parseRetryAfter(0)).toBe(0);
    expect(parseRetryAfter(-1)).toBeUndefined();
    expect(parseRetryAfter(Number.NaN)).toBeUndefined();
    expect(parseRetryAfter(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseRetryAfter(' 3 ')).toBe(3_000);
    expect(parseRetryAfter('   ')).toBeUndefined();
    expect(parseRetryAfter('3s')).toBeUndefined();
    expect(parseRetryAfter('1.25')).toBe(1_250);
    expect(parseRetryAfter('x1')).toBeUndefined();
    expect(parseRetryAfter('1.5x')).toBeUndefined();
  });

  it('reads hours, sums parts, trims, and refuses anything left over', () => {
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.25s')).toBe(1_250);
    expect(parseDuration('2m30s')).toBe(150_000);
    expect(parseDuration(' 1s ')).toBe(1_000);
    expect(parseDuration('0.4ms')).toBe(0);
    expect(parseDuration('1s and more')).toBeUndefined();
    expect(parseDuration('x1s')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('reads every header name case-insensitively, the first of a list, numbers as text', () => {
    expect(headerValue({ 'X-Request-Id': 'a' }, 'x-request-id')).toBe('a');
    expect(headerValue({ 'x-request-id': ['b', 'c'] }, 'x-request-id')).toBe('b');
    expect(headerValue({ 'x-count': 7 }, 'x-count')).toBe('7');
    expect(headerValue({ 'x-gone': undefined, other: 'z' }, 'x-gone')).toBeUndefined();
    expect(headerValue({ other: 'z' }, 'x-request-id')).toBeUndefined();
    expect(headerValue(undefined, 'x-request-id')).toBeUndefined();
  });

  it('skips a retry-after-ms that is not a number, and takes the longer reset', () => {
    expect(retryAfterFrom({ 'retry-after-ms': 'soon', 'retry-after': '2' }, '')).toBe(2_000);
    expect(retryAfterFrom({ 'retry-after-ms': ' 12.6 ' }, '')).toBe(13);
    expect(retryAfterFrom({ 'retry-after-ms': '1.25' }, '')).toBe(1);
    for (const bad of ['x12', '12x', '1.x'])
      expect(retryAfterFrom({ 'retry-after-ms': bad, 'retry-after': '1' }, ''), bad).toBe(1_000);
    expect(retryAfterFrom({ 'retry-after-ms': '1s' }, 'retry in 3s')).toBe(3_000);
    expect(retryAfterFrom({ 'x-ratelimit-reset-tokens': '6m0s' }, 'retry in 3s')).toBe(360_000);
    expect(retryAfterFrom({ 'x-ratelimit-reset-requests': '2s' }, 'retry in 3s')).toBe(2_000);
    expect(
      retryAfterFrom({ 'x-ratelimit-reset-requests': 'later', 'retry-after': 'soon' }, 'x'),
    ).toBeUndefined();
  });

  it.each([
    ['Please try again in 20s', 20_000],
    ['retry in 1.5 sec', 1_500],
    ['try again after 2 seconds', 2_000],
    ['Try again in 2 minutes', 120_000],
    ['retry after 3 min', 180_000],
    ['try again in 1m', 60_000],
    ['retry in 40 milliseconds', 40],
    ['retry in 5 ms', 5],
  ])('reads "%s" as %d ms', (text, ms) => {
    expect(retryAfterFrom(undefined, text)).toBe(ms);
  });

  it('needs a unit and a retry phrase in the text', () => {
    expect(retryAfterFrom(undefined, 'retry in 5')).toBeUndefined();
    expect(retryAfterFrom(undefined, 'wait 5s')).toBeUndefined();
    expect(retryAfterFrom(undefined, 'retry in 5 hours')).toBeUndefined();
  });
});
