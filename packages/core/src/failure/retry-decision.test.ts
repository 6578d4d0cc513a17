import { describe, expect, it } from 'vitest';
import { FailureClassifier } from './classifier.js';
import { decideRetry } from './retry-decision.js';
import { FailureReason, FailureType } from './types.js';

const transient = {
  retryable: true,
  failure_type: FailureType.RATE_LIMIT,
  failure_reason: FailureReason.REQUESTS_PER_MINUTE,
};

describe('decideRetry', () => {
  it('retries a transient failure while attempts remain, carrying the upstream delay', () => {
    expect(
      decideRetry({
        classification: { ...transient, retry_after_ms: 7_000 },
        attempt: 1,
        maxAttempts: 3,
      }),
    ).toEqual({
      decision: 'retry',
      why: 'rate_limit/requests_per_minute is transient: attempt 2 of 3 follows',
      retry_after_ms: 7_000,
    });
  });

  it('retries without a delay of its own when the upstream gave none, and up to the limit', () => {
    const plain = decideRetry({ classification: transient, attempt: 1, maxAttempts: 2 });
    expect(plain).toEqual({
      decision: 'retry',
      why: 'rate_limit/requests_per_minute is transient: attempt 2 of 2 follows',
    });
    expect(plain).not.toHaveProperty('retry_after_ms');
    expect(
      decideRetry({
        classification: { ...transient, retry_after_ms: 15 * 60_000 },
        attempt: 1,
        maxAttempts: 2,
      }),
    ).toMatchObject({ decision: 'retry', retry_after_ms: 15 * 60_000 });
  });

  it('says why a permanent failure is not retried', () => {
    expect(
      decideRetry({
        classification: { ...transient, retryable: false },
        attempt: 1,
        maxAttempts: 3,
      }),
    ).toEqual({
      decision: 'fail',
      why: 'rate_limit/requests_per_minute is permanent: another attempt would fail the same way',
    });
  });

  it('fails a transient failure on the last attempt', () => {
    const d = decideRetry({ classification: transient, attempt: 3, maxAttempts: 3 });
    expect(d.decision).toBe('fail');
    expect(d.why).toContain('attempts are exhausted (3/3)');
  });

  it('fails a permanent failure on the first attempt', () => {
    const classification = FailureClassifier.classify('Incorrect API key provided', {
      httpStatus: 401,
    });
    expect(decideRetry({ classification, attempt: 1, maxAttempts: 5 }).decision).toBe('fail');
  });

  it('fails when the upstream asks to wait longer than the limit', () => {
    const d = decideRetry({
      classification: { ...transient, retry_after_ms: 3_600_000 },
      attempt: 1,
      maxAttempts: 3,
      maxRetryAfterMs: 60_000,
    });
    expect(d).toMatchObject({ decision: 'fail' });
    expect(d.why).toContain('3600 s, longer than the 60 s limit');
  });

  it('follows the classification of real messages end to end', () => {
    const cases: Array<[unknown, object, 'retry' | 'fail']> = [
      ['Service Unavailable', { httpStatus: 503 }, 'retry'],
      [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), {}, 'retry'],
      ['aborted', { timeout: true }, 'retry'],
      [
        { error: { code: 'moderation_blocked', message: 'rejected by the safety system' } },
        { httpStatus: 200 },
        'fail',
      ],
      ["Invalid value for 'size'", { httpStatus: 400 }, 'fail'],
    ];
    for (const [error, context, expected] of cases) {
      expect(
        decideRetry({
          classification: FailureClassifier.classify(error, context),
          attempt: 1,
          maxAttempts: 3,
        }).decision,
      ).toBe(expected);
    }
  });
});
