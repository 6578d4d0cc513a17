import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The parts of `.turbo/runs/<id>.json` the gate reads. */
export interface TurboSummaryTask {
  taskId: string;
  task: string;
  package: string;
  hash: string;
  cache: { status: 'HIT' | 'MISS'; local?: boolean; remote?: boolean; timeSaved?: number };
  directory: string;
  logFile?: string;
  command?: string;
  execution?: { startTime: number; endTime: number; exitCode?: number; error?: string };
}

export interface TurboSummary {
  id: string;
  tasks: TurboSummaryTask[];
  execution: {
    exitCode: number;
    startTime: number;
    endTime: number;
    attempted: number;
    cached: number;
    failed: number;
  };
}

export interface TurboRunOptions {
  root: string;
  tasks: string[];
  /** Extra turbo arguments: --affected, --filter=... */
  extraArgs?: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Every output line, ANSI removed; `taskId` when turbo prefixed it with a task. */
  onLine?: (line: string, taskId: string | undefined) => void;
  /** A task printed its first line (cache hit or miss). */
  onTaskStart?: (taskId: string, cache: 'HIT' | 'MISS' | undefined) => void;
  signal?: AbortSignal;
  /**
   * Aborted by the gate when a task of the level failed in a way that blocks (its bail): turbo and
   * every task still running are stopped at once, as for Ctrl-C, and the result says `bailed`.
   */
  bail?: AbortSignal;
  /** Turbo started with this pid. */
  onSpawn?: (pid: number | undefined) => void;
  /**
   * A task's command exited non-zero (turbo said so the moment it ended, while other tasks of the
   * level still run), with the task's last output lines.
   */
  onTaskFailed?: (taskId: string, tail: readonly string[]) => void;
}

export interface TurboRunResult {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Stopped by `bail`: the tasks still running then were killed, not failed. */
  bailed: boolean;
  durationMs: number;
  summary?: TurboSummary;
  /** Tasks that printed anything, in order of their first line, with their last lines. */
  seen: Map<string, string[]>;
  /** Turbo's own lines (not from a task): errors such as an unknown base ref. */
  turboLines: string[];
  command: string[];
}

const TAIL_LINES = 40;
// Turbo forwards the tasks' colours; the gate parses lines and prints its own.
// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * The platform binary rather than the `turbo` npm shim: one process less to start, and signals go
 * straight to the process that stops tasks gracefully and still writes the run summary.
 */
/**
 * The environment turbo is started with: telemetry off, and a shell level of at least 1. Debian's
 * bash reads ~/.bashrc when its stdin is a socket (Node's pipes are socket pairs) and the shell
 * level is below 2, taking itself for a shell started by sshd; a task's `bash -c` (zx's steps in
 * the release tool) would then run the user's ~/.bashrc every time (`pyenv init` here: the release
 * tool's integration file 76 instead of 15 CPU-s). turbo.json passes `SHLVL` through; the gate
 * makes it at least 1 for a gate started without one (cron, a CI runner, `setsid`, `( cmd & )`).
 */
export function turboEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const level = Number(env.SHLVL);
  return {
    TURBO_TELEMETRY_DISABLED: '1',
    ...env,
    SHLVL: String(Number.isInteger(level) && level >= 1 ? level : 1),
  };
}

export function findTurbo(root: string): string[] {
  const shim = join(root, 'node_modules', 'turbo', 'package.json');
  if (existsSync(shim)) {
    try {
      const require = createRequire(realpathSync(shim));
      const arch = process.arch === 'x64' ? '64' : process.arch;
      const platform = process.platform === 'win32' ? 'windows' : process.platform;
      const binary = require.resolve(`@turbo/${platform}-${arch}/bin/turbo`);
      return [binary];
    } catch {
      return [join(root, 'node_modules', '.bin', 'turbo')];
    }
  }
  return ['pnpm', 'exec', 'turbo'];
}

