import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from './args.js';
import { resolves } from './git.js';
import { countRun, ranBudget } from './counts.js';
import type { LevelRun } from './levels.js';
import { Progress } from './progress.js';
import { loadQuarantine, proposeReleases } from './quarantine.js';
import {
  readHistory,
  stateDir,
  writeRecord,
  type LevelRecord,
  type RunRecord,
  type TaskRecord,
} from './record.js';
import {
  bailLine,
  closingLine,
  failureBlocks,
  formatDuration,
  junit,
  markdown,
  problemsText,
  skippedLine,
  taskFailureText,
  terminalTable,
} from './report.js';
import { readTaskTests, type TestRecord } from './results.js';
import type { Services } from './services.js';
import {
  blocks,
  isBlockingFailure,
  judgeTest,
  loadTiers,
  packageTier,
  type Tier,
} from './tiers.js';
import { countTasks, packageDirectories, remoteCacheTrouble, runTurbo } from './turbo.js';

export interface GateInput {
  root: string;
  /** What the record and reports call this run, e.g. `release`, `run test:e2e`. */
  label: string;
  levels: LevelRun[];
  options: Options;
  out?: (text: string) => void;
  signal?: AbortSignal;
}

/**
 * Runs each level as one `turbo run --summarize`, in pyramid order, with the services it needs,
 * then judges the results by the flaky and quarantine policy and writes every report.
 */
