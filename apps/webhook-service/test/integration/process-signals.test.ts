import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis, testBundle, waitFor, within } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';

const appDir = fileURLToPath(new URL('../..', import.meta.url));

describe('the webhook service process', () => {
  it('sent SIGTERM while Redis is gone: exits 0 within seconds instead of waiting on Redis', async () => {
    // A server of its own, stopped under the running service (the shared one serves other files).
    const redis = await startRedis({ own: true });
    await using _redis = redis;
    // The start bundle of this run (test/bundle-setup.ts), not tsx compiling src/ at start.
    const child = spawn(process.execPath, [testBundle()], {
      cwd: appDir,
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      // 'close' (after 'exit' and the last output): the output is read once the service exited.
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    await using _child = {
      async [Symbol.asyncDispose]() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await within(exited, { timeoutMs: 10_000, what: 'the service exiting after SIGKILL' });
      },
    };
    await waitFor(() => output.includes('webhook service started'), {
      timeoutMs: 30_000,
      what: 'the webhook service starting',
    });
    await redis.stop();
    await waitFor(() => output.includes('redis connection error'), {
      timeoutMs: 10_000,
      what: 'the service noticing Redis is gone',
    });
    child.kill('SIGTERM');
    // Before the fix a read queued on the reconnecting connection held the stop for ever.
    const exit = await within(exited, {
      timeoutMs: 10_000,
      what: `the service exiting\n${output}`,
    });
    expect(exit, output).toEqual({ code: 0, signal: null });
    expect(output).toContain('shutdown complete');
  });
});
