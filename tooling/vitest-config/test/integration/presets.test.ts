import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The presets are run for real, on fixture test files, through the same vitest binary and the same
// gate reporter the gate reads: a preset loosened to retry assertion failures, to retry more than
// twice, or to retry unit tests, or a unit preset that lets a connection out, turns these red.

const PACKAGE = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(PACKAGE, 'node_modules/vitest/vitest.mjs');
const PRESETS = { unit: 'src/unit.js', integration: 'src/integration.js', e2e: 'src/e2e.js' };
type Level = keyof typeof PRESETS;

interface GateRecord {
  name: string;
  state: string;
  retries: number;
  flaky: boolean;
  errors: string[];
}

// Each test starts a whole vitest run (about 3 s alone, 10-30 s on this 2-core machine when it
// is shared), so it gets more than the level's 30 s; the child is killed before the test's limit
// so a hung fixture run reports its output instead of a bare timeout.
const CHILD_LIMIT_MS = 80_000;
const TEST_LIMIT_MS = 90_000;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `files` through the level's preset in a throwaway project; returns the gate's records. */
async function runPreset(
  level: Level,
  files: Record<string, string>,
): Promise<Map<string, GateRecord>> {
  const root = mkdtempSync(join(tmpdir(), `preset-${level}-`));
  dirs.push(root);
  // Fixture files import 'vitest' like any test; resolve it from this package.
  symlinkSync(join(PACKAGE, 'node_modules'), join(root, 'node_modules'), 'dir');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const child = spawn(
    process.execPath,
    [VITEST, 'run', '--config', join(PACKAGE, PRESETS[level]), '--root', root],
    // CI=1: the dot reporter, quieter; REDIS_URL (this run's Redis) is inherited by the presets' setup.
    { cwd: root, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  let report: { tests: GateRecord[] };
  try {
    report = JSON.parse(readFileSync(join(root, `.test-results/${level}/gate.json`), 'utf8'));
  } catch {
    throw new Error(
      `vitest (${level} preset) wrote no gate.json; exit ${code}:\n${output.slice(-3_000)}`,
    );
  }
  return new Map(report.tests.map((t) => [t.name, t]));
}

/** Tests whose failures the retry rule must tell apart; each counts its own attempts. */
const RETRY_FIXTURE = `import { expect, it } from 'vitest';
let tries = { assertion: 0, bug: 0, reset: 0, timedOut: 0, down: 0 };
it('wrong value', () => {
  tries.assertion++;
  expect(1 + 1).toBe(3);
});
it('wrong value that mentions a timeout', () => {
  expect({ failure_reason: 'job_timeout' }).toEqual({ failure_reason: 'connection_failed' });
});
it('labelled wrong value that reads like network trouble', () => {
  expect('connect ETIMEDOUT', 'failure message').toBe('connection_failed');
});
it('bug', () => {
  tries.bug++;
  (undefined as unknown as { id: string }).id;
});
it('reset once', () => {
  if (++tries.reset < 2) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
});
it('timed out twice', () => {
  if (++tries.timedOut < 3) throw Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:6379'), { code: 'ETIMEDOUT' });
});
it('never reachable', () => {
  tries.down++;
  throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
});
`;

function expectRetryRule(results: Map<string, GateRecord>): void {
  // A wrong value or a plain bug fails at once: retrying it only hides the bug and costs time.
  expect(results.get('wrong value')).toMatchObject({ state: 'failed', retries: 0, flaky: false });
  expect(results.get('bug')).toMatchObject({ state: 'failed', retries: 0, flaky: false });
  // An assertion is never network trouble, even when the values it compares read like it.
  for (const name of [
    'wrong value that mentions a timeout',
    'labelled wrong value that reads like network trouble',
  ])
    expect(results.get(name), name).toMatchObject({ state: 'failed', retries: 0 });
  // Network and timing trouble is retried, and a pass on a retry is reported flaky, never a plain pass.
  expect(results.get('reset once')).toMatchObject({ state: 'passed', retries: 1, flaky: true });
  expect(results.get('timed out twice')).toMatchObject({
    state: 'passed',
    retries: 2,
    flaky: true,
  });
  // ... at most twice.
  expect(results.get('never reachable')).toMatchObject({ state: 'failed', retries: 2 });
  expect(results.get('never reachable')!.errors.join('\n')).toMatch(/ECONNREFUSED/);
}

describe.concurrent('the presets, run on fixture tests', { timeout: TEST_LIMIT_MS }, () => {
  describe('the integration preset', () => {
    it('retries only network and timing failures, at most twice, and reports a retried pass as flaky', async () => {
      expectRetryRule(
        await runPreset('integration', { 'test/integration/rule.test.ts': RETRY_FIXTURE }),
      );
    });
  });

  describe('the e2e preset', () => {
    it('follows the integration retry rule', async () => {
      expectRetryRule(await runPreset('e2e', { 'test/e2e/rule.test.ts': RETRY_FIXTURE }));
    });
  });

  describe('the unit preset', () => {
    it('never retries, not even network-looking failures, and refuses every way out to the network', async () => {
      const results = await runPreset('unit', {
        'src/rule.test.ts': `${RETRY_FIXTURE}
import http from 'node:http';
import net from 'node:net';

it('opens no connection, even to loopback', async () => {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const refused = /Unit tests may not open network connections/;
  try {
    expect(() => net.connect(port, '127.0.0.1')).toThrow(refused);
    expect(() => http.get(\`http://127.0.0.1:\${port}/\`)).toThrow(refused);
    const error = await fetch(\`http://127.0.0.1:\${port}/\`).catch((e: Error) => e);
    expect(String((error as Error).cause)).toMatch(refused);
    expect(accepted).toBe(0);
  } finally {
    server.close();
  }
});
`,
      });
      for (const name of [
        'wrong value',
        'wrong value that mentions a timeout',
        'labelled wrong value that reads like network trouble',
        'bug',
        'reset once',
        'timed out twice',
        'never reachable',
      ])
        expect(results.get(name), name).toMatchObject({
          state: 'failed',
          retries: 0,
          flaky: false,
        });
      const isolation = results.get('opens no connection, even to loopback');
      expect(isolation?.errors ?? []).toEqual([]);
      expect(isolation).toMatchObject({ state: 'passed', retries: 0 });
    });
  });
});
