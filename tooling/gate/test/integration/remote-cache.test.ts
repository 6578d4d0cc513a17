import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from '@jobgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, createFixture, lastRun, runGate, WORKSPACE, type Fixture } from '../fixture.js';

// A real self-hosted Turborepo remote cache (turborepo-remote-cache, local-disk storage) on
// loopback: a second, clean clone must get the first clone's task results from it, and the gate
// must still work, saying so in one line, when it is down.
const TOKEN = 'remote-cache-test-token';
const TEAM = 'jobgate';
const cli = join(
  dirname(
    createRequire(join(WORKSPACE, 'package.json')).resolve('turborepo-remote-cache/package.json'),
  ),
  'dist/cli.js',
);

let cache: ChildProcess;
let api: string;
let storage: string;
let fx: Fixture;
const clones: string[] = [];

function remoteEnv(): NodeJS.ProcessEnv {
  return cleanEnv({ TURBO_API: api, TURBO_TOKEN: TOKEN, TURBO_TEAM: TEAM });
}

function clone(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'gate-clone-')), 'repo');
  execFileSync('git', ['clone', '-q', fx.root, dir]);
  symlinkSync(join(WORKSPACE, 'node_modules'), join(dir, 'node_modules'));
  clones.push(dirname(dir));
  return dir;
}

/** The task hashes of the last turbo run in a checkout (from its run summary). */
function lastHashes(root: string): string[] {
  const runs = join(root, '.turbo/runs');
  const newest = readdirSync(runs).sort().at(-1)!;
  const summary = JSON.parse(readFileSync(join(runs, newest), 'utf8')) as {
    tasks: { hash: string }[];
  };
  return summary.tasks.map((task) => task.hash);
}

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  storage = mkdtempSync(join(tmpdir(), 'turbo-remote-cache-'));
  cache = spawn(process.execPath, [cli], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      TURBO_TOKEN: TOKEN,
      STORAGE_PROVIDER: 'local',
      STORAGE_PATH: storage,
      STORAGE_PATH_USE_TMP_FOLDER: 'false',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A server that dies (its port taken, a bad setting) fails the wait at once, with its output.
  const output: string[] = [];
  for (const stream of [cache.stdout, cache.stderr])
    stream?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<never>((_resolve, reject) =>
    cache.once('exit', (code, signal) =>
      reject(
        new Error(
          `the remote cache server exited (${code ?? signal}) on port ${port}: ${output.join('').slice(-2_000)}`,
        ),
      ),
    ),
  );
  exited.catch(() => undefined); // killed on purpose in afterAll
  // About 1.6 s to answer at load 5-10; in a soak's integration level (ten packages' tests at
  // once on two cores) it passed 20 s once.
  await Promise.race([
    waitFor(
      async () =>
        (
          await fetch(`${api}/v8/artifacts/status`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          })
        ).ok,
      { timeoutMs: 45_000, intervalMs: 50, what: 'remote cache server answering' },
    ),
    exited,
  ]);
  fx = createFixture([
    {
      name: 'lib',
      files: {
        'src/math.test.ts':
          "import { expect, it } from 'vitest';\nit('multiplies', () => expect(2 * 3).toBe(6));\nit('divides', () => expect(6 / 3).toBe(2));\n",
      },
    },
    // No unit test of its own: one vitest start less per run; its lint is a task of the last run.
    { name: 'app', dependsOn: ['lib'], unit: false },
  ]);
}, 90_000);

afterAll(() => {
  cache?.kill('SIGKILL');
  fx?.[Symbol.dispose]();
  for (const dir of clones) rmSync(dir, { recursive: true, force: true });
  if (storage) rmSync(storage, { recursive: true, force: true });
});

describe('remote cache', () => {
  it('a clean clone gets the first clone’s task results and test counts from the remote cache', async () => {
    const first = await runGate(fx.root, ['run', 'test:unit'], remoteEnv());
    expect(first.code).toBe(0);
    expect(first.lastLine).toBe('gate: 3 passed, 0 failed, 0 warned');
    expect(lastRun(fx.root).tasks.every((task) => !task.cached)).toBe(true);
    expect(first.output).not.toContain('remote cache unavailable');

    // Uploads finish after turbo's run; wait until the server serves every artifact.
    const hashes = lastHashes(fx.root);
    expect(hashes).toHaveLength(1);
    await waitFor(
      async () => {
        for (const hash of hashes) {
          const response = await fetch(`${api}/v8/artifacts/${hash}?slug=${TEAM}`, {
            method: 'HEAD',
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          if (!response.ok) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'artifacts stored on the remote cache' },
    );

    const second = clone();
    const warm = await runGate(second, ['run', 'test:unit'], remoteEnv());
    expect(warm.code).toBe(0);
    expect(warm.lastLine).toBe(first.lastLine);
    const record = lastRun(second);
    expect(record.tasks).toHaveLength(1);
    expect(record.tasks.every((task) => task.cached)).toBe(true);
    expect(record.tests.map((test) => test.name).sort()).toEqual(
      lastRun(fx.root)
        .tests.map((test) => test.name)
        .sort(),
    );
  }, 120_000);

  it('when the remote cache is down the gate still runs, with one warning line', async () => {
    cache.kill('SIGKILL');
    await waitFor(
      async () => {
        try {
          await fetch(`${api}/v8/artifacts/status`);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, what: 'remote cache server stopped' },
    );

    const third = clone();
    const result = await runGate(third, ['run', 'test:unit', 'lint'], remoteEnv());
    expect(result.code).toBe(0);
    expect(result.lastLine).toBe('gate: 5 passed, 0 failed, 0 warned');
    const warnings = result.output.split('\n').filter((line) => /remote cache/i.test(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`remote cache unavailable (Could not connect to "${api}"`);
    expect(lastRun(third).tasks.every((task) => !task.cached)).toBe(true);
  }, 120_000);
});
