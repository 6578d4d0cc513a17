import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBundle, waitFor } from '@jobgate/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { startStack, testEnv, worker } from './harness.js';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Every collector process this file starts, killed after each test even when the test was abandoned
// at its timeout: an orphan would keep the collector running and, holding a pipe of the vitest
// worker, keep the whole vitest run from exiting.
const started = new Set<ChildProcess>();

function startProcess(env: Record<string, string>): ChildProcess {
  // The start bundle of this run (test/bundle-setup.ts), not tsx compiling src/ at every start.
  const child = spawn(process.execPath, [testBundle()], {
    cwd: appDir,
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  // Shown only when the test fails (vitest prints a test's stderr); never inherited by the child.
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  return child;
}

afterEach(async () => {
  const left = [...started];
  for (const child of left) child.kill('SIGKILL');
  await Promise.all(left.map(exited));
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('crash', () => {
  // Its waits add up to a minute and a half (first export, restart, acknowledgements), each with
  // a process start: over the level's 30 s.
  it(
    'a collector killed with SIGKILL mid-stream and restarted loses no span',
    { timeout: 180_000 },
    async () => {
      await using t = await startStack();
      const env = testEnv(t.namespace, t.receiver.url, { TELEMETRY_BATCH_SIZE: '20' });
      let child = startProcess(env);
      try {
        const ids: string[] = [];
        const run = async (n: number) => {
          for (let i = 0; i < n; i++) {
            const { id } = await t.queue.submit({
              service_required: 'svc',
              workflow_id: `wf-${i % 7}`,
            });
            ids.push(id);
            await t.queue.claim(worker('w1'));
            await t.queue.progress(id, 'w1', { percent: 50 });
            await t.queue.complete(id, 'w1', {});
          }
        };
        await run(100);
        await waitFor(() => t.receiver.spans.length > 0, {
          timeoutMs: 45_000,
          what: 'the first collector to export something',
        });
        // Kill while more events keep arriving: whatever batch is in hand is lost with the process.
        const more = run(100);
        child.kill('SIGKILL');
        await exited(child);
        await more;
        expect(t.receiver.spansById().size).toBeLessThan(ids.length * 2);
        child = startProcess(env);
        await waitFor(() => t.receiver.spansById().size === ids.length * 2, {
          timeoutMs: 45_000,
          what: `all ${ids.length * 2} spans after the restart`,
        });
        const jobs = new Set(t.receiver.spans.map((s) => s.attributes['job.id']));
        expect(jobs.size).toBe(ids.length);
        await waitFor(
          async () =>
            Number(
              (await t.redis.xpending(`{${t.namespace}}:events`, 'telemetry-collector'))[0],
            ) === 0,
          { timeoutMs: 20_000, what: 'every entry acknowledged' },
        );
      } finally {
        child.kill('SIGKILL');
        await exited(child);
      }
    },
  );
});
