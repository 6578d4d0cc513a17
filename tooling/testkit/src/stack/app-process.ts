import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onProcessDeath } from '../process-death.js';

const WATCH_RUNNER = fileURLToPath(new URL('./watch-runner.js', import.meta.url));

const running = new Set<ChildProcess>();

/**
 * Children run in their own process group; if this process dies without stopping them, kill them
 * (registered with onProcessDeath at each start: one entry, it keeps a set).
 */
function killRunning(): void {
  for (const child of running) killGroup(child, 'SIGKILL');
}

/** Signals the child's whole process group (a watch runner and the app it runs). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

export interface AppProcess {
  /** Name in logs and errors, e.g. `api` or `worker-2`. */
  name: string;
  child: ChildProcess;
  /** The last 20 000 characters it printed (stdout + stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code or the signal that ended it. */
  exited: Promise<string>;
  /** True until it exits. */
  running(): boolean;
  /** Sends `signal` once; SIGKILL after `graceMs`. Resolves with what `exited` resolves with. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<string>;
  /** `stop(signal)`. */
  kill(signal?: NodeJS.Signals): Promise<string>;
}

export interface LaunchAppOptions {
  name: string;
  /** Directory of the app (`apps/<folder>`). */
  cwd: string;
  /** Entry module relative to `cwd`. Default `src/main.ts`. */
  entry?: string;
  /**
   * A built start bundle (absolute path, e.g. from `buildTestBundle`) to run with plain `node`
   * instead of `entry` under tsx: about 0.7 instead of 1.9 CPU-s a start. Not with `watch`.
   */
  bundle?: string;
  env: Record<string, string>;
  /**
   * Restart on edits of the app's `src` or a workspace dependency's `src` (`watch-runner.js`:
   * content changes only, not attribute changes such as another project's `pnpm install`
   * hard-linking the same store files).
   */
  watch?: boolean;
  /** Each line the app prints, as it comes (for a dev console); always collected for `output()`. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * The `src` folders an app can load code from: its own and, transitively, those of the workspace
 * packages in its `dependencies` (found through the `node_modules` links pnpm makes).
 */
export function sourceDirs(appDir: string): string[] {
  const dirs = new Set<string>();
  const visit = (dir: string): void => {
    const real = realpathSync(dir);
    if (dirs.has(join(real, 'src'))) return;
    dirs.add(join(real, 'src'));
    const pkg = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
      const linked = join(real, 'node_modules', name);
      if (version.startsWith('workspace:') && existsSync(linked)) visit(linked);
    }
  };
  visit(appDir);
  return [...dirs].filter((dir) => existsSync(dir));
}

/**
 * Runs a workspace app's TypeScript entry under tsx's loader (or its built `bundle` under plain
 * node), as one process group of its own: a terminal's Ctrl-C then reaches only the launcher, which
 * stops each app exactly once (a second signal makes the worker abandon its jobs to lease expiry).
 */
export function launchApp(options: LaunchAppOptions): AppProcess {
  if (options.bundle && options.watch) {
    throw new Error(
      `${options.name}: a bundle cannot be watched; watch runs the sources under tsx`,
    );
  }
  onProcessDeath(killRunning);
  const args = options.bundle
    ? [options.bundle]
    : ['--import', 'tsx', options.entry ?? 'src/main.ts'];
  if (options.watch) {
    args.unshift(WATCH_RUNNER, ...sourceDirs(options.cwd).flatMap((dir) => ['--watch', dir]), '--');
  }
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  let output = '';
  const reader = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    return (chunk: Buffer): void => {
      const text = chunk.toString();
      output = (output + text).slice(-20_000);
      if (!options.onLine) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) options.onLine(line, stream);
    };
  };
  child.stdout?.on('data', reader('stdout'));
  child.stderr?.on('data', reader('stderr'));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? String(code));
    });
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  let stopping: Promise<string> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<string> => {
    stopping ??= (async () => {
      // The child alone: a watch runner passes the signal on to its app, so signalling
      // the group would deliver it twice (and a second signal makes the worker abandon its jobs).
      if (isRunning()) child.kill(signal);
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(timer);
      // The watch runner exits with its app; anything else left in the group goes too.
      killGroup(child, 'SIGKILL');
      return how;
    })();
    return stopping;
  };
  return {
    name: options.name,
    child,
    output: () => output,
    exited,
    running: isRunning,
    stop,
    kill: (signal) => stop(signal),
  };
}
