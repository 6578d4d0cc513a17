import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Level } from './levels.js';
import { readHistory, type RunRecord } from './record.js';

/**
 * Time-balanced test sharding: a level's test files are split over N shards by the durations the
 * history recorded (vitest's own `--shard` splits by count, so one slow e2e file makes one shard
 * the critical path). Files with no recorded duration weigh the median known file, which spreads
 * them by count among themselves.
 */

export interface TestFile {
  package: string;
  /** Package directory relative to the repository root, `/`-separated. */
  dir: string;
  /** Test file relative to the package directory, `/`-separated. */
  file: string;
}

/** `packages/core/test/integration/claim.test.ts`: what the vitest preset selects by. */
export function rootPath(file: TestFile): string {
  return file.dir === '' ? file.file : `${file.dir}/${file.file}`;
}

export function fileKey(pkg: string, file: string): string {
  return `${pkg}::${file}`;
}

/** Where each level's preset looks for tests (tooling/vitest-config: unit, integration, e2e). */
const TEST_ROOTS: Record<string, { dir: string; suffix: string }> = {
  unit: { dir: 'src', suffix: '.test.ts' },
  integration: { dir: 'test/integration', suffix: '.test.ts' },
  e2e: { dir: 'test/e2e', suffix: '.test.ts' },
};

function walk(dir: string, suffix: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, suffix, out);
    else if (entry.name.endsWith(suffix)) out.push(path);
  }
}

/** The workspace's package folders, from pnpm-workspace.yaml or package.json `workspaces`. */
export function workspaceDirs(root: string): string[] {
  let patterns: string[] = [];
  const yaml = join(root, 'pnpm-workspace.yaml');
  if (existsSync(yaml)) {
    let inPackages = false;
    for (const line of readFileSync(yaml, 'utf8').split('\n')) {
      if (/^packages:\s*$/.test(line)) inPackages = true;
      else if (/^\S/.test(line)) inPackages = false;
      else if (inPackages) {
        const item = /^\s+-\s+['"]?([^'"]+?)['"]?\s*$/.exec(line)?.[1];
        if (item) patterns.push(item);
      }
    }
  } else {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      workspaces?: string[] | { packages?: string[] };
    };
    patterns = (Array.isArray(pkg.workspaces) ? pkg.workspaces : pkg.workspaces?.packages) ?? [];
  }
  const dirs: string[] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) continue;
    if (pattern.endsWith('/*')) {
      const parent = join(root, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent, { withFileTypes: true }).sort((a, b) =>
        a.name.localeCompare(b.name),
      )) {
        if (entry.isDirectory()) dirs.push(join(parent, entry.name));
      }
    } else dirs.push(join(root, pattern));
  }
  return dirs.filter((dir) => existsSync(join(dir, 'package.json')));
}

/** Every test file of a level in packages that have the level's task, sorted. */
export function listTestFiles(root: string, level: Level): TestFile[] {
  const where = level.resultsDir ? TEST_ROOTS[level.resultsDir] : undefined;
  if (!where) return [];
  const files: TestFile[] = [];
  for (const dir of workspaceDirs(root)) {
    const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    if (!json.name || !level.tasks.some((task) => json.scripts?.[task])) continue;
    const found: string[] = [];
    walk(join(dir, where.dir), where.suffix, found);
    for (const path of found.sort()) {
      files.push({
        package: json.name,
        dir: relative(root, dir).split(sep).join('/'),
        file: relative(dir, path).split(sep).join('/'),
      });
    }
  }
  return files;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Per file, the median over recent fresh runs of the sum of its tests' durations. Cache replays
 * carry the durations of the run that produced them, so they count too, once per distinct run.
 */
export function durationsFromHistory(runs: readonly RunRecord[]): Map<string, number> {
  const perRun = new Map<string, number[]>();
  for (const run of runs) {
    const sums = new Map<string, number>();
    for (const test of run.tests) {
      if (test.state === 'skipped') continue;
      const key = fileKey(test.package, test.file);
      sums.set(key, (sums.get(key) ?? 0) + test.durationMs);
    }
    for (const [key, sum] of sums) {
      const list = perRun.get(key) ?? [];
      if (list.length < 10) list.push(sum);
      perRun.set(key, list);
    }
  }
  return new Map([...perRun].map(([key, list]) => [key, median(list)]));
}

/**
 * A committed copy of the durations (`gate shard --write-durations`) for clones and CI runners that
 * start without `.gate/history`; the history, when it knows a file, wins.
 */
export const DURATIONS_FILE = 'tooling/gate/test-durations.json';

export function readCommittedDurations(root: string): Map<string, number> {
  const file = join(root, process.env.GATE_DURATIONS_FILE ?? DURATIONS_FILE);
  if (!existsSync(file)) return new Map();
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { files?: Record<string, number> };
    return new Map(Object.entries(data.files ?? {}).filter(([, ms]) => typeof ms === 'number'));
  } catch {
    return new Map();
  }
}

