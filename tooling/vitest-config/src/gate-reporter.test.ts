import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import GateReporter from './gate-reporter.js';

function testCase(
  name: string,
  state: string,
  retryCount: number,
  errors: { message: string; stack?: string }[] = [],
  duration = 12.4,
) {
  return {
    fullName: name,
    location: { line: 7, column: 3 },
    result: () => ({ state, errors }),
    diagnostic: () => ({ retryCount, flaky: state === 'passed' && retryCount > 0, duration }),
  };
}

describe('gate reporter', () => {
  it('records retries, flaky status, file:line and package-relative error frames for the gate', () => {
    const root = mkdtempSync(join(tmpdir(), 'gate-reporter-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const reporter = new GateReporter({
      outputFile: '.test-results/integration/gate.json',
      slowTestMs: 10_000,
    });
    reporter.onInit({ config: { root } } as never);
    const stack = `Error: read ECONNRESET\n    at ${root}/test/integration/claim.test.ts:9:11\n    at node_modules/vitest/dist/runner.js:1:1`;
    const module = {
      moduleId: join(root, 'test/integration/claim.test.ts'),
      errors: () => [],
      children: {
        allTests: () => [
          testCase('claim > survives a reset', 'passed', 1, [
            { message: 'read ECONNRESET', stack },
          ]),
          testCase('claim > is exclusive', 'failed', 0, [{ message: 'expected 2 to be 1' }]),
          testCase('claim > drains 5,000 jobs', 'passed', 0, [], 10_000.6),
        ],
      },
    };
    reporter.onTestRunEnd([module] as never, [], 'failed');

    const written = JSON.parse(
      readFileSync(join(root, '.test-results/integration/gate.json'), 'utf8'),
    );
    expect(written.tests).toEqual([
      {
        file: 'test/integration/claim.test.ts',
        line: 7,
        column: 3,
        name: 'claim > survives a reset',
        state: 'passed',
        retries: 1,
        flaky: true,
        durationMs: 12,
        slow: false,
        errors: ['read ECONNRESET\n    at test/integration/claim.test.ts:9:11'],
      },
      {
        file: 'test/integration/claim.test.ts',
        line: 7,
        column: 3,
        name: 'claim > is exclusive',
        state: 'failed',
        retries: 0,
        flaky: false,
        durationMs: 12,
        slow: false,
        errors: ['expected 2 to be 1'],
      },
      {
        file: 'test/integration/claim.test.ts',
        line: 7,
        column: 3,
        name: 'claim > drains 5,000 jobs',
        state: 'passed',
        retries: 0,
        flaky: false,
        durationMs: 10_001,
        slow: true,
        errors: [],
      },
    ]);
    expect(written.slowTestMs).toBe(10_000);
  });
});