function readSummary(
  root: string,
  announced: string | undefined,
  startedAt: number,
): TurboSummary | undefined {
  let file = announced;
  if (!file || !existsSync(file)) {
    const dir = join(root, '.turbo', 'runs');
    if (!existsSync(dir)) return undefined;
    const fresh = readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => ({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
      .filter((entry) => entry.mtime >= startedAt - 1_000)
      .sort((a, b) => b.mtime - a.mtime);
    file = fresh[0]?.path;
  }
  if (!file) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TurboSummary;
  } catch {
    return undefined;
  }
}

/**
 * `<package>:<task>: <text>` -> `{ taskId: '<package>#<task>', text }`. Task names contain colons,
 * package names neither colons nor `#` (turbo's own `pkg#task` warnings are not task output).
 */
export function parseTaskLine(line: string): { taskId: string; text: string } | undefined {
  const match = /^(@?[^:\s#]+):(\S+?):(?: (.*))?$/.exec(line);
  return match ? { taskId: `${match[1]}#${match[2]}`, text: match[3] ?? '' } : undefined;
}

/**
 * Turbo's own line saying a task's command failed (`<package>#<task>:  WARNING  command finished
 * with error, but continuing...` under `--continue`, `ERROR` without): its task id.
 */
export function failedTaskOf(line: string): string | undefined {
  return /^\s*(@?[^:\s#]+#\S+?):\s+(?:WARNING|ERROR)\s+command finished with error/.exec(line)?.[1];
}

/**
 * Turbo's own complaint that its remote cache is unreachable (it then runs on the local cache),
 * reduced to its reason: the gate says so once per run instead of once per level.
 */
export function remoteCacheTrouble(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const unavailable = /Remote caching unavailable\s*\((.*)\)/i.exec(line);
    if (unavailable) return unavailable[1];
    if (/could not connect to the cache|failed to contact remote cache/i.test(line))
      return line.replace(/^\s*WARNING\s*/, '').trim();
  }
  return undefined;
}

/**
 * One `turbo run <tasks> --summarize`, in its own process group so a timeout or Ctrl-C can stop
 * the whole tree: SIGINT first (turbo stops its tasks and still writes the summary), SIGKILL to
 * the group if anything is left after a grace period.
 */
export async function runTurbo(options: TurboRunOptions): Promise<TurboRunResult> {
  const [bin, ...binArgs] = findTurbo(options.root);
  const args = [
    ...binArgs,
    'run',
    ...options.tasks,
    '--summarize',
    '--output-logs=full',
    '--log-order=stream',
    '--continue=dependencies-successful',
    ...(options.extraArgs ?? []),
  ];
  const startedAt = Date.now();
  const child = spawn(bin!, args, {
    cwd: options.root,
    env: turboEnv(options.env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child.pid);
  const seen = new Map<string, string[]>();
  const turboLines: string[] = [];
  let announced: string | undefined;
  let timedOut = false;
  let cancelled = false;
  let bailed = false;

  const handle = (raw: string): void => {
    const line = raw.replace(ANSI, '');
    const match = parseTaskLine(line);
    if (match) {
      const { taskId, text } = match;
      let tail = seen.get(taskId);
      if (!tail) {
        tail = [];
        seen.set(taskId, tail);
        const cache = /cache hit/.test(text)
          ? 'HIT'
          : /cache miss|cache bypass/.test(text)
            ? 'MISS'
            : undefined;
        options.onTaskStart?.(taskId, cache);
      }
      tail.push(text);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line, taskId);
      return;
    }
    const failed = failedTaskOf(line);
    // Tasks stopped by a timeout, Ctrl-C or a bail fail too; those are reported with the level.
    if (failed && !timedOut && !cancelled && !bailed)
      options.onTaskFailed?.(failed, seen.get(failed) ?? []);
    const summaryMatch = /Summary:\s+(\S+\.json)/.exec(line);
    if (summaryMatch) announced = summaryMatch[1];
    turboLines.push(line);
    if (turboLines.length > 200) turboLines.shift();
    options.onLine?.(line, undefined);
  };
  createInterface({ input: child.stdout }).on('line', handle);
  createInterface({ input: child.stderr }).on('line', handle);

  let killTimer: NodeJS.Timeout | undefined;
  /**
   * Every process under turbo when it was told to stop: tasks that started their own process group
   * or session (a test's redis-server, an app under test) are out of reach of the group kill, and
   * once their parent is gone nothing links them to turbo any more.
   */
  let tree: ProcessRef[] = [];
  const stop = (): void => {
    if (child.exitCode !== null || child.pid === undefined) return;
    tree = descendants(child.pid);
    try {
      process.kill(-child.pid, 'SIGINT');
    } catch {
      return;
    }
    killTimer ??= setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      killTree(tree);
    }, 5_000);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  const onAbort = (): void => {
    cancelled = true;
    stop();
  };
  const onBail = (): void => {
    // Turbo already ended (the failure was its last task): nothing to stop.
    if (timedOut || cancelled || child.exitCode !== null) return;
    bailed = true;
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  options.bail?.addEventListener('abort', onBail, { once: true });

  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      turboLines.push(`could not start turbo (${bin}): ${error.message}`);
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  options.signal?.removeEventListener('abort', onAbort);
  options.bail?.removeEventListener('abort', onBail);
  // Tasks the group kill could not reach (they made their own group) must not outlive the gate.
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // nothing left
    }
  }
  killTree(tree);
  return {
    exitCode,
    timedOut,
    cancelled,
    bailed,
    durationMs: Date.now() - startedAt,
    summary: readSummary(options.root, announced, startedAt),
    seen,
    turboLines,
    command: ['turbo', ...args.slice(binArgs.length)],
  };
}

/** A process, with its start time so a reused pid is never mistaken for it. */
export interface ProcessRef {
  pid: number;
  start: string;
}

/** `pid`'s parent and start time from /proc (undefined when it is gone or there is no /proc). */
function procStat(pid: number): { ppid: number; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ... starttime (22nd field): comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** Each process's children, from one pass over /proc (empty where there is none). */
function processTable(): Map<number, ProcessRef[]> {
  const children = new Map<number, ProcessRef[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid: Number(name), start: stat.start });
    children.set(stat.ppid, list);
  }
  return children;
}

function below(table: Map<number, ProcessRef[]>, pid: number): ProcessRef[] {
  const found: ProcessRef[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const ref of table.get(queue.shift()!) ?? []) {
      found.push(ref);
      queue.push(ref.pid);
    }
  }
  return found;
}

/** Every live descendant of `pid` (children, their children, ...), from /proc; none elsewhere. */
export function descendants(pid: number): ProcessRef[] {
  return below(processTable(), pid);
}

/**
 * SIGKILL to each process of `tree` that is still the same process, and to everything it started
 * since (so a grandchild spawned after the snapshot goes too).
 */
export function killTree(tree: readonly ProcessRef[]): void {
  if (tree.length === 0) return;
  const table = processTable();
  const targets = new Map<number, string>();
  for (const ref of tree) {
    if (procStat(ref.pid)?.start !== ref.start) continue;
    targets.set(ref.pid, ref.start);
    for (const child of below(table, ref.pid)) targets.set(child.pid, child.start);
  }
  for (const [pid, start] of targets) {
    if (procStat(pid)?.start !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * Every workspace package's directory relative to the root (`turbo ls --output=json`), to find a
 * task's results before the run summary exists. Empty when turbo cannot say.
 */
export async function packageDirectories(
  root: string,
  env: NodeJS.ProcessEnv,
): Promise<Map<string, string>> {
  const { code, text } = await turboOutput(root, ['ls', '--output=json'], env);
  const directories = new Map<string, string>();
  if (code !== 0) return directories;
  try {
    const listed = JSON.parse(text) as { packages?: { items?: { name: string; path: string }[] } };
    for (const item of listed.packages?.items ?? []) directories.set(item.name, item.path);
  } catch {
    // not JSON: no early details, the closing list still has them
  }
  return directories;
}

/** A quick turbo command's standard output and exit code (`null`: it could not be started). */
async function turboOutput(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; text: string }> {
  const [bin, ...binArgs] = findTurbo(root);
  const child = spawn(bin!, [...binArgs, ...args], {
    cwd: root,
    env: turboEnv(env),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', resolve);
  });
  return { code, text };
}

/** How many tasks of a run execute a command (`--dry=json`), for the heartbeat's `n/total`. */
export async function countTasks(options: {
  root: string;
  tasks: string[];
  extraArgs: string[];
  env: NodeJS.ProcessEnv;
}): Promise<number | undefined> {
  const { code, text } = await turboOutput(
    options.root,
    ['run', ...options.tasks, '--dry=json', ...options.extraArgs],
    options.env,
  );
  if (code !== 0) return undefined;
  try {
    const dry = JSON.parse(text) as { tasks?: { command?: string }[] };
    return dry.tasks?.filter((task) => task.command && task.command !== '<NONEXISTENT>').length;
  } catch {
    return undefined;
  }
}
