import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';

const repoRoot = join(import.meta.dirname, '../../../..');
const releaseScript = join(repoRoot, 'tooling/release/src/release.mjs');
const deployScript = join(repoRoot, 'tooling/release/src/deploy.mjs');

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/**
 * A small monorepo with one pending changeset, cloned from a local bare remote. Its "gate" is a
 * real test run (node's test runner) that fails when the file `BROKEN` exists. Removed when the
 * test ends (the test's own `onTestFinished`: the tests run concurrently).
 */
function fixture(onTestFinished: TestContext['onTestFinished']): { work: string; remote: string } {
  const base = mkdtempSync(join(tmpdir(), 'release-'));
  onTestFinished(() => rmSync(base, { recursive: true, force: true }));
  const remote = join(base, 'remote.git');
  const seed = join(base, 'seed');
  git(base, 'init', '-q', '--bare', '-b', 'main', remote);
  mkdirSync(join(seed, 'pkgs/a'), { recursive: true });
  mkdirSync(join(seed, '.changeset'));
  const files: Record<string, string> = {
    'package.json':
      JSON.stringify({ name: 'fixture', private: true, version: '1.0.0' }, null, 2) + '\n',
    'pnpm-workspace.yaml': 'packages:\n  - pkgs/*\n',
    '.gitignore': 'node_modules\n',
    'pkgs/a/package.json':
      JSON.stringify({ name: '@fx/a', version: '1.0.0', private: true }, null, 2) + '\n',
    '.changeset/config.json': JSON.stringify({
      changelog: false,
      commit: false,
      access: 'restricted',
      baseBranch: 'main',
      updateInternalDependencies: 'patch',
      privatePackages: { version: true, tag: false },
      ignore: [],
    }),
    '.changeset/add-feature.md': '---\n"@fx/a": minor\n---\n\nA feature.\n',
    'gate.test.mjs': [
      "import { test } from 'node:test';",
      "import { existsSync } from 'node:fs';",
      "import assert from 'node:assert';",
      "test('the product works', () => assert.equal(existsSync('BROKEN'), false, 'the product is broken'));",
    ].join('\n'),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(seed, name), text);
  git(base, 'init', '-q', '-b', 'main', seed);
  git(seed, 'add', '-A');
  git(seed, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init');
  git(seed, 'remote', 'add', 'origin', remote);
  git(seed, 'push', '-q', 'origin', 'main');
  const work = join(base, 'work');
  git(base, 'clone', '-q', remote, work);
  git(work, 'config', 'user.name', 'Release Bot');
  git(work, 'config', 'user.email', 'release@example.test');
  symlinkSync(join(repoRoot, 'node_modules'), join(work, 'node_modules'));
  return { work, remote };
}

// A release alone takes a few seconds; in a soak's integration level (ten packages' suites at
// once on two cores, load 10-20) some took over two minutes. Killed inside the case's bound, so a
// release that hangs fails its case with the steps it printed and when.
const RELEASE_TIMEOUT_MS = 240_000;

/**
 * Runs `pnpm release` in `work` without blocking, so the cases of a file overlap. Its output comes
 * back with each line's time since the start (`+12.3s release: running the gate`), for the
 * assertion messages.
 */
function release(
  work: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [releaseScript, ...args], {
      cwd: work,
      env: { ...process.env, JOBGATE_RELEASE_GATE: 'node --test gate.test.mjs', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const stamp = (chunk: Buffer): void => {
      const at = `+${((Date.now() - started) / 1000).toFixed(1)}s`;
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') lines.push(`${at} ${line}`);
    };
    child.stdout.on('data', stamp);
    child.stderr.on('data', stamp);
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, RELEASE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killed)
        lines.push(`release: killed after ${RELEASE_TIMEOUT_MS / 1000} s without finishing`);
      resolve({ code: killed ? null : code, out: lines.join('\n') });
    });
  });
}

const remoteTags = (remote: string): string[] =>
  git(remote, 'tag', '--list').split('\n').filter(Boolean);