export async function runGate(input: GateInput): Promise<RunRecord> {
  const { root, options } = input;
  const out = input.out ?? ((text: string) => process.stdout.write(`${text}\n`));
  const startedAt = new Date();
  const quarantine = loadQuarantine(root);
  const quarantined = new Set(quarantine.map((entry) => entry.id));
  const notes: string[] = [];
  const packageTiers = loadTiers(root);
  const strict = options.strict;
  const tiers: Tier[] = options.p2 ? ['P0', 'P1', 'P2'] : ['P0', 'P1'];
  // P2 packages are tracked, not run, unless asked for: left out of every level's scope.
  const p2Filters = options.p2
    ? []
    : [...packageTiers].filter(([, tier]) => tier === 'P2').map(([name]) => `--filter=!${name}`);

  let affected = options.affected;
  let base = options.base;
  if (affected && base !== undefined && !resolves(root, base)) {
    const note = `gate: base "${base}" cannot be resolved (shallow clone or missing ref); running everything instead of --affected.`;
    out(note);
    notes.push(note);
    affected = false;
    base = undefined;
  }

  const levels: LevelRecord[] = [];
  const tasks: TaskRecord[] = [];
  const tests: TestRecord[] = [];
  let services: Services | undefined;
  // Redis is prepared in the background while the levels before the first one that needs it run:
  // loading the Redis client (the heaviest import) always, and starting the throwaway server too.
  // A REDIS_URL server is still checked only when its level starts, as it may come and go.
  const servicesModule = input.levels.some((run) => run.level.needsRedis)
    ? import('./services.js')
    : undefined;
  const early =
    servicesModule && !process.env.REDIS_URL
      ? servicesModule.then((module) => module.startServices())
      : undefined;
  // A failure is reported by the level that needs Redis (or nowhere, if none runs).
  servicesModule?.catch(() => undefined);
  early?.catch(() => undefined);
  let blocked = false;
  /** The first level that failed: later ones are skipped unless --keep-going. */
  let stoppedBy = '';
  // Package directories, asked of turbo at the first failed task: its results are read as it ends.
  let directories: Promise<Map<string, string>> | undefined;
  /**
   * Prints a task's failed tests (or last output) the moment it fails, not only at the end; says
   * whether the failure blocks (what the bail stops the level on).
   */
  const printFailedTask = async (
    level: LevelRun['level'],
    taskId: string,
    tail: readonly string[],
    startedAt: number | undefined,
    env: NodeJS.ProcessEnv,
  ): Promise<boolean> => {
    const [pkg = taskId, task = ''] = taskId.split('#');
    const testLevel = level.resultsDir && task.startsWith('test:') ? level.resultsDir : undefined;
    const tier = testLevel ? packageTier(packageTiers, pkg) : 'P0';
    let read: ReturnType<typeof readTaskTests>;
    if (testLevel) {
      directories ??= packageDirectories(root, env);
      const dir = (await directories).get(pkg);
      try {
        read = dir
          ? readTaskTests({
              dir: join(root, dir),
              package: pkg,
              task,
              level: level.name,
              resultsDir: testLevel,
              cached: false,
              notBefore: startedAt,
            })
          : undefined;
      } catch {
        read = undefined; // unreadable results: the closing list says what the summary has
      }
      for (const test of read?.tests ?? []) judgeTest(test, tier, quarantined, strict);
    }
    const failure = {
      taskId,
      tests: read?.tests,
      problems: read?.problems,
      tail,
      blocking: blocks(tier, strict),
    };
    for (const line of taskFailureText(failure)) out(line);
    return failureBlocks(failure);
  };
  const bailHint =
    options.command === 'test' ? '--keep-going runs everything' : 'without --bail every task runs';
  let remoteCacheWarned = false;
  /** The first level that needs Redis gets the shared (early) server; it is claimed at once. */
  let sharedRedisTaken = false;
  /**
   * Runs one level into its record. `together` is set when the level runs at the same time as
   * others (`--overlap`): it then gets a Redis of its own, and `stopped` is aborted when an earlier
   * level of its group fails (its running tasks are stopped, the level reported as skipped after it).
   */
  const runLevel = async (
    { level, tasks: levelTasks }: LevelRun,
    record: LevelRecord,
    together?: { stopped: AbortSignal; stoppedBy: () => string; failed: () => void },
  ): Promise<void> => {
    const timeoutMs = record.timeoutMs;
    const skipAfter = (by: string, verb: string): void => {
      record.status = 'skipped';
      record.message = `${verb} after ${by} failed; --keep-going runs it`;
    };
    if (input.signal?.aborted) {
      record.status = 'cancelled';
      return;
    }
    if (together?.stopped.aborted) return skipAfter(together.stoppedBy(), 'skipped');
    const levelStart = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (level.needsRedis) {
      try {
        if (together && sharedRedisTaken) {
          // The shared server is taken (by an earlier level or another of this group): a level
          // running beside others gets its own.
          const own = (await servicesModule!).startServices();
          ownServices.push(own);
          Object.assign(env, (await own).env);
        } else {
          sharedRedisTaken = true;
          services ??= await (early ?? (await servicesModule!).startServices());
          Object.assign(env, services.env);
        }
      } catch (error) {
        record.status = 'infra';
        record.message = (error as Error).message;
        record.durationMs = Date.now() - levelStart;
        out(`✗ ${level.title}: INFRA ${record.message}`);
        together?.failed();
        return;
      }
      if (together?.stopped.aborted) return skipAfter(together.stoppedBy(), 'skipped');
    }
    const extraArgs: string[] = [];
    if (affected) {
      extraArgs.push('--affected');
      if (base !== undefined) env.TURBO_SCM_BASE = base;
    }
    for (const filter of options.filter) extraArgs.push(`--filter=${filter}`);
    const concurrency = options.concurrency ?? level.concurrency;
    if (concurrency !== undefined) extraArgs.push(`--concurrency=${concurrency}`);
    // Build verification of this run built every package (and passed): a level running beside
    // others does not restore (or with --force rebuild) those builds again (`--only`: its tasks
    // without their dependencies). Two turbo runs writing the same dist/ at once, while a test of
    // one of them starts an app from it, is a race.
    const built = levels.some(
      (other) =>
        other.name === 'build' && other.status === 'passed' && other.tasks.includes('build'),
    );
    if (together && built) extraArgs.push('--only');
    if (options.force) env.TURBO_FORCE = 'true';
    extraArgs.push(...p2Filters);
    // Read by the vitest presets to leave `[P2]` tests out; hashed, so a cached result of a run
    // with P2 tests is never replayed for one without.
    if (level.resultsDir) env.JOBGATE_TIERS = tiers.join(',');
    if (options.shard && level.resultsDir) {
      const plan = (await import('./shards.js')).shardFor(
        root,
        level,
        options.shard,
        input.levels.map((run) => run.level).filter((other) => other.resultsDir),
      );
      record.shardFiles = plan.files.map((file) => `${file.package}::${file.file}`);
      if (plan.files.length === 0) {
        record.message = `shard ${options.shard.index}/${options.shard.total} has no ${level.title} test files`;
        out(`○ ${level.title}: ${record.message}`);
        return;
      }
      env.JOBGATE_SHARD_FILES = plan.env;
      for (const pkg of plan.packages) extraArgs.push(`--filter=${pkg}`);
      out(
        `▷ ${level.title}: shard ${options.shard.index}/${options.shard.total}, ${plan.files.length} of ${plan.totalFiles} files, predicted ${formatDuration(plan.weightMs)} (${plan.source})`,
      );
    }

    const progress = new Progress(level.title, out, options.verbose);
    const failures: Promise<void>[] = [];
    /** Tasks turbo said failed before any bail: their own failures, judged as usual. */
    const failedOnTheirOwn = new Set<string>();
    // The bail: the first blocking failure stops the level's other running tasks.
    const bail = options.bail ? new AbortController() : undefined;
    let bailedBy: string | undefined;
    // Stopped by its own bail, or by an earlier level of its group that failed.
    const stop =
      together && bail
        ? AbortSignal.any([bail.signal, together.stopped])
        : (together?.stopped ?? bail?.signal);
    const result = await runTurbo({
      root,
      tasks: levelTasks,
      extraArgs,
      env,
      timeoutMs,
      signal: input.signal,
      onTaskStart: (taskId, cache) => progress.taskStarted(taskId, cache),
      onSpawn: (pid) =>
        progress.watch(pid, () => countTasks({ root, tasks: levelTasks, extraArgs, env })),
      onLine: (line) => progress.line(line),
      bail: stop,
      onTaskFailed: (taskId, tail) => {
        failedOnTheirOwn.add(taskId);
        failures.push(
          printFailedTask(level, taskId, tail, progress.taskStartedAt(taskId), env).then(
            (blocking) => {
              // The later levels of its group would have been skipped: they stop now.
              if (blocking) together?.failed();
              if (blocking && bail && !bail.signal.aborted) {
                bailedBy = taskId;
                bail.abort();
              }
            },
            () => undefined,
          ),
        );
      },
    });
    await Promise.all(failures);
    progress.done();
    const cacheTrouble = remoteCacheWarned ? undefined : remoteCacheTrouble(result.turboLines);
    if (cacheTrouble) {
      remoteCacheWarned = true;
      out(`⚠ remote cache unavailable (${cacheTrouble}): using the local cache only`);
    }
    record.durationMs = result.durationMs;
    record.turboCommand = result.command.join(' ');
    record.overBudget = record.durationMs > level.budgetMs;

    const summaryTasks = result.summary?.tasks ?? [];
    const inSummary = new Set(summaryTasks.map((task) => task.taskId));
    const stopped: string[] = [];
    /** A task that never finished: no exit code, its output so far. */
    const unfinished = (
      taskId: string,
      status: 'stopped' | 'timed-out' | 'cancelled',
      durationMs: number,
      output: string[],
    ): void => {
      const [pkg = taskId, task = ''] = taskId.split('#');
      tasks.push({
        taskId,
        package: pkg,
        task,
        level: level.name,
        cached: false,
        status,
        exitCode: null,
        durationMs,
        output,
      });
    };
    /** A task the bail killed unfinished: not judged, its results (if any) not read. */
    const stoppedByBail = (taskId: string, durationMs: number): void => {
      stopped.push(taskId);
      unfinished(taskId, 'stopped', durationMs, result.seen.get(taskId) ?? []);
    };
    const stoppedFor = (taskId: string): number => {
      const started = progress.taskStartedAt(taskId);
      return started === undefined ? 0 : Math.max(0, levelStart + result.durationMs - started);
    };
    for (const task of summaryTasks) {
      const cached = task.cache.status === 'HIT';
      const exitCode = task.execution?.exitCode ?? (task.execution ? 0 : null);
      if (result.bailed && !cached && exitCode !== 0 && !failedOnTheirOwn.has(task.taskId)) {
        // Killed by the bail (or never started): it neither passed nor failed.
        if (task.execution)
          stoppedByBail(task.taskId, task.execution.endTime - task.execution.startTime);
        continue;
      }
      const taskRecord: TaskRecord = {
        taskId: task.taskId,
        package: task.package,
        task: task.task,
        level: level.name,
        cached,
        status: exitCode === 0 ? 'passed' : 'failed',
        exitCode,
        durationMs: task.execution ? task.execution.endTime - task.execution.startTime : 0,
      };
      const testLevel =
        level.resultsDir && task.task.startsWith('test:') ? level.resultsDir : undefined;
      const read = testLevel
        ? readTaskTests({
            dir: join(root, task.directory),
            package: task.package,
            task: task.task,
            level: level.name,
            resultsDir: testLevel,
            cached,
            notBefore: cached ? undefined : task.execution?.startTime,
          })
        : undefined;
      const tier = testLevel ? packageTier(packageTiers, task.package) : 'P0';
      taskRecord.tier = tier;
      if (read) {
        for (const test of read.tests) judgeTest(test, tier, quarantined, strict);
        tests.push(...read.tests);
        const count = (predicate: (test: TestRecord) => boolean): number =>
          read.tests.filter(predicate).length;
        taskRecord.tests = {
          passed: count((test) => test.state === 'passed'),
          failed: count((test) => isBlockingFailure(test)),
          flaky: count((test) => test.flaky),
          skipped: count((test) => test.state === 'skipped'),
          quarantined: count((test) => test.state === 'failed' && test.quarantined),
          warned: count((test) => Boolean(test.warned)),
        };
        if (read.problems.length > 0) taskRecord.problems = read.problems;
        // Only quarantined or warning-tier tests failed and nothing else went wrong: the task
        // does not block.
        if (
          taskRecord.status === 'failed' &&
          taskRecord.tests.failed === 0 &&
          taskRecord.tests.quarantined + (taskRecord.tests.warned ?? 0) > 0 &&
          read.problems.length === 0
        ) {
          taskRecord.status = taskRecord.tests.warned ? 'warned' : 'quarantined';
        }
      }
      const reportPath =
        level.reportFile && level.resultsDir
          ? join(root, task.directory, '.test-results', level.resultsDir, level.reportFile)
          : undefined;
      if (reportPath && existsSync(reportPath)) {
        const text = readFileSync(reportPath, 'utf8').trim();
        record.report = record.report ? `${record.report}\n\n${text}` : text;
      }
      if (taskRecord.status === 'failed' && !taskRecord.tests?.failed) {
        taskRecord.output = result.seen.get(task.taskId) ?? [];
        // A test task of a P1 package that crashed without a failed test is still only P1.
        if (!blocks(tier, strict)) taskRecord.status = 'warned';
      }
      tasks.push(taskRecord);
    }
    // Tasks that started but never finished: the level was stopped under them.
    for (const [taskId, tail] of result.seen) {
      if (inSummary.has(taskId)) continue;
      if (result.bailed && !failedOnTheirOwn.has(taskId)) {
        stoppedByBail(taskId, stoppedFor(taskId));
        continue;
      }
      unfinished(taskId, result.timedOut ? 'timed-out' : 'cancelled', result.durationMs, tail);
    }
    const levelTasksRecords = tasks.filter((task) => task.level === level.name);
    record.taskCount = levelTasksRecords.length;
    record.cachedCount = levelTasksRecords.filter((task) => task.cached).length;
    const blocking = levelTasksRecords.some(
      (task) =>
        task.status === 'failed' || task.status === 'timed-out' || task.status === 'cancelled',
    );
    if (result.timedOut) {
      record.status = 'timed-out';
      record.message = `stopped after ${Math.round(timeoutMs / 1000)} s (level timeout)`;
    } else if (result.cancelled) {
      record.status = 'cancelled';
    } else if (blocking) {
      record.status = 'failed';
    } else if (
      result.exitCode !== 0 &&
      levelTasksRecords.every((task) => task.status !== 'quarantined' && task.status !== 'warned')
    ) {
      // Turbo itself failed (bad arguments, unknown base ref, broken turbo.json): say what it said.
      record.status = 'failed';
      record.message = `turbo exited ${result.exitCode ?? 'by signal'}: ${
        turboErrors(result.turboLines).join(' / ') || result.turboLines.slice(-5).join(' / ')
      }`;
    }
    if (record.overBudget && options.budget === 'fail' && record.status === 'passed') {
      record.status = 'failed';
      record.message = `over budget (--budget=fail)`;
    }
    if (result.bailed && bailedBy !== undefined) record.bail = { by: bailedBy, stopped };
    else if (result.bailed && together?.stopped.aborted && record.status === 'passed')
      skipAfter(together.stoppedBy(), 'stopped');
    else if (result.bailed) record.bail = { by: bailedBy ?? '', stopped };
    out(progress.verdict(record));
    const bailed = bailLine(record, bailHint);
    if (bailed) out(bailed);
    if (record.status !== 'passed' && record.status !== 'skipped') together?.failed();
  };

  const ownServices: Promise<Services>[] = [];
  try {
    for (const group of groupLevels(input.levels, options.overlap)) {
      const records = group.map((run) => newLevelRecord(run, options));
      levels.push(...records);
      if (blocked && !options.keepGoing) {
        for (const record of records) {
          record.status = input.signal?.aborted ? 'cancelled' : 'skipped';
          if (record.status === 'skipped')
            record.message = `skipped after ${stoppedBy} failed; --keep-going runs it`;
        }
      } else if (group.length === 1) {
        await runLevel(group[0]!, records[0]!);
      } else {
        out(`▷ ${group.map((run) => run.level.title).join(', ')} at the same time (--overlap)`);
        // A blocking failure in a level stops the group's later levels (sequentially they would
        // have been skipped); earlier ones run on. --keep-going stops nothing.
        const stops = group.map(() => new AbortController());
        let by = '';
        await Promise.all(
          group.map((run, index) =>
            runLevel(run, records[index]!, {
              stopped: stops[index]!.signal,
              stoppedBy: () => by,
              failed: () => {
                if (options.keepGoing) return;
                by ||= run.level.title;
                for (const later of stops.slice(index + 1)) later.abort();
              },
            }),
          ),
        );
      }
      const bad = records.find(
        (record) => record.status !== 'passed' && record.status !== 'skipped',
      );
      if (bad) {
        stoppedBy ||= bad.title;
        blocked = true;
      }
    }
    const skipped = skippedLine(levels);
    if (skipped) out(skipped);
  } finally {
    // Also a server started early for a level that never ran (Ctrl-C, or an earlier level failed).
    services ??= await early?.catch(() => undefined);
    await services?.stop().catch(() => undefined);
    for (const own of ownServices)
      await (await own.catch(() => undefined))?.stop().catch(() => undefined);
  }
  if (Array.isArray(options.overlap)) {
    // Levels that ran at the same time reported as they came; the records keep pyramid order.
    const order = new Map(input.levels.map((run, index) => [run.level.name, index]));
    const rank = (name: LevelRecord['name']): number => order.get(name) ?? 0;
    tasks.sort((a, b) => rank(a.level) - rank(b.level));
    tests.sort((a, b) => rank(a.level) - rank(b.level));
  }

  const durationMs = Date.now() - startedAt.getTime();
  const counts = countRun(levels, tasks, tests);
  const anyLevelBad = levels.some(
    (level) => level.status !== 'passed' && level.status !== 'skipped',
  );
  const record: RunRecord = {
    version: 1,
    id: randomUUID().slice(0, 8),
    command: input.label,
    startedAt: startedAt.toISOString(),
    durationMs,
    // Only the budgets of levels that ran: a `gate run test:unit` is not measured against 35 min.
    totalBudgetMs: ranBudget(levels),
    exitCode: counts.failed > 0 || anyLevelBad ? 1 : 0,
    affected,
    ...(base !== undefined ? { base } : {}),
    notes,
    levels,
    tasks,
    tests,
    proposals: [],
    counts,
    strict,
    tiers,
    ...(options.shard ? { shard: options.shard } : {}),
  };
  if (input.signal?.aborted) record.exitCode = 130;
  if (record.exitCode !== 0 && record.counts.failed === 0) record.counts.failed = 1;
  // History is only needed to judge quarantined tests; reading it costs time on every run.
  if (quarantine.length > 0)
    record.proposals = proposeReleases(quarantine, [record, ...readHistory(root, 200)]);
  publish(root, record, options, out);
  return record;
}

