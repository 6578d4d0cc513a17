import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  nextAttemptAt,
  parseRetryAfter,
  STANDARD_SCHEDULE_MS,
} from './schedule.js';

describe('classifyStatus', () => {
  it.each([
    [200, 'success'],
    [204, 'success'],
    [299, 'success'],
    [410, 'gone'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [301, 'retry'],
    [400, 'fail'],
    [401, 'fail'],
    [404, 'fail'],
    [422, 'fail'],
  ])('%i -> %s', (status, kind) => {
    expect(classifyStatus(status)).toBe(kind);
  });
});

describe('nextAttemptAt', () => {
  const mid = () => 0.5;
  it('follows the Standard Webhooks schedule and ends after eight attempts', () => {
    const waits = [];
    for (let done = 1; done <= 8; done++) {
      const at = nextAttemptAt(1_000, done, STANDARD_SCHEDULE_MS, { random: mid });
      waits.push(at === null ? null : at - 1_000);
    }
    expect(waits).toEqual([
      5_000,
      300_000,
      1_800_000,
      7_200_000,
      18_000_000,
      36_000_000,
      36_000_000,
      null,
    ]);
  });

  it('jitters within ±10%', () => {
    expect(nextAttemptAt(0, 1, STANDARD_SCHEDULE_MS, { random: () => 0 })).toBe(4_500);
    expect(nextAttemptAt(0, 1, STANDARD_SCHEDULE_MS, { random: () => 1 })).toBe(5_500);
  });

  it('honours a longer Retry-After, not a shorter one', () => {
    expect(nextAttemptAt(0, 1, STANDARD_SCHEDULE_MS, { random: mid, retryAfterMs: 60_000 })).toBe(
      60_000,
    );
    expect(nextAttemptAt(0, 2, STANDARD_SCHEDULE_MS, { random: mid, retryAfterMs: 1_000 })).toBe(
      300_000,
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, caps at a day, ignores junk', () => {
    expect(parseRetryAfter('7', 0)).toBe(7_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('999999', 0)).toBe(24 * 3_600_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});
