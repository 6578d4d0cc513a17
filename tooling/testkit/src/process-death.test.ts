import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processAlive } from './process-death.js';
import { waitFor } from './wait-for.js';

const child = fileURLToPath(new URL('./fixtures/process-death-child.ts', import.meta.url));

/** Starts the fixture, returns it with the pid of the `sleep` it started. */
async function start(...args: string[]) {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const pid = await waitFor(() => Number(/sleep (\d+)/.exec(out)?.[1]) || undefined, {
    timeoutMs: 10_000,
    what: 'the fixture printing its sleep pid',
  });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { proc, pid, exited };
}

describe('onProcessDeath', () => {
  // vitest stops its workers with SIGTERM, which runs no 'exit' handler: what a timed-out test
  // left running (redis-server, app processes) outlived the run.
  it('runs the clean-up when SIGTERM ends the process, which still ends by SIGTERM', async () => {
    const { proc, pid, exited } = await start();
    expect(processAlive(pid)).toBe(true);
    proc.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    await waitFor(() => !processAlive(pid), {
      timeoutMs: 5_000,
      what: `sleep ${pid} gone with its parent`,
    });
  }, 15_000);

  it('leaves a process that handles SIGTERM itself to exit its own way, and cleans up at that exit', async () => {
    const { proc, pid, exited } = await start('own-handler');
    proc.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    await waitFor(() => !processAlive(pid), {
      timeoutMs: 5_000,
      what: `sleep ${pid} gone with its parent`,
    });
  }, 15_000);
});