/** A level's record before it runs: passed until it says otherwise. */
function newLevelRecord({ level, tasks }: LevelRun, options: Options): LevelRecord {
  return {
    name: level.name,
    title: level.title,
    tasks,
    status: 'passed',
    durationMs: 0,
    budgetMs: level.budgetMs,
    timeoutMs: options.timeoutMs ?? level.timeoutMs,
    overBudget: false,
    taskCount: 0,
    cachedCount: 0,
  };
}

/**
 * The levels in the order they run: one at a time, or with `overlap`, adjacent levels that
 * overlap together as one group: those it names, or with none named those marked `overlaps`
 * (e2e, chaos: mostly waiting on processes).
 */
export function groupLevels(runs: readonly LevelRun[], overlap: Options['overlap']): LevelRun[][] {
  const together = (run: LevelRun | undefined): boolean =>
    run !== undefined &&
    Array.isArray(overlap) &&
    (overlap.length > 0 ? overlap.includes(run.level.name) : Boolean(run.level.overlaps));
  const groups: LevelRun[][] = [];
  for (const run of runs) {
    const last = groups.at(-1);
    if (together(run) && together(last?.[0])) last!.push(run);
    else groups.push([run]);
  }
  return groups;
}

/** Turbo's own error lines (`x Could not find task ...`), without its box-drawing. */
function turboErrors(lines: readonly string[]): string[] {
  return lines
    .map((line) => /^[\s`|>-]*(?:x|×|ERROR)\s+(.*)$/.exec(line)?.[1]?.trim())
    .filter((line): line is string => Boolean(line))
    .slice(-5);
}

export function publish(
  root: string,
  record: RunRecord,
  options: Options,
  out: (text: string) => void,
): void {
  const dir = join(stateDir(root), 'last');
  mkdirSync(dir, { recursive: true });
  const xml = junit(record);
  writeFileSync(join(dir, 'junit.xml'), xml);
  if (options.junit) writeFileSync(options.junit, xml);
  const md = markdown(record);
  writeFileSync(join(dir, 'summary.md'), md);
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(record, null, 1)}\n`);
  for (const level of record.levels)
    if (level.report) writeFileSync(join(dir, `${level.name}.md`), `${level.report}\n`);
  writeRecord(root, record);
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, md);
  out('');
  out(terminalTable(record));
  const problems = problemsText(record);
  if (problems) out(`\n${problems}`);
  out(`\nreports: .gate/last/{summary.md,junit.xml,run.json}`);
  out(closingLine(record));
}
