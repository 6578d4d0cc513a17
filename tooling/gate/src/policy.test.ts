import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadQuarantine,
  proposeReleases,
  QuarantineFileError,
  RELEASE_AFTER_RUNS,
} from './quarantine.js';
import type { RunRecord } from './record.js';
import { closingLine, junit, markdown } from './report.js';
import type { TestRecord } from './results.js';
import { computeTrends } from './trends.js';

const ID = '@jobgate/core::test/integration/lease.test.ts::lease > expires';

function test(overrides: Partial<TestRecord> = {}): TestRecord {
  return {
    id: ID,
    package: '@jobgate/core',
    level: 'integration',
    taskId: '@jobgate/core#test:integration',
    file: 'test/integration/lease.test.ts',
    line: 12,
    name: 'lease > expires',
    state: 'passed',
    retries: 0,
    flaky: false,
    quarantined: false,
    durationMs: 40,
    errors: [],
    cached: false,
    rerun: 'pnpm --filter @jobgate/core test:integration test/integration/lease.test.ts:12',
    ...overrides,
  };
}

function run(tests: TestRecord[], overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    version: 1,
    id: 'r',
    command: 'release',
    startedAt: '2026-11-25T10:00:00.000Z',
    durationMs: 1000,
    totalBudgetMs: 35 * 60_000,
    exitCode: 0,
    affected: false,
    notes: [],
    levels: [
      {
        name: 'integration',
        title: 'integration',
        tasks: ['test:integration'],
        status: 'passed',
        durationMs: 1000,
        budgetMs: 600_000,
        timeoutMs: 1_200_000,
        overBudget: false,
        taskCount: 1,
        cachedCount: 0,
      },
    ],
    tasks: [],
    tests,
    proposals: [],
    counts: {
      passed: tests.filter((t) => t.state === 'passed').length,
      failed: tests.filter((t) => t.state === 'failed').length,
      skipped: 0,
      flaky: 0,
      quarantined: 0,
    },
    ...overrides,
  };
}

describe('quarantine', () => {
  it('proposes release after 20 fresh clean passes in a row, not before, and not on cache replays or retried passes', () => {
    const entry = { id: ID, reason: 'races the lease clock', date: '2026-11-01' };
    const clean = Array.from({ length: RELEASE_AFTER_RUNS }, () => run([test()]));
    expect(proposeReleases([entry], clean)).toEqual([{ id: ID, passesInARow: 20 }]);
    expect(proposeReleases([entry], clean.slice(1))).toEqual([]);
    const replays = Array.from({ length: 25 }, () => run([test({ cached: true })]));
    expect(proposeReleases([entry], replays)).toEqual([]);
    const retried = [...clean.slice(0, 10), run([test({ retries: 1, flaky: true })]), ...clean];
    expect(proposeReleases([entry], retried)).toEqual([]);
  });

  const roots: string[] = [];
  const tempRoot = (): string => {
    const root = mkdtempSync(join(tmpdir(), 'gate-q-'));
    roots.push(root);
    return root;
  };
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('refuses an entry without a reason or date, naming the file and the field', () => {
    const root = tempRoot();
    mkdirSync(join(root, 'tooling/gate'), { recursive: true });
    writeFileSync(
      join(root, 'tooling/gate/quarantine.json'),
      JSON.stringify({ tests: [{ id: ID, reason: '', date: 'yesterday' }] }),
    );
    expect(() => loadQuarantine(root)).toThrow(QuarantineFileError);
    expect(() => loadQuarantine(root)).toThrow(
      /quarantine\.json is invalid: tests\.0\.reason: reason must say why.*tests\.0\.date: date must be YYYY-MM-DD/,
    );
  });

  it('treats a missing quarantine file as an empty list', () => {
    expect(loadQuarantine(tempRoot())).toEqual([]);
  });
});

describe('reports', () => {
  it('ends with the counts line, warned always, skipped only when there are any', () => {
    expect(closingLine(run([test()]))).toBe('gate: 1 passed, 0 failed, 0 warned');
    expect(
      closingLine(
        run([], { counts: { passed: 3, failed: 2, skipped: 1, flaky: 0, quarantined: 0 } }),
      ),
    ).toBe('gate: 3 passed, 2 failed, 0 warned, 1 skipped');
  });

  it('writes JUnit with escaped text, the rerun command on failures, and quarantined failures as skipped', () => {
    const failing = test({
      state: 'failed',
      errors: ['expected <a> & "b"'],
      name: 'lease > expires <fast>',
    });
    const quarantined = test({ state: 'failed', quarantined: true, id: 'q', name: 'q' });
    const xml = junit(run([failing, quarantined]));
    expect(xml).toContain('name="lease &gt; expires &lt;fast&gt;"');
    expect(xml).toContain('<failure message="expected &lt;a&gt; &amp; &quot;b&quot;">');
    expect(xml).toContain(
      'rerun: pnpm --filter @jobgate/core test:integration test/integration/lease.test.ts:12',
    );
    expect(xml).toContain('<skipped message="quarantined"/>');
    expect(xml).toMatch(/<testsuites [^>]*tests="2" failures="1"/);
  });

  it('renders Markdown with the level table and the failures', () => {
    const md = markdown(run([test({ state: 'failed', errors: ['boom'] })], { exitCode: 1 }));
    expect(md).toContain('## gate release: ❌ failed');
    expect(md).toContain('| integration | 1 | 0 | 0 | 1 | 0 | 0 | 1.0s | 10m00s | passed |');
    expect(md).toContain('rerun: pnpm --filter @jobgate/core');
  });

  it("adds a level's own report (the chaos table) below the level table", () => {
    const base = run([]);
    const md = markdown({
      ...base,
      levels: [
        { ...base.levels[0]!, report: '| scenario | lost |\n|---|---:|\n| worker kills | 0 |' },
      ],
    });
    expect(md.indexOf('| worker kills | 0 |')).toBeGreaterThan(md.indexOf('| integration |'));
  });
});

describe('trends', () => {
  it('computes pass, flaky and retry rates from fresh results and ranks the most failing tests', () => {
    const runs = [
      run([test({ retries: 1, flaky: true })]),
      run([test({ state: 'failed' })], { exitCode: 1 }),
      run([test()]),
      run([test({ cached: true, state: 'failed' })]),
    ];
    const trends = computeTrends(runs);
    expect(trends.runs).toBe(4);
    expect(trends.passRate).toBe(0.75);
    expect(trends.flakyRunRate).toBe(0.25);
    expect(trends.retryRate).toBeCloseTo(1 / 3);
    expect(trends.mostFailing).toEqual([{ id: ID, failures: 1, flaky: 1, runs: 3 }]);
  });
});
