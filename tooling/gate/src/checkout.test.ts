import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkoutIndex } from './checkout.js';
import { incrementalTypecheck, withoutGitHookEnv } from './precommit.js';

// Inside the pre-commit hook git exports GIT_INDEX_FILE (and GIT_DIR): the fixture repos' `git init`
// and `git add` would write the committer's index and config (a commit of fixture files, core.bare).
for (const name of Object.keys(process.env)) if (name.startsWith('GIT_')) delete process.env[name];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function repo(files: Record<string, string>): {
  root: string;
  base: string;
  write: (file: string, text: string) => void;
  git: (...args: string[]) => string;
} {
  const root = mkdtempSync(join(tmpdir(), 'gate-checkout-'));
  dirs.push(root);
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: withoutGitHookEnv(process.env),
    });
  for (const [file, text] of Object.entries(files)) write(file, text);
  git('init', '-q');
  git('add', '-A');
  return { root, base: join(root, '.gate', 'precommit'), write, git };
}

// Real git repositories and checkouts: over the unit level's 5 s on a loaded 2-core CI machine.
describe('checkoutIndex', { timeout: 30_000 }, () => {
  it('writes the staged content into the reused tree and links node_modules', () => {
    const { root, base, write, git } = repo({
      'package.json': '{}',
      'pkg/src/a.ts': 'staged\n',
      'node_modules/.keep': '',
    });
    git('rm', '-q', '--cached', 'node_modules/.keep');
    write('pkg/src/a.ts', 'unstaged\n');
    const checkout = checkoutIndex(root, base, ['.', 'pkg']);
    try {
      expect(checkout).toMatchObject({ dir: join(base, 'tree'), reused: true });
      expect(readFileSync(join(checkout.dir, 'pkg/src/a.ts'), 'utf8')).toBe('staged\n');
      expect(readlinkSync(join(checkout.dir, 'node_modules'))).toBe(join(root, 'node_modules'));
      // no node_modules in the working tree's pkg: nothing to link
      expect(existsSync(join(checkout.dir, 'pkg/node_modules'))).toBe(false);
    } finally {
      checkout.release();
    }
    expect(existsSync(checkout.dir)).toBe(true);
  });

  it('leaves nothing behind from an earlier run: files gone from the index, stray output, emptied directories', () => {
    const { root, base, git } = repo({
      'package.json': '{}',
      'pkg/src/a.ts': 'a\n',
      'pkg/src/gone.ts': 'gone\n',
      'old/only.ts': 'old\n',
      'node_modules/.keep': '',
    });
    git('rm', '-q', '--cached', 'node_modules/.keep');
    checkoutIndex(root, base, ['.', 'pkg']).release();
    const tree = join(base, 'tree');
    writeFileSync(join(tree, 'pkg/src/stray.snap'), 'written by a test\n');
    writeFileSync(join(tree, 'pkg/src/a.ts'), 'edited by a tool\n');
    git('rm', '-q', '--cached', 'pkg/src/gone.ts', 'old/only.ts');

    const checkout = checkoutIndex(root, base, ['.', 'pkg']);
    checkout.release();
    expect(checkout.dir).toBe(tree);
    expect(readFileSync(join(tree, 'pkg/src/a.ts'), 'utf8')).toBe('a\n');
    expect(existsSync(join(tree, 'pkg/src/gone.ts'))).toBe(false);
    expect(existsSync(join(tree, 'pkg/src/stray.snap'))).toBe(false);
    expect(existsSync(join(tree, 'old'))).toBe(false);
    expect(lstatSync(join(tree, 'node_modules')).isSymbolicLink()).toBe(true);
  });

  it('uses a throwaway directory while another live precommit holds the tree, and takes over a dead one’s lock', () => {
    const { root, base } = repo({ 'package.json': '{}', 'src/a.ts': 'a\n' });
    const first = checkoutIndex(root, base, ['.']);
    const second = checkoutIndex(root, base, ['.']);
    expect(first.reused).toBe(true);
    expect(second.reused).toBe(false);
    expect(readFileSync(join(second.dir, 'src/a.ts'), 'utf8')).toBe('a\n');
    second.release();
    expect(existsSync(second.dir)).toBe(false);
    first.release();

    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(base, 'lock'), String(dead));
    const third = checkoutIndex(root, base, ['.']);
    third.release();
    expect(third.reused).toBe(true);
    expect(existsSync(join(base, 'lock'))).toBe(false);
  });
});

describe('incrementalTypecheck', () => {
  it('makes a plain tsc incremental and leaves anything else as written', () => {
    expect(incrementalTypecheck('tsc --noEmit -p tsconfig.json', "/s/it's.tsbuildinfo")).toBe(
      `tsc --noEmit -p tsconfig.json --incremental --tsBuildInfoFile '/s/it'\\''s.tsbuildinfo'`,
    );
    expect(incrementalTypecheck('tsc7 --noEmit -p tsconfig.json', '/s/x.tsbuildinfo')).toBe(
      `tsc7 --noEmit -p tsconfig.json --incremental --tsBuildInfoFile '/s/x.tsbuildinfo'`,
    );
    for (const script of [
      'tsc -b',
      'tsc7 -b',
      'tsc8 --noEmit',
      'tsc --noEmit --incremental',
      'tsc --noEmit && node check.js',
      'vue-tsc --noEmit',
      'node -e ""',
    ])
      expect(incrementalTypecheck(script, '/s/x.tsbuildinfo')).toBe(script);
  });
});