// Each case spawns git a dozen times, node's test runner and changesets; while the integration
// level runs every package's suite at once on two cores, one case took over 30 s (the preset's
// default), so these get a budget that fits their real cost under load. Each case has its own
// fixture and remote, so they run concurrently (all six at once, vitest.integration.config.ts).
describe.concurrent('pnpm release', { timeout: 300_000 }, () => {
  it('a failing gate leaves no version commit and no tag, locally or on the remote', async ({
    onTestFinished,
  }) => {
    const { work, remote } = fixture(onTestFinished);
    writeFileSync(join(work, 'BROKEN'), '');
    git(work, 'add', 'BROKEN');
    git(work, 'commit', '-qm', 'break it');
    git(work, 'push', '-q', 'origin', 'main');
    const remoteHead = git(remote, 'rev-parse', 'main');
    const localHead = git(work, 'rev-parse', 'HEAD');

    const { code, out } = await release(work);
    expect(code, out).toBe(1);
    expect(out).toContain('the gate failed');
    expect(remoteTags(remote)).toEqual([]);
    expect(git(remote, 'rev-parse', 'main')).toBe(remoteHead);
    expect(git(work, 'rev-parse', 'HEAD')).toBe(localHead);
    expect(git(work, 'tag', '--list')).toBe('');
    expect(existsSync(join(work, '.changeset/add-feature.md'))).toBe(true);
  });

  it('a passing run pushes exactly one version commit and one v tag', async ({
    onTestFinished,
  }) => {
    const { work, remote } = fixture(onTestFinished);
    const before = git(remote, 'rev-parse', 'main');

    const { code, out } = await release(work);
    expect(out).toContain('1.0.0 -> 1.1.0 (minor), tag v1.1.0');
    expect(code, out).toBe(0);
    expect(remoteTags(remote)).toEqual(['v1.1.0']);
    expect(git(remote, 'rev-list', '--count', `${before}..main`)).toBe('1');
    expect(git(remote, 'log', '-1', '--format=%s', 'main')).toBe('chore(release): v1.1.0');
    expect(git(remote, 'rev-parse', 'v1.1.0^{commit}')).toBe(git(remote, 'rev-parse', 'main'));
    // changeset version consumed the changeset and bumped the package and the repo version
    expect(git(remote, 'show', 'main:pkgs/a/package.json')).toContain('"version": "1.1.0"');
    expect(git(remote, 'show', 'main:package.json')).toContain('"version": "1.1.0"');
    expect(git(remote, 'ls-tree', '--name-only', 'main', '.changeset/')).not.toContain(
      'add-feature.md',
    );
  });

  it('--staging cuts a -staging tag', async ({ onTestFinished }) => {
    const { work, remote } = fixture(onTestFinished);
    const { code, out } = await release(work, ['--staging']);
    expect(code, out).toBe(0);
    expect(remoteTags(remote)).toEqual(['v1.1.0-staging']);
  });

  it('--dry-run prints every step and changes nothing', async ({ onTestFinished }) => {
    const { work, remote } = fixture(onTestFinished);
    const head = git(work, 'rev-parse', 'HEAD');
    const { code, out } = await release(work, ['--dry-run']);
    expect(code, out).toBe(0);
    for (const stepText of [
      'running the gate',
      'applying changeset version',
      'committing',
      'tagging v1.1.0',
      'pushing main and v1.1.0',
      'nothing was changed',
    ]) {
      expect(out).toContain(stepText);
    }
    expect(git(work, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(work, 'status', '--porcelain')).toBe('');
    expect(remoteTags(remote)).toEqual([]);
    expect(readFileSync(join(work, 'package.json'), 'utf8')).toContain('"version": "1.0.0"');
  });

  it('refuses a dirty tree and a wrong branch before running anything', async ({
    onTestFinished,
  }) => {
    const { work, remote } = fixture(onTestFinished);
    writeFileSync(join(work, 'scratch.txt'), 'wip');
    const dirty = await release(work);
    expect(dirty.code).toBe(1);
    expect(dirty.out).toContain('refused: the working tree is not clean');
    expect(dirty.out).not.toContain('running the gate');

    git(work, 'checkout', '-q', '-b', 'feature');
    git(work, 'add', 'scratch.txt');
    git(work, 'commit', '-qm', 'wip');
    const wrong = await release(work);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain("refused: releases are cut from 'main', this is 'feature'");
    expect(remoteTags(remote)).toEqual([]);
  });

  it('refuses when there is nothing to release', async ({ onTestFinished }) => {
    const { work } = fixture(onTestFinished);
    git(work, 'rm', '-q', '.changeset/add-feature.md');
    git(work, 'commit', '-qm', 'no changesets');
    const { code, out } = await release(work);
    expect(code, out).toBe(1);
    expect(out).toContain('no pending changesets');
  });
});

describe('deploy (dry run)', () => {
  const deploy = (tag: string) =>
    spawnSync(process.execPath, [deployScript, '--tag', tag, '--dry-run'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, RAILWAY_TOKEN: '' },
    });

  it('names the production Railway services for vX.Y.Z', () => {
    const r = deploy('v1.4.0');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('deploy: v1.4.0 -> production (dry run)');
    expect(r.stdout).toContain('railway up --ci --service q-job-api --environment production');
    expect(r.stdout).not.toContain('stg.');
  });

  it('names the staging services for vX.Y.Z-staging', () => {
    const r = deploy('v1.4.0-staging');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('railway up --ci --service stg.q-job-api --environment staging');
    expect(r.stdout).not.toMatch(/--service q-/);
  });

  it('refuses a tag that is not a release tag, and a real deploy without a token', () => {
    expect(deploy('v1.4').stderr).toContain("'v1.4' is not a release tag");
    const real = spawnSync(process.execPath, [deployScript, '--tag', 'v1.4.0'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, RAILWAY_TOKEN: '' },
    });
    expect(real.status).toBe(1);
    expect(real.stderr).toContain('RAILWAY_TOKEN is not set');
  });
});
