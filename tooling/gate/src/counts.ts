import { TOTAL_BUDGET_MS } from './levels.js';
import type { LevelRecord, RunRecord, TaskRecord } from './record.js';
import type { TestRecord } from './results.js';
import { isBlockingFailure } from './tiers.js';

/**
 * The counts of the last line, from a run's levels, tasks and tests: `passed` is tests plus
 * non-test tasks; `failed` blocking failed tests, tasks that failed without a failed test and
 * infra or turbo failures; `warned` failures at a non-blocking tier. One function, so a merged
 * report of shards counts exactly as one run would.
 */
export function countRun(
  levels: readonly LevelRecord[],
  tasks: readonly TaskRecord[],
  tests: readonly TestRecord[],
): RunRecord['counts'] {
  const nonTestTasks = tasks.filter((task) => !task.tests);
  const failedTests = tests.filter(isBlockingFailure).length;
  const failedTasks = tasks.filter(
    (task) =>
      (task.status === 'failed' || task.status === 'timed-out' || task.status === 'cancelled') &&
      !task.tests?.failed,
  ).length;
  const infra = levels.filter(
    (level) =>
      level.status === 'infra' ||
      (level.message &&
        level.status === 'failed' &&
        !tasks.some((task) => task.level === level.name && task.status === 'failed')),
  ).length;
  return {
    passed:
      tests.filter((test) => test.state === 'passed').length +
      nonTestTasks.filter((task) => task.status === 'passed').length,
    failed: failedTests + failedTasks + infra,
    skipped: tests.filter((test) => test.state === 'skipped').length,
    flaky: tests.filter((test) => test.flaky).length,
    quarantined: tests.filter((test) => test.quarantined && test.state === 'failed').length,
    warned:
      tests.filter((test) => test.warned).length +
      tasks.filter((task) => task.status === 'warned' && !task.tests?.warned).length,
  };
}

/** The sum of the budgets of the levels that ran (not skipped or cancelled before starting). */
export function ranBudget(levels: readonly LevelRecord[]): number {
  const ran = levels.filter(
    (level) =>
      level.status !== 'skipped' && !(level.status === 'cancelled' && level.durationMs === 0),
  );
  return ran.length === 0 ? TOTAL_BUDGET_MS : ran.reduce((sum, level) => sum + level.budgetMs, 0);
}
