#!/usr/bin/env node
// `pnpm release [--staging] [--dry-run]`: the only way a `v` tag is cut.
// Refuses a dirty tree or a wrong branch, runs the full gate, applies `changeset version`, commits,
// tags and pushes commit and tag together. A gate failure leaves no commit and no tag.
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $, argv } from 'zx';

$.verbose = false;
const dryRun = Boolean(argv['dry-run']);
const staging = Boolean(argv.staging);
const branch = String(argv.branch ?? process.env.JOBGATE_RELEASE_BRANCH ?? 'main');
const remote = String(argv.remote ?? 'origin');
const gateCommand = process.env.JOBGATE_RELEASE_GATE ?? 'pnpm gate release';

const step = (text) => console.log(`release: ${dryRun ? '[dry-run] ' : ''}${text}`);
const refuse = (text) => {
  console.error(`release: refused: ${text}`);
  process.exit(1);
};

const BUMPS = ['none', 'patch', 'minor', 'major'];
export function nextVersion(current, bump) {
  const [major, minor, patch] = current.split('.').map(Number);
  if (bump === 'major') return `${major + 1}.0.0`;
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  if (bump === 'patch') return `${major}.${minor}.${patch + 1}`;
  throw new Error(`unknown bump ${bump}`);
}

async function main() {
  const root = (await $`git rev-parse --show-toplevel`).stdout.trim();
  $.cwd = root;

  const dirty = (await $`git status --porcelain`).stdout.trim();
  if (dirty) refuse(`the working tree is not clean; commit or stash first:\n${dirty}`);
  const current = (await $`git rev-parse --abbrev-ref HEAD`).stdout.trim();
  if (current !== branch) refuse(`releases are cut from '${branch}', this is '${current}'`);

  step(`fetching ${remote}/${branch}`);
  await $`git fetch --quiet --tags ${remote} ${branch}`;
  const behind = Number((await $`git rev-list --count HEAD..${remote}/${branch}`).stdout.trim());
  if (behind > 0)
    refuse(`'${branch}' is ${behind} commit(s) behind ${remote}/${branch}; pull first`);

  // The workspace's own changesets binary, not `pnpm exec`, which may touch the lockfile.
  const changeset = join(root, 'node_modules/.bin/changeset');
  const statusFile = join(tmpdir(), `changeset-status-${process.pid}.json`);
  // `changeset status` exits 1 when there are no changesets; the empty list says the same.
  await $`${changeset} status --output=${statusFile}`.nothrow();
  let status = { releases: [], changesets: [] };
  try {
    status = JSON.parse(readFileSync(statusFile, 'utf8'));
  } catch {
    // no file: no changesets
  } finally {
    rmSync(statusFile, { force: true });
  }
  if (status.changesets.length === 0)
    refuse('no pending changesets: nothing to release (add one with `pnpm changeset`)');
  const bump = status.releases.reduce(
    (max, r) => (BUMPS.indexOf(r.type) > BUMPS.indexOf(max) ? r.type : max),
    'patch',
  );
  const rootPkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const version = nextVersion(rootPkg.version, bump);
  const tag = `v${version}${staging ? '-staging' : ''}`;
  const existing = (await $`git tag --list ${tag}`).stdout.trim();
  if (existing) refuse(`tag ${tag} already exists`);
  step(
    `${status.changesets.length} changeset(s), ${status.releases.length} package(s); ${rootPkg.version} -> ${version} (${bump}), tag ${tag}`,
  );

  step(`running the gate: ${gateCommand}`);
  if (!dryRun) {
    const gate = await $({ stdio: 'inherit' })`sh -c ${gateCommand}`.nothrow();
    if (gate.exitCode !== 0) {
      console.error(
        `release: the gate failed (exit ${gate.exitCode}): no version commit, no tag, nothing pushed`,
      );
      process.exit(1);
    }
  }

  step('applying changeset version');
  if (!dryRun) {
    await $`${changeset} version`;
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    pkg.version = version;
    writeFileSync('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
  }
  step(`committing "chore(release): ${tag}"`);
  if (!dryRun) {
    await $`git add -A`;
    await $`git commit --quiet --no-verify -m ${`chore(release): ${tag}`}`;
  }
  step(`tagging ${tag}`);
  if (!dryRun) await $`git tag -a ${tag} -m ${`Release ${tag}`}`;
  step(`pushing ${branch} and ${tag} to ${remote} (atomically)`);
  if (!dryRun) await $`git push --quiet --atomic ${remote} ${branch} refs/tags/${tag}`;
  step(dryRun ? 'nothing was changed' : `released ${tag}: the release workflow takes it from here`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(`release: failed: ${error.stderr || error.message}`);
    process.exit(1);
  });
}
