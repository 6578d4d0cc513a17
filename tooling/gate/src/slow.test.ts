import { describe, expect, it } from 'vitest';
import type { RunRecord } from './record.js';
import { markdown, problemsText } from './report.js';
import type { TestRecord } from './results.js';

function test(name: string, durationMs: number, overrides: Partial<TestRecord> = {}): TestRecord {
  return {
    id: `@jobgate/core::test/integration/claim.test.ts::${name}`,
    package: '@jobgate/core',
    level: 'integration',
    taskId: '@jobgate/core#test:integration',
    file: 'test/integration/claim.test.ts',
    line: 12,
    name,
    state: 'passed',
    retries: 0,
    flaky: false,
    quarantined: false,
    durationMs,
    slowMs: 10_000,
    errors: [],
    cached: false,
    rerun: 'pnpm --filter @jobgate/core test:integration test/integration/claim.test.ts:12',
    ...overrides,
  };
}

function run(tests: TestRecord[]): RunRecord {
  return {
    version: 1,
    id: 'r',
    command: 'test',
    startedAt: '2026-12-02T10:00:00.000Z',
    durationMs: 60_000,
    totalBudgetMs: 35 * 60_000,
    exitCode: 0,
    affected: false,
    notes: [],
    levels: [],
    tasks: [],
    tests,
    proposals: [],
    counts: { passed: tests.length, failed: 0, skipped: 0, flaky: 0, quarantined: 0 },
  };
}

describe('slow tests in the report', () => {
  it('flags each test over its level budget, slowest first, with its time and the budget', () => {
    const report = problemsText(
      run([
        test('claim > is quick', 900),
        test('claim > drains 5,000 jobs', 14_200),
        test('claim > just at the budget', 10_000),
        test('claim > waits for a lease', 48_000, { cached: true }),
        test('claim > skipped', 99_000, { state: 'skipped' }),
      ]),
    );
    expect(report.split('\n')).toEqual([
      "SLOW (2 over their level's per-test budget; not blocking)",
      '  ! @jobgate/core  test/integration/claim.test.ts:12  claim > waits for a lease  48.0s (integration budget 10.0s, cached result)',
      '  ! @jobgate/core  test/integration/claim.test.ts:12  claim > drains 5,000 jobs  14.2s (integration budget 10.0s)',
    ]);
    expect(markdown(run([test('claim > drains 5,000 jobs', 14_200)]))).toContain(
      'claim > drains 5,000 jobs  14.2s (integration budget 10.0s)',
    );
  });

  it('says nothing for tests within budget or without one (older results)', () => {
    expect(problemsText(run([test('a', 9_999), test('b', 60_000, { slowMs: undefined })]))).toBe(
      '',
    );
  });

  it('lists ten and counts the rest', () => {
    const lines = problemsText(
      run(Array.from({ length: 13 }, (_, i) => test(`t${i}`, 20_000 + i))),
    ).split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[1]).toContain('t12');
    expect(lines.at(-1)).toBe('  ... and 3 more in .gate/last/run.json');
  });
});
