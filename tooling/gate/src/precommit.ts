import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { parseArgs } from './args.js';
import { checkoutIndex } from './checkout.js';
import { publish } from './gate.js';
import { git } from './git.js';
import { ANSI } from './turbo.js';
import { LEVELS } from './levels.js';
import { stateDir, type LevelRecord, type RunRecord, type TaskRecord } from './record.js';
import { readTaskTests, type TestRecord } from './results.js';

export interface WorkspacePackage {
  name: string;
  dir: string;
  scripts: Record<string, string>;
  workspaceDeps: string[];
}

/** Workspace packages as the index has them (so a staged package.json counts). */
export function listPackages(root: string): WorkspacePackage[] {
  const files = git(root, ['ls-files', '--cached', '--', '*package.json'])
    .split('\n')
    .filter((file) => file.endsWith('/package.json') && !file.includes('node_modules/'));
  return files.map((file) => {
    const dir = dirname(file);
    const json = JSON.parse(git(root, ['show', `:${file}`])) as {
      name?: string;
      scripts?: Record<string, string>;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const deps = { ...json.dependencies, ...json.devDependencies };
    return {
      name: json.name ?? dir,
      dir,
      scripts: json.scripts ?? {},
      workspaceDeps: Object.entries(deps)
        .filter(([, version]) => version.startsWith('workspace:'))
        .map(([name]) => name),
    };
  });
}

export function ownerOf(
  packages: readonly WorkspacePackage[],
  file: string,
): WorkspacePackage | undefined {
  return packages
    .filter((pkg) => file.startsWith(`${pkg.dir}/`))
    .sort((a, b) => b.dir.length - a.dir.length)[0];
}

/** The packages themselves plus every package that depends on them, transitively. */
export function withDependents(
  packages: readonly WorkspacePackage[],
  names: Iterable<string>,
): Set<string> {
  const result = new Set(names);
  let grew = true;
  while (grew) {
    grew = false;
    for (const pkg of packages) {
      if (!result.has(pkg.name) && pkg.workspaceDeps.some((dep) => result.has(dep))) {
        result.add(pkg.name);
        grew = true;
      }
    }
  }
  return result;
}

/** A commit hook that takes longer than this is one people learn to skip. */
const PRECOMMIT_BUDGET_MS = 30_000;

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
/** Vitest's default naming of test files; a package without any has no related tests to find. */
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;

function configOf(script: string | undefined): string | undefined {
  return script ? /(?:-c|--config)[ =](\S+)/.exec(script)?.[1] : undefined;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A plain `tsc` or `tsc7` (TypeScript 7, from @jobgate/tsconfig) typecheck script made incremental,
 * its state kept in `buildInfo` (outside the checkout) for the next run. Anything else (a build
 * mode, a chain of commands) runs as written.
 */
export function incrementalTypecheck(script: string, buildInfo: string): string {
  const command = script.trim();
  if (!/^tsc7?(\s[^&|;<>`$()\n]*)?$/.test(command)) return script;
  if (/(^|\s)(-b|--build|--incremental|--tsBuildInfoFile|--composite)(\s|=|$)/.test(command))
    return script;
  return `${command} --incremental --tsBuildInfoFile ${quote(buildInfo)}`;
}

interface Job {
  pkg: WorkspacePackage;
  kind: 'typecheck' | 'test:unit';
  command: string;
}

function run(
  job: Job,
  cwd: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<{ code: number | null; output: string[]; durationMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', job.command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const output: string[] = [];
    const collect = (chunk: Buffer): void => {
      output.push(...chunk.toString().replace(ANSI, '').split('\n'));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const abort = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    };
    signal.addEventListener('abort', abort, { once: true });
    child.once('close', (code) => {
      signal.removeEventListener('abort', abort);
      resolve({
        code,
        output: output.filter((line) => line.trim() !== ''),
        durationMs: Date.now() - started,
      });
    });
  });
}

/**
 * `gate precommit`: typecheck of the packages the staged files touch and
 * the unit tests related to the staged files, run on the staged content in a temporary checkout
 * of the index, so unstaged edits neither hide nor cause a failure and the working tree is never
 * touched.
 */
export async function runPrecommit(root: string, signal: AbortSignal): Promise<number> {
  const startedAt = new Date();
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  const staged = git(root, ['diff', '--cached', '--name-only', '--diff-filter=ACMR', '-z'])
    .split('\0')
    .filter(Boolean);
  const packages = listPackages(root);
  const owners = new Map<string, string[]>();
  for (const file of staged) {
    const owner = ownerOf(packages, file);
    if (owner) owners.set(owner.name, [...(owners.get(owner.name) ?? []), file]);
  }
  // Only the packages that own a staged file: typechecking every dependent took about a minute on
  // this machine for a change in core (see README, Benchmark); dependents are checked by `gate pr`.
  // GATE_PRECOMMIT_DEPENDENTS=1 includes them.
  const affected =
    process.env.GATE_PRECOMMIT_DEPENDENTS === '1'
      ? withDependents(packages, owners.keys())
      : new Set(owners.keys());
  const indexFiles = git(root, ['ls-files', '--cached', '-z']).split('\0');
  const jobs: Job[] = [];
  for (const pkg of packages.filter((candidate) => affected.has(candidate.name))) {
    if (pkg.scripts.typecheck)
      jobs.push({ pkg, kind: 'typecheck', command: pkg.scripts.typecheck });
    const sources = (owners.get(pkg.name) ?? []).filter(
      (file) => SOURCE.test(file) && !file.endsWith('.d.ts'),
    );
    const unitScript = pkg.scripts['test:unit'];
    // Starting vitest takes most of a second; with no test file in the package nothing is related.
    const hasTests = indexFiles.some(
      (file) => file.startsWith(`${pkg.dir}/`) && TEST_FILE.test(file),
    );
    if (sources.length > 0 && hasTests && unitScript && /\bvitest\b/.test(unitScript)) {
      const config = configOf(unitScript);
      const files = sources.map((file) => relative(pkg.dir, file));
      jobs.push({
        pkg,
        kind: 'test:unit',
        command: `vitest related --run --passWithNoTests ${config ? `-c ${config} ` : ''}${files.map(quote).join(' ')}`,
      });
    }
  }
  out(
    `▶ precommit: ${staged.length} staged file(s), ${affected.size} affected package(s)${affected.size ? `: ${[...affected].join(', ')}` : ''}`,
  );

  const tasks: TaskRecord[] = [];
  const tests: TestRecord[] = [];
  // The index, not the working tree: exactly what the commit will contain. Reused from run to run
  // (under .gate/precommit) so each package's typecheck is incremental.
  const base = join(stateDir(root), 'precommit');
  const checkout =
    jobs.length > 0
      ? checkoutIndex(root, base, ['.', ...packages.map((pkg) => pkg.dir)])
      : undefined;
  try {
    if (checkout?.reused) {
      mkdirSync(join(base, 'tsbuildinfo'), { recursive: true });
      for (const job of jobs) {
        if (job.kind !== 'typecheck') continue;
        const name = `${encodeURIComponent(job.pkg.dir)}.tsbuildinfo`;
        job.command = incrementalTypecheck(job.command, join(base, 'tsbuildinfo', name));
      }
    }
    const queue = [...jobs];
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job && !signal.aborted && checkout; job = queue.shift()) {
        const cwd = join(checkout.dir, job.pkg.dir);
        const path = [
          join(cwd, 'node_modules', '.bin'),
          join(checkout.dir, 'node_modules', '.bin'),
          process.env.PATH ?? '',
        ].join(delimiter);
        const started = Date.now();
        const result = await run(
          job,
          cwd,
          { ...withoutGitHookEnv(process.env), PATH: path },
          signal,
        );
        const taskId = `${job.pkg.name}#${job.kind}`;
        const record: TaskRecord = {
          taskId,
          package: job.pkg.name,
          task: job.kind,
          level: job.kind === 'typecheck' ? 'build' : 'unit',
          cached: false,
          status: result.code === 0 ? 'passed' : 'failed',
          exitCode: result.code,
          durationMs: result.durationMs,
        };
        if (job.kind === 'test:unit') {
          const read = readTaskTests({
            dir: cwd,
            package: job.pkg.name,
            task: 'test:unit',
            level: 'unit',
            resultsDir: 'unit',
            cached: false,
            notBefore: started,
          });
          if (read) {
            tests.push(...read.tests);
            record.tests = {
              passed: read.tests.filter((test) => test.state === 'passed').length,
              failed: read.tests.filter((test) => test.state === 'failed').length,
              flaky: 0,
              skipped: read.tests.filter((test) => test.state === 'skipped').length,
              quarantined: 0,
            };
          }
        }
        if (record.status === 'failed' && !record.tests?.failed)
          record.output = result.output.slice(-40);
        out(
          `  ${record.status === 'passed' ? '✓' : '✗'} ${taskId} (${(result.durationMs / 1000).toFixed(1)}s)`,
        );
        tasks.push(record);
      }
    };
    await Promise.all([worker(), worker()]);
  } finally {
    checkout?.release();
  }

  const durationMs = Date.now() - startedAt.getTime();
  const level = (name: 'build' | 'unit', title: string): LevelRecord => {
    const own = tasks.filter((task) => task.level === name);
    return {
      name,
      title,
      tasks: [name === 'build' ? 'typecheck' : 'test:unit'],
      status: own.some((task) => task.status !== 'passed') ? 'failed' : 'passed',
      durationMs: Math.max(0, ...own.map((task) => task.durationMs)),
      budgetMs: PRECOMMIT_BUDGET_MS,
      timeoutMs: LEVELS[0]!.timeoutMs,
      overBudget: false,
      taskCount: own.length,
      cachedCount: 0,
    };
  };
  const failedTests = tests.filter((test) => test.state === 'failed').length;
  const failedTasks = tasks.filter(
    (task) => task.status !== 'passed' && !task.tests?.failed,
  ).length;
  const record: RunRecord = {
    version: 1,
    id: Math.random().toString(16).slice(2, 10),
    command: 'precommit',
    startedAt: startedAt.toISOString(),
    durationMs,
    totalBudgetMs: PRECOMMIT_BUDGET_MS,
    exitCode: signal.aborted ? 130 : failedTests + failedTasks > 0 ? 1 : 0,
    affected: true,
    notes: [],
    levels: [level('build', 'typecheck (staged)'), level('unit', 'unit (related)')],
    tasks,
    tests,
    proposals: [],
    counts: {
      passed:
        tests.filter((test) => test.state === 'passed').length +
        tasks.filter((task) => !task.tests && task.status === 'passed').length,
      failed: failedTests + failedTasks,
      skipped: tests.filter((test) => test.state === 'skipped').length,
      flaky: 0,
      quarantined: 0,
    },
  };
  publish(root, record, parseArgs(['precommit']), out);
  return record.exitCode;
}

/**
 * Git exports GIT_DIR, GIT_INDEX_FILE and GIT_WORK_TREE to hooks. A test that runs `git init` or
 * `git add` in a temp repository would otherwise act on the repository being committed to (a
 * `git init` under GIT_DIR sets core.bare=true in its shared config, breaking every worktree).
 * The checkout is done by now; the tasks get a plain environment.
 */
export function withoutGitHookEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (
      /^GIT_(DIR|INDEX_FILE|WORK_TREE|COMMON_DIR|PREFIX|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES)$/.test(
        key,
      )
    )
      continue;
    clean[key] = value;
  }
  return clean;
}
