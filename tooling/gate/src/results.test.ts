import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { firstLines, readTaskTests, type ReadTaskOptions, rerunCommand } from './results.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package directory whose `.test-results/integration/` holds the given files. */
function pkg(files: Record<string, unknown>): ReadTaskOptions {
  const dir = mkdtempSync(join(tmpdir(), 'gate-results-'));
  dirs.push(dir);
  const results = join(dir, '.test-results', 'integration');
  mkdirSync(results, { recursive: true });
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(results, name), JSON.stringify(content));
  return {
    dir,
    package: '@jobgate/core',
    task: 'test:integration',
    level: 'integration',
    resultsDir: 'integration',
    cached: false,
  };
}

describe('readTaskTests from the gate reporter (gate.json)', () => {
  it('reads each test with its state, retries, flaky flag, time, budget, errors and rerun command', () => {
    const options = pkg({
      'gate.json': {
        slowTestMs: 10_000,
        tests: [
          {
            file: 'test/lease.test.ts',
            line: 12,
            name: 'lease > expires',
            state: 'passed',
            retries: 2,
            flaky: true,
            durationMs: 40,
          },
          { file: 'test/lease.test.ts', name: 'lease > renews', state: 'failed', errors: ['boom'] },
          { file: 'test/lease.test.ts', name: 'lease > later', state: 'pending', flaky: true },
        ],
        unhandledErrors: ['Unhandled rejection: nope'],
      },
    });
    const read = readTaskTests({ ...options, cached: true })!;
    expect(read.problems).toEqual(['Unhandled rejection: nope']);
    expect(read.tests).toEqual([
      {
        id: '@jobgate/core::test/lease.test.ts::lease > expires',
        package: '@jobgate/core',
        level: 'integration',
        taskId: '@jobgate/core#test:integration',
        file: 'test/lease.test.ts',
        line: 12,
        name: 'lease > expires',
        cached: true,
        quarantined: false,
        rerun: 'pnpm --filter @jobgate/core test:integration test/lease.test.ts:12',
        state: 'passed',
        retries: 2,
        flaky: true,
        durationMs: 40,
        slowMs: 10_000,
        errors: [],
      },
      expect.objectContaining({
        name: 'lease > renews',
        line: undefined,
        state: 'failed',
        retries: 0,
        flaky: false,
        durationMs: 0,
        errors: ['boom'],
        rerun: 'pnpm --filter @jobgate/core test:integration test/lease.test.ts',
      }),
      // Not a pass: a skipped test is never reported flaky.
      expect.objectContaining({ name: 'lease > later', state: 'skipped', flaky: false }),
    ]);
  });

  it('reports a file that failed to load as a failed file-level test; no budget when none is given', () => {
    const read = readTaskTests(
      pkg({
        'gate.json': {
          tests: [{ file: 'a.test.ts', name: 'a', state: 'passed' }],
          moduleErrors: [{ file: 'b.test.ts', errors: ['SyntaxError: x'] }],
        },
      }),
    )!;
    expect(read.problems).toEqual([]);
    expect(read.tests[0]).not.toHaveProperty('slowMs');
    expect(read.tests[1]).toEqual({
      id: '@jobgate/core::b.test.ts::(file-level error: import or hook)',
      package: '@jobgate/core',
      level: 'integration',
      taskId: '@jobgate/core#test:integration',
      file: 'b.test.ts',
      line: undefined,
      name: '(file-level error: import or hook)',
      cached: false,
      quarantined: false,
      rerun: 'pnpm --filter @jobgate/core test:integration b.test.ts',
      state: 'failed',
      retries: 0,
      flaky: false,
      durationMs: 0,
      errors: ['SyntaxError: x'],
    });
  });

  it('prefers gate.json to vitest results.json', () => {
    const read = readTaskTests(
      pkg({
        'gate.json': { tests: [{ file: 'a.test.ts', name: 'from gate', state: 'passed' }] },
        'results.json': {
          testResults: [
            { name: 'a.test.ts', assertionResults: [{ title: 'x', status: 'passed' }] },
          ],
        },
      }),
    )!;
    expect(read.tests.map((test) => test.name)).toEqual(['from gate']);
  });
});

