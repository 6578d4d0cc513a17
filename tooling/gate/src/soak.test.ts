import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import type { LevelRecord, LevelStatus, RunRecord, TaskRecord } from './record.js';
import type { TestRecord } from './results.js';
import { soakLevels, soakSummary } from './soak.js';
import { computeTrends } from './trends.js';

const result = (id: string, overrides: Partial<TestRecord> = {}): TestRecord =>
  ({
    id,
    level: 'integration',
    state: 'passed',
    flaky: false,
    retries: 0,
    cached: false,
    ...overrides,
  }) as TestRecord;
const run = (
  tests: TestRecord[],
  status: LevelStatus = 'passed',
  extra: Partial<RunRecord> & { message?: string; taskStatus?: TaskRecord['status'] } = {},
): RunRecord => {
  const { message, taskStatus, ...rest } = extra;
  return {
    command: 'soak',
    exitCode: status === 'passed' ? 0 : 1,
    levels: [
      { name: 'integration', title: 'integration', status, durationMs: 1000, message },
    ] as LevelRecord[],
    tasks: taskStatus
      ? ([
          { taskId: 'a#test:integration', level: 'integration', status: taskStatus },
        ] as TaskRecord[])
      : [],
    tests,
    ...rest,
  } as RunRecord;
};

describe('soak', () => {
  it('rates each test by failures and retried passes over fresh runs, and flags those above 2 %', () => {
    const runs = Array.from({ length: 20 }, (_, i) =>
      run([
        result('steady'),
        result('retried', i === 4 ? { flaky: true, retries: 1 } : {}),
        result('replayed', { cached: true, state: 'failed' }),
      ]),
    );
    const { tests, aboveThreshold } = soakSummary(runs);
    expect(tests.map((test) => [test.id, test.runs, test.rate])).toEqual([
      ['retried', 20, 0.05],
      ['steady', 20, 0],
    ]);
    expect(aboveThreshold.map((test) => test.id)).toEqual(['retried']);
    expect(tests[0]!.retries).toBe(1);
  });

  it('leaves aborted runs (interrupted, services or turbo failed to start) out of the rates and reports them apart', () => {
    const complete = Array.from({ length: 18 }, () => run([result('steady')]));
    const runs = [
      ...complete,
      // Ctrl-C mid-level: the test that was running reads as failed, but nothing was judged.
      run([result('steady', { state: 'failed' })], 'cancelled', {
        exitCode: 130,
        taskStatus: 'failed',
      }),
      // Redis never answered: no task ran.
      run([], 'infra', { message: 'Redis did not answer PING within 10 s' }),
      // Turbo could not start (or died before any task finished).
      run([], 'failed', { message: 'turbo exited by signal: could not start turbo' }),
      run([result('steady', { state: 'failed' })], 'failed', { taskStatus: 'cancelled' }),
    ];
    const { tests, aboveThreshold } = soakSummary(runs);
    expect(tests).toEqual([{ id: 'steady', runs: 18, failures: 0, flaky: 0, retries: 0, rate: 0 }]);
    expect(aboveThreshold).toEqual([]);
    const [level] = soakLevels(runs, ['integration'], ['run 23: failed to start: bad quarantine']);
    expect(level).toMatchObject({ name: 'integration', runs: 18, failedRuns: 0, tests: 1 });
    expect(level!.aborted).toEqual([
      'soak: integration interrupted',
      'soak: integration failed to start: Redis did not answer PING within 10 s',
      'soak: integration failed to start: turbo exited by signal: could not start turbo',
      'soak: integration failed to start: turbo stopped before any task finished',
      'run 23: failed to start: bad quarantine',
    ]);
    // The report's pass rate does not count them either.
    expect(computeTrends(runs).passRate).toBe(1);
  });

  it('counts a real failure, a failed task and a level timeout as failed runs, not as aborted', () => {
    const runs = [
      run([result('steady'), result('broken', { state: 'failed' })], 'failed', {
        taskStatus: 'failed',
      }),
      run([result('steady')], 'failed', { taskStatus: 'failed' }),
      run([result('steady')], 'timed-out', { taskStatus: 'timed-out' }),
      run([result('steady'), result('broken')]),
    ];
    const [level] = soakLevels(runs, ['integration']);
    expect(level).toMatchObject({ runs: 4, failedRuns: 3, aborted: [] });
    const { aboveThreshold } = soakSummary(runs);
    expect(aboveThreshold.map((test) => [test.id, test.runs, test.rate])).toEqual([
      ['broken', 2, 0.5],
    ]);
  });

  it('parses soak and mutation options', () => {
    expect(parseArgs(['soak', '--runs', '5', '--levels', 'integration,e2e'])).toMatchObject({
      command: 'soak',
      count: 5,
      levels: ['integration', 'e2e'],
    });
    expect(parseArgs(['mutation', 'core'])).toMatchObject({
      command: 'mutation',
      inputs: ['core'],
    });
    expect(() => parseArgs(['soak', '--runs', '0'])).toThrow('--runs must be a whole number');
  });
});
