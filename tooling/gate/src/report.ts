import type { LevelRecord, RunRecord } from './record.js';
import { firstLines, type TestRecord } from './results.js';
import { slowTestsText } from './slow.js';
import { isBlockingFailure } from './tiers.js';

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const secs = Math.round((ms % 60_000) / 1_000);
  return `${minutes}m${String(secs).padStart(2, '0')}s`;
}

interface Row {
  level: string;
  tasks: string;
  cached: string;
  passed: string;
  failed: string;
  warned: string;
  flaky: string;
  time: string;
  budget: string;
  status: string;
}

function levelRow(run: RunRecord, level: LevelRecord): Row {
  const tests = run.tests.filter((test) => test.level === level.name);
  const tasks = run.tasks.filter((task) => task.level === level.name);
  const nonTest = tasks.filter((task) => !task.tests);
  const passed =
    tests.filter((test) => test.state === 'passed').length +
    nonTest.filter((task) => task.status === 'passed').length;
  const failedTests = tests.filter(isBlockingFailure).length;
  const warned =
    tests.filter((test) => test.warned).length +
    tasks.filter((task) => task.status === 'warned' && !task.tests?.warned).length;
  const failedTasks = tasks.filter(
    (task) => (task.status === 'failed' || task.status === 'timed-out') && !task.tests?.failed,
  ).length;
  return {
    level: level.title,
    tasks: String(level.taskCount),
    cached: String(level.cachedCount),
    passed: String(passed),
    failed: String(failedTests + failedTasks),
    warned: String(warned),
    flaky: String(tests.filter((test) => test.flaky).length),
    time: formatDuration(level.durationMs),
    budget: `${formatDuration(level.budgetMs)}${level.overBudget ? ' OVER' : ''}`,
    status: level.status,
  };
}

const HEADERS: Row = {
  level: 'level',
  tasks: 'tasks',
  cached: 'cached',
  passed: 'passed',
  failed: 'failed',
  warned: 'warned',
  flaky: 'flaky',
  time: 'time',
  budget: 'budget',
  status: 'status',
};

function rows(run: RunRecord): Row[] {
  const body = run.levels.map((level) => levelRow(run, level));
  const sum = (key: keyof Row): string =>
    String(body.reduce((total, row) => total + (Number(row[key]) || 0), 0));
  body.push({
    level: 'total',
    tasks: sum('tasks'),
    cached: sum('cached'),
    passed: sum('passed'),
    failed: sum('failed'),
    warned: sum('warned'),
    flaky: sum('flaky'),
    time: formatDuration(run.durationMs),
    budget: `${formatDuration(run.totalBudgetMs)}${run.durationMs > run.totalBudgetMs ? ' OVER' : ''}`,
    status: run.exitCode === 0 ? 'passed' : 'failed',
  });
  return body;
}

export function terminalTable(run: RunRecord): string {
  const all = [HEADERS, ...rows(run)];
  const keys = Object.keys(HEADERS) as (keyof Row)[];
  const widths = keys.map((key) => Math.max(...all.map((row) => row[key].length)));
  const line = (row: Row): string =>
    keys
      .map((key, index) => row[key].padEnd(widths[index]!))
      .join('  ')
      .trimEnd();
  const separator = widths.map((width) => '-'.repeat(width)).join('  ');
  const body = all.map(line);
  return [body[0], separator, ...body.slice(1, -1), separator, body.at(-1)].join('\n');
}

function testHeading(test: TestRecord): string {
  return `${test.package}  ${test.file}${test.line ? `:${test.line}` : ''}  ${test.name}`;
}

/**
 * `○ skipped integration, e2e after unit failed: --keep-going runs them`, or undefined when no
 * level was skipped.
 */
export function skippedLine(levels: readonly LevelRecord[]): string | undefined {
  const skipped = levels.filter((level) => level.status === 'skipped');
  if (skipped.length === 0) return undefined;
  const failed = levels.find((level) => level.status !== 'passed' && level.status !== 'skipped');
  const names = skipped.map((level) => level.title).join(', ');
  return `○ skipped ${names}${failed ? ` after ${failed.title} failed` : ''}: --keep-going runs ${skipped.length === 1 ? 'it' : 'them'}`;
}

