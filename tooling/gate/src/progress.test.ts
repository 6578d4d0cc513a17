import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childCount, heartbeatCounts } from './progress.js';

describe('heartbeat', () => {
  it('says how many tasks are done out of the level total, and how many still run', () => {
    expect(heartbeatCounts(14, 2, 31)).toBe('12/31 tasks done, 2 running');
    expect(heartbeatCounts(3, 1, undefined)).toBe('2 tasks done, 1 running');
    expect(heartbeatCounts(5, undefined, 31)).toBe('5/31 task(s) started');
  });

  it.runIf(process.platform === 'linux')('counts the running children of a process', async () => {
    const before = childCount(process.pid)!;
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    try {
      expect(childCount(process.pid)).toBe(before + 1);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
