import { describe, expect, it } from 'vitest';
import { countRun, ranBudget } from './counts.js';
import type { LevelRecord, TaskRecord } from './record.js';
import type { TestRecord } from './results.js';

const test = (overrides: Partial<TestRecord> = {}): TestRecord =>
  ({ state: 'passed', flaky: false, quarantined: false, retries: 0, ...overrides }) as TestRecord;
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
