import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LevelName } from './levels.js';
import type { TestRecord } from './results.js';
import type { Tier } from './tiers.js';

export type TaskStatus =
  | 'passed'
  | 'failed'
  | 'timed-out'
  | 'cancelled'
  | 'quarantined'
  /** Failed, but only at a non-blocking tier (P1/P2 without `--strict`). */
  | 'warned'
  /**
   * Killed unfinished because another task of its level failed first (`gate test`'s bail): neither
   * passed nor failed, its results not read, so it adds no test, failure or flaky to the history.
   */
  | 'stopped';

export interface TaskRecord {
  taskId: string;
  package: string;
  task: string;
  level: LevelName;
  cached: boolean;
  status: TaskStatus;
  exitCode: number | null;
  durationMs: number;
  /** Its package's tier for test tasks; build verification (typecheck, lint, build) is always P0. */
  tier?: Tier;
  /** Counts from its test results, when it is a test task that wrote any. */
  tests?: {
    passed: number;
    failed: number;
    flaky: number;
    skipped: number;
    quarantined: number;
    warned?: number;
  };
  /** The task's last output lines, kept when it failed without a failed test to show. */
  output?: string[];
  /** Errors outside any test. */
  problems?: string[];
}

export type LevelStatus = 'passed' | 'failed' | 'timed-out' | 'infra' | 'skipped' | 'cancelled';

export interface LevelRecord {
  name: LevelName;
  title: string;
  tasks: string[];
  status: LevelStatus;
  durationMs: number;
  budgetMs: number;
  timeoutMs: number;
  overBudget: boolean;
  taskCount: number;
  cachedCount: number;
  /** With `--shard`: this shard's test files of the level, `<package>::<file>`. */
  shardFiles?: string[];
  /** Why an infra or turbo-level failure happened. */
  message?: string;
  turboCommand?: string;
  /** Tasks of the level stopped by a bail, and the blocking failure that stopped them. */
  bail?: { by: string; stopped: string[] };
  /** The level's own Markdown report (`Level.reportFile` of its tasks), e.g. the chaos table. */
  report?: string;
}

export interface RunRecord {
  version: 1;
  id: string;
  command: string;
  startedAt: string;
  durationMs: number;
  totalBudgetMs: number;
  exitCode: number;
  affected: boolean;
  base?: string;
  notes: string[];
  levels: LevelRecord[];
  tasks: TaskRecord[];
  tests: TestRecord[];
  proposals: { id: string; passesInARow: number }[];
  counts: {
    passed: number;
    failed: number;
    skipped: number;
    flaky: number;
    quarantined: number;
    /** Failures at a non-blocking tier (P1, or P2 when asked for), listed under WARNINGS. */
    warned?: number;
  };
  /** `--strict`: P1 (and P2) failures blocked this run. */
  strict?: boolean;
  /** Tiers this run included (P2 only when asked for). */
  tiers?: Tier[];
  /** `--shard i/N`: this run is one shard of a level's test files. */
  shard?: { index: number; total: number };
}

export function stateDir(root: string): string {
  return join(root, process.env.GATE_STATE_DIR ?? '.gate');
}

export function writeRecord(root: string, record: RunRecord): string {
  const dir = join(stateDir(root), 'history');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${record.startedAt.replace(/[:.]/g, '-')}-${record.id}.json`);
  writeFileSync(file, `${JSON.stringify(record)}\n`);
  return file;
}

/** Recorded runs, newest first. Unreadable files are skipped: history is advisory. */
export function readHistory(root: string, limit = Infinity): RunRecord[] {
  const dir = join(stateDir(root), 'history');
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const name of names.sort().reverse()) {
    if (records.length >= limit) break;
    try {
      const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RunRecord;
      if (record.version === 1) records.push(record);
    } catch {
      // a half-written record from a killed run
    }
  }
  return records;
}

/**
 * The levels of a run that were aborted rather than judged, with why: interrupted (Ctrl-C, the
 * soak stopped), a service or turbo that failed to start, or turbo gone without finishing any of
 * its tasks. Their results say nothing about the tests, so the soak and the trends leave them out
 * instead of counting them as runs that failed. A level timeout is not an abort: a test that hangs
 * is a failure.
 */
export function abortedLevels(run: RunRecord): Map<LevelName, string> {
  const aborted = new Map<LevelName, string>();
  for (const level of run.levels) {
    const what = `${run.command}: ${level.title}`;
    if (level.status === 'cancelled') {
      aborted.set(level.name, `${what} interrupted`);
    } else if (level.status === 'infra') {
      aborted.set(
        level.name,
        `${what} failed to start: ${level.message ?? 'services unavailable'}`,
      );
    } else if (level.status === 'failed') {
      const own = run.tasks.filter((task) => task.level === level.name);
      // No task finished (zero tasks, or only the ones turbo died under): turbo never ran them.
      if (own.every((task) => task.status === 'cancelled'))
        aborted.set(
          level.name,
          `${what} failed to start: ${level.message ?? 'turbo stopped before any task finished'}`,
        );
    }
  }
  return aborted;
}
