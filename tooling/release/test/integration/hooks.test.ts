import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A real clone of this repository with the real hooks installed by `pnpm install` (husky via
// `prepare`), committing with real git. The probe file lives in a leaf package so the hook's
// typecheck stays small.
const repoRoot = join(import.meta.dirname, '../../../..');
const PROBE = 'tooling/release/src/hook-probe.ts';

function hookEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };
  delete env.HUSKY; // CI sets HUSKY=0 to skip hooks; these tests are about the hooks
  delete env.GIT_DIR;
  delete env.GIT_INDEX_FILE;
  return env;
}

let clone: string;
const git = (...args: string[]): string =>
  execFileSync('git', args, {
    cwd: clone,
    encoding: 'utf8',
    env: hookEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
const commit = (message: string) => {
  const r = spawnSync('git', ['commit', '-m', message], {
    cwd: clone,
    encoding: 'utf8',
    env: hookEnv(),
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
};
const read = (file: string) => readFileSync(join(clone, file), 'utf8');
const write = (file: string, text: string) => writeFileSync(join(clone, file), text);

afterAll(() => {
  if (clone) rmSync(dirname(clone), { recursive: true, force: true });
});

beforeAll(() => {
  clone = join(mkdtempSync(join(tmpdir(), 'hooks-')), 'repo');
  execFileSync('git', ['clone', '-q', repoRoot, clone]);
  git('config', 'user.name', 'Hook Test');
  git('config', 'user.email', 'hooks@example.test');
  execFileSync('pnpm', ['install', '--offline', '--frozen-lockfile'], {
    cwd: clone,
    env: hookEnv(),
    stdio: 'pipe',
  });
  expect(git('config', '--get', 'core.hooksPath')).toBe('.husky/_');
  write(PROBE, 'export function double(n: number): number {\n  return n * 2;\n}\n');
  git('add', PROBE);
  // The probe is setup, not a case: committed without the hook (a whole hook run, about 5 s);
  // the cases below each go through it, a passing one included.
  git('commit', '-q', '--no-verify', '-m', 'test: add probe');
}, 120_000);

// Each hook run costs about 4.5 CPU-s (lint-staged's prettier and oxlint, then `gate
// precommit`), so each case commits once and checks everything that commit shows: a passing
// commit (formatted, unstaged hunk kept aside) and a failing one (type error, both hunks kept).
describe('pre-commit hook', () => {
  const formatted =
    'export function double(n: number): number {\n  return n * 2;\n}\nexport function triple(n: number): number {\n  return n * 3;\n}\n';
  const note = '// unstaged note\n';

  it('formats badly formatted staged code and accepts the commit, keeping the unstaged hunk of the partially staged file aside', () => {
    // Staged: a sloppily formatted function appended; unstaged on top of that: a note at the top.
    const staged = `${read(PROBE)}export   function triple( n:number ):number{ return n*3 }\n`;
    write(PROBE, staged);
    git('add', PROBE);
    write(PROBE, `${note}${staged}`);

    const { code, out } = commit('feat: triple, sloppily formatted');
    expect(out).not.toContain('✗');
    expect(code).toBe(0);
    expect(git('show', `HEAD:${PROBE}`)).toBe(formatted.trimEnd());
    // The formatting reached the working tree as well; the note is still there and still unstaged.
    expect(read(PROBE)).toBe(`${note}${formatted}`);
    expect(git('diff', '--cached', '--name-only')).toBe('');
    expect(git('diff', '--', PROBE)).toContain('+// unstaged note');
  }, 120_000);

  it('rejects a commit that introduces a type error, and leaves the staged and the unstaged hunk as they were', () => {
    const head = git('rev-parse', 'HEAD');
    const stagedBroken = `${formatted}export const one: number = 'one';\n`;
    write(PROBE, stagedBroken);
    git('add', PROBE);
    const brokenWithUnstaged = `${note}${stagedBroken}`;
    write(PROBE, brokenWithUnstaged);

    const { code, out } = commit('feat: break types');
    expect(code).not.toBe(0);
    expect(out).toContain('@jobgate/release#typecheck');
    expect(out).toMatch(/TS2322|not assignable to type 'number'/);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(read(PROBE)).toBe(brokenWithUnstaged);
    expect(git('diff', '--cached', '--', PROBE)).toContain("+export const one: number = 'one';");
    expect(git('diff', '--', PROBE)).toContain('+// unstaged note');
  }, 120_000);
});
