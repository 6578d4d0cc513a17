import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestRecord } from './results.js';
import { judgeTest, loadTiers, parseTiers, TIERS_FILE, tiersPath } from './tiers.js';

const roots: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function repo(content?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'gate-tiers-'));
  roots.push(root);
  if (content !== undefined) {
    mkdirSync(join(root, 'tooling/gate'), { recursive: true });
    writeFileSync(join(root, TIERS_FILE), content);
  }
  return root;
}

describe('the tiers file', () => {
  it('is optional: every package is P0 without it', () => {
    expect(loadTiers(repo())).toEqual(new Map());
  });

  it('is read from tooling/gate/tiers.json, or GATE_TIERS_FILE', () => {
    const root = repo(JSON.stringify({ packages: { '@x/hooks': 'P1' } }));
    expect(loadTiers(root)).toEqual(new Map([['@x/hooks', 'P1']]));
    writeFileSync(join(root, 'other.json'), JSON.stringify({ packages: { '@x/old': 'P2' } }));
    vi.stubEnv('GATE_TIERS_FILE', 'other.json');
    expect(tiersPath(root)).toBe(join(root, 'other.json'));
    expect(loadTiers(root)).toEqual(new Map([['@x/old', 'P2']]));
  });

  it('stops the gate when it is not JSON or has no packages object, naming the file', () => {
    const root = repo('{ "packages": ');
    expect(() => loadTiers(root)).toThrow(`${join(root, TIERS_FILE)} is not valid JSON: `);
    for (const raw of [null, {}, { packages: null }, { packages: 'P1' }, { packages: ['P1'] }])
      expect(() => parseTiers(raw, 'tiers.json'), JSON.stringify(raw)).toThrow(
        'tiers.json: packages must be an object of "<package>": "P0|P1|P2"',
      );
  });
});

describe('judgeTest of a test that did not fail', () => {
  it('is never a warning, at any tier', () => {
    for (const state of ['passed', 'skipped'] as const) {
      const test = { id: 'a::b::c', name: 'c [P1]', state } as TestRecord;
      judgeTest(test, 'P0', new Set(), false);
      expect([test.tier, test.warned, test.quarantined]).toEqual(['P1', false, false]);
    }
  });
});
