import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutGitHookEnv } from '../src/precommit.js';
import type { RunRecord } from '../src/record.js';

/** This workspace: its node_modules give fixtures the real turbo and vitest, no install. */
export const WORKSPACE = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const GATE_BIN = join(WORKSPACE, 'tooling/gate/bin/gate.mjs');
const PRESETS = join(WORKSPACE, 'tooling/vitest-config/src');

export interface FixturePackage {
  name: string;
  dependsOn?: string[];
  /** Extra or replaced package.json scripts. */
  scripts?: Record<string, string>;
  /** Files relative to the package directory. */
  files?: Record<string, string>;
  /**
   * `false`: no default unit test and no `test:unit` script, so turbo has no unit task for the
   * package and no vitest starts for it (about 1 CPU-s per run: pnpm, vitest). For cases about
   * another level.
   */
  unit?: false;
}

export interface Fixture {
  root: string;
  /** A scratch directory outside the repo for test state (flaky counters, markers). */
  scratch: string;
  write(file: string, content: string): void;
  commit(message: string): void;
  git(...args: string[]): string;
  [Symbol.dispose](): void;
}

/** The pnpm this workspace pins (`pnpm@12.4.2`), pinned by the fixtures as well. */
const PACKAGE_MANAGER = (
  JSON.parse(readFileSync(join(WORKSPACE, 'package.json'), 'utf8')) as { packageManager: string }
).packageManager;

const PASSING_UNIT = `import { expect, it } from 'vitest';\nit('adds', () => {\n  expect(1 + 1).toBe(2);\n});\n`;

/**
 * A committed monorepo in a temp dir (Turbo hashes with git only once there is a commit) whose
 * packages use the real vitest presets by absolute path.
 */
export interface FixtureOptions {
  /**
   * `false`: the root turbo.json without a `check` task (a repository that has only `typecheck`
   * and `lint`), so `gate release` and `gate pr` run those two instead.
   */
  check?: false;
}

export function createFixture(packages: FixturePackage[], options: FixtureOptions = {}): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'gate-fixture-'));
  const scratch = mkdtempSync(join(tmpdir(), 'gate-scratch-'));
  const write = (file: string, content: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), content);
  };
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: withoutGitHookEnv(process.env),
    }).trim();
  symlinkSync(join(WORKSPACE, 'node_modules'), join(root, 'node_modules'));
  // pnpm runs the fixtures' scripts, as this repository's (about 0.1 CPU-s a script; npm took 0.4),
  // with two settings that keep it from writing anything: by default pnpm 12 installs before
  // running a script when it finds node_modules out of date (here it would install into the
  // shared node_modules) and records its own version in a pnpm-lock.yaml it creates (a file in
  // the fixture that would change every hash).
  write(
    'package.json',
    JSON.stringify({
      name: 'fixture',
      private: true,
      type: 'module',
      packageManager: PACKAGE_MANAGER,
    }),
  );
  write(
    'pnpm-workspace.yaml',
    'packages:\n  - packages/*\nverifyDepsBeforeRun: false\npmOnFail: ignore\n',
  );
  const turbo = JSON.parse(readFileSync(join(WORKSPACE, 'turbo.json'), 'utf8')) as {
    tasks: Record<string, unknown>;
  };
  if (options.check === false) delete turbo.tasks.check;
  write('turbo.json', JSON.stringify(turbo, null, 2));
  write('.gitignore', 'node_modules\n.turbo\n.test-results\n.gate\n');
  for (const pkg of packages) {
    const dir = `packages/${pkg.name}`;
    write(
      `${dir}/package.json`,
      JSON.stringify({
        name: `@fx/${pkg.name}`,
        private: true,
        type: 'module',
        scripts: {
          typecheck: 'node -e ""',
          lint: 'node -e ""',
          check: 'node -e ""',
          ...(pkg.unit === false ? {} : { 'test:unit': 'vitest run -c vitest.unit.config.ts' }),
          'test:integration': 'vitest run -c vitest.integration.config.ts',
          ...pkg.scripts,
        },
        dependencies: Object.fromEntries(
          (pkg.dependsOn ?? []).map((dep) => [`@fx/${dep}`, 'workspace:*']),
        ),
      }),
    );
    write(
      `${dir}/vitest.unit.config.ts`,
      `export { unitConfig as default } from '${PRESETS}/unit.js';\n`,
    );
    write(
      `${dir}/vitest.integration.config.ts`,
      `export { integrationConfig as default } from '${PRESETS}/integration.js';\n`,
    );
    const files = {
      ...(pkg.unit === false ? {} : { 'src/index.test.ts': PASSING_UNIT }),
      ...pkg.files,
    };
    for (const [file, content] of Object.entries(files)) write(`${dir}/${file}`, content);
  }
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'gate@example.test');
  git('config', 'user.name', 'gate test');
  git('config', 'commit.gpgsign', 'false');
  const commit = (message: string): void => {
    git('add', '-A');
    git('commit', '-q', '--no-verify', '-m', message);
  };
  commit('fixture');
  return {
    root,
    scratch,
    write,
    commit,
    git,
    [Symbol.dispose]: () => {
      rmSync(root, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * The environment a developer's shell would have: nothing inherited from an outer gate or turbo
 * run (this suite itself runs under the gate), so the gate under test starts its own services.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(TURBO_|REDIS_URL$|JOBGATE_|GATE_|GITHUB_|VITEST|CI$|GIT_(DIR|INDEX_FILE|WORK_TREE)$)/.test(
        key,
      )
    )
      continue;
    env[key] = value;
  }
  return { ...env, TURBO_TELEMETRY_DISABLED: '1', GATE_HEARTBEAT_MS: '600000', ...extra };
}

export interface GateResult {
  code: number | null;
  output: string;
  lastLine: string;
}

export function startGate(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
): { child: ChildProcess; done: Promise<GateResult> } {
  const child = spawn(process.execPath, [GATE_BIN, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<GateResult>((resolvePromise) => {
    child.once('close', (code) => {
      const lines = output.trimEnd().split('\n');
      resolvePromise({ code, output, lastLine: lines.at(-1) ?? '' });
    });
  });
  return { child, done };
}

export function runGate(
  root: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<GateResult> {
  return startGate(root, args, env).done;
}

/** The JSON record of the gate's last run in a fixture. */
export function lastRun(root: string): RunRecord {
  return JSON.parse(readFileSync(join(root, '.gate/last/run.json'), 'utf8')) as RunRecord;
}
