// @ts-check
import { defineConfig } from 'vitest/config';
import { reporting } from './shared.js';

/**
 * Chaos tests: built apps as processes, faults injected (kills, freezes, Redis restarts, overload).
 * Each file starts its own Redis servers, so there is no global one. Never retried: a chaos
 * scenario that passes only on a retry is a loss or duplicate that happened, not noise.
 * Two files at a time, in workers that stay (`isolate: false`): each scenario has its own Redis,
 * processes and ports, and much of a scenario's time is waiting (a lease to expire, Redis to come
 * back, a receiver's outage), which a second scenario fills. Not more than two: every file starts
 *  an API and 2-3 workers at once, and all eight scenarios at once on two cores (load 30, beside a soak) kept APIs
 * from answering /health within 30 s.
 */
export const chaosConfig = defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
    isolate: false,
    retry: 0,
    ...reporting('chaos'),
  },
});

export default chaosConfig;
