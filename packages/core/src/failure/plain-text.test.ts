import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureClassifier } from './classifier.js';
import { PLAIN_MESSAGES } from './corpus/plain-messages.js';
import { FailureReason as R, FailureType as T } from './types.js';

const classify = (message: string, context = {}) =>
  FailureClassifier.classify(new Error(message), context);

describe('plain-text failures (no body, no status)', () => {
  it.each(PLAIN_MESSAGES.map((m) => [m.message, m.type, m.reason] as const))(
    '%s -> %s/%s',
    (message, type, reason) => {
      const got = classify(message);
      expect({ type: got.failure_type, reason: got.failure_reason }).toEqual({ type, reason });
    },
  );

  it('treats every refusal in prose as permanent', () => {
    for (const { message, type } of PLAIN_MESSAGES) {
      if (type === T.GENERATION_REFUSAL) expect(classify(message).retryable, message).toBe(false);
    }
  });

  it('does not read a refusal verb without a content reason as a refusal', () => {
    expect(classify('cannot generate image: out of memory').failure_type).toBe(T.RESOURCE_LIMIT);
    expect(classify('permission denied: not allowed to create files').failure_type).not.toBe(
      T.GENERATION_REFUSAL,
    );
    expect(classify('connection refused').failure_type).toBe(T.NETWORK_ERROR);
  });

  it('retries an unparseable response, and never a quota that resets daily or monthly', () => {
    expect(classify('Unexpected end of JSON input').retryable).toBe(true);
    for (const message of [
      'You exceeded your quota for this month',
      'daily quota exhausted, resets at 00:00 UTC',
      'Billing hard limit has been reached',
    ]) {
      const got = classify(message, { headers: { 'retry-after': '5' } });
      expect(got.retryable, message).toBe(false);
      expect(got.retry_after_ms, message).toBeUndefined();
    }
  });

  it('keeps per-minute rate limits retryable', () => {
    const got = classify('Rate limit reached for requests per minute. Please try again in 20s.');
    expect(got.failure_reason).toBe(R.REQUESTS_PER_MINUTE);
    expect(got.retryable).toBe(true);
  });

  it("reads the caller's own deadline as a timeout, a connect timeout under it as network", () => {
    expect(classify('The operation was aborted due to timeout', { timeout: true })).toMatchObject({
      failure_type: T.TIMEOUT,
      failure_reason: R.PROCESSING_TIMEOUT,
    });
    expect(classify('job exceeded 600000 ms', { timeout: true }).failure_reason).toBe(
      R.JOB_TIMEOUT,
    );
    expect(classify('connect ETIMEDOUT 10.0.0.1:443', { timeout: true })).toMatchObject({
      failure_type: T.NETWORK_ERROR,
      failure_reason: R.NETWORK_TIMEOUT,
      retryable: true,
    });
  });
});

const alnum = (min: number, max: number) =>
  fc
    .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), {
      minLength: min,
      maxLength: max,
    })
    .map((chars) => chars.join(''));

/** A secret as it appears in a message, and the part that must never be shown. */
const secrets = fc.oneof(
  alnum(24, 48).map((k) => ({ text: `sk-proj-${k}`, secret: k })),
  alnum(20, 40).map((k) => ({ text: `Bearer ${k}`, secret: k })),
  alnum(10, 24).map((p) => ({ text: `https://admin:${p}@api.example.com/v1`, secret: p })),
  alnum(12, 32).map((v) => ({ text: `api_key=${v}`, secret: v })),
  alnum(12, 32).map((v) => ({ text: `"password": "${v}"`, secret: v })),
  alnum(34, 34).map((v) => ({ text: `hf_${v}`, secret: v })),
  alnum(36, 36).map((v) => ({ text: `ghp_${v}`, secret: v })),
  fc
    .tuple(alnum(10, 20), alnum(10, 40), alnum(20, 43))
    .map(([a, b, c]) => ({ text: `eyJ${a}.${b}.${c}`, secret: `${b}.${c}` })),
);

describe('failure descriptions', () => {
  it('never contain a secret that was in the message', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        secrets,
        fc.string({ maxLength: 200 }),
        fc.boolean(),
        (before, { text, secret }, after, nested) => {
          const message = `${before} ${text} ${after}`;
          const error = nested
            ? new Error('request failed', { cause: new Error(message) })
            : new Error(message);
          const { failure_description } = FailureClassifier.classify(error);
          expect(failure_description).not.toContain(secret);
        },
      ),
      { numRuns: 500 },
    );
  });
});
