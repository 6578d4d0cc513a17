import type { Options } from './args.js';
import { runGate } from './gate.js';
import { LEVELS } from './levels.js';
import { abortedLevels, type RunRecord } from './record.js';
import { formatDuration } from './report.js';

/** ADR-002 R4: a test failing (or passing only on a retry) in more than 2 % of runs is flaky. */
export const FLAKY_THRESHOLD = 0.02;

export interface SoakTest {
  id: string;
  runs: number;
  failures: number;
  flaky: number;
  retries: number;
  rate: number;
}

/**
 * Per test over the soak's runs: failures and retried passes both count against it. A level that
 * was aborted in a run (interrupted, Redis or turbo failed to start, turbo died under its tasks)
 * measured nothing about the tests: its tests of that run are left out, so an interrupted run
 * never reads as a failure of the tests it happened to be running.
 */
export function soakSummary(runs: readonly RunRecord[]): {
  tests: SoakTest[];
  aboveThreshold: SoakTest[];
} {
  const byId = new Map<string, SoakTest>();
  for (const run of runs) {
    const aborted = abortedLevels(run);
    for (const test of run.tests) {
      if (test.cached || test.state === 'skipped' || aborted.has(test.level)) continue;
      const entry = byId.get(test.id) ?? {
        id: test.id,
        runs: 0,
        failures: 0,
        flaky: 0,
        retries: 0,
        rate: 0,
      };
      entry.runs++;
      if (test.state === 'failed') entry.failures++;
      if (test.flaky) entry.flaky++;
      entry.retries += test.retries;
      byId.set(test.id, entry);
    }
  }
  const tests = [...byId.values()].map((test) => ({
    ...test,
    rate: (test.failures + test.flaky) / test.runs,
  }));
  tests.sort((a, b) => b.rate - a.rate || a.id.localeCompare(b.id));
  return { tests, aboveThreshold: tests.filter((test) => test.rate > FLAKY_THRESHOLD) };
}

export interface SoakLevel {
  name: string;
  /** Runs of the level that completed (passed or failed): the denominator of every rate. */
  runs: number;
  /** Completed runs with a failed test, a failed task or a level timeout. */
  failedRuns: number;
  /** Runs of the level that measured nothing, with why. */
  aborted: string[];
  tests: number;
  medianMs: number;
  totalMs: number;
}

/** Per level: completed runs, failed runs and aborted runs (apart, with their reasons). */
export function soakLevels(
  runs: readonly RunRecord[],
  names: readonly string[],
  /** Runs that did not even produce a record (the gate threw), one reason each. */
  notStarted: readonly string[] = [],
): SoakLevel[] {
  return names.map((name) => {
    const times: number[] = [];
    const aborted: string[] = [];
    let failedRuns = 0;
    const ids = new Set<string>();
    for (const run of runs) {
      const level = run.levels.find((record) => record.name === name);
      if (!level || level.status === 'skipped') continue;
      const reason = abortedLevels(run).get(level.name);
      if (reason !== undefined) {
        aborted.push(reason);
        continue;
      }
      times.push(level.durationMs);
      const tests = run.tests.filter((test) => test.level === name);
      for (const test of tests) ids.add(test.id);
      if (
        level.status !== 'passed' ||
        tests.some((test) => test.state === 'failed' && !test.quarantined)
      )
        failedRuns++;
    }
    aborted.push(...notStarted);
    const sorted = [...times].sort((a, b) => a - b);
    return {
      name,
      runs: times.length,
      failedRuns,
      aborted,
      tests: ids.size,
      medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
      totalMs: times.reduce((a, b) => a + b, 0),
    };
  });
}

/**
 * `gate soak --runs 20 --levels integration,e2e`: the levels run N times with Turbo's cache
 * bypassed (TURBO_FORCE), each run recorded in the history as `soak i/N` (so quarantine proposals
 * and the report use it), then every test's failure rate is reported.
 */
export async function runSoak(
  root: string,
  options: Options,
  signal: AbortSignal,
): Promise<number> {
  const names = options.levels.length > 0 ? options.levels : ['integration', 'e2e'];
  const unknown = names.filter((name) => !LEVELS.some((level) => level.name === name));
  if (unknown.length > 0) {
    console.error(
      `gate: unknown level(s) ${unknown.join(', ')}; use ${LEVELS.map((l) => l.name).join(', ')}`,
    );
    return 2;
  }
  const levels = LEVELS.filter((level) => names.includes(level.name)).map((level) => ({
    level,
    tasks: level.tasks,
  }));
  const total = options.count ?? 20;
  const records: RunRecord[] = [];
  const notStarted: string[] = [];
  const previous = process.env.TURBO_FORCE;
  process.env.TURBO_FORCE = 'true';
  try {
    for (let index = 1; index <= total && !signal.aborted; index++) {
      console.log(`\n=== soak run ${index}/${total}: ${names.join(', ')} ===`);
      try {
        records.push(
          await runGate({
            root,
            label: `soak ${index}/${total}`,
            levels,
            options: { ...options, keepGoing: true },
            signal,
          }),
        );
      } catch (error) {
        // The gate itself could not run (e.g. an unreadable quarantine file): an aborted run,
        // not a failure of any test.
        const reason = `run ${index}: failed to start: ${(error as Error).message}`;
        console.error(`gate: soak ${reason}`);
        notStarted.push(reason);
      }
    }
  } finally {
    if (previous === undefined) delete process.env.TURBO_FORCE;
    else process.env.TURBO_FORCE = previous;
  }
  const { tests, aboveThreshold } = soakSummary(records);
  const perLevel = soakLevels(records, names, notStarted);
  console.log(
    `\nSOAK: ${records.length + notStarted.length} run(s) of ${names.join(', ')}, cache bypassed`,
  );
  for (const level of perLevel) {
    console.log(
      `  ${level.name.padEnd(12)} runs ${level.runs}, failed runs ${level.failedRuns}, aborted ${level.aborted.length}, tests ${level.tests}, time median ${formatDuration(level.medianMs)}, total ${formatDuration(level.totalMs)}`,
    );
  }
  const abortedReasons = [...new Set(perLevel.flatMap((level) => level.aborted))];
  if (abortedReasons.length > 0) {
    console.log('  ABORTED (measured nothing; not counted as runs or failures):');
    for (const reason of abortedReasons) console.log(`    ${reason}`);
  }
  const retried = tests.filter((test) => test.retries > 0);
  console.log(
    `  tests that needed a retry: ${retried.length}${retried.length ? ` (${retried.map((t) => `${t.id} ×${t.retries}`).join(', ')})` : ''}`,
  );
  console.log(`  tests above the ${FLAKY_THRESHOLD * 100} % threshold: ${aboveThreshold.length}`);
  for (const test of aboveThreshold)
    console.log(
      `    ${(test.rate * 100).toFixed(1)}%  ${test.failures} failed, ${test.flaky} flaky of ${test.runs}  ${test.id}`,
    );
  const complete = Math.min(...perLevel.map((level) => level.runs));
  const abortedRuns =
    records.filter((run) => abortedLevels(run).size > 0).length + notStarted.length;
  console.log(
    `soak: ${complete} complete runs, ${abortedRuns} aborted, ${tests.length} tests, ${aboveThreshold.length} flaky`,
  );
  if (signal.aborted) return 130;
  if (aboveThreshold.length > 0) return 1;
  if (complete < total) {
    console.error(
      `gate: soak measured only ${complete} of ${total} runs of every level (${abortedRuns} aborted); the flaky rate covers those.`,
    );
    return 1;
  }
  return 0;
}
