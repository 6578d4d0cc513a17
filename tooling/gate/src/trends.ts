import { writeFileSync } from 'node:fs';
import type { LevelName } from './levels.js';
import { abortedLevels, readHistory, type RunRecord } from './record.js';
import { formatDuration } from './report.js';

export interface Trends {
  runs: number;
  passRate: number;
  /** Share of runs with at least one flaky test. */
  flakyRunRate: number;
  /** Share of freshly run integration/e2e tests that needed a retry. */
  retryRate: number;
  levels: { level: LevelName; runs: number; medianMs: number; maxMs: number; overBudget: number }[];
  slowest: { id: string; medianMs: number }[];
  mostFailing: { id: string; failures: number; flaky: number; runs: number }[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

/** ADR-002 "Ongoing Metrics" over the recorded runs. Cache replays do not count as test runs. */
export function computeTrends(runs: readonly RunRecord[]): Trends {
  const levelNames: LevelName[] = ['build', 'unit', 'integration', 'e2e', 'chaos'];
  const levels = levelNames
    .map((level) => {
      const ran = runs.flatMap((run) =>
        run.levels.filter((record) => record.name === level && record.status !== 'skipped'),
      );
      return {
        level,
        runs: ran.length,
        medianMs: median(ran.map((record) => record.durationMs)),
        maxMs: Math.max(0, ...ran.map((record) => record.durationMs)),
        overBudget: ran.filter((record) => record.overBudget).length,
      };
    })
    .filter((level) => level.runs > 0);
  // An interrupted level, or one whose Redis or turbo never started, judged no test: its tests are
  // not counted, and a run with one is left out of the pass rate (it neither passed nor failed).
  const aborted = runs.map((run) => abortedLevels(run));
  const judged = runs.filter((_, index) => aborted[index]!.size === 0);
  const fresh = runs.flatMap((run, index) =>
    run.tests.filter((test) => !test.cached && !aborted[index]!.has(test.level)),
  );
  const retriable = fresh.filter((test) => test.level === 'integration' || test.level === 'e2e');
  const byTest = new Map<
    string,
    { durations: number[]; failures: number; flaky: number; runs: number }
  >();
  for (const test of fresh) {
    const entry = byTest.get(test.id) ?? { durations: [], failures: 0, flaky: 0, runs: 0 };
    entry.durations.push(test.durationMs);
    entry.runs++;
    if (test.state === 'failed') entry.failures++;
    if (test.flaky) entry.flaky++;
    byTest.set(test.id, entry);
  }
  const entries = [...byTest.entries()];
  return {
    runs: runs.length,
    passRate:
      judged.length === 0 ? 0 : judged.filter((run) => run.exitCode === 0).length / judged.length,
    flakyRunRate:
      runs.length === 0
        ? 0
        : runs.filter((run) => run.tests.some((test) => test.flaky && !test.cached)).length /
          runs.length,
    retryRate:
      retriable.length === 0
        ? 0
        : retriable.filter((test) => test.retries > 0).length / retriable.length,
    levels,
    slowest: entries
      .map(([id, entry]) => ({ id, medianMs: median(entry.durations) }))
      .sort((a, b) => b.medianMs - a.medianMs)
      .slice(0, 10),
    mostFailing: entries
      .filter(([, entry]) => entry.failures + entry.flaky > 0)
      .map(([id, entry]) => ({
        id,
        failures: entry.failures,
        flaky: entry.flaky,
        runs: entry.runs,
      }))
      .sort((a, b) => b.failures + b.flaky - (a.failures + a.flaky))
      .slice(0, 10),
  };
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

export function trendsText(trends: Trends): string {
  const out = [
    `gate report: ${trends.runs} recorded run(s)`,
    `  pass rate ${percent(trends.passRate)}   runs with flaky tests ${percent(trends.flakyRunRate)}   retry rate (integration+e2e) ${percent(trends.retryRate)}`,
    '',
    'duration per level (median / max, over budget):',
    ...trends.levels.map(
      (level) =>
        `  ${level.level.padEnd(12)} ${formatDuration(level.medianMs).padStart(8)} / ${formatDuration(level.maxMs).padStart(8)}   ${level.overBudget} of ${level.runs} over budget`,
    ),
    '',
    'slowest tests (median):',
    ...trends.slowest.map((test) => `  ${formatDuration(test.medianMs).padStart(8)}  ${test.id}`),
    '',
    'most failing / flaky tests:',
    ...(trends.mostFailing.length === 0
      ? ['  none']
      : trends.mostFailing.map(
          (test) => `  ${test.failures} failed, ${test.flaky} flaky of ${test.runs}  ${test.id}`,
        )),
  ];
  return out.join('\n');
}

export async function writeTrends(
  root: string,
  htmlFile?: string,
  command?: string,
): Promise<number> {
  const { isEmptyRun, trendsPage } = await import('./html-report.js');
  const runs = readHistory(root).filter(
    (run) => (command === undefined || run.command === command) && !isEmptyRun(run),
  );
  console.log(
    runs.length === 0
      ? `gate report: no runs yet${command ? ` for "${command}"` : ''}`
      : trendsText(computeTrends(runs)),
  );
  if (htmlFile) {
    writeFileSync(htmlFile, trendsPage(runs, command));
    console.log(`\nwrote ${htmlFile}`);
  }
  return 0;
}
