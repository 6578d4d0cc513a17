// @ts-check
import { defineConfig } from 'vitest/config';
import { reporting } from './shared.js';

/**
 * Chaos tests: built apps as processes, faults injected (kills, freezes, Redis restarts, overload).
 * Each file starts its own Redis servers, so there is no global one. Never retried: a chaos
 * scenario that passes only on a retry is a loss or duplicate that happened, not noise.
 * One file at a time, in a worker that stays (`isolate: false`). Files that hold scenarios which
 * mostly wait (the receivers' outages; the frozen worker beside the two Redis restarts) run them
 * side by side (`describe.concurrent` / `it.concurrent`). Not two files at a time: that put the
 * CPU-bound scenarios (overload, hostile input, worker kills) beside each other, and with the
 * machine starved (load 27, beside a soak) workers missed their 2 s leases often enough for jobs
 * to stall twice and then fail; all eight at once kept APIs from answering /health within 30 s.
 */
export const chaosConfig = defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    isolate: false,
    retry: 0,
    ...reporting('chaos'),
  },
});

export default chaosConfig;
