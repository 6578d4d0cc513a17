import { describe, expect, it } from 'vitest';
import { e2eConfig } from './e2e.js';
import { integrationConfig } from './integration.js';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';
import { TEST_LIMITS } from './shared.js';
import { unitConfig } from './unit.js';

const SECOND = 1_000;

describe('per-level limits', () => {
  it.each([
    ['unit', unitConfig.test, 5 * SECOND],
    ['integration', integrationConfig.test, 30 * SECOND],
    ['e2e', e2eConfig.test, 60 * SECOND],
  ] as const)(
    '%s: no test or hook runs past its timeout, so a hang fails in seconds',
    (level, test, most) => {
      expect(test?.testTimeout).toBe(TEST_LIMITS[level].timeoutMs);
      expect(test?.hookTimeout).toBe(TEST_LIMITS[level].timeoutMs);
      expect(TEST_LIMITS[level].timeoutMs).toBeLessThanOrEqual(most);
      // The slow flag comes before the timeout, and vitest's own output agrees with the gate's.
      expect(TEST_LIMITS[level].slowMs).toBeLessThan(TEST_LIMITS[level].timeoutMs);
      expect(test?.slowTestThreshold).toBe(TEST_LIMITS[level].slowMs);
    },
  );

  it('bounds the worst case of one hung integration or e2e test to a single timeout', () => {
    // A timed-out attempt keeps running behind a retry (vitest cannot stop it), so a hang is not
    // retried: its cost stays one timeout, not three.
    for (const test of [integrationConfig.test, e2eConfig.test]) {
      expect(test?.retry).toEqual({ count: MAX_RETRIES, condition: RETRYABLE_FAILURE });
      expect(RETRYABLE_FAILURE.test(`Test timed out in ${test?.testTimeout}ms.`)).toBe(false);
      expect(RETRYABLE_FAILURE.test(`Hook timed out in ${test?.hookTimeout}ms.`)).toBe(false);
    }
    expect(unitConfig.test?.retry).toBe(0);
  });

  it('runs unit, integration and e2e files in a reused worker (no module reset per file)', () => {
    expect(unitConfig.test?.isolate).toBe(false);
    expect(integrationConfig.test?.isolate).toBe(false);
    expect(e2eConfig.test?.isolate).toBe(false);
  });
});
