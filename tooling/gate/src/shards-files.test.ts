import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LEVELS, type Level } from './levels.js';
import {
  DURATIONS_FILE,
  knownDurations,
  listTestFiles,
  readCommittedDurations,
  shardFor,
  workspaceDirs,
  writeCommittedDurations,
} from './shards.js';

const roots: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const level = (name: string): Level => LEVELS.find((l) => l.name === name)!;

/** A repository with these files (objects are written as JSON). */
function repo(files: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'gate-shards-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(
      join(root, path),
      typeof content === 'string' ? content : JSON.stringify(content),
    );
  }
  return root;
}

const unitPackage = (name: string) => ({ name, scripts: { 'test:unit': 'vitest run' } });

describe('test files of a level', () => {
  const packages = {
    'packages/a/package.json': unitPackage('@t/a'),
    'packages/a/src/y.test.ts': '',
    'packages/a/src/deep/x.test.ts': '',
    'packages/a/src/helper.ts': '',
    'packages/a/src/node_modules/z.test.ts': '',
    'packages/a/src/.hidden/w.test.ts': '',
    'packages/b/package.json': { name: '@t/b', scripts: { lint: 'eslint .' } },
    'packages/b/src/b.test.ts': '',
    'packages/c/src/c.test.ts': '',
    'packages/d/package.json': unitPackage('@t/d'),
    'tools/x/package.json': unitPackage('@t/x'),
    'tools/x/src/t.test.ts': '',
  };
  const expected = [
    { package: '@t/a', dir: 'packages/a', file: 'src/deep/x.test.ts' },
    { package: '@t/a', dir: 'packages/a', file: 'src/y.test.ts' },
    { package: '@t/d', dir: 'packages/d', file: 'src/d.test.ts' },
    { package: '@t/x', dir: 'tools/x', file: 'src/t.test.ts' },
  ];

  it('walks the pnpm workspace packages that have the task, nested, sorted, without node_modules or dot folders', () => {
    const root = repo({
      ...packages,
      'packages/d/src/d.test.ts': '',
      'pnpm-workspace.yaml':
        'packages:\n  - \'packages/*\'\n  - "tools/x"\n  - missing/*\ncatalog:\n  - not/a/package\n',
    });
    expect(listTestFiles(root, level('unit'))).toEqual(expected);
    expect(listTestFiles(root, level('build'))).toEqual([]);
    expect(listTestFiles(root, level('integration'))).toEqual([]);
  });

  it('reads package.json workspaces, as a list or as { packages }, without pnpm-workspace.yaml', () => {
    const files = { ...packages, 'packages/d/src/d.test.ts': '' };
    const list = repo({ ...files, 'package.json': { workspaces: ['packages/*', 'tools/x'] } });
    expect(listTestFiles(list, level('unit'))).toEqual(expected);
    const object = repo({ ...files, 'package.json': { workspaces: { packages: ['tools/*'] } } });
    expect(workspaceDirs(object)).toEqual([join(object, 'tools/x')]);
    expect(workspaceDirs(repo({ 'package.json': {} }))).toEqual([]);
    expect(workspaceDirs(repo({ 'package.json': { workspaces: {} } }))).toEqual([]);
  });
});

describe('committed durations', () => {
  it('are written sorted with a final newline and read back, from GATE_DURATIONS_FILE when set', () => {
    const root = repo({ 'tooling/gate/.keep': '' });
    const file = writeCommittedDurations(
      root,
      new Map([
        ['@t/b::src/b.test.ts', 20],
        ['@t/a::src/a.test.ts', 10],
      ]),
    );
    expect(file).toBe(join(root, DURATIONS_FILE));
    expect(readFileSync(file, 'utf8')).toBe(
      '{\n  "files": {\n    "@t/a::src/a.test.ts": 10,\n    "@t/b::src/b.test.ts": 20\n  }\n}\n',
    );
    expect(readCommittedDurations(root)).toEqual(
      new Map([
        ['@t/a::src/a.test.ts', 10],
        ['@t/b::src/b.test.ts', 20],
      ]),
    );
    vi.stubEnv('GATE_DURATIONS_FILE', 'other.json');
    expect(writeCommittedDurations(root, new Map([['x::y', 1]]))).toBe(join(root, 'other.json'));
    expect(readCommittedDurations(root)).toEqual(new Map([['x::y', 1]]));
  });

  it('ignore a broken file and values that are not numbers', () => {
    expect(readCommittedDurations(repo({ [DURATIONS_FILE]: '{ "files": ' }))).toEqual(new Map());
    expect(
      readCommittedDurations(repo({ [DURATIONS_FILE]: { files: { 'a::b': 5, 'c::d': '7' } } })),
    ).toEqual(new Map([['a::b', 5]]));
    expect(readCommittedDurations(repo({ [DURATIONS_FILE]: {} }))).toEqual(new Map());
  });

  it('say where the plan got its durations', () => {
    const history = {
      '.gate/history/2026-12-01T00-00-00-000Z.json': {
        version: 1,
        tests: [{ package: '@t/a', file: 'src/a.test.ts', state: 'passed', durationMs: 40 }],
      },
    };
    const committed = { [DURATIONS_FILE]: { files: { '@t/a::src/b.test.ts': 7 } } };
    expect(knownDurations(repo({})).source).toBe('no recorded durations: split by count');
    expect(knownDurations(repo(committed)).source).toBe(`durations from ${DURATIONS_FILE}`);
    expect(knownDurations(repo(history)).source).toBe('durations from .gate/history');
    const both = knownDurations(repo({ ...history, ...committed }));
    expect(both.source).toBe(`durations from .gate/history and ${DURATIONS_FILE}`);
    expect(both.durations).toEqual(
      new Map([
        ['@t/a::src/b.test.ts', 7],
        ['@t/a::src/a.test.ts', 40],
      ]),
    );
  });
});

describe('shardFor one level', () => {
  it('plans the level on its own by default', () => {
    const root = repo({
      'pnpm-workspace.yaml': "packages:\n  - 'packages/*'\n",
      'packages/a/package.json': unitPackage('@t/a'),
      'packages/a/src/one.test.ts': '',
      'packages/a/src/two.test.ts': '',
    });
    const first = shardFor(root, level('unit'), { index: 1, total: 2 });
    const second = shardFor(root, level('unit'), { index: 2, total: 2 });
    expect([...first.files, ...second.files].map((f) => f.file).sort()).toEqual([
      'src/one.test.ts',
      'src/two.test.ts',
    ]);
    expect(first).toMatchObject({ totalFiles: 2, packages: ['@t/a'], weightMs: 1 });
    expect(first.source).toBe('no recorded durations: split by count');
  });
});
