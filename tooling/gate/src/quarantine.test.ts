import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  loadQuarantine,
  proposeReleases,
  QUARANTINE_FILE,
  QuarantineFileError,
  quarantinePath,
  RELEASE_AFTER_RUNS,
} from './quarantine.js';
import type { RunRecord } from './record.js';
import type { TestRecord } from './results.js';

const ID = '@jobgate/core::test/integration/lease.test.ts::lease > expires';

const roots: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A repository root whose quarantine file holds `content` (written as is when a string). */
function repo(content: unknown): string {
  const root = mkdtempSync(join(tmpdir(), 'gate-quarantine-'));
  roots.push(root);
  mkdirSync(join(root, 'tooling/gate'), { recursive: true });
  writeFileSync(
    join(root, QUARANTINE_FILE),
    typeof content === 'string' ? content : JSON.stringify(content),
  );
  return root;
}

describe('loadQuarantine', () => {
  it('returns valid entries as written, an issue link included', () => {
    const entries = [
      { id: ID, reason: 'races the lease clock', date: '2026-11-01' },
      { id: 'a::b::c', reason: 'x', date: '2026-12-02', issue: '#12' },
    ];
    expect(loadQuarantine(repo({ tests: entries }))).toEqual(entries);
  });

  it('names every invalid field of every entry, and nothing of a valid one', () => {
    const root = repo({
      tests: [
        { id: 'no-separators', reason: '  ', date: '2026-1-1', issue: 12 },
        null,
        { id: ID, reason: 'fine', date: '2026-11-01' },
      ],
    });
    let message = '';
    try {
      loadQuarantine(root);
    } catch (error) {
      expect(error).toBeInstanceOf(QuarantineFileError);
      expect((error as Error).name).toBe('QuarantineFileError');
      message = (error as Error).message;
    }
    expect(message).toBe(
      `${join(root, QUARANTINE_FILE)} is invalid: ` +
        [
          'tests.0.id: id must be "<package>::<file>::<full test name>"',
          'tests.0.reason: reason must say why the test is quarantined',
          'tests.0.date: date must be YYYY-MM-DD',
          'tests.0.issue: must be a string',
          'tests.1.id: id must be "<package>::<file>::<full test name>"',
          'tests.1.reason: reason must say why the test is quarantined',
          'tests.1.date: date must be YYYY-MM-DD',
        ].join('; '),
    );
  });

  it('needs three non-empty parts in an id and a full date', () => {
    for (const id of ['a::b', '::b::c', 'a::b::', 42])
      expect(
        () => loadQuarantine(repo({ tests: [{ id, reason: 'r', date: '2026-11-01' }] })),
        String(id),
      ).toThrow('tests.0.id');
    for (const date of ['2026-11-01T00:00', 'x2026-11-01', 20261101])
      expect(
        () => loadQuarantine(repo({ tests: [{ id: ID, reason: 'r', date }] })),
        String(date),
      ).toThrow('tests.0.date');
    expect(() =>
      loadQuarantine(repo({ tests: [{ id: ID, reason: 7, date: '2026-11-01' }] })),
    ).toThrow('tests.0.reason');
  });

  it('refuses a file whose tests are not a list, or that is not JSON', () => {
    for (const content of [{}, { tests: {} }, null])
      expect(() => loadQuarantine(repo(content))).toThrow(
        'is invalid: tests: must be an array of entries',
      );
    const root = repo('{ "tests": [');
    expect(() => loadQuarantine(root)).toThrow(QuarantineFileError);
    expect(() => loadQuarantine(root)).toThrow(
      `${join(root, QUARANTINE_FILE)} is not valid JSON: `,
    );
  });

  it('reads GATE_QUARANTINE_FILE instead when set', () => {
    const root = repo({ tests: [] });
    writeFileSync(
      join(root, 'other.json'),
      JSON.stringify({ tests: [{ id: ID, reason: 'r', date: '2026-11-01' }] }),
    );
    vi.stubEnv('GATE_QUARANTINE_FILE', 'other.json');
    expect(quarantinePath(root)).toBe(join(root, 'other.json'));
    expect(loadQuarantine(root)).toHaveLength(1);
  });
});

function run(result: Partial<TestRecord> | undefined): RunRecord {
  const tests = result
    ? [{ id: ID, state: 'passed', retries: 0, cached: false, ...result } as TestRecord]
    : [];
  return { tests } as unknown as RunRecord;
}

describe('proposeReleases', () => {
  const entry = { id: ID, reason: 'races the lease clock', date: '2026-11-01' };

  it('counts a streak of at most 20, skipping runs without the test', () => {
    const runs = [
      run({}),
      run(undefined),
      ...Array.from({ length: RELEASE_AFTER_RUNS + 5 }, () => run({})),
    ];
    expect(proposeReleases([entry], runs)).toEqual([{ id: ID, passesInARow: 20 }]);
  });

  it('stops the streak at the newest failure or skip', () => {
    const clean = Array.from({ length: RELEASE_AFTER_RUNS }, () => run({}));
    expect(proposeReleases([entry], [run({ state: 'failed' }), ...clean])).toEqual([]);
    expect(proposeReleases([entry], [run({ state: 'skipped' }), ...clean])).toEqual([]);
    expect(proposeReleases([entry], [...clean.slice(0, 19), run({ state: 'failed' })])).toEqual([]);
    expect(proposeReleases([entry, { ...entry, id: 'other::x::y' }], clean)).toEqual([
      { id: ID, passesInARow: 20 },
    ]);
  });
});