const EARLY_TESTS = 10;
const EARLY_ERROR_CHARS = 200;

/**
 * What the gate prints the moment a task fails, while the rest of its level still runs: its
 * blocking failed tests as `file:line > describe > test`, each with the first line of its error
 * (cut at 200 characters) and the command that reruns it; failures at a non-blocking tier only
 * counted (they are warnings, listed at the end); for a task that failed without a failed test (a
 * crash, a type error, an unhandled error), its last output lines. Quarantined failures are left to
 * the closing list.
 */
export function taskFailureText(failure: {
  taskId: string;
  /** The task's tests, judged (tier, quarantine); undefined when it left no results. */
  tests?: readonly TestRecord[];
  problems?: readonly string[];
  tail: readonly string[];
  /** Whether a failure of this task without a failed test blocks (its package's tier). */
  blocking: boolean;
}): string[] {
  const { taskId, tests = [] } = failure;
  const [pkg = taskId, task = ''] = taskId.split('#');
  const failed = tests.filter((test) => test.state === 'failed' && !test.quarantined);
  if (failed.length === 0 && tests.some((test) => test.state === 'failed')) return [];
  const plural = (n: number): string => `${n} failed test${n === 1 ? '' : 's'}`;
  const out: string[] = [];
  if (failed.length > 0) {
    const blocking = failed.filter(isBlockingFailure);
    const warned = failed.length - blocking.length;
    if (blocking.length === 0) {
      const tiers = [...new Set(failed.map((test) => test.tier ?? 'P1'))].sort().join('/');
      return [`  ! ${taskId}: ${plural(warned)} at ${tiers}, not blocking (listed at the end)`];
    }
    out.push(
      `  ✗ ${taskId}: ${plural(blocking.length)}${warned > 0 ? ` (and ${warned} not blocking)` : ''}`,
    );
    for (const test of blocking.slice(0, EARLY_TESTS)) {
      out.push(`    ✗ ${test.file}${test.line ? `:${test.line}` : ''} > ${test.name}`);
      const first = firstLines(test.errors, 1)[0]?.trim();
      if (first)
        out.push(
          `        ${first.length > EARLY_ERROR_CHARS ? `${first.slice(0, EARLY_ERROR_CHARS)}…` : first}`,
        );
      out.push(`        rerun: ${test.rerun}`);
    }
    if (blocking.length > EARLY_TESTS)
      out.push(`    … ${blocking.length - EARLY_TESTS} more in the list at the end`);
    return out;
  }
  out.push(
    `  ${failure.blocking ? '✗' : '!'} ${taskId} failed${failure.blocking ? '' : ' (not blocking)'}; last output:`,
  );
  for (const line of failure.tail.slice(-15)) out.push(`      | ${line}`);
  for (const problem of failure.problems ?? [])
    out.push(`      ${firstLines([problem], 2).join(' / ')}`);
  out.push(`      rerun: pnpm --filter ${pkg} ${task}`);
  return out;
}

/**
 * Whether a task's failure, as `taskFailureText` shows it, blocks: a blocking failed test, or a
 * failure without any failed test in a blocking tier. Only quarantined or warning-tier failures do
 * not. The gate's bail stops the level on the first that does.
 */
export function failureBlocks(failure: {
  tests?: readonly TestRecord[];
  blocking: boolean;
}): boolean {
  const tests = failure.tests ?? [];
  if (tests.some((test) => test.state === 'failed')) return tests.some(isBlockingFailure);
  return failure.blocking;
}

/**
 * `○ stopped (bail) @fx/b#test:integration after @fx/a#test:integration failed: --keep-going runs
 * everything`, for a level whose running tasks were stopped; undefined otherwise.
 */
export function bailLine(level: LevelRecord, hint: string): string | undefined {
  if (!level.bail) return undefined;
  const { by, stopped } = level.bail;
  const what =
    stopped.length === 0 ? 'stopped the level (bail)' : `stopped (bail) ${stopped.join(', ')}`;
  return `○ ${what} after ${by} failed: ${hint}`;
}

