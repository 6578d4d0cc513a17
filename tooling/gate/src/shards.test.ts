import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { LEVELS } from './levels.js';
import type { RunRecord } from './record.js';
import type { TestRecord } from './results.js';
import {
  DURATIONS_FILE,
  durationsFromHistory,
  fileKey,
  listTestFiles,
  planShards,
  readCommittedDurations,
  rootPath,
  shardEnv,
  shardFor,
  type TestFile,
} from './shards.js';

const file = (name: string, pkg = '@x/core', dir = 'packages/core'): TestFile => ({
  package: pkg,
  dir,
  file: `test/integration/${name}.test.ts`,
});

describe('planShards', () => {
  const files = Array.from({ length: 23 }, (_, i) => file(`f${String(i).padStart(2, '0')}`));

  it('puts every file in exactly one shard, the same plan every time', () => {
    const durations = new Map(
      files.map((f, i) => [fileKey(f.package, f.file), (i % 7) * 900 + 100]),
    );
    const shards = planShards(files, durations, 4);
    const union = shards.flatMap((shard) => shard.files.map(rootPath));
    expect(union.length).toBe(files.length);
    expect(new Set(union)).toEqual(new Set(files.map(rootPath)));
    expect(planShards([...files].reverse(), durations, 4)).toEqual(shards);
  });

  it('balances by recorded time, not by count: one slow file gets a shard of its own', () => {
    const slow = file('slow');
    const durations = new Map([
      [fileKey(slow.package, slow.file), 30_000],
      ...files.map((f) => [fileKey(f.package, f.file), 1_000] as const),
    ]);
    const shards = planShards([slow, ...files], durations, 2);
    const withSlow = shards.find((shard) => shard.files.includes(slow))!;
    expect(withSlow.files).toEqual([slow]);
    expect(shards.find((shard) => shard !== withSlow)!.weightMs).toBe(23_000);
  });

  it('spreads files without history by count, weighing each as the median known file', () => {
    expect(planShards(files, new Map(), 4).map((shard) => shard.files.length)).toEqual([
      6, 6, 6, 5,
    ]);
    const known = file('known');
    const shards = planShards(
      [known, ...files.slice(0, 3)],
      new Map([[fileKey(known.package, known.file), 5_000]]),
      2,
    );
    expect(shards.map((shard) => shard.weightMs)).toEqual([10_000, 10_000]);
  });

  it('keeps same-named files of different packages apart in the preset selection', () => {
    const a = file('claim', '@x/core', 'packages/core');
    const b = file('claim', '@x/worker', 'apps/worker');
    expect(shardEnv([a, b])).toBe(
      'packages/core::test/integration/claim.test.ts,apps/worker::test/integration/claim.test.ts',
    );
  });
});

describe('durationsFromHistory', () => {
  it('sums a file’s test durations per run and takes the median over runs, ignoring skipped tests', () => {
    const test = (
      file: string,
      durationMs: number,
      state: TestRecord['state'] = 'passed',
    ): TestRecord => ({ package: '@x/core', file, durationMs, state }) as TestRecord;
    const run = (tests: TestRecord[]): RunRecord => ({ tests }) as RunRecord;
    const durations = durationsFromHistory([
      run([test('a.test.ts', 100), test('a.test.ts', 200), test('b.test.ts', 5, 'skipped')]),
      run([test('a.test.ts', 1_000)]),
      run([test('a.test.ts', 400)]),
    ]);
    expect(durations.get('@x/core::a.test.ts')).toBe(400);
    expect(durations.has('@x/core::b.test.ts')).toBe(false);
  });
});

describe('the shards of this repository (what release.yml runs: integration + e2e, 4 shards)', () => {
  // The repository root above this file (also from a copy of the package, e.g. Stryker's sandbox).
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'pnpm-workspace.yaml')) && dirname(root) !== root)
    root = dirname(root);
  const levels = LEVELS.filter((level) => level.name === 'integration' || level.name === 'e2e');
  const files = levels.flatMap((level) => listTestFiles(root, level));
  const durations = readCommittedDurations(root);
  const key = (file: TestFile): string => fileKey(file.package, file.file);

  it(`has a recorded duration for at least 3 of 4 test files in ${DURATIONS_FILE}`, () => {
    expect(files.length).toBeGreaterThan(20);
    const missing = files.filter((file) => !durations.has(key(file))).map(rootPath);
    // New files weigh the median file until the next refresh (`pnpm gate shards 4
    // --write-durations`); adding a test file must not fail this, a stale file must.
    expect(missing.length, `files without a duration: ${missing.join(', ')}`).toBeLessThanOrEqual(
      Math.floor(files.length * 0.25),
    );
  });

  it('puts every test file in exactly one of 4 shards, the slowest within 25 % of the mean', () => {
    const shards = planShards(files, durations, 4);
    const planned = shards.flatMap((shard) => shard.files.map(key));
    expect(new Set(planned).size, 'a file in two shards').toBe(planned.length);
    expect([...planned].sort()).toEqual(files.map(key).sort());
    const weights = shards.map((shard) => shard.weightMs);
    const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
    expect(
      Math.max(...weights),
      `shard weights ${weights.map(Math.round).join(', ')} ms`,
    ).toBeLessThanOrEqual(mean * 1.25);
  });

  it("gives each level's run of shard i exactly its part of the joint plan", () => {
    // The committed durations only, not this checkout's own .gate/history.
    vi.stubEnv('GATE_STATE_DIR', '.gate-none-for-this-test');
    const shards = planShards(files, durations, 4);
    for (const shard of shards) {
      const fromGate = levels.flatMap(
        (level) => shardFor(root, level, { index: shard.index, total: 4 }, levels).files,
      );
      expect(fromGate.map(key).sort()).toEqual(shard.files.map(key).sort());
    }
    vi.unstubAllEnvs();
  });
});
