import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chaosConfig } from './config.js';

const resultsDir = fileURLToPath(new URL('../.test-results/chaos', import.meta.url));
const figuresDir = join(resultsDir, 'scenarios');

/** One scenario's figures: a line on stdout and a row of the level's table. */
export interface Figures {
  /** Orders the table rows. */
  order: number;
  scenario: string;
  jobs: number;
  /** What was injected, e.g. `9 SIGKILL`. */
  faults: string;
  completedOnce: number;
  duplicated: number;
  lost: number;
  timeMs: number;
  /** Scenario-specific figures (p99, 503s with a job id, requests, probes). */
  notes?: string;
  passed: boolean;
}

export function figuresLine(f: Figures): string {
  return (
    `chaos ${f.scenario}: jobs=${f.jobs} faults="${f.faults}" completed_once=${f.completedOnce} ` +
    `duplicated=${f.duplicated} lost=${f.lost} time=${(f.timeMs / 1000).toFixed(1)}s` +
    `${f.notes ? ` ${f.notes}` : ''} ${f.passed ? 'OK' : 'FAILED'}`
  );
}

/** Prints the scenario's line and files its row for the table (written after the run). */
export function record(f: Figures): void {
  mkdirSync(figuresDir, { recursive: true });
  writeFileSync(join(figuresDir, `${String(f.order).padStart(2, '0')}.json`), JSON.stringify(f));
  process.stdout.write(`${figuresLine(f)}\n`);
}

export function clearFigures(): void {
  rmSync(figuresDir, { recursive: true, force: true });
  rmSync(join(resultsDir, 'table.md'), { force: true });
}

/** `.test-results/chaos/table.md`: the gate copies it to `.gate/last/chaos.md` and the summary. */
export function writeTable(): string {
  let files: string[];
  try {
    files = readdirSync(figuresDir).sort();
  } catch {
    files = [];
  }
  const rows = files.map(
    (file) => JSON.parse(readFileSync(join(figuresDir, file), 'utf8')) as Figures,
  );
  const out = [
    `### chaos (seed ${chaosConfig.seed}, scale ${chaosConfig.scale})`,
    '',
    '| scenario | jobs | faults injected | completed once | duplicated | lost | time | notes |',
    '|---|---:|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.passed ? '' : '❌ '}${r.scenario} | ${r.jobs} | ${r.faults} | ${r.completedOnce} | ${r.duplicated} | ${r.lost} | ${(r.timeMs / 1000).toFixed(1)} s | ${(r.notes ?? '').replace(/\|/g, '/')} |`,
    ),
  ];
  if (rows.length === 0) out.push('| (no scenario finished) | | | | | | | |');
  const text = `${out.join('\n')}\n`;
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'table.md'), text);
  return text;
}
