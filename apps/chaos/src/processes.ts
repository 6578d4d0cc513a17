import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onProcessDeath } from '@jobgate/testkit';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const running = new Set<ChildProcess>();
onProcessDeath(() => {
  // A run that dies without teardown (a timed-out test, vitest stopping its worker with SIGTERM)
  // must not leave API or worker processes (or frozen ones) behind.
  for (const child of running) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

export type App = 'api' | 'worker' | 'webhook-service' | 'telemetry-collector';

/** The production bundle of an app, as `pnpm start` runs it. */
export function bundlePath(app: App): string {
  const file = `${root}apps/${app}/dist/main.js`;
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: the chaos level runs the built bundles; build them with ` +
        '`pnpm turbo run build --filter=@jobgate/chaos^...` (turbo does this before test:chaos).',
    );
  }
  return file;
}

export interface AppProcess {
  name: string;
  pid: number;
  /** Everything it printed (stdout + stderr, last 50 kB), for failure messages. */
  output(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  alive(): boolean;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM (or the given signal), then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<string>;
}

/** Runs an app's built bundle under plain node with only the given environment added. */
export function startBundle(name: string, app: App, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [bundlePath(app)], {
    cwd: `${root}apps/${app}`,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-50_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? String(code));
    });
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    alive,
    signal: (signal) => {
      if (alive()) child.kill(signal);
    },
    stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
      if (alive()) {
        // A frozen process cannot act on SIGTERM until it runs again.
        child.kill('SIGCONT');
        child.kill(signal);
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
