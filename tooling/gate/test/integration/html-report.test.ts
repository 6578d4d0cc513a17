import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM_TEST_ARGS } from '@jobgate/testkit';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/record.js';
import type { TestRecord } from '../../src/results.js';
import { cleanEnv, createFixture, runGate, type Fixture } from '../fixture.js';

/** The part of a DOM canvas the check uses (this package compiles without the DOM types). */
interface Canvas {
  id: string;
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const created of fixtures.splice(0)) created[Symbol.dispose]();
});

function test(name: string, durationMs: number, flaky = false): TestRecord {
  return {
    id: `@jobgate/core::test/integration/${name}.test.ts::${name}`,
    package: '@jobgate/core',
    level: 'integration',
    taskId: '@jobgate/core#test:integration',
    file: `test/integration/${name}.test.ts`,
    name,
    state: 'passed',
    retries: flaky ? 1 : 0,
    flaky,
    quarantined: false,
    durationMs,
    errors: [],
    cached: false,
    rerun: `pnpm --filter @jobgate/core test:integration test/integration/${name}.test.ts`,
  };
}

function run(index: number, command: string, exitCode: number, empty = false): RunRecord {
  const startedAt = new Date(Date.UTC(2026, 11, 1, 10, index)).toISOString();
  const level = (name: 'unit' | 'integration', durationMs: number) => ({
    name,
    title: name,
    tasks: [`test:${name}`],
    status: 'passed' as const,
    durationMs,
    budgetMs: name === 'unit' ? 300_000 : 600_000,
    timeoutMs: 1_200_000,
    overBudget: false,
    taskCount: 1,
    cachedCount: 0,
  });
  return {
    version: 1,
    id: `r${index}`,
    command,
    startedAt,
    durationMs: 60_000,
    totalBudgetMs: 900_000,
    exitCode,
    affected: false,
    notes: [],
    levels: empty
      ? []
      : [level('unit', 8_000 + index * 100), level('integration', 40_000 + index * 1_000)],
    tasks: empty
      ? []
      : [
          {
            taskId: '@jobgate/core#test:integration',
            package: '@jobgate/core',
            task: 'test:integration',
            level: 'integration',
            cached: false,
            status: 'passed',
            exitCode: 0,
            durationMs: 40_000,
          },
        ],
    tests: empty
      ? []
      : [test('claim', 1_200 + index), test('lease', 3_400), test('reap', 800, index === 3)],
    proposals: [],
    counts: {
      passed: 3,
      failed: exitCode,
      skipped: 0,
      flaky: index === 3 ? 1 : 0,
      quarantined: 0,
      warned: 0,
    },
  };
}

describe('gate report --html', () => {
  it('draws duration, pass rate, flaky rate and slowest-test charts in headless Chromium, and says "no runs yet" when there are none', async () => {
    const fx = createFixture([]);
    fixtures.push(fx);
    const history = join(fx.root, '.gate/history');
    mkdirSync(history, { recursive: true });
    const runs = [
      ...Array.from({ length: 6 }, (_, i) => run(i, 'release', i === 2 ? 1 : 0)),
      run(7, 'precommit', 0),
      run(8, 'release', 0, true),
    ];
    for (const record of runs)
      writeFileSync(
        join(history, `${record.startedAt.replace(/[:.]/g, '-')}-${record.id}.json`),
        JSON.stringify(record),
      );
    const page = join(fx.scratch, 'report.html');
    const result = await runGate(
      fx.root,
      ['report', '--html', page, '--command', 'release'],
      cleanEnv(),
    );
    expect(result.code).toBe(0);
    expect(result.output).toContain('gate report: 6 recorded run(s)');
    const none = join(fx.scratch, 'none.html');
    const empty = await runGate(
      fx.root,
      ['report', '--html', none, '--command', 'nightly'],
      cleanEnv(),
    );
    expect(empty.output).toContain('gate report: no runs yet for "nightly"');

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [...CHROMIUM_TEST_ARGS],
    });
    try {
      const tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      await tab.goto(`file://${page}`);
      await tab.waitForSelector('body[data-charts="ready"]', { timeout: 10_000 });
      expect(errors).toEqual([]);
      expect(await tab.textContent('body')).toContain('6 run(s) · pass rate 83.3%');
      // Every chart drew something: some pixels of each canvas are not transparent.
      const painted = await tab.$$eval('canvas', (canvases) =>
        canvases.map((element) => {
          const canvas = element as unknown as Canvas;
          const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          let count = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) count++;
          return { id: canvas.id, painted: count };
        }),
      );
      expect(painted.map((chart) => chart.id)).toEqual([
        'durations',
        'pass-rate',
        'flaky-rate',
        'slowest',
      ]);
      for (const chart of painted) expect(chart.painted, chart.id).toBeGreaterThan(1_000);
      // Kept as an artifact (CI uploads .test-results/).
      mkdirSync('.test-results/integration', { recursive: true });
      await tab.screenshot({ path: '.test-results/integration/gate-report.png', fullPage: true });

      await tab.goto(`file://${none}`);
      expect(await tab.textContent('#no-runs')).toContain('No runs yet for "nightly"');
      expect(await tab.$$('canvas')).toHaveLength(0);
    } finally {
      await browser.close();
    }
  });
});
