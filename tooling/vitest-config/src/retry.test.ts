import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';

describe('retry policy', () => {
  it.each([
    'connect ECONNREFUSED 127.0.0.1:6380',
    'read ECONNRESET',
    'socket hang up',
    'Connection is closed.',
    'waitFor: job completed not met within 5000 ms',
    'waitFor: job completed not met within 5000 ms; last error: expected 1 to be 2',
    'Command timed out',
    'The operation was aborted due to timeout',
  ])('retries network and timing trouble: %s', (message) => {
    expect(RETRYABLE_FAILURE.test(message)).toBe(true);
  });

  it.each([
    'expected 2 to be 3 // Object.is equality',
    "Cannot read properties of undefined (reading 'id')",
    'expected [ Array(2) ] to deeply equal [ Array(3) ]',
    'Test timed out in 30000ms.\nIf this is a long-running test, pass a timeout value as the last argument or configure it globally with "testTimeout".',
    'Hook timed out in 10000ms.',
    "expected 'job_timeout' to be 'connection_failed' // Object.is equality",
    "expected 'timeout' to be 'network_error' // Object.is equality",
    "failure type: expected 'timeout' to be 'network_error' // Object.is equality",
    "expected { failure_reason: 'connect ECONNREFUSED' } to deeply equal {}",
  ])('never retries a plain assertion, a bug or a hang: %s', (message) => {
    expect(RETRYABLE_FAILURE.test(message)).toBe(false);
  });

  it('allows at most 2 extra attempts', () => {
    expect(MAX_RETRIES).toBe(2);
  });
});

describe('unit preset', () => {
  it('refuses network connections with a message that says where the test belongs', () => {
    expect(() => net.connect(6379, '127.0.0.1')).toThrow(
      /Unit tests may not open network connections .*Move this test to test\/integration\//,
    );
  });
});
