import { describe, expect, it } from 'vitest';
import type { LevelRecord } from './record.js';
import { bailLine, failureBlocks, skippedLine, taskFailureText } from './report.js';
import type { TestRecord } from './results.js';

function test(name: string, overrides: Partial<TestRecord> = {}): TestRecord {
  return {
    id: `@jobgate/core::src/claim.test.ts::${name}`,
    package: '@jobgate/core',
    level: 'unit',
    taskId: '@jobgate/core#test:unit',
    file: 'src/claim.test.ts',
    line: 12,
    name,
    state: 'failed',
    retries: 0,
    flaky: false,
    quarantined: false,
    durationMs: 3,
    errors: ['AssertionError: expected 2 to be 1\n    at src/claim.test.ts:13:5'],
    cached: false,
    rerun: 'pnpm --filter @jobgate/core test:unit src/claim.test.ts:12',
    ...overrides,
  };
}

const taskId = '@jobgate/core#test:unit';

describe('taskFailureText (printed the moment a task fails)', () => {
  it('names each failed test as file:line > describe > test, with the first error line and its rerun', () => {
    expect(
      taskFailureText({
        taskId,
        tests: [test('claim > hands a job out once'), test('claim > passes', { state: 'passed' })],
        tail: [],
        blocking: true,
      }),
    ).toEqual([
      '  ✗ @jobgate/core#test:unit: 1 failed test',
      '    ✗ src/claim.test.ts:12 > claim > hands a job out once',
      '        AssertionError: expected 2 to be 1',
      '        rerun: pnpm --filter @jobgate/core test:unit src/claim.test.ts:12',
    ]);
  });

  it('counts failures at a non-blocking tier, leaves quarantined ones to the closing list, caps the list and long errors', () => {
    const text = taskFailureText({
      taskId,
      tests: [
        test('[P1] stats', { warned: true, tier: 'P1' }),
        test('known', { quarantined: true }),
        test('long', { errors: [`Error: ${'x'.repeat(300)}`] }),
        ...Array.from({ length: 10 }, (_, i) => test(`t${i}`)),
      ],
      tail: [],
      blocking: true,
    });
    expect(text[0]).toBe('  ✗ @jobgate/core#test:unit: 11 failed tests (and 1 not blocking)');
    expect(text[1]).toBe('    ✗ src/claim.test.ts:12 > long');
    expect(text[2]).toBe(`        Error: ${'x'.repeat(193)}…`);
    expect(text.join('\n')).not.toContain('known');
    expect(text.join('\n')).not.toContain('stats');
    expect(text.at(-1)).toBe('    … 1 more in the list at the end');
    expect(
      taskFailureText({
        taskId,
        tests: [test('known', { quarantined: true })],
        tail: [],
        blocking: true,
      }),
    ).toEqual([]);
    expect(
      taskFailureText({
        taskId,
        tests: [
          test('[P1] a', { warned: true, tier: 'P1' }),
          test('[P1] b', { warned: true, tier: 'P1' }),
        ],
        tail: [],
        blocking: false,
      }),
    ).toEqual([
      '  ! @jobgate/core#test:unit: 2 failed tests at P1, not blocking (listed at the end)',
    ]);
  });

  it('shows the last output of a task that failed without a failed test', () => {
    const tail = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const text = taskFailureText({
      taskId: '@jobgate/core#typecheck',
      tail,
      problems: ['Unhandled rejection: boom\n    at x'],
      blocking: true,
    });
    expect(text[0]).toBe('  ✗ @jobgate/core#typecheck failed; last output:');
    expect(text[1]).toBe('      | line 5');
    expect(text).toContain('      Unhandled rejection: boom /     at x');
    expect(text.at(-1)).toBe('      rerun: pnpm --filter @jobgate/core typecheck');
  });
});

function level(name: LevelRecord['name'], status: LevelRecord['status']): LevelRecord {
  return {
    name,
    title: name,
    tasks: [],
    status,
    durationMs: 0,
    budgetMs: 1,
    timeoutMs: 1,
    overBudget: false,
    taskCount: 0,
    cachedCount: 0,
  };
}

describe('skippedLine', () => {
  it('names the skipped levels, the level that stopped the run and --keep-going', () => {
    expect(
      skippedLine([
        level('unit', 'failed'),
        level('integration', 'skipped'),
        level('e2e', 'skipped'),
      ]),
    ).toBe('○ skipped integration, e2e after unit failed: --keep-going runs them');
    expect(skippedLine([level('build', 'infra'), level('unit', 'skipped')])).toBe(
      '○ skipped unit after build failed: --keep-going runs it',
    );
    expect(skippedLine([level('unit', 'passed')])).toBeUndefined();
  });
});

describe('the bail', () => {
  it('stops on a blocking failed test or a crash in a blocking tier, never on quarantined or P1 failures', () => {
    expect(failureBlocks({ tests: [test('a', { tier: 'P0' })], blocking: true })).toBe(true);
    expect(
      failureBlocks({ tests: [test('a', { tier: 'P1', warned: true })], blocking: false }),
    ).toBe(false);
    expect(failureBlocks({ tests: [test('a', { quarantined: true })], blocking: true })).toBe(
      false,
    );
    // A crash: no failed test, the package's tier decides.
    expect(failureBlocks({ tests: [test('a', { state: 'passed' })], blocking: true })).toBe(true);
    expect(failureBlocks({ tests: undefined, blocking: true })).toBe(true);
    expect(failureBlocks({ tests: undefined, blocking: false })).toBe(false);
  });

  it('says what it stopped, after which failure, and how to run everything', () => {
    const level = (bail?: LevelRecord['bail']): LevelRecord => ({
      name: 'integration',
      title: 'integration',
      tasks: ['test:integration'],
      status: 'failed',
      durationMs: 1,
      budgetMs: 1,
      timeoutMs: 1,
      overBudget: false,
      taskCount: 3,
      cachedCount: 0,
      ...(bail ? { bail } : {}),
    });
    expect(bailLine(level(), '--keep-going runs everything')).toBeUndefined();
    expect(
      bailLine(
        level({
          by: '@jobgate/core#test:integration',
          stopped: ['@jobgate/release#test:integration', '@jobgate/gate#test:integration'],
        }),
        '--keep-going runs everything',
      ),
    ).toBe(
      '○ stopped (bail) @jobgate/release#test:integration, @jobgate/gate#test:integration after @jobgate/core#test:integration failed: --keep-going runs everything',
    );
    expect(bailLine(level({ by: '@jobgate/core#test:integration', stopped: [] }), 'x')).toBe(
      '○ stopped the level (bail) after @jobgate/core#test:integration failed: x',
    );
  });
});
