import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The one place that says what a level is, what it may cost and when it is killed (ADR-002
 * "Success Metrics": unit 5 min, integration 10, e2e 15, build verification 5, total 35).
 */
export type LevelName = 'build' | 'unit' | 'integration' | 'e2e' | 'chaos';

export interface Level {
  name: LevelName;
  /** Shown in reports. */
  title: string;
  /** Turbo tasks that belong to this level, in the order they are listed. */
  tasks: string[];
  budgetMs: number;
  /** The level's turbo run is stopped after this long and its unfinished tasks reported as timed out. */
  timeoutMs: number;
  /** Needs a Redis (started by the gate unless REDIS_URL is given). */
  needsRedis: boolean;
  /** Test results live in `.test-results/<resultsDir>/` of each package. */
  resultsDir?: 'unit' | 'integration' | 'e2e' | 'chaos';
  /**
   * A Markdown file a task of this level leaves in its results directory (restored from the cache
   * like the rest); the gate copies it to `.gate/last/<level>.md` and adds it to the summary.
   */
  reportFile?: string;
  /**
   * Turbo's `--concurrency` for this level unless `--concurrency` says otherwise; unset, Turbo's
   * default (10). See the README's "Cold run" for why a level has one.
   */
  concurrency?: number;
  /**
   * Adjacent levels marked so run at the same time under `--overlap` (the default of `gate
   * release`), each its own turbo run, Redis and report: e2e and chaos, which mostly wait on
   * processes. Not integration: CPU-bound on 2 cores, and its tests fail when the others
   * share its cores (see the README's "Cold run"); `--overlap=integration,e2e,chaos` asks for it.
   */
  overlaps?: boolean;
}

const MINUTE = 60_000;

export const LEVELS: readonly Level[] = [
  {
    name: 'build',
    title: 'build verification',
    // `check` is typecheck + lint from one TypeScript program per package (see `profileTasks`).
    tasks: ['check', 'typecheck', 'lint', 'build'],
    budgetMs: 5 * MINUTE,
    timeoutMs: 10 * MINUTE,
    needsRedis: false,
  },
  {
    name: 'unit',
    title: 'unit',
    tasks: ['test:unit'],
    budgetMs: 5 * MINUTE,
    timeoutMs: 10 * MINUTE,
    needsRedis: false,
    resultsDir: 'unit',
  },
  {
    name: 'integration',
    title: 'integration',
    tasks: ['test:integration'],
    budgetMs: 10 * MINUTE,
    timeoutMs: 20 * MINUTE,
    needsRedis: true,
    resultsDir: 'integration',
  },
  {
    name: 'e2e',
    title: 'e2e',
    tasks: ['test:e2e'],
    budgetMs: 15 * MINUTE,
    timeoutMs: 30 * MINUTE,
    needsRedis: true,
    resultsDir: 'e2e',
    overlaps: true,
  },
  {
    // Real processes killed, frozen and overloaded, Redis restarted (issue 17). It starts its own
    // Redis servers (AOF in a temp dir, restarted in place), so the gate's is not needed.
    name: 'chaos',
    title: 'chaos',
    tasks: ['test:chaos'],
    budgetMs: 4 * MINUTE,
    timeoutMs: 10 * MINUTE,
    needsRedis: false,
    resultsDir: 'chaos',
    reportFile: 'table.md',
    overlaps: true,
  },
];

export const TOTAL_BUDGET_MS = 35 * MINUTE;

/** One turbo invocation: a level and the subset of its tasks this command asked for. */
export interface LevelRun {
  level: Level;
  tasks: string[];
}

/**
 * Splits requested tasks into levels, in pyramid order, so each level's time is measurable on its
 * own and Redis starts only when a level needs it. Tasks no level names join build verification.
 */
export function planLevels(tasks: readonly string[]): LevelRun[] {
  const unknown = tasks.filter((task) => !LEVELS.some((level) => level.tasks.includes(task)));
  return LEVELS.map((level) => ({
    level,
    tasks: [
      ...level.tasks.filter((task) => tasks.includes(task)),
      ...(level.name === 'build' ? unknown : []),
    ],
  })).filter((run) => run.tasks.length > 0);
}

export function levelOfTask(task: string): Level {
  return LEVELS.find((level) => level.tasks.includes(task)) ?? LEVELS[0]!;
}

export const PROFILES = {
  pr: ['typecheck', 'lint', 'test:unit'],
  release: [
    'typecheck',
    'lint',
    'build',
    'test:unit',
    'test:integration',
    'test:e2e',
    'test:chaos',
  ],
  test: ['test:unit', 'test:integration', 'test:e2e'],
} as const;

/**
 * The tasks of a profile in a repository whose root turbo.json does (`withCheck`) or does not
 * define a `check` task. With one, `check` (type errors and lint findings from one program, e.g.
 * `oxlint --type-aware --type-check`) replaces `typecheck` + `lint`, each of which would build its
 * own TypeScript program of the package; without one (any other repository), both run as before.
 */
export function profileTasks(profile: keyof typeof PROFILES, withCheck: boolean): string[] {
  const tasks: string[] = [...PROFILES[profile]];
  if (!withCheck || !tasks.includes('typecheck')) return tasks;
  return tasks.flatMap((task) =>
    task === 'typecheck' ? ['check'] : task === 'lint' ? [] : [task],
  );
}

/** `//` and block comments and trailing commas out of JSONC, strings left alone. */
function stripJsonc(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (char === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else out += char;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/**
 * Whether the repository's root `turbo.json` (or `turbo.jsonc`) defines `task` in its `tasks`
 * (as `task`, not only `<package>#task`). Unreadable or invalid: false, and turbo says why.
 */
export function rootTurboDefines(root: string, task: string): boolean {
  for (const name of ['turbo.json', 'turbo.jsonc']) {
    let text: string;
    try {
      text = readFileSync(join(root, name), 'utf8');
    } catch {
      continue;
    }
    try {
      const config = JSON.parse(stripJsonc(text)) as { tasks?: Record<string, unknown> };
      return Object.hasOwn(config.tasks ?? {}, task);
    } catch {
      return false;
    }
  }
  return false;
}

/** `90s`, `5m`, `1500ms`, `2` (seconds) -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`Not a duration: "${text}" (use e.g. 90s, 5m, 1500ms).`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1_000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}
