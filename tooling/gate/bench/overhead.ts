/**
 * `pnpm --filter @jobgate/gate bench`: what the gate costs on top of Turbo, on this repository.
 *
 *  1. overhead: warm (fully cached) `gate release` against the bare warm `turbo run` of the same
 *     tasks (target: at most 1 s or 5 % more), on this repo and on a small fixture monorepo whose
 *     tree nobody else edits (a shared working tree changes under a long benchmark);
 *  2. a warm no-change `gate release` (target: at most 10 s);
 *  3. `gate precommit` with one staged source file (target: at most 8 s). The change is staged in
 *     a private copy of the index (GIT_INDEX_FILE), so the shared working tree and index are never
 *     touched; its first run (no reused checkout yet) is printed apart from the next ones.
 *
 * Not a test: numbers depend on the machine. Run it when the machine is quiet. BENCH_GATE measures
 * another build of the gate's bin/gate.mjs (an older checkout, for before/after).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileTasks, rootTurboDefines } from '../src/levels.js';
import { findTurbo } from '../src/turbo.js';
import { cleanEnv, createFixture } from '../test/fixture.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
// BENCH_GATE: another build of the gate's bin to measure (e.g. an older checkout of it).
const GATE = process.env.BENCH_GATE ?? join(ROOT, 'tooling/gate/bin/gate.mjs');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const env: NodeJS.ProcessEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };
for (const key of Object.keys(env))
  if (/^(TURBO_SCM|GITHUB_STEP_SUMMARY$)/.test(key)) delete env[key];

function time(
  command: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): { ms: number; code: number | null; last: string } {
  const started = performance.now();
  const result = spawnSync(command, args, {
    cwd,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Math.round(performance.now() - started);
  const last = `${result.stdout}${result.stderr}`.trimEnd().split('\n').at(-1) ?? '';
  return { ms, code: result.status, last };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function series(
  label: string,
  run: () => { ms: number; code: number | null; last: string },
): number {
  const samples: number[] = [];
  let last = '';
  for (let i = 0; i < RUNS; i++) {
    const result = run();
    samples.push(result.ms);
    last = `exit ${result.code}: ${result.last}`;
  }
  const value = median(samples);
  console.log(
    `${label.padEnd(44)} median ${(value / 1000).toFixed(2)} s  (${samples.map((ms) => (ms / 1000).toFixed(2)).join(', ')})  ${last}`,
  );
  return value;
}

function redisMajor(): string {
  const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\d+)/.exec(out)?.[1] ?? '7';
}

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);

function overhead(where: string, root: string, extraEnv: NodeJS.ProcessEnv = {}): void {
  const gate = (): ReturnType<typeof time> =>
    time(process.execPath, [GATE, 'release', '--keep-going'], extraEnv, root);
  console.log(`[${where}] priming: gate release…`);
  const prime = gate();
  console.log(`  prime run ${(prime.ms / 1000).toFixed(1)} s, exit ${prime.code}: ${prime.last}`);
  const warmGate = series(`[${where}] warm gate release (no change)`, gate);
  const [turbo, ...turboArgs] = findTurbo(root);
  // Same cache keys as the gate's run: the hashed Redis major must match.
  const bare = series(`[${where}] bare warm turbo run (same tasks)`, () =>
    time(
      turbo!,
      [
        ...turboArgs,
        'run',
        ...profileTasks('release', rootTurboDefines(root, 'check')),
        '--summarize',
      ],
      { ...extraEnv, JOBGATE_REDIS_MAJOR: redisMajor() },
      root,
    ),
  );
  const extra = warmGate - bare;
  console.log(
    `[${where}] gate overhead over bare turbo: ${(extra / 1000).toFixed(2)} s (${((extra / bare) * 100).toFixed(1)} %)  target ≤ 1 s or ≤ 5 %`,
  );
}

if (process.env.BENCH_FIXTURE !== '0') {
  const fixture = createFixture([
    {
      name: 'a',
      files: {
        'test/integration/a.test.ts':
          "import { expect, it } from 'vitest';\nit('has redis', () => {\n  expect(process.env.REDIS_URL).toMatch(/^redis:/);\n});\n",
      },
    },
    { name: 'b', dependsOn: ['a'] },
    { name: 'c' },
  ]);
  try {
    overhead('fixture', fixture.root, cleanEnv());
  } finally {
    fixture[Symbol.dispose]();
  }
}
if (process.env.BENCH_REPO !== '0') overhead('repo', ROOT);

// One-file change staged in a private index, a different one each run, as successive commits are.
// The precommit state (its reused checkout and tsbuildinfo) starts empty in a private state dir:
// the first run is the cold one, the others are incremental.
const file = process.env.BENCH_FILE ?? 'packages/core/src/backoff.ts';
const scratch = mkdtempSync(join(tmpdir(), 'gate-bench-'));
const state = `.gate/bench-${process.pid}`;
try {
  const index = join(scratch, 'index');
  copyFileSync(join(ROOT, '.git/index'), index);
  let change = 0;
  const precommit = (): ReturnType<typeof time> => {
    change++;
    const changed = `${readFileSync(join(ROOT, file), 'utf8')}\n// bench: one-line change ${change}\n`;
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], {
      cwd: ROOT,
      input: changed,
      encoding: 'utf8',
    }).trim();
    execFileSync('git', ['update-index', '--cacheinfo', `100644,${blob},${file}`], {
      cwd: ROOT,
      env: { ...env, GIT_INDEX_FILE: index },
    });
    return time(process.execPath, [GATE, 'precommit'], {
      GIT_INDEX_FILE: index,
      GATE_STATE_DIR: state,
    });
  };
  const first = precommit();
  console.log(
    `${`gate precommit (${file} staged), first run`.padEnd(44)} ${(first.ms / 1000).toFixed(2)} s  exit ${first.code}: ${first.last}`,
  );
  series(`gate precommit (${file} staged), next runs`, precommit);
} finally {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(join(ROOT, state), { recursive: true, force: true });
}
