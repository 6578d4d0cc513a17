import { readdirSync, readFileSync } from 'node:fs';
import type { LevelRecord } from './record.js';
import { formatDuration } from './report.js';

const HEARTBEAT_MS = Number(process.env.GATE_HEARTBEAT_MS ?? 15_000);

/**
 * The live view of one level: a line per task as it starts, and a heartbeat while a long level
 * runs, so a slow or stuck level is visible as such instead of as silence. `--verbose` streams
 * every task's output as well.
 */
export class Progress {
  private readonly started = new Map<string, number>();
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  /** Turbo's pid: its direct children are the tasks still running. */
  private turboPid: number | undefined;
  /** Tasks in the level's graph that run a command, once known (asked for at the first beat). */
  private total: number | undefined;
  private countTotal: (() => Promise<number | undefined>) | undefined;

  constructor(
    private readonly title: string,
    private readonly out: (text: string) => void,
    private readonly verbose: boolean,
  ) {
    out(`▶ ${title}`);
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Where to count running tasks, and how to learn the level's task count if it runs long. */
  watch(turboPid: number | undefined, countTotal?: () => Promise<number | undefined>): void {
    this.turboPid = turboPid;
    this.countTotal = countTotal;
  }

  taskStarted(taskId: string, cache: 'HIT' | 'MISS' | undefined): void {
    this.started.set(taskId, Date.now());
    if (!this.verbose) this.out(`  · ${taskId}${cache === 'HIT' ? ' (cached)' : ''}`);
  }

  /** When the task printed its first line (turbo started it). */
  taskStartedAt(taskId: string): number | undefined {
    return this.started.get(taskId);
  }

  line(line: string): void {
    if (this.verbose) this.out(`    ${line}`);
  }

  private heartbeat(): void {
    const elapsed = formatDuration(Date.now() - this.startedAt);
    if (this.countTotal) {
      const count = this.countTotal;
      this.countTotal = undefined;
      // Only levels that outlast a beat pay for the dry run that counts their tasks.
      count().then(
        (total) => (this.total = total),
        () => undefined,
      );
    }
    const running = this.turboPid === undefined ? undefined : childCount(this.turboPid);
    this.out(
      `  … ${this.title}: ${elapsed} elapsed, ${heartbeatCounts(this.started.size, running, this.total)}`,
    );
  }

  done(): void {
    clearInterval(this.timer);
  }

  verdict(level: LevelRecord): string {
    const mark = level.status === 'passed' ? '✓' : '✗';
    const budget = `${formatDuration(level.durationMs)} of ${formatDuration(level.budgetMs)} budget${level.overBudget ? ' (OVER BUDGET)' : ''}`;
    return `${mark} ${level.title}: ${level.status}, ${level.taskCount} task(s), ${level.cachedCount} cached, ${budget}${level.message ? ` — ${level.message}` : ''}`;
  }
}

/**
 * `12/31 tasks done, 2 running`: done is started minus still running (a cache hit is done at
 * once); without a process table (not Linux) only the started count is honest.
 */
export function heartbeatCounts(
  started: number,
  running: number | undefined,
  total: number | undefined,
): string {
  if (running === undefined) return `${started}${total ? `/${total}` : ''} task(s) started`;
  const done = Math.max(0, started - running);
  return `${done}${total ? `/${total}` : ''} tasks done, ${running} running`;
}

/** Direct children of a process, from /proc (undefined where there is none). */
export function childCount(pid: number): number | undefined {
  try {
    let count = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // pid (comm) state ppid ...: comm may contain spaces and parentheses, so split after it.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) count++;
      } catch {
        // exited while we looked
      }
    }
    return count;
  } catch {
    return undefined;
  }
}
