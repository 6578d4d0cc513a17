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

describe('pre-commit hook', () => {
  it('rejects a commit that introduces a type error, and leaves the tree as it was', () => {
    const head = git('rev-parse', 'HEAD');
    const broken = 'export function double(n: number): number {\n  return `${n}`;\n}\n';
    write(PROBE, broken);
    git('add', PROBE);
    const { code, out } = commit('feat: break types');
    expect(code).not.toBe(0);
    expect(out).toContain('@jobgate/release#typecheck');
    expect(out).toMatch(/TS2322|not assignable to type 'number'/);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(read(PROBE)).toBe(broken);
    git('checkout', 'HEAD', '--', PROBE);
  }, 120_000);

  it('formats badly formatted code and accepts the commit', () => {
    write(PROBE, `${read(PROBE)}export   function triple( n:number ):number{ return n*3 }\n`);
    git('add', PROBE);
    const { code, out } = commit('feat: triple, sloppily formatted');
    expect(out).not.toContain('✗');
    expect(code).toBe(0);
    expect(git('show', `HEAD:${PROBE}`)).toBe(
      'export function double(n: number): number {\n  return n * 2;\n}\nexport function triple(n: number): number {\n  return n * 3;\n}',
    );
    expect(git('status', '--porcelain')).toBe('');
  }, 120_000);

  it('keeps the unstaged hunk of a partially staged file, after a passing and after a failing hook', () => {
    const base = read(PROBE);
    const lines = base.split('\n');
    // Stage a new function at the top; leave an unstaged comment at the bottom.
    const staged = `export const one = 1;\n\n${base}`;
    write(PROBE, staged);
    git('add', PROBE);
    const withUnstaged = `${staged}// unstaged note\n`;
    write(PROBE, withUnstaged);
    expect(lines.length).toBeGreaterThan(2);

    const pass = commit('feat: add one');
    expect(pass.code).toBe(0);
    expect(git('show', `HEAD:${PROBE}`)).not.toContain('unstaged note');
    expect(read(PROBE)).toBe(withUnstaged);
    expect(git('diff', '--', PROBE)).toContain('+// unstaged note');

    // Now stage a type error while the same unstaged hunk stays aside.
    const stagedBroken = staged.replace(
      'export const one = 1;',
      "export const one: number = 'one';",
    );
    write(PROBE, stagedBroken);
    git('add', PROBE);
    const brokenWithUnstaged = `${stagedBroken}// unstaged note\n`;
    write(PROBE, brokenWithUnstaged);
    const head = git('rev-parse', 'HEAD');
    const fail = commit('feat: break one');
    expect(fail.code).not.toBe(0);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(read(PROBE)).toBe(brokenWithUnstaged);
    expect(git('diff', '--cached', '--', PROBE)).toContain("+export const one: number = 'one';");
    expect(git('diff', '--', PROBE)).toContain('+// unstaged note');
  }, 180_000);
});
