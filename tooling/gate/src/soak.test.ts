import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import type { RunRecord } from './record.js';
import type { TestRecord } from './results.js';
import { soakSummary } from './soak.js';

const result = (id: string, overrides: Partial<TestRecord> = {}): TestRecord =>
  ({ id, state: 'passed', flaky: false, retries: 0, cached: false, ...overrides }) as TestRecord;
const run = (tests: TestRecord[]): RunRecord => ({ tests }) as RunRecord;

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
