import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { countRun, ranBudget } from './counts.js';
import { LEVELS } from './levels.js';
import type { LevelRecord, LevelStatus, RunRecord, TaskRecord } from './record.js';

const WORST_FIRST: LevelStatus[] = [
  'infra',
  'timed-out',
  'failed',
  'cancelled',
  'passed',
  'skipped',
];

function worst(statuses: LevelStatus[]): LevelStatus {
  return WORST_FIRST.find((status) => statuses.includes(status)) ?? 'passed';
}

/** `run.json` itself, or a directory holding `run.json` or `.gate/last/run.json`. */
export function readRunFile(path: string): RunRecord {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    file =
      [join(path, 'run.json'), join(path, '.gate/last/run.json'), join(path, 'last/run.json')].find(
        (candidate) => existsSync(candidate),
      ) ?? join(path, 'run.json');
  }
  if (!existsSync(file)) throw new Error(`no run record at ${file}`);
  const record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
  if (record.version !== 1 || !Array.isArray(record.tests))
    throw new Error(`${file} is not a gate run record`);
  return record;
}

/**
 * One record from the runs of several shards (and, in CI, the job that ran the other levels):
 * tests and test tasks are kept as they are; a non-test task that several shards ran (the builds
 * e2e depends on) counts once; a level's time is its slowest shard, as shards run side by side.
 */
export function mergeRuns(runs: readonly RunRecord[]): RunRecord {
  const levels: LevelRecord[] = [];
  for (const definition of LEVELS) {
    const parts = runs.flatMap((run) =>
      run.levels.filter((level) => level.name === definition.name),
    );
    if (parts.length === 0) continue;
    const durationMs = Math.max(...parts.map((level) => level.durationMs));
    const shardFiles = parts.flatMap((level) => level.shardFiles ?? []);
    const messages = [...new Set(parts.map((level) => level.message).filter(Boolean))];
    levels.push({
      ...parts[0]!,
      status: worst(parts.map((level) => level.status)),
      durationMs,
      overBudget: durationMs > parts[0]!.budgetMs,
      taskCount: 0,
      cachedCount: 0,
      ...(shardFiles.length > 0 ? { shardFiles } : {}),
      ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
    });
  }
  const tasks: TaskRecord[] = [];
  const nonTest = new Map<string, TaskRecord>();
  for (const task of runs.flatMap((run) => run.tasks)) {
    if (task.tests || task.task.startsWith('test:')) {
      tasks.push(task);
      continue;
    }
    const seen = nonTest.get(task.taskId);
    if (!seen) {
      nonTest.set(task.taskId, task);
      tasks.push(task);
    } else if (seen.status === 'passed' && task.status !== 'passed') {
      tasks[tasks.indexOf(seen)] = task;
      nonTest.set(task.taskId, task);
    }
  }
  for (const level of levels) {
    const mine = tasks.filter((task) => task.level === level.name);
    level.taskCount = mine.length;
    level.cachedCount = mine.filter((task) => task.cached).length;
  }
  const tests = runs.flatMap((run) => run.tests);
  const notes = [...new Set(runs.flatMap((run) => run.notes))];
  const ids = new Set<string>();
  const twice = tests.filter((test) => (ids.has(test.id) ? true : (ids.add(test.id), false)));
  if (twice.length > 0)
    notes.push(`merge: ${twice.length} test(s) ran in more than one shard, e.g. ${twice[0]!.id}`);
  const counts = countRun(levels, tasks, tests);
  const anyLevelBad = levels.some(
    (level) => level.status !== 'passed' && level.status !== 'skipped',
  );
  const startedAt = runs.map((run) => run.startedAt).sort()[0] ?? new Date().toISOString();
  const proposals = new Map(runs.flatMap((run) => run.proposals).map((p) => [p.id, p]));
  const shards = runs.filter((run) => run.shard).length;
  const record: RunRecord = {
    version: 1,
    id: randomUUID().slice(0, 8),
    command: `merge of ${runs.length} run(s)${shards > 0 ? `, ${shards} shard(s)` : ''}: ${[...new Set(runs.map((run) => run.command))].join(', ')}`,
    startedAt,
    durationMs: Math.max(0, ...runs.map((run) => run.durationMs)),
    totalBudgetMs: ranBudget(levels),
    exitCode: counts.failed > 0 || anyLevelBad ? 1 : 0,
    affected: runs.some((run) => run.affected),
    notes,
    levels,
    tasks,
    tests,
    proposals: [...proposals.values()],
    counts,
    strict: runs.some((run) => run.strict),
    tiers: [...new Set(runs.flatMap((run) => run.tiers ?? []))],
  };
  if (record.exitCode !== 0 && record.counts.failed === 0) record.counts.failed = 1;
  return record;
}
