import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, createFixture, lastRun, runGate, type Fixture } from '../fixture.js';

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const created of fixtures.splice(0)) created[Symbol.dispose]();
});

const passing = (name: string): string =>
  `import { expect, it } from 'vitest';\nit('${name} one', () => {\n  expect(1).toBe(1);\n});\nit('${name} two', () => {\n  expect(2).toBe(2);\n});\n`;

describe('gate run --shard', () => {
  it('4 shards run every integration file exactly once, and their merged report counts as one unsharded run', async () => {
    const files = (pkg: string, names: string[]): Record<string, string> =>
      Object.fromEntries(
        names.map((name) => [`test/integration/${name}.test.ts`, passing(`${pkg} ${name}`)]),
      );
    // Two packages, 5 files, 4 shards: one shard runs 2 files. Every package a run touches is a
    // vitest start (about 1 CPU-s), so no more packages than the cases below need.
    const fx = createFixture([
      // The same file name in two packages: each package must keep only its own.
      { name: 'a', files: files('a', ['claim', 'lease', 'reap']) },
      { name: 'b', files: files('b', ['claim', 'submit']) },
    ]);
    fixtures.push(fx);
    const env = cleanEnv();

    const whole = await runGate(fx.root, ['run', 'test:integration'], env);
    expect(whole.code).toBe(0);
    const unsharded = lastRun(fx.root);
    const allFiles = [
      ...new Set(unsharded.tests.map((test) => `${test.package}::${test.file}`)),
    ].sort();
    expect(allFiles.length).toBe(5);

    // On CI the shards are parallel runners that all start from the same cached history: here each
    // shard runs at once in its own copy of the fixture as the unsharded run left it (history
    // included), so none plans from the durations another shard recorded.
    const shards = await Promise.all(
      [1, 2, 3, 4].map(async (index) => {
        const copy = join(fx.scratch, `copy-${index}`);
        cpSync(fx.root, copy, { recursive: true, verbatimSymlinks: true });
        const result = await runGate(
          copy,
          ['run', 'test:integration', '--shard', `${index}/4`],
          env,
        );
        return { index, copy, result };
      }),
    );

    const shardDirs: string[] = [];
    const shardFiles: string[] = [];
    for (const { index, copy, result } of shards) {
      expect(result.code).toBe(0);
      expect(result.output).toContain(`shard ${index}/4`);
      const record = lastRun(copy);
      expect(record.shard).toEqual({ index, total: 4 });
      const planned = record.levels[0]!.shardFiles ?? [];
      // What ran is what was planned: no file of another package slipped in.
      expect(
        [...new Set(record.tests.map((test) => `${test.package}::${test.file}`))].sort(),
      ).toEqual([...planned].sort());
      shardFiles.push(...planned);
      const dir = join(fx.scratch, `shard-${index}`);
      mkdirSync(dir);
      cpSync(join(copy, '.gate/last/run.json'), join(dir, 'run.json'));
      shardDirs.push(dir);
    }
    expect([...shardFiles].sort()).toEqual(allFiles);
    expect(new Set(shardFiles).size).toBe(shardFiles.length);

    const merged = await runGate(fx.root, ['merge', ...shardDirs], env);
    expect(merged.code).toBe(0);
    expect(merged.lastLine).toBe(whole.lastLine);
    expect(lastRun(fx.root).counts).toEqual(unsharded.counts);
    expect(
      lastRun(fx.root)
        .tests.map((test) => test.id)
        .sort(),
    ).toEqual(unsharded.tests.map((test) => test.id).sort());
  });
});
