import type { RunRecord } from './record.js';
import type { TestRecord } from './results.js';

/** More lines than this and the report says how many more, slowest first. */
const SHOWN = 10;

function seconds(ms: number): string {
  return `${(ms / 1_000).toFixed(1)}s`;
}

/** Tests that ran longer than their level's per-test budget (the preset's `slowMs`), slowest first. */
export function slowTests(run: RunRecord): TestRecord[] {
  return run.tests
    .filter(
      (test) =>
        test.state !== 'skipped' && test.slowMs !== undefined && test.durationMs > test.slowMs,
    )
    .sort((a, b) => b.durationMs - a.durationMs);
}

/**
 * The SLOW section of the report: a passing test that takes minutes is not blocking, but it is not
 * left unnoticed either (a slow test is usually a bounded wait sized too generously, or a test at
 * the wrong level).
 */
export function slowTestsText(run: RunRecord): string[] {
  const slow = slowTests(run);
  if (slow.length === 0) return [];
  const out = [`SLOW (${slow.length} over their level's per-test budget; not blocking)`];
  for (const test of slow.slice(0, SHOWN)) {
    out.push(
      `  ! ${test.package}  ${test.file}${test.line ? `:${test.line}` : ''}  ${test.name}  ${seconds(test.durationMs)} (${test.level} budget ${seconds(test.slowMs!)}${test.cached ? ', cached result' : ''})`,
    );
  }
  if (slow.length > SHOWN) out.push(`  ... and ${slow.length - SHOWN} more in .gate/last/run.json`);
  return out;
}
