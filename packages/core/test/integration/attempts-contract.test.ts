import { describe, expect, it } from 'vitest';
import { decideRetry } from '../../src/failure/retry-decision.js';
import { FailureReason as R, FailureType as T } from '../../src/failure/types.js';
import { testQueue } from './helpers.js';

/**
 * "Attempts exhausted" lives twice: in TypeScript (`decideRetry`, which the worker uses to write
 * its attestation) and in Lua (`jobgate_fail`, which decides whether the job goes back to
 * pending). This pins the two together: for every attempt of jobs with 1..4 attempts, a
 * transient failure is retried by the queue exactly when decideRetry says "retry".
 */
describe('one job contract: attempts exhausted', () => {
  it.each([1, 2, 3, 4])('agrees for max_attempts %i at every attempt', async (maxAttempts) => {
    await using t = await testQueue({ random: () => 0 });
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: maxAttempts });
    const worker = { worker_id: 'w', services: ['svc'] };
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const claimed = await t.queue.claim(worker);
      expect(claimed?.attempts).toBe(attempt);
      const ts = decideRetry({
        classification: {
          retryable: true,
          failure_type: T.RATE_LIMIT,
          failure_reason: R.REQUESTS_PER_MINUTE,
        },
        attempt: claimed!.attempts,
        maxAttempts: claimed!.max_attempts,
      });
      const lua = await t.queue.fail(id, 'w', {
        retryable: true,
        failure_type: T.RATE_LIMIT,
        failure_reason: R.REQUESTS_PER_MINUTE,
        message: 'try again',
        retry_after_ms: 0,
      });
      expect({ attempt, lua: lua.status }).toEqual({
        attempt,
        lua: ts.decision === 'retry' ? 'pending' : 'failed',
      });
      if (lua.status === 'failed') {
        expect(attempt).toBe(maxAttempts);
        return;
      }
      t.clock.advance(1);
    }
    throw new Error('the job was never failed');
  });
});
