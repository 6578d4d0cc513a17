import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, uniqueNamespace, waitFor, within } from '@jobgate/testkit';
import { expect, it } from 'vitest';
import { redisUrl } from './harness.js';

const here = new URL('../..', import.meta.url).pathname;

it('the esbuild bundle that `start` runs serves /health with plain node', async () => {
  const outfile = `${here}.test-results/bundle/main.js`;
  await promisify(execFile)(process.execPath, ['scripts/build.mjs'], {
    cwd: here,
    env: { ...process.env, API_BUNDLE_OUTFILE: outfile },
  });
  const port = await freePort();
  const child = spawn(process.execPath, [outfile], {
    cwd: here,
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      QUEUE_NAMESPACE: uniqueNamespace('bundle'),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const status = await Promise.race([
      waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the bundled API answering /health',
      }),
      exited.then((code) => {
        throw new Error(`the bundle exited with ${code}: ${output}`);
      }),
    ]);
    expect(status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    // A shutdown that hangs is a bug to report, not a reason to hang the suite.
    await within(exited, { timeoutMs: 15_000, what: 'the bundle exiting after SIGTERM' }).catch(
      (error: unknown) => {
        child.kill('SIGKILL');
        throw error;
      },
    );
  }
  // SIGTERM is a clean shutdown.
  expect(child.exitCode ?? child.signalCode).toBe(0);
});