/** Everything a person needs to act: what broke, where, the first error lines, how to rerun it. */
export function problemsText(run: RunRecord): string {
  const out: string[] = [];
  const failed = run.tests.filter(isBlockingFailure);
  if (failed.length > 0) {
    out.push(`FAILED TESTS (${failed.length})`);
    for (const test of failed) {
      out.push(`  ✗ ${testHeading(test)}`);
      for (const line of firstLines(test.errors)) out.push(`      ${line}`);
      out.push(`      rerun: ${test.rerun}`);
    }
  }
  const brokenTasks = run.tasks.filter(
    (task) =>
      (task.status === 'failed' || task.status === 'timed-out' || task.status === 'cancelled') &&
      !task.tests?.failed,
  );
  for (const task of brokenTasks) {
    const what =
      task.status === 'timed-out'
        ? `TIMED OUT after ${formatDuration(task.durationMs)}`
        : task.status === 'cancelled'
          ? 'CANCELLED'
          : `FAILED (exit ${task.exitCode ?? '?'})`;
    out.push(`  ✗ ${task.taskId} ${what}; last output:`);
    for (const line of (task.output ?? []).slice(-15)) out.push(`      | ${line}`);
    for (const problem of task.problems ?? [])
      out.push(`      ${firstLines([problem], 2).join(' / ')}`);
    out.push(`      rerun: pnpm --filter ${task.package} ${task.task}`);
  }
  for (const level of run.levels.filter(
    (level) =>
      level.status === 'infra' ||
      (level.message && level.status !== 'passed' && level.status !== 'skipped'),
  )) {
    out.push(
      `  ✗ ${level.status === 'infra' ? 'INFRA' : 'ERROR'} (${level.title}): ${level.message ?? ''}`,
    );
  }
  const stopped = run.tasks.filter((task) => task.status === 'stopped');
  if (stopped.length > 0) {
    out.push(
      `STOPPED (bail: killed unfinished after a blocking failure, neither passed nor failed)`,
    );
    for (const task of stopped)
      out.push(`  ○ ${task.taskId} stopped (bail) after ${formatDuration(task.durationMs)}`);
  }
  const warnedTests = run.tests.filter((test) => test.warned);
  const warnedTasks = run.tasks.filter((task) => task.status === 'warned' && !task.tests?.warned);
  if (warnedTests.length + warnedTasks.length > 0) {
    const tiers = [
      ...new Set([...warnedTests.map((test) => test.tier), ...warnedTasks.map((t) => t.tier)]),
    ]
      .filter(Boolean)
      .sort()
      .join('/');
    out.push(`WARNINGS (${tiers || 'P1'}, not blocking)`);
    for (const test of warnedTests) {
      out.push(`  ! [${test.tier ?? 'P1'}] ${testHeading(test)}`);
      for (const line of firstLines(test.errors)) out.push(`      ${line}`);
      out.push(`      rerun: ${test.rerun}`);
    }
    for (const task of warnedTasks) {
      out.push(
        `  ! [${task.tier ?? 'P1'}] ${task.taskId} FAILED (exit ${task.exitCode ?? '?'}); last output:`,
      );
      for (const line of (task.output ?? []).slice(-15)) out.push(`      | ${line}`);
      out.push(`      rerun: pnpm --filter ${task.package} ${task.task}`);
    }
  }
  const flaky = run.tests.filter((test) => test.flaky);
  if (flaky.length > 0) {
    out.push(`FLAKY (passed only after a retry; not blocking, recorded in .gate/history)`);
    for (const test of flaky) {
      out.push(
        `  ~ ${testHeading(test)}  (${test.retries} ${test.retries === 1 ? 'retry' : 'retries'}${test.cached ? ', cached result' : ''})`,
      );
      for (const line of firstLines(test.errors, 2)) out.push(`      first attempt: ${line}`);
    }
  }
  const quarantined = run.tests.filter((test) => test.quarantined && test.state === 'failed');
  if (quarantined.length > 0) {
    out.push(`QUARANTINED FAILURES (not blocking)`);
    for (const test of quarantined) out.push(`  q ${testHeading(test)}`);
  }
  for (const proposal of run.proposals) {
    out.push(
      `PROPOSAL: ${proposal.id} passed ${proposal.passesInARow} runs in a row; remove it from the quarantine list.`,
    );
  }
  const skipped = skippedLine(run.levels);
  if (skipped) out.push(skipped.replace(/^○ skipped/, 'SKIPPED:'));
  out.push(...slowTestsText(run));
  for (const level of run.levels.filter((level) => level.overBudget)) {
    out.push(
      `BUDGET: ${level.title} took ${formatDuration(level.durationMs)}, budget ${formatDuration(level.budgetMs)}.`,
    );
  }
  return out.join('\n');
}