export function writeCommittedDurations(
  root: string,
  durations: ReadonlyMap<string, number>,
): string {
  const file = join(root, process.env.GATE_DURATIONS_FILE ?? DURATIONS_FILE);
  const files = Object.fromEntries([...durations].sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(file, `${JSON.stringify({ files }, null, 2)}\n`);
  return file;
}

export interface Shard {
  index: number;
  files: TestFile[];
  /** Predicted time: the sum of its files' weights. */
  weightMs: number;
}

/**
 * Longest processing time first: files sorted by weight, each to the lightest shard so far. Ties
 * break by path, so every shard of a CI matrix computes the same plan from the same inputs.
 */
/** Each file's weight in a plan: its recorded duration, else the median recorded file's. */
export function weigh(
  files: readonly TestFile[],
  durations: ReadonlyMap<string, number>,
): Map<string, number> {
  const known = files
    .map((file) => durations.get(fileKey(file.package, file.file)))
    .filter((ms): ms is number => ms !== undefined && ms > 0);
  const fallback = known.length > 0 ? median(known) : 1;
  return new Map(
    files.map((file) => {
      const key = fileKey(file.package, file.file);
      return [key, durations.get(key) || fallback];
    }),
  );
}

export function planShards(
  files: readonly TestFile[],
  durations: ReadonlyMap<string, number>,
  total: number,
): Shard[] {
  const weights = weigh(files, durations);
  const weighted = files
    .map((file) => ({
      file,
      weight: weights.get(fileKey(file.package, file.file))!,
      path: rootPath(file),
    }))
    .sort((a, b) => b.weight - a.weight || a.path.localeCompare(b.path));
  const shards: Shard[] = Array.from({ length: total }, (_, i) => ({
    index: i + 1,
    files: [],
    weightMs: 0,
  }));
  for (const { file, weight } of weighted) {
    const lightest = shards.reduce((best, shard) =>
      shard.weightMs < best.weightMs ? shard : best,
    );
    lightest.files.push(file);
    lightest.weightMs += weight;
  }
  for (const shard of shards) shard.files.sort((a, b) => rootPath(a).localeCompare(rootPath(b)));
  return shards;
}

/**
 * The value of JOBGATE_SHARD_FILES, `<package dir>::<file>` pairs the vitest presets narrow
 * `include` to (each package keeps its own files). It is in the test tasks' hash, so each shard's
 * result is cached apart.
 */
export function shardEnv(files: readonly TestFile[]): string {
  return files.map((file) => `${file.dir}::${file.file}`).join(',');
}

export interface ShardSelection {
  files: TestFile[];
  totalFiles: number;
  packages: string[];
  weightMs: number;
  env: string;
  /** Where the durations came from, for the log line. */
  source: string;
}

/** Recorded durations: the history's, over the committed copy. */
export function knownDurations(root: string): { durations: Map<string, number>; source: string } {
  const fromHistory = durationsFromHistory(readHistory(root, 50));
  const committed = readCommittedDurations(root);
  const durations = new Map([...committed, ...fromHistory]);
  const source =
    fromHistory.size > 0
      ? `durations from .gate/history${committed.size > 0 ? ` and ${DURATIONS_FILE}` : ''}`
      : committed.size > 0
        ? `durations from ${DURATIONS_FILE}`
        : 'no recorded durations: split by count';
  return { durations, source };
}

/**
 * One shard's files of `level`. With several levels in one command (`gate run test:integration
 * test:e2e --shard 2/4`, what each CI runner does), the files of all of them are planned together:
 * a runner's time is the sum of its levels, so a shard holding the slowest e2e file takes fewer
 * integration files. Every runner runs the same command, so every runner computes the same plan.
 */
export function shardFor(
  root: string,
  level: Level,
  shard: { index: number; total: number },
  together: readonly Level[] = [level],
): ShardSelection {
  const levels = together.some((other) => other.name === level.name)
    ? together
    : [...together, level];
  const own = listTestFiles(root, level);
  const ownKeys = new Set(own.map((file) => fileKey(file.package, file.file)));
  const all = levels.flatMap((other) =>
    other.name === level.name ? own : listTestFiles(root, other),
  );
  const { durations, source } = knownDurations(root);
  const mine = planShards(all, durations, shard.total)[shard.index - 1]!;
  const files = mine.files.filter((file) => ownKeys.has(fileKey(file.package, file.file)));
  const weights = weigh(all, durations);
  return {
    files,
    totalFiles: own.length,
    packages: [...new Set(files.map((file) => file.package))].sort(),
    weightMs: files.reduce(
      (sum, file) => sum + (weights.get(fileKey(file.package, file.file)) ?? 0),
      0,
    ),
    env: shardEnv(files),
    source,
  };
}
