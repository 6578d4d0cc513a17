import { describe, expect, it } from 'vitest';
import { countRun, ranBudget } from './counts.js';
import { TOTAL_BUDGET_MS } from './levels.js';
import type { LevelRecord, TaskRecord } from './record.js';
import type { TestRecord } from './results.js';

const test = (overrides: Partial<TestRecord> = {}): TestRecord =>
  ({
    state: 'passed',
    flaky: false,
    quarantined: false,
    retries: 0,
    cached: false,
    tier: 'P0',
    ...overrides,
  }) as TestRecord;
const task = (overrides: Partial<TaskRecord> = {}): TaskRecord =>
  ({ level: 'build', status: 'passed', ...overrides }) as TaskRecord;
const level = (overrides: Partial<LevelRecord> = {}): LevelRecord =>
  ({
    name: 'unit',
    status: 'passed',
    durationMs: 1000,
    budgetMs: 60_000,
    ...overrides,
  }) as LevelRecord;

describe('countRun (the last line)', () => {
  it('counts passed tests plus passed non-test tasks, and each kind of outcome once', () => {
    const tests = [
      test(),
      test({ flaky: true, retries: 1 }),
      test({ state: 'failed' }),
      test({ state: 'failed', quarantined: true }),
      test({ state: 'failed', warned: true, tier: 'P1' }),
      test({ state: 'skipped' }),
    ];
    const tasks = [
      task({ taskId: 'a#lint' }),
      task({ taskId: 'a#typecheck', status: 'failed' }),
      task({ taskId: 'b#build', status: 'timed-out' }),
      task({ taskId: 'c#build', status: 'cancelled' }),
      // A test task whose failure is one of its tests: counted by the test, not again.
      task({
        taskId: 'a#test:unit',
        level: 'unit',
        status: 'failed',
        tests: { failed: 1 } as TaskRecord['tests'],
      }),
      // A P1 test task that crashed without a failed test: a warning of its own.
      task({ taskId: 'w#test:integration', level: 'integration', status: 'warned' }),
      // Its warnings are already counted by its tests.
      task({
        taskId: 'x#test:integration',
        level: 'integration',
        status: 'warned',
        tests: { warned: 1 } as TaskRecord['tests'],
      }),
    ];
    expect(countRun([level()], tasks, tests)).toEqual({
      passed: 3,
      failed: 4,
      skipped: 1,
      flaky: 1,
      quarantined: 1,
      warned: 2,
    });
  });

  it('counts an infra level and a turbo failure without a failed task, but not a level whose task failed', () => {
    const levels = [
      level({ name: 'integration', status: 'infra', message: 'Redis did not answer' }),
      level({ name: 'e2e', status: 'failed', message: 'turbo exited 1: x' }),
      level({ name: 'build', status: 'failed', message: 'turbo exited 1: y' }),
      level({ name: 'unit', status: 'failed' }),
    ];
    const tasks = [task({ level: 'build', status: 'failed' })];
    expect(countRun(levels, tasks, []).failed).toBe(1 + 1 + 1);
    expect(countRun([level({ status: 'passed', message: 'note' })], [], []).failed).toBe(0);
  });

  it('adds the budgets of the levels that ran only; none ran is the whole budget', () => {
    expect(
      ranBudget([
        level({ budgetMs: 1 }),
        level({ budgetMs: 10, status: 'failed' }),
        level({ budgetMs: 100, status: 'skipped' }),
        level({ budgetMs: 1000, status: 'cancelled', durationMs: 0 }),
        level({ budgetMs: 10_000, status: 'cancelled', durationMs: 5 }),
      ]),
    ).toBe(10_011);
    expect(ranBudget([])).toBe(TOTAL_BUDGET_MS);
    expect(ranBudget([level({ status: 'skipped' })])).toBe(TOTAL_BUDGET_MS);
  });
});

describe('countRun, one outcome at a time', () => {
  it('counts a passed test task by its tests, not as a pass of its own', () => {
    const tasks = [task({ level: 'unit', tests: { passed: 2 } as TaskRecord['tests'] })];
    expect(countRun([level()], tasks, [test(), test()]).passed).toBe(2);
  });

  it('counts a turbo failure of a level only when no task of that level failed', () => {
    const e2e = level({ name: 'e2e', status: 'failed', message: 'turbo exited 1' });
    expect(countRun([e2e], [task({ level: 'build', status: 'failed' })], []).failed).toBe(1 + 1);
    expect(countRun([e2e], [task({ level: 'e2e', status: 'passed' })], []).failed).toBe(1);
    expect(countRun([e2e], [task({ level: 'e2e', status: 'failed' })], []).failed).toBe(1);
    const mixed = [task({ level: 'e2e', status: 'failed' }), task({ level: 'build' })];
    expect(countRun([e2e], mixed, []).failed).toBe(1);
  });

  it('counts quarantined failures, not quarantined passes', () => {
    const tests = [test({ quarantined: true }), test({ quarantined: true, state: 'failed' })];
    expect(countRun([], [], tests)).toMatchObject({ quarantined: 1, failed: 0, passed: 1 });
  });

  it('counts a warned task without warned tests, and not one whose tests warned', () => {
    expect(countRun([], [task({ status: 'warned' })], []).warned).toBe(1);
    const withTests = task({ status: 'warned', tests: { warned: 1 } as TaskRecord['tests'] });
    expect(countRun([], [withTests], []).warned).toBe(0);
  });
});

describe('ranBudget', () => {
  it('counts a level that ran in no time (all cached), not one cancelled before it started', () => {
    expect(ranBudget([level({ durationMs: 0, budgetMs: 7 }), level({ budgetMs: 5 })])).toBe(12);
    expect(
      ranBudget([
        level({ budgetMs: 5 }),
        level({ status: 'cancelled', durationMs: 0, budgetMs: 9 }),
      ]),
    ).toBe(5);
  });
});