export function closingLine(run: RunRecord): string {
  const { passed, failed, skipped, warned = 0 } = run.counts;
  return `gate: ${passed} passed, ${failed} failed, ${warned} warned${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

function mdEscape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdown(run: RunRecord): string {
  const ok = run.exitCode === 0;
  const out: string[] = [`## gate ${run.command}: ${ok ? '✅ passed' : '❌ failed'}`, ''];
  for (const note of run.notes) out.push(`> ${note}`, '');
  out.push(
    '| level | tasks | cached | passed | failed | warned | flaky | time | budget | status |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const row of rows(run)) {
    out.push(
      `| ${[row.level, row.tasks, row.cached, row.passed, row.failed, row.warned, row.flaky, row.time, row.budget, row.status].map(mdEscape).join(' | ')} |`,
    );
  }
  for (const level of run.levels) if (level.report) out.push('', level.report);
  const problems = problemsText(run);
  if (problems) out.push('', '```text', problems, '```');
  out.push('', `\`${closingLine(run)}\``, '');
  return out.join('\n');
}

function xml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

/** One JUnit file for the whole run: a suite per task, flaky tests marked, quarantine noted. */
export function junit(run: RunRecord): string {
  const suites = new Map<string, TestRecord[]>();
  for (const test of run.tests) suites.set(test.taskId, [...(suites.get(test.taskId) ?? []), test]);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = run.tests.filter(isBlockingFailure).length;
  out.push(
    `<testsuites name="gate ${xml(run.command)}" tests="${run.tests.length}" failures="${failures}" time="${(run.durationMs / 1000).toFixed(3)}">`,
  );
  for (const [taskId, tests] of suites) {
    const suiteFailures = tests.filter(isBlockingFailure).length;
    const skipped = tests.filter((test) => test.state === 'skipped').length;
    const time = tests.reduce((total, test) => total + test.durationMs, 0) / 1000;
    out.push(
      `  <testsuite name="${xml(taskId)}" tests="${tests.length}" failures="${suiteFailures}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    );
    for (const test of tests) {
      out.push(
        `    <testcase classname="${xml(`${test.package}/${test.file}`)}" name="${xml(test.name)}" file="${xml(test.file)}"${test.line ? ` line="${test.line}"` : ''} time="${(test.durationMs / 1000).toFixed(3)}">`,
      );
      if (test.warned) {
        // Not blocking, so not a JUnit failure (CI would turn red), but visible with its error.
        out.push(
          `      <skipped message="${xml(`WARNING (${test.tier ?? 'P1'}, not blocking): ${firstLines(test.errors, 1)[0] ?? 'failed'}`)}"/>`,
        );
        out.push(
          `      <system-err>${xml(`${test.errors.join('\n')}\n\nrerun: ${test.rerun}`)}</system-err>`,
        );
      } else if (isBlockingFailure(test)) {
        out.push(
          `      <failure message="${xml(firstLines(test.errors, 1)[0] ?? 'failed')}">${xml(`${test.errors.join('\n')}\n\nrerun: ${test.rerun}`)}</failure>`,
        );
      } else if (test.state === 'skipped' || (test.state === 'failed' && test.quarantined)) {
        out.push(`      <skipped${test.quarantined ? ' message="quarantined"' : ''}/>`);
      }
      if (test.flaky)
        out.push(
          `      <system-out>${xml(`flaky: passed after ${test.retries} retries. First error: ${firstLines(test.errors, 1)[0] ?? ''}`)}</system-out>`,
        );
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
