import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from './record.js';
import { closingLine, junit, problemsText } from './report.js';
import type { TestRecord } from './results.js';
import {
  blocks,
  isBlockingFailure,
  judgeTest,
  loadTiers,
  packageTier,
  parseTiers,
  TierDeclarationError,
  testTier,
} from './tiers.js';

function failed(name: string, overrides: Partial<TestRecord> = {}): TestRecord {
  return {
    id: `@jobgate/webhook-service::test/integration/deliver.test.ts::${name}`,
    package: '@jobgate/webhook-service',
    level: 'integration',
    taskId: '@jobgate/webhook-service#test:integration',
    file: 'test/integration/deliver.test.ts',
    line: 7,
    name,
    state: 'failed',
    retries: 0,
    flaky: false,
    quarantined: false,
    durationMs: 5,
    errors: ['AssertionError: expected 500 to be 200'],
    cached: false,
    rerun:
      'pnpm --filter @jobgate/webhook-service test:integration test/integration/deliver.test.ts:7',
    ...overrides,
  };
}

describe('tiers', () => {
  it('reads package tiers from one file, P0 when not listed, and names every invalid entry', () => {
    const tiers = parseTiers({ packages: { '@x/hooks': 'P1', '@x/old': 'P2' } }, 'tiers.json');
    expect(packageTier(tiers, '@x/hooks')).toBe('P1');
    expect(packageTier(tiers, '@x/api')).toBe('P0');
    expect(() => parseTiers({ packages: { '@x/a': 'p1', '@x/b': 1 } }, 'tiers.json')).toThrow(
      new TierDeclarationError(
        'tiers.json is invalid: packages.@x/a: must be one of P0, P1, P2, not "p1"; packages.@x/b: must be one of P0, P1, P2, not 1',
      ),
    );
    expect(() => parseTiers({ packages: [] }, 'tiers.json')).toThrow(TierDeclarationError);
  });

  it('lets a [P0]/[P1]/[P2] tag in a test or describe name override the package tier, innermost wins', () => {
    expect(testTier('deliver > retries', 'P0')).toBe('P0');
    expect(testTier('deliver > retries', 'P1')).toBe('P1');
    expect(testTier('deliver [P1] > retries', 'P0')).toBe('P1');
    expect(testTier('deliver [P1] > retries [P0]', 'P1')).toBe('P0');
    expect(testTier('deliver > a [P2] tracked case', 'P0')).toBe('P2');
    expect(testTier('deliver > [P3] is no tier', 'P0')).toBe('P0');
  });

  it('blocks on P0 always and on P1/P2 only with --strict', () => {
    expect(blocks('P0', false)).toBe(true);
    expect(blocks('P1', false)).toBe(false);
    expect(blocks('P2', false)).toBe(false);
    expect(blocks('P1', true)).toBe(true);
  });

  it('judges a failed P1 test as a warning, and as blocking with --strict; quarantine still wins', () => {
    const test = failed('deliver > retries');
    judgeTest(test, 'P1', new Set(), false);
    expect([test.tier, test.warned, isBlockingFailure(test)]).toEqual(['P1', true, false]);
    judgeTest(test, 'P1', new Set(), true);
    expect([test.warned, isBlockingFailure(test)]).toEqual([false, true]);
    judgeTest(test, 'P1', new Set([test.id]), true);
    expect([test.quarantined, isBlockingFailure(test)]).toEqual([true, false]);
    const p0 = failed('deliver [P0] > signs');
    judgeTest(p0, 'P1', new Set(), false);
    expect(isBlockingFailure(p0)).toBe(true);
  });

  it('this repository declares the webhook service and telemetry collector P1 (ADR-002) and the core path P0', () => {
    // Through git, not a relative path: mutation testing runs this file from a sandbox copy.
    const root = execFileSync('git', ['rev-parse', '--show-toplevel'], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    }).trim();
    const tiers = loadTiers(root);
    for (const name of ['@jobgate/core', '@jobgate/api', '@jobgate/worker', '@jobgate/e2e'])
      expect(packageTier(tiers, name)).toBe('P0');
    for (const name of ['@jobgate/webhook-service', '@jobgate/telemetry-collector'])
      expect(packageTier(tiers, name)).toBe('P1');
  });

  it('reports a P1 failure under WARNINGS with its rerun command, in the last line, and as a non-failure in JUnit', () => {
    const warned = failed('deliver > retries', { tier: 'P1', warned: true });
    const record = {
      version: 1,
      id: 'r',
      command: 'release',
      startedAt: '2026-12-02T10:00:00.000Z',
      durationMs: 1000,
      totalBudgetMs: 600_000,
      exitCode: 0,
      affected: false,
      notes: [],
      levels: [],
      tasks: [],
      tests: [warned],
      proposals: [],
      counts: { passed: 0, failed: 0, skipped: 0, flaky: 0, quarantined: 0, warned: 1 },
    } satisfies RunRecord;
    const text = problemsText(record);
    expect(text).toContain('WARNINGS (P1, not blocking)');
    expect(text).toContain(
      '! [P1] @jobgate/webhook-service  test/integration/deliver.test.ts:7  deliver > retries',
    );
    expect(text).toContain(`rerun: ${warned.rerun}`);
    expect(text).not.toContain('FAILED TESTS');
    expect(closingLine(record)).toBe('gate: 0 passed, 0 failed, 1 warned');
    const xml = junit(record);
    expect(xml).toContain('failures="0"');
    expect(xml).toContain(
      '<skipped message="WARNING (P1, not blocking): AssertionError: expected 500 to be 200"/>',
    );
    expect(xml).not.toContain('<failure');
  });
});
