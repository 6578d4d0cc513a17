// @ts-check
import { defineConfig } from 'vitest/config';
import { reporting } from './shared.js';

/**
 * Chaos tests: built apps as processes, faults injected (kills, freezes, Redis restarts, overload).
 * Each file starts its own Redis servers, so there is no global one. Never retried: a chaos
 * scenario that passes only on a retry is a loss or duplicate that happened, not noise.
 */
export const chaosConfig = defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    retry: 0,
    ...reporting('chaos'),
  },
});

export default chaosConfig;
