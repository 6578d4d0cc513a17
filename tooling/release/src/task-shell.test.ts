import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The release tool runs its git and changesets steps through zx's `$`: `bash -c ...` with a pipe
// for stdin, and Node's pipes are socket pairs. Debian's bash reads ~/.bashrc when stdin is a
// socket and the shell level is below 2 (it takes itself for a shell started by sshd). Turbo hands
// a task only the variables turbo.json lets through, so without SHLVL among them every step of a
// release under the gate ran the user's ~/.bashrc (here `pyenv init`: the release tool's
// integration file took 76 CPU-s under turbo, 15 without).
const root = join(import.meta.dirname, '../../..');
const passThrough = (
  JSON.parse(readFileSync(join(root, 'turbo.json'), 'utf8')) as { globalPassThroughEnv: string[] }
).globalPassThroughEnv;

/** Runs `bash -c true` as zx does (stdin a pipe) with HOME holding a ~/.bashrc that leaves a mark. */
async function bashReadsRc(env: NodeJS.ProcessEnv): Promise<boolean> {
  const home = mkdtempSync(join(tmpdir(), 'task-shell-'));
  try {
    const mark = join(home, 'bashrc-ran');
    writeFileSync(join(home, '.bashrc'), `touch '${mark}'\n`);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('bash', ['-c', 'true'], {
        env: { ...env, HOME: home },
        stdio: ['pipe', 'ignore', 'inherit'],
      });
      child.on('error', reject);
      child.on('close', resolve);
      child.stdin.end();
    });
    expect(code).toBe(0);
    return existsSync(mark);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The environment turbo gives a task: only the pass-through names (strict env mode). */
function taskEnv(names: string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of names) if (process.env[name] !== undefined) env[name] = process.env[name];
  // The gate starts turbo with a shell level of at least 1 (tooling/gate's turboEnv), whatever
  // level the gate itself was started with.
  if (names.includes('SHLVL')) env.SHLVL = String(Math.max(1, Number(process.env.SHLVL) || 0));
  return env;
}

// Linux only: the ~/.bashrc rule is Debian's bash (the CI machines and this one); elsewhere it is moot.
describe.runIf(process.platform === 'linux')("a task's shell", () => {
  it('turbo.json lets SHLVL through, so a bash a task starts with a piped stdin skips ~/.bashrc', async () => {
    expect(passThrough).toContain('SHLVL');
    expect(await bashReadsRc(taskEnv(passThrough))).toBe(false);
  });

  it('without SHLVL the same bash reads ~/.bashrc (why it is passed through; the test above can fail)', async () => {
    expect(await bashReadsRc(taskEnv(passThrough.filter((name) => name !== 'SHLVL')))).toBe(true);
  });
});
