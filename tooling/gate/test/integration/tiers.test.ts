import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, createFixture, lastRun, runGate, type Fixture } from '../fixture.js';

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const created of fixtures.splice(0)) created[Symbol.dispose]();
});

const failing = (name: string, wrap?: string): string =>
  wrap
    ? `import { describe, expect, it } from 'vitest';\ndescribe('${wrap}', () => {\n  it('${name}', () => {\n    expect(500).toBe(200);\n  });\n});\n`
    : `import { expect, it } from 'vitest';\nit('${name}', () => {\n  expect(500).toBe(200);\n});\n`;

describe('release tiers (ADR-002)', () => {
  it('a failing P1 test warns and does not block, --strict blocks on it, [P2] runs only with --p2, a failing P0 test always blocks', async () => {
    const fx = createFixture([
      {
        name: 'core',
        files: {
          'src/soft.test.ts': failing('renders a hint', '[P1] hints'),
          'src/tracked.test.ts': failing('[P2] tracked only'),
        },
      },
      { name: 'hooks', files: { 'src/deliver.test.ts': failing('delivers') } },
    ]);
    fixtures.push(fx);
    fx.write('tiers.json', JSON.stringify({ packages: { '@fx/hooks': 'P1' } }));
    fx.commit('tiers');
    const summaryFile = join(fx.scratch, 'step-summary.md');
    const env = cleanEnv({ GATE_TIERS_FILE: 'tiers.json', GITHUB_STEP_SUMMARY: summaryFile });

    const lenient = await runGate(fx.root, ['run', 'test:unit'], env);
    expect(lenient.code).toBe(0);
    expect(lenient.lastLine).toBe('gate: 2 passed, 0 failed, 2 warned, 1 skipped');
    expect(lenient.output).toContain('WARNINGS (P1, not blocking)');
    expect(lenient.output).toContain('! [P1] @fx/hooks  src/deliver.test.ts:2  delivers');
    expect(lenient.output).toContain(
      '! [P1] @fx/core  src/soft.test.ts:3  [P1] hints > renders a hint',
    );
    expect(lenient.output).toContain(
      'rerun: pnpm --filter @fx/hooks test:unit src/deliver.test.ts:2',
    );
    expect(lenient.output).not.toContain('FAILED TESTS');
    expect(readFileSync(summaryFile, 'utf8')).toContain('WARNINGS (P1, not blocking)');
    const junit = readFileSync(join(fx.root, '.gate/last/junit.xml'), 'utf8');
    expect(junit).toContain(
      '<skipped message="WARNING (P1, not blocking): AssertionError: expected 500 to be 200',
    );
    expect(junit).not.toContain('<failure');
    const record = lastRun(fx.root);
    expect(record.counts).toMatchObject({ failed: 0, warned: 2, skipped: 1 });
    expect(record.tests.find((test) => test.name === 'delivers')).toMatchObject({
      tier: 'P1',
      warned: true,
    });
    expect(record.tests.find((test) => test.name === '[P2] tracked only')).toMatchObject({
      state: 'skipped',
      tier: 'P2',
    });

    const strict = await runGate(fx.root, ['run', 'test:unit', '--strict'], env);
    expect(strict.code).toBe(1);
    expect(strict.lastLine).toBe('gate: 2 passed, 2 failed, 0 warned, 1 skipped');
    expect(strict.output).toContain('FAILED TESTS (2)');

    const withP2 = await runGate(fx.root, ['run', 'test:unit', '--p2'], env);
    expect(withP2.code).toBe(0);
    expect(withP2.lastLine).toBe('gate: 2 passed, 0 failed, 3 warned');
    expect(withP2.output).toContain('WARNINGS (P1/P2, not blocking)');
    expect(withP2.output).toContain('! [P2] @fx/core  src/tracked.test.ts:2  [P2] tracked only');

    fx.write('packages/core/src/index.test.ts', failing('adds'));
    fx.commit('break a P0 test');
    const p0 = await runGate(fx.root, ['run', 'test:unit'], env);
    expect(p0.code).toBe(1);
    expect(p0.lastLine).toBe('gate: 1 passed, 1 failed, 2 warned, 1 skipped');
    expect(p0.output).toContain('✗ @fx/core  src/index.test.ts:2  adds');
  });
});
