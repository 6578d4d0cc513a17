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

  constructor(
    private readonly title: string,
    private readonly out: (text: string) => void,
    private readonly verbose: boolean,
  ) {
    out(`▶ ${title}`);
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  taskStarted(taskId: string, cache: 'HIT' | 'MISS' | undefined): void {
    this.started.set(taskId, Date.now());
    if (!this.verbose) this.out(`  · ${taskId}${cache === 'HIT' ? ' (cached)' : ''}`);
  }

  line(line: string): void {
    if (this.verbose) this.out(`    ${line}`);
  }

  private heartbeat(): void {
    const elapsed = formatDuration(Date.now() - this.startedAt);
    this.out(`  … ${this.title}: ${elapsed} elapsed, ${this.started.size} task(s) started`);
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