describe('readTaskTests from vitest results.json', () => {
  it('reads assertions with names relative to the package, lines, rounded times and failures', () => {
    const options = pkg({});
    writeFileSync(
      join(options.dir, '.test-results', 'integration', 'results.json'),
      JSON.stringify({
        testResults: [
          {
            name: join(options.dir, 'test', 'a.test.ts'),
            status: 'failed',
            assertionResults: [
              {
                fullName: 'a > works',
                title: 'works',
                status: 'passed',
                location: { line: 3, column: 1 },
                duration: 12.6,
              },
              { title: 'breaks', status: 'failed', failureMessages: ['expected 1'] },
              { status: 'skipped' },
            ],
          },
          { name: 'test/b.test.ts', status: 'passed', assertionResults: [] },
        ],
      }),
    );
    const read = readTaskTests(options)!;
    expect(read.problems).toEqual([]);
    expect(read.tests).toEqual([
      expect.objectContaining({
        id: '@jobgate/core::test/a.test.ts::a > works',
        file: 'test/a.test.ts',
        line: 3,
        state: 'passed',
        retries: 0,
        flaky: false,
        durationMs: 13,
        errors: [],
        rerun: 'pnpm --filter @jobgate/core test:integration test/a.test.ts:3',
      }),
      expect.objectContaining({
        name: 'breaks',
        state: 'failed',
        durationMs: 0,
        errors: ['expected 1'],
      }),
      expect.objectContaining({ name: '(unnamed)', state: 'skipped' }),
    ]);
  });

  it('reports a failed file without tests as a file-level failure, with its message', () => {
    const read = readTaskTests(
      pkg({
        'results.json': {
          testResults: [
            { name: 'c.test.ts', status: 'failed', message: 'Cannot find module x' },
            { name: 'd.test.ts', status: 'failed' },
          ],
        },
      }),
    )!;
    expect(read.tests).toEqual([
      expect.objectContaining({
        id: '@jobgate/core::c.test.ts::(file-level error: import or hook)',
        state: 'failed',
        retries: 0,
        flaky: false,
        durationMs: 0,
        errors: ['Cannot find module x'],
      }),
      expect.objectContaining({ file: 'd.test.ts', state: 'failed', errors: ['failed'] }),
    ]);
    expect(readTaskTests(pkg({ 'results.json': {} }))).toEqual({ tests: [], problems: [] });
  });
});

describe('readTaskTests freshness', () => {
  it('ignores results older than the run (a second of clock slack), and is undefined without any', () => {
    const options = pkg({
      'gate.json': { tests: [{ file: 'a.test.ts', name: 'a', state: 'passed' }] },
    });
    const file = join(options.dir, '.test-results', 'integration', 'gate.json');
    const written = new Date('2026-12-01T10:00:00Z');
    utimesSync(file, written, written);
    const at = written.getTime();
    expect(readTaskTests({ ...options, notBefore: at + 900 })?.tests).toHaveLength(1);
    expect(readTaskTests({ ...options, notBefore: at + 1_000 })?.tests).toHaveLength(1);
    expect(readTaskTests({ ...options, notBefore: at + 1_100 })).toBeUndefined();
    expect(readTaskTests(options)?.tests).toHaveLength(1);
    expect(readTaskTests(pkg({}))).toBeUndefined();
  });
});

describe('report helpers', () => {
  it('reruns one test by file and line, or the whole file', () => {
    expect(rerunCommand('@jobgate/api', 'test:unit', 'src/a.test.ts', 7)).toBe(
      'pnpm --filter @jobgate/api test:unit src/a.test.ts:7',
    );
    expect(rerunCommand('@jobgate/api', 'test:unit', 'src/a.test.ts')).toBe(
      'pnpm --filter @jobgate/api test:unit src/a.test.ts',
    );
  });

  it('keeps the first non-blank lines of the errors, trailing spaces trimmed', () => {
    const errors = ['AssertionError: expected 1  \n\n   \n  at a.ts:1', 'second\nthird\nfourth'];
    expect(firstLines(errors)).toEqual([
      'AssertionError: expected 1',
      '  at a.ts:1',
      'second',
      'third',
    ]);
    expect(firstLines(errors, 1)).toEqual(['AssertionError: expected 1']);
  });
});
