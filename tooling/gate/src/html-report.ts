import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LEVELS } from './levels.js';
import type { RunRecord } from './record.js';
import { formatDuration } from './report.js';
import { computeTrends } from './trends.js';

/** Chart.js's self-contained build, inlined so the report is one file that opens offline. */
function chartJs(): string {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  if (!existsSync(file)) throw new Error(`Chart.js build not found at ${file}`);
  // A `</script>` inside the library would end the inline script early.
  return readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
}

/** A run that did nothing (every level skipped or filtered to no task) says nothing about trends. */
export function isEmptyRun(run: RunRecord): boolean {
  return run.tasks.length === 0 && run.tests.length === 0;
}

export interface ChartData {
  labels: string[];
  levels: { level: string; budgetS: number; seconds: (number | null)[] }[];
  passRate: (number | null)[];
  flakyRate: (number | null)[];
  slowest: { id: string; seconds: number }[];
}

/** Oldest first, one point per run: what the charts draw. */
export function chartData(runsNewestFirst: readonly RunRecord[]): ChartData {
  const runs = [...runsNewestFirst].reverse();
  const labels = runs.map(
    (run) => `${run.startedAt.slice(5, 16).replace('T', ' ')} ${run.command}`,
  );
  const levels = LEVELS.map((level) => ({
    level: level.title,
    budgetS: level.budgetMs / 1000,
    seconds: runs.map((run) => {
      const record = run.levels.find(
        (candidate) => candidate.name === level.name && candidate.status !== 'skipped',
      );
      return record ? Math.round(record.durationMs / 100) / 10 : null;
    }),
  })).filter((level) => level.seconds.some((value) => value !== null));
  // Rolling over the last 10 runs: a single red run should show, not flatten the line to 0 or 1.
  const passRate = runs.map((_, index) => {
    const window = runs.slice(Math.max(0, index - 9), index + 1);
    return (
      Math.round((window.filter((run) => run.exitCode === 0).length / window.length) * 1000) / 10
    );
  });
  const flakyRate = runs.map((run) => {
    const fresh = run.tests.filter((test) => !test.cached && test.state !== 'skipped');
    if (fresh.length === 0) return null;
    return Math.round((fresh.filter((test) => test.flaky).length / fresh.length) * 10000) / 100;
  });
  const slowest = computeTrends(runsNewestFirst).slowest.map((test) => ({
    id: test.id,
    seconds: Math.round(test.medianMs / 10) / 100,
  }));
  return { labels, levels, passRate, flakyRate, slowest };
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

/**
 * The trends page: duration per level over time against its budget, pass rate, flaky rate and
 * the slowest tests as charts, plus the tables of `gate report`.
 */
export function trendsPage(runsNewestFirst: readonly RunRecord[], command?: string): string {
  const runs = runsNewestFirst.filter((run) => !isEmptyRun(run));
  const title = `gate report${command ? `: ${command}` : ''}`;
  const head = `<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1.5em}
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:1em}
figcaption{font-weight:600;margin-bottom:.5em}
canvas{width:100%!important;height:280px!important}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.empty{font-size:1.2em;color:#666}
</style>
<h1>${escapeHtml(title)}</h1>`;
  if (runs.length === 0) {
    return `${head}\n<p class="empty" id="no-runs">No runs yet${command ? ` for "${escapeHtml(command)}"` : ''}: run the gate, then this report.</p>\n</html>\n`;
  }
  const trends = computeTrends(runs);
  const data = chartData(runs);
  const table = (headers: string[], rows: string[][]): string =>
    `<table><tr>${headers.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('')}</tr>${rows
      .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
      .join('')}</table>`;
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `${head}
<p>${runs.length} run(s) · pass rate ${percent(trends.passRate)} · runs with flaky tests ${percent(trends.flakyRunRate)} · retry rate (integration+e2e) ${percent(trends.retryRate)}</p>
<div class="grid">
<figure><figcaption>Duration per level (s) against its budget</figcaption><canvas id="durations"></canvas></figure>
<figure><figcaption>Pass rate (%, last 10 runs)</figcaption><canvas id="pass-rate"></canvas></figure>
<figure><figcaption>Flaky tests (% of fresh tests per run; ADR-002 threshold 2 %)</figcaption><canvas id="flaky-rate"></canvas></figure>
<figure><figcaption>Slowest tests (median s)</figcaption><canvas id="slowest"></canvas></figure>
</div>
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
<h2>Most failing and flaky tests</h2>${
    trends.mostFailing.length === 0
      ? '<p>none</p>'
      : table(
          ['failed', 'flaky', 'runs', 'test'],
          trends.mostFailing.map((test) => [
            String(test.failures),
            String(test.flaky),
            String(test.runs),
            test.id,
          ]),
        )
  }
<script>${chartJs()}</script>
<script>
const data = ${json};
const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const common = { animation: false, responsive: true, maintainAspectRatio: false };
new Chart(document.getElementById('durations'), {
  type: 'line',
  data: {
    labels: data.labels,
    datasets: data.levels.flatMap((level, i) => [
      { label: level.level, data: level.seconds, borderColor: colors[i], backgroundColor: colors[i], spanGaps: true },
      { label: level.level + ' budget', data: data.labels.map(() => level.budgetS), borderColor: colors[i], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
    ]),
  },
  options: { ...common, scales: { y: { type: 'logarithmic', title: { display: true, text: 'seconds (log)' } } } },
});
new Chart(document.getElementById('pass-rate'), {
  type: 'line',
  data: { labels: data.labels, datasets: [{ label: 'pass rate', data: data.passRate, borderColor: '#2ca02c', backgroundColor: '#2ca02c' }] },
  options: { ...common, scales: { y: { min: 0, max: 100 } } },
});
new Chart(document.getElementById('flaky-rate'), {
  type: 'line',
  data: {
    labels: data.labels,
    datasets: [
      { label: 'flaky %', data: data.flakyRate, borderColor: '#d62728', backgroundColor: '#d62728', spanGaps: true },
      { label: '2 % threshold', data: data.labels.map(() => 2), borderColor: '#999', borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
    ],
  },
  options: { ...common, scales: { y: { min: 0 } } },
});
new Chart(document.getElementById('slowest'), {
  type: 'bar',
  data: { labels: data.slowest.map((t) => t.id.split('::').slice(1).join(' › ')), datasets: [{ label: 'median s', data: data.slowest.map((t) => t.seconds), backgroundColor: '#1f77b4' }] },
  options: { ...common, indexAxis: 'y', plugins: { legend: { display: false } }, scales: { y: { ticks: { autoSkip: false, font: { size: 10 } } } } },
});
document.body.dataset.charts = 'ready';
</script>
</html>
`;
}
