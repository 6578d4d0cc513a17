import { spawn } from 'node:child_process';
import { chmodSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { sourceDirs } from '../../src/stack/app-process.js';
import { waitFor } from '../../src/wait-for.js';

const RUNNER = fileURLToPath(new URL('../../src/stack/watch-runner.js', import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function runner(dir: string) {
  const child = spawn(process.execPath, [RUNNER, '--watch', dir, '--', join(dir, 'app.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // 'close', not 'exit': the app writes straight into the same pipe (stdio inherited), and its
  // last lines can still be unread when the runner's 'exit' arrives.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  cleanups.push(() => child.kill('SIGKILL'));
  return { child, output: () => output, exited };
}

function appDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'watch-runner-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // Prints "up <pid>", and "stopped by SIGTERM" when told to stop. The handler is installed before
  // the app says it is up: a SIGTERM that arrives right after "up" must not find Node's default
  // action (exit without a word) still in place.
  writeFileSync(
    join(dir, 'app.mjs'),
    `process.on('SIGTERM', () => { console.log('stopped by SIGTERM'); process.exit(0); });
     setInterval(() => {}, 1000); console.log('up', process.pid);`,
  );
  writeFileSync(join(dir, 'other.mjs'), 'export const x = 1;\n');
  return dir;
}

const ups = (output: string): number => output.match(/^up \d+$/gm)?.length ?? 0;

it('restarts on a content edit only: a new hard link or a chmod of a watched file is no change', async () => {
  const dir = appDir();
  const r = runner(dir);
  await waitFor(() => ups(r.output()) === 1, { timeoutMs: 10_000, what: 'the app up' });

  // What another project's `pnpm install` does to the files the app loaded from pnpm's store:
  // a new hard link elsewhere changes the watched file's link count (an inotify attribute event).
  const elsewhere = mkdtempSync(join(tmpdir(), 'watch-runner-other-'));
  cleanups.push(() => rmSync(elsewhere, { recursive: true, force: true }));
  linkSync(join(dir, 'app.mjs'), join(elsewhere, 'app.mjs'));
  chmodSync(join(dir, 'app.mjs'), 0o644);
  // Then an edit: the runner sees the events in order, so the restart line names every file it
  // took for changed, and only the edited one may be there.
  writeFileSync(join(dir, 'other.mjs'), 'export const x = 2;\n');
  await waitFor(() => ups(r.output()) === 2, { timeoutMs: 10_000, what: 'the app restarted' });
  const restarts = r.output().match(/^Restarting .*$/gm) ?? [];
  expect(restarts).toEqual([
    `Restarting '${join(dir, 'app.mjs')}' (changed: ${join(dir, 'other.mjs')})`,
  ]);
  expect(r.output()).toContain('stopped by SIGTERM');

  // SIGTERM to the runner reaches the app once, and the runner exits with it.
  r.child.kill('SIGTERM');
  expect(await r.exited).toBe(0);
  expect(r.output().match(/stopped by SIGTERM/g)).toHaveLength(2);
});

it('an app that exits on its own waits for the next edit', async () => {
  const dir = appDir();
  writeFileSync(join(dir, 'app.mjs'), `console.log('up', process.pid); process.exit(3);`);
  const r = runner(dir);
  await waitFor(() => r.output().includes('Waiting for file changes'), {
    timeoutMs: 10_000,
    what: 'the runner waiting after a failed run',
  });
  expect(r.output()).toContain('Failed running');
  writeFileSync(
    join(dir, 'app.mjs'),
    `console.log('up', process.pid); setInterval(() => {}, 1000);`,
  );
  await waitFor(() => ups(r.output()) === 2, { timeoutMs: 10_000, what: 'the app started again' });
  r.child.kill('SIGTERM');
  await r.exited;
});

it("sourceDirs: an app's src and its workspace dependencies' src, not dev dependencies", () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const dirs = sourceDirs(join(root, 'apps/api')).map((d) => d.slice(root.length));
  expect(dirs).toEqual(
    expect.arrayContaining(['apps/api/src', 'packages/core/src', 'packages/telemetry/src']),
  );
  expect(dirs).not.toContain('apps/worker/src');
  expect(dirs).not.toContain('tooling/testkit/src');
});
