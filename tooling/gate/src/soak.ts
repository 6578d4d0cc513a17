import type { Options } from './args.js';
import { runGate } from './gate.js';
import { LEVELS } from './levels.js';
import type { RunRecord } from './record.js';
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

/** Per test over the soak's runs: failures and retried passes both count against it. */
export function soakSummary(runs: readonly RunRecord[]): {
  tests: SoakTest[];
  aboveThreshold: SoakTest[];
} {
  const byId = new Map<string, SoakTest>();
  for (const run of runs) {
    for (const test of run.tests) {
      if (test.cached || test.state === 'skipped') continue;
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
  const previous = process.env.TURBO_FORCE;
  process.env.TURBO_FORCE = 'true';
  try {
    for (let index = 1; index <= total && !signal.aborted; index++) {
      console.log(`\n=== soak run ${index}/${total}: ${names.join(', ')} ===`);
      records.push(
        await runGate({
          root,
          label: `soak ${index}/${total}`,
          levels,
          options: { ...options, keepGoing: true },
          signal,
        }),
      );
    }
  } finally {
    if (previous === undefined) delete process.env.TURBO_FORCE;
    else process.env.TURBO_FORCE = previous;
  }
  const { tests, aboveThreshold } = soakSummary(records);
  console.log(`\nSOAK: ${records.length} run(s) of ${names.join(', ')}, cache bypassed`);
  for (const name of names) {
    const times = records.flatMap((run) =>
      run.levels.filter((level) => level.name === name).map((level) => level.durationMs),
    );
    const failedRuns = records.filter((run) =>
      run.tests.some((test) => test.level === name && test.state === 'failed'),
    ).length;
    const levelTests = new Set(
      records.flatMap((run) => run.tests.filter((t) => t.level === name).map((t) => t.id)),
    );
    console.log(
      `  ${name.padEnd(12)} runs ${times.length}, runs with a failed test ${failedRuns}, tests ${levelTests.size}, time median ${formatDuration([...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? 0)}, total ${formatDuration(times.reduce((a, b) => a + b, 0))}`,
    );
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
  console.log(
    `soak: ${records.length} runs, ${tests.length} tests, ${aboveThreshold.length} flaky`,
  );
  return aboveThreshold.length > 0 ? 1 : 0;
}
