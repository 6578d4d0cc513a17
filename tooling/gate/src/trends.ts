import { writeFileSync } from 'node:fs';
import type { LevelName } from './levels.js';
import { readHistory, type RunRecord } from './record.js';
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
  const fresh = runs.flatMap((run) => run.tests.filter((test) => !test.cached));
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
    passRate: runs.length === 0 ? 0 : runs.filter((run) => run.exitCode === 0).length / runs.length,
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

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function trendsHtml(trends: Trends): string {
  const table = (head: string[], rows: string[][]): string =>
    `<table><tr>${head.map((cell) => `<th>${html(cell)}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row.map((cell) => `<td>${html(cell)}</td>`).join('')}</tr>`).join('')}</table>`;
  return `<!doctype html><meta charset="utf-8"><title>gate report</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
<h1>gate report: ${trends.runs} runs</h1>
<p>pass rate ${percent(trends.passRate)} · runs with flaky tests ${percent(trends.flakyRunRate)} · retry rate ${percent(trends.retryRate)}</p>
<h2>Duration per level</h2>${table(
    ['level', 'runs', 'median', 'max', 'over budget'],
    trends.levels.map((level) => [
      level.level,
      String(level.runs),
      formatDuration(level.medianMs),
      formatDuration(level.maxMs),
      String(level.overBudget),
    ]),
  )}
<h2>Slowest tests</h2>${table(
    ['median', 'test'],
    trends.slowest.map((test) => [formatDuration(test.medianMs), test.id]),
  )}
<h2>Most failing and flaky tests</h2>${table(
    ['failed', 'flaky', 'runs', 'test'],
    trends.mostFailing.map((test) => [
      String(test.failures),
      String(test.flaky),
      String(test.runs),
      test.id,
    ]),
  )}
`;
}

export function writeTrends(root: string, htmlFile?: string, command?: string): number {
  const trends = computeTrends(
    readHistory(root).filter((run) => command === undefined || run.command === command),
  );
  console.log(trendsText(trends));
  if (htmlFile) {
    writeFileSync(htmlFile, trendsHtml(trends));
    console.log(`\nwrote ${htmlFile}`);
  }
  return 0;
}
