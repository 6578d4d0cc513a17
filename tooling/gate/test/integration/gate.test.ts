import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { processAlive, waitFor } from '@jobgate/testkit';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  cleanEnv,
  createFixture,
  lastRun,
  runGate,
  startGate,
  WORKSPACE,
  type Fixture,
} from '../fixture.js';

/**
 * A fixture removed when its test ends. The tests of this file run concurrently (each in its own
 * temp directories, with its own gate, turbo and Redis), so each test disposes of its own fixture
 * through its context's `onTestFinished`.
 */
function fixture(
  onTestFinished: TestContext['onTestFinished'],
  ...args: Parameters<typeof createFixture>
): Fixture {
  const created = createFixture(...args);
  onTestFinished(() => created[Symbol.dispose]());
  return created;
}

/** Fails on its first attempt only, with an error that looks like network trouble. */
function failsOnce(kind: string): string {
  return `import { existsSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
it('${kind} talks to the server', () => {
  const marker = process.env.GATE_FIXTURE_STATE + '/${kind}-attempted';
  if (!existsSync(marker)) {
    writeFileSync(marker, '1');
    throw new Error('read ECONNRESET');
  }
  expect(true).toBe(true);
});
`;
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe.concurrent('gate run', () => {
  it('blocks on a failing unit test, never retries it, names it with a rerun command; quarantined failures do not block', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        files: {
          'src/net.test.ts': failsOnce('unit'),
          'src/known.test.ts': `import { expect, it } from 'vitest';\nit('known flaky', () => {\n  expect('sometimes').toBe('never');\n});\n`,
        },
      },
    ]);
    fx.write(
      'quarantine.json',
      JSON.stringify({
        tests: [
          {
            id: '@fx/a::src/known.test.ts::known flaky',
            reason: 'races the clock',
            date: '2026-11-01',
          },
        ],
      }),
    );
    fx.commit('quarantine');
    const result = await runGate(
      fx.root,
      ['run', 'test:unit'],
      cleanEnv({
        GATE_FIXTURE_STATE: fx.scratch,
        GATE_QUARANTINE_FILE: 'quarantine.json',
        GITHUB_STEP_SUMMARY: join(fx.scratch, 'step-summary.md'),
      }),
    );

    expect(result.code).toBe(1);
    expect(result.lastLine).toBe('gate: 1 passed, 1 failed, 0 warned');
    expect(result.output).toContain('✗ @fx/a  src/net.test.ts:3  unit talks to the server');
    expect(result.output).toContain('read ECONNRESET');
    expect(result.output).toContain('rerun: pnpm --filter @fx/a test:unit src/net.test.ts:3');
    expect(result.output).toMatch(
      /QUARANTINED FAILURES \(not blocking\)\n {2}q @fx\/a {2}src\/known\.test\.ts:2 {2}known flaky/,
    );
    const failed = lastRun(fx.root).tests.find((test) => test.name === 'unit talks to the server');
    expect(failed).toMatchObject({ state: 'failed', retries: 0, flaky: false });
    const junit = readFileSync(join(fx.root, '.gate/last/junit.xml'), 'utf8');
    expect(junit).toContain('<failure message="read ECONNRESET">');
    const summary = readFileSync(join(fx.scratch, 'step-summary.md'), 'utf8');
    expect(summary).toContain('## gate run test:unit: ❌ failed');
    expect(summary).toContain('| unit | 1 | 0 | 1 | 1 | 0 | 0 |');
    expect(summary).toContain('rerun: pnpm --filter @fx/a test:unit src/net.test.ts:3');
  });

  it('passes a run whose integration test fails once on a network error, reports it flaky, and a warm rerun is fully cached with the same counts', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        unit: false,
        files: { 'test/integration/flaky.test.ts': failsOnce('integration') },
      },
    ]);
    const env = cleanEnv({ GATE_FIXTURE_STATE: fx.scratch });
    const cold = await runGate(fx.root, ['run', 'test:unit', 'test:integration'], env);

    expect(cold.code).toBe(0);
    expect(cold.lastLine).toBe('gate: 1 passed, 0 failed, 0 warned');
    expect(cold.output).toContain('FLAKY (passed only after a retry');
    expect(cold.output).toContain(
      '~ @fx/a  test/integration/flaky.test.ts:3  integration talks to the server  (1 retry)',
    );
    const flaky = lastRun(fx.root).tests.find((test) => test.level === 'integration');
    expect(flaky).toMatchObject({ state: 'passed', flaky: true, retries: 1, cached: false });

    const warm = await runGate(fx.root, ['run', 'test:unit', 'test:integration'], env);
    expect(warm.code).toBe(0);
    expect(warm.lastLine).toBe(cold.lastLine);
    const record = lastRun(fx.root);
    expect(record.tasks.map((task) => [task.taskId, task.cached])).toEqual([
      ['@fx/a#test:integration', true],
    ]);
    expect(record.counts).toMatchObject({ passed: 1, failed: 0, flaky: 1 });
    // pnpm ran the scripts without installing or writing a lockfile (what keeps the hashes).
    expect(fx.git('status', '--porcelain')).toBe('');
  });

  it('kills a task that hangs past its level timeout and shows its last output', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'stuck',
        scripts: { 'test:unit': 'node hang.mjs' },
        files: {
          'hang.mjs': `import { writeFileSync } from 'node:fs';\nwriteFileSync(process.env.GATE_FIXTURE_STATE + '/hang.pid', String(process.pid));\nconsole.log('waiting for a lock that never comes');\nsetInterval(() => {}, 1000);\n`,
        },
      },
    ]);
    const result = await runGate(
      fx.root,
      ['run', 'test:unit', '--timeout', '4s'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }),
    );

    expect(result.code).toBe(1);
    expect(result.output).toMatch(/@fx\/stuck#test:unit TIMED OUT after \d/);
    expect(result.output).toContain('| waiting for a lock that never comes');
    expect(result.lastLine).toBe('gate: 0 passed, 1 failed, 0 warned');
    const pid = Number(readFileSync(join(fx.scratch, 'hang.pid'), 'utf8'));
    expect(processAlive(pid)).toBe(false);
  });
});

describe.concurrent('gate test', () => {
  /** Package `a`: a unit test that fails and an integration test that leaves a marker if it runs. */
  const failingUnit = {
    name: 'a',
    files: {
      'src/claim.test.ts': `import { describe, expect, it } from 'vitest';\ndescribe('claim', () => {\n  it('hands a job out once', () => {\n    expect(2).toBe(1);\n  });\n});\n`,
      'test/integration/ran.test.ts': `import { writeFileSync } from 'node:fs';\nimport { it } from 'vitest';\nit('runs', () => {\n  writeFileSync(process.env.GATE_FIXTURE_STATE + '/integration-ran', '1');\n});\n`,
    },
  };
  /**
   * Package `b`: a unit task that runs until the test lets it go (bounded), so the level is still
   * running. A plain script: the case is about stopping it, not about its tests (the bail cases
   * below stop a vitest and its worker), and it saves a vitest start.
   */
  const heldUnit = {
    name: 'b',
    unit: false as const,
    scripts: { 'test:unit': 'node held.mjs' },
    files: {
      'held.mjs': `import { existsSync } from 'node:fs';\nconst deadline = Date.now() + 45_000;\nwhile (!existsSync(process.env.GATE_FIXTURE_STATE + '/release') && Date.now() < deadline)\n  await new Promise((resolve) => setTimeout(resolve, 50));\nprocess.exit(existsSync(process.env.GATE_FIXTURE_STATE + '/release') ? 0 : 1);\n`,
    },
  };

  it("names a failed unit test (file > describe > test, error, rerun) as soon as its task fails, stops the level's running tasks (bail), then stops before integration", async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [failingUnit, heldUnit]);
    const result = await runGate(fx.root, ['test'], cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }));
    const named = '✗ src/claim.test.ts:3 > claim > hands a job out once';

    expect(result.code).toBe(1);
    expect(result.output).toContain(
      `  ✗ @fx/a#test:unit: 1 failed test\n    ${named}\n        AssertionError: expected 2 to be 1`,
    );
    expect(result.output).toContain('rerun: pnpm --filter @fx/a test:unit src/claim.test.ts:3');
    // @fx/b was held, still running when the failure was named: stopped, not waited for.
    const stopped =
      '○ stopped (bail) @fx/b#test:unit after @fx/a#test:unit failed: --keep-going runs everything';
    expect(result.output.indexOf(named)).toBeLessThan(result.output.indexOf('✗ unit: failed'));
    expect(result.output.indexOf('✗ unit: failed')).toBeLessThan(result.output.indexOf(stopped));
    expect(result.output).toContain(
      '○ skipped integration, e2e after unit failed: --keep-going runs them',
    );
    // The closing list still names it.
    expect(result.output).toContain('✗ @fx/a  src/claim.test.ts:3  claim > hands a job out once');
    expect(result.lastLine).toBe('gate: 1 passed, 1 failed, 0 warned');
    expect(lastRun(fx.root).levels.map((level) => [level.name, level.status])).toEqual([
      ['unit', 'failed'],
      ['integration', 'skipped'],
      ['e2e', 'skipped'],
    ]);
    expect(existsSync(join(fx.scratch, 'integration-ran'))).toBe(false);
  });

  it('--keep-going runs the later levels after a failed unit level', async ({ onTestFinished }) => {
    const fx = fixture(onTestFinished, [failingUnit]);
    const result = await runGate(
      fx.root,
      ['test', '--keep-going'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }),
    );

    expect(result.code).toBe(1);
    expect(result.output).not.toContain('skipped');
    expect(lastRun(fx.root).levels.map((level) => [level.name, level.status])).toEqual([
      ['unit', 'failed'],
      ['integration', 'passed'],
      ['e2e', 'passed'],
    ]);
    expect(existsSync(join(fx.scratch, 'integration-ran'))).toBe(true);
    expect(result.lastLine).toBe('gate: 2 passed, 1 failed, 0 warned');
  });
});

describe.concurrent('overlap', () => {
  const PRESETS = join(WORKSPACE, 'tooling/vitest-config/src');
  /**
   * A test that writes its level's REDIS_URL and a marker, then waits (bounded) for the other
   * level's marker: it passes only if the other level runs at the same time.
   */
  const meets = (mine: string, theirs: string, then: string): string =>
    `import { existsSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
it('${mine} meets ${theirs}', async () => {
  const state = process.env.GATE_FIXTURE_STATE;
  writeFileSync(state + '/${mine}-redis', process.env.REDIS_URL ?? '');
  writeFileSync(state + '/${mine}-started', '1');
  const deadline = Date.now() + 40_000;
  while (!existsSync(state + '/${theirs}-started') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(existsSync(state + '/${theirs}-started')).toBe(true);
  ${then}
}, 60_000);
`;
  const e2ePackage = (then: string) => ({
    name: 'b',
    unit: false as const,
    dependsOn: ['c'],
    scripts: { 'test:integration': 'node -e ""', 'test:e2e': 'vitest run -c vitest.e2e.config.ts' },
    files: {
      'vitest.e2e.config.ts': `export { e2eConfig as default } from '${PRESETS}/e2e.js';\n`,
      'test/e2e/meets.test.ts': meets('e2e', 'integration', then),
    },
  });
  const integrationPackage = (then: string) => ({
    name: 'a',
    unit: false as const,
    files: { 'test/integration/meets.test.ts': meets('integration', 'e2e', then) },
  });
  /** Held until the test writes `release` (it never does): only a stop ends it early. */
  const held = `const until = Date.now() + 45_000;
  while (!existsSync(state + '/release') && Date.now() < until)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(existsSync(state + '/release')).toBe(true);`;

  /** What e2e's tasks depend on (`^build`): its build counts its runs. */
  const library = {
    name: 'c',
    unit: false as const,
    scripts: {
      build: `node -e "require('fs').appendFileSync(process.env.GATE_FIXTURE_STATE + '/builds', 'built ')"`,
      'test:integration': 'node -e ""',
    },
  };

  it('runs the levels at the same time, each with its own Redis and its own record, in pyramid order, without building again', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [integrationPackage(''), e2ePackage(''), library]);
    const result = await runGate(
      fx.root,
      ['run', 'test:e2e', 'build', 'test:integration', '--overlap=integration,e2e', '--force'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }),
    );

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('▷ integration, e2e at the same time (--overlap)');
    const urls = ['integration', 'e2e'].map((level) =>
      readFileSync(join(fx.scratch, `${level}-redis`), 'utf8'),
    );
    expect(urls[0]).toMatch(/^redis:\/\/127\.0\.0\.1:\d+/);
    expect(urls[1]).toMatch(/^redis:\/\/127\.0\.0\.1:\d+/);
    expect(urls[0]).not.toBe(urls[1]);
    const run = lastRun(fx.root);
    expect(run.levels.map((level) => [level.name, level.status, level.taskCount])).toEqual([
      ['build', 'passed', 1],
      ['integration', 'passed', 3],
      ['e2e', 'passed', 1],
    ]);
    // Built once, by build verification; the e2e level ran its tasks only (--force rebuilt before).
    expect(readFileSync(join(fx.scratch, 'builds'), 'utf8')).toBe('built ');
    expect(run.levels[2]!.turboCommand).toContain('--only');
    expect(run.tests.map((test) => [test.level, test.name])).toEqual([
      ['integration', 'integration meets e2e'],
      ['e2e', 'e2e meets integration'],
    ]);
    expect(readFileSync(join(fx.root, '.gate/last/junit.xml'), 'utf8')).toContain(
      'e2e meets integration',
    );
    expect(result.lastLine).toBe('gate: 5 passed, 0 failed, 0 warned');
  });

  it('a blocking failure stops the later levels at once: reported skipped after it, their killed tasks stopped', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      integrationPackage(`expect('claimed twice').toBe('claimed once');`),
      e2ePackage(held),
      library,
    ]);
    const started = Date.now();
    const result = await runGate(
      fx.root,
      ['run', 'test:integration', 'test:e2e', '--overlap=integration,e2e'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }),
    );

    expect(result.code, result.output).toBe(1);
    // The held e2e test never got its release: the stop ended it, well before its 45 s.
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(result.output).toContain('○ skipped e2e after integration failed: --keep-going runs it');
    const run = lastRun(fx.root);
    expect(run.levels.map((level) => [level.name, level.status, level.message])).toEqual([
      ['integration', 'failed', undefined],
      ['e2e', 'skipped', 'stopped after integration failed; --keep-going runs it'],
    ]);
    // Its dependency's build (no build verification in this run) finished; its test was killed.
    expect(
      run.tasks
        .filter((task) => task.level === 'e2e')
        .map((task) => [task.taskId, task.status])
        .sort(),
    ).toEqual([
      ['@fx/b#test:e2e', 'stopped'],
      ['@fx/c#build', 'passed'],
    ]);
    expect(result.lastLine).toBe('gate: 3 passed, 1 failed, 0 warned');
  });
});

describe.concurrent('bail', () => {
  /** Fails once the slow task's test has started, so the slow task is running when it does. */
  const fastFailing = (name: string) => ({
    name,
    unit: false as const,
    files: {
      'test/integration/claim.test.ts': `import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
it('hands a job out once', async () => {
  const deadline = Date.now() + 30_000;
  while (!existsSync(process.env.GATE_FIXTURE_STATE + '/slow-started') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(2).toBe(1);
}, 40_000);
`,
    },
  });
  /**
   * Starts an app process and a redis-server of its own (each in its own process group, out of
   * reach of a group kill), then runs until the test lets it go (bounded), leaving a marker when
   * it finishes.
   */
  const slow = {
    name: 'slow',
    unit: false as const,
    files: {
      'test/integration/slow.test.ts': `import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
const state = process.env.GATE_FIXTURE_STATE;
it('takes its time', async () => {
  const app = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  const redis = spawn('redis-server', ['--port', '0', '--unixsocket', state + '/slow-redis.sock', '--save', '', '--appendonly', 'no'], { detached: true, stdio: 'ignore' });
  // Started: it listens on its socket.
  const up = Date.now() + 10_000;
  while (!existsSync(state + '/slow-redis.sock') && Date.now() < up) await new Promise((resolve) => setTimeout(resolve, 20));
  writeFileSync(state + '/slow-pids', JSON.stringify([process.pid, process.ppid, app.pid, redis.pid]));
  expect(existsSync(state + '/slow-redis.sock')).toBe(true);
  writeFileSync(state + '/slow-started', '1');
  const deadline = Date.now() + 50_000;
  while (!existsSync(state + '/release') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  app.kill();
  redis.kill();
  writeFileSync(state + '/slow-finished', '1');
  expect(existsSync(state + '/release')).toBe(true);
}, 60_000);
`,
    },
  };
  /** Gone, or a zombie nobody reaped yet (it runs nothing). */
  const gone = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return !processAlive(pid);
    }
  };

  it('gate test stops the running tasks at the first blocking failure, reports them stopped (not passed, not cached), leaves no process; --keep-going runs them', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [fastFailing('fast'), slow]);
    const env = cleanEnv({ GATE_FIXTURE_STATE: fx.scratch });
    const result = await runGate(fx.root, ['test'], env);

    expect(result.code).toBe(1);
    expect(result.output).toContain('  ✗ @fx/fast#test:integration: 1 failed test');
    expect(result.output).toContain(
      '○ stopped (bail) @fx/slow#test:integration after @fx/fast#test:integration failed: --keep-going runs everything',
    );
    expect(result.output).toContain('○ @fx/slow#test:integration stopped (bail) after');
    // Killed before it finished: the marker it leaves at its end is not there.
    expect(existsSync(join(fx.scratch, 'slow-started'))).toBe(true);
    expect(existsSync(join(fx.scratch, 'slow-finished'))).toBe(false);
    // Neither passed nor failed: the fast test failed, nothing else counted (no unit tests here).
    expect(result.lastLine).toBe('gate: 0 passed, 1 failed, 0 warned');
    const record = lastRun(fx.root);
    expect(record.tasks.find((task) => task.taskId === '@fx/slow#test:integration')).toMatchObject({
      status: 'stopped',
      cached: false,
    });
    expect(
      record.tests.filter((test) => test.package === '@fx/slow' && test.level === 'integration'),
    ).toEqual([]);
    expect(record.counts).toMatchObject({ failed: 1, flaky: 0 });
    expect(record.levels.find((level) => level.name === 'integration')).toMatchObject({
      status: 'failed',
      bail: { by: '@fx/fast#test:integration', stopped: ['@fx/slow#test:integration'] },
    });
    // Its vitest (worker and main), the app and the redis-server it started: none is left.
    const pids = JSON.parse(readFileSync(join(fx.scratch, 'slow-pids'), 'utf8')) as number[];
    await waitFor(() => pids.every(gone), {
      timeoutMs: 5_000,
      what: `the slow task's processes ${pids.join(', ')} to be gone`,
    });
    let listed = '';
    try {
      listed = execFileSync('pgrep', ['-af', 'redis-server|vitest|tsx'], { encoding: 'utf8' });
    } catch {
      // pgrep exits 1 when nothing matches
    }
    const listedPids = listed.split('\n').map((line) => Number(line.split(' ')[0]));
    expect(pids.filter((pid) => listedPids.includes(pid) && !gone(pid))).toEqual([]);

    // --keep-going: no bail, the slow task runs to its end and passes (a real run, not a cache
    // hit of the stopped one).
    writeFileSync(join(fx.scratch, 'release'), '1');
    const kept = await runGate(fx.root, ['test', '--keep-going'], env);
    expect(kept.code).toBe(1);
    expect(kept.output).not.toContain('stopped (bail)');
    expect(existsSync(join(fx.scratch, 'slow-finished'))).toBe(true);
    expect(
      lastRun(fx.root).tasks.find((task) => task.taskId === '@fx/slow#test:integration'),
    ).toMatchObject({ status: 'passed', cached: false, tests: { passed: 1 } });
  });

  it('a P1 failure never bails: the level runs to its end', async ({ onTestFinished }) => {
    const fx = fixture(onTestFinished, [fastFailing('hooks'), slow]);
    fx.write('tiers.json', JSON.stringify({ packages: { '@fx/hooks': 'P1' } }));
    fx.commit('tiers');
    const { child, done } = startGate(
      fx.root,
      ['test'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch, GATE_TIERS_FILE: 'tiers.json' }),
    );
    let live = '';
    child.stdout!.on('data', (chunk: Buffer) => (live += chunk.toString()));
    try {
      await waitFor(() => live.includes('! @fx/hooks#test:integration: 1 failed test at P1'), {
        timeoutMs: 40_000,
        what: 'the gate to report the P1 failure while @fx/slow still runs',
      });
    } finally {
      writeFileSync(join(fx.scratch, 'release'), '1');
    }
    const result = await done;

    expect(result.code).toBe(0);
    expect(result.output).not.toContain('stopped (bail)');
    expect(existsSync(join(fx.scratch, 'slow-finished'))).toBe(true);
    expect(
      lastRun(fx.root).tasks.find((task) => task.taskId === '@fx/slow#test:integration'),
    ).toMatchObject({ status: 'passed' });
    expect(result.lastLine).toBe('gate: 1 passed, 0 failed, 1 warned');
  });
});

describe.concurrent('output through a pipe', () => {
  it('prints all of a long report before it exits, the last line included', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [{ name: 'a' }]);
    // 1,500 failed tests: a closing list of about 380 KB, far more than a pipe holds.
    const tests = Array.from({ length: 1_500 }, (_, i) => ({
      id: `@fx/a::src/index.test.ts::t${i}`,
      package: '@fx/a',
      level: 'unit',
      taskId: '@fx/a#test:unit',
      file: 'src/index.test.ts',
      line: i + 1,
      name: `test ${i}`,
      state: 'failed',
      retries: 0,
      flaky: false,
      quarantined: false,
      durationMs: 1,
      errors: [`AssertionError: expected ${'x'.repeat(100)}\n    at src/index.test.ts:1:1`],
      cached: false,
      rerun: `pnpm --filter @fx/a test:unit src/index.test.ts:${i + 1}`,
    }));
    const run = {
      version: 1,
      id: 'big',
      command: 'run test:unit',
      startedAt: new Date().toISOString(),
      durationMs: 1_000,
      totalBudgetMs: 300_000,
      exitCode: 1,
      affected: false,
      notes: [],
      levels: [
        {
          name: 'unit',
          title: 'unit',
          tasks: ['test:unit'],
          status: 'failed',
          durationMs: 1_000,
          budgetMs: 300_000,
          timeoutMs: 600_000,
          overBudget: false,
          taskCount: 1,
          cachedCount: 0,
        },
      ],
      tasks: [
        {
          taskId: '@fx/a#test:unit',
          package: '@fx/a',
          task: 'test:unit',
          level: 'unit',
          cached: false,
          status: 'failed',
          exitCode: 1,
          durationMs: 1_000,
          tests: { passed: 0, failed: 1_500, flaky: 0, skipped: 0, quarantined: 0 },
        },
      ],
      tests,
      proposals: [],
      counts: { passed: 0, failed: 1_500, skipped: 0, flaky: 0, quarantined: 0 },
    };
    const file = join(fx.scratch, 'run.json');
    writeFileSync(file, JSON.stringify(run));
    const result = await runGate(fx.root, ['merge', file]);

    expect(result.code).toBe(1);
    expect(result.output).toContain('rerun: pnpm --filter @fx/a test:unit src/index.test.ts:1500');
    expect(result.lastLine).toBe('gate: 0 passed, 1500 failed, 0 warned');
  });
});

describe.concurrent('affected', () => {
  it('runs only the changed package and its dependents, and falls back loudly to everything when the base cannot be resolved', async ({
    onTestFinished,
  }) => {
    // Which tasks run is the point, not what they test: plain scripts, no vitest start per task.
    const task = { unit: false as const, scripts: { 'test:unit': 'node -e ""' } };
    const fx = fixture(onTestFinished, [
      { name: 'a', ...task },
      { name: 'b', dependsOn: ['a'], ...task },
      { name: 'c', ...task },
    ]);
    fx.git('checkout', '-q', '-b', 'feature');
    fx.write('packages/a/src/extra.ts', 'export const extra = 2;\n');
    fx.commit('change a');

    const affected = await runGate(fx.root, ['run', 'test:unit', '--affected', '--base', 'main']);
    expect(affected.code).toBe(0);
    expect(
      lastRun(fx.root)
        .tasks.map((task) => task.taskId)
        .sort(),
    ).toEqual(['@fx/a#test:unit', '@fx/b#test:unit']);

    const fallback = await runGate(fx.root, ['pr', '--base', 'origin/does-not-exist']);
    expect(fallback.output).toContain(
      'gate: base "origin/does-not-exist" cannot be resolved (shallow clone or missing ref); running everything instead of --affected.',
    );
    expect(fallback.code).toBe(0);
    const ran = lastRun(fx.root).tasks.map((task) => task.taskId);
    expect(ran).toContain('@fx/c#test:unit');
    expect(ran).toContain('@fx/c#check');
    expect(ran).not.toContain('@fx/c#typecheck');
  });
});

/** Compiler options any TypeScript reads, for the fixture packages that are type-checked. */
const FIXTURE_COMPILER_OPTIONS = {
  strict: true,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  types: [],
  skipLibCheck: true,
  noEmit: true,
};

/** A package whose only source has a type error, with a tsconfig any TypeScript reads. */
const TYPE_ERROR_FILES = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: FIXTURE_COMPILER_OPTIONS,
    include: ['src/*.ts'],
  }),
  'src/count.ts': "export const count: number = 'three';\n",
};

describe.concurrent('check in place of typecheck + lint', () => {
  // Exit 7 if run: the profile must not run the tasks `check` replaces, nor `check` where the
  // repository's turbo.json does not define it.
  const never = `node -e "process.exit(7)"`;

  it('gate release runs check (oxlint --type-aware --type-check), not typecheck and lint, when turbo.json defines it; a type error fails it with what broke and the rerun, and the Redis started ahead of the integration level is stopped', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        unit: false,
        scripts: { check: 'oxlint --type-aware --type-check', typecheck: never, lint: never },
        files: TYPE_ERROR_FILES,
      },
    ]);
    // The throwaway server's --dir is made under TMPDIR: a private one shows whether it is left.
    const tmp = join(fx.scratch, 'tmp');
    mkdirSync(tmp);
    const result = await runGate(fx.root, ['release'], cleanEnv({ TMPDIR: tmp }));

    expect(result.code, result.output).toBe(1);
    const run = lastRun(fx.root);
    expect(run.tasks.map((task) => [task.taskId, task.status])).toEqual([
      ['@fx/a#check', 'failed'],
    ]);
    expect(run.levels.map((level) => [level.name, level.status])).toEqual([
      ['build', 'failed'],
      ['unit', 'skipped'],
      ['integration', 'skipped'],
      ['e2e', 'skipped'],
      ['chaos', 'skipped'],
    ]);
    expect(result.output).toContain('✗ @fx/a#check');
    expect(result.output).toContain('typescript(TS2322)');
    expect(result.output).toContain("Type 'string' is not assignable to type 'number'.");
    expect(result.output).toContain('src/count.ts:1:14');
    expect(result.output).toContain('rerun: pnpm --filter @fx/a check');
    expect(result.lastLine).toBe('gate: 0 passed, 1 failed, 0 warned');
    // The Redis the gate started ahead of the integration level went with the failed release.
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(tmp);
    expect(readdirSync(tmp).filter((name) => name.startsWith('jobgate-redis-'))).toEqual([]);

    // Fixed, the same release passes its check.
    fx.write('packages/a/src/count.ts', 'export const count: number = 3;\n');
    fx.commit('fix the type');
    const fixed = await runGate(fx.root, ['run', 'check']);
    expect(fixed.code, fixed.output).toBe(0);
  });

  it('gate pr runs typecheck and lint, not check, when turbo.json has no check task; a type error fails typecheck with what broke and the rerun', async ({
    onTestFinished,
  }) => {
    const fx = fixture(
      onTestFinished,
      [
        {
          name: 'a',
          unit: false,
          scripts: { typecheck: 'tsc7 --noEmit -p tsconfig.json', check: never },
          files: { 'tsconfig.json': TYPE_ERROR_FILES['tsconfig.json'], 'src/count.ts': '' },
        },
      ],
      { check: false },
    );
    fx.git('checkout', '-q', '-b', 'feature');
    fx.write('packages/a/src/count.ts', TYPE_ERROR_FILES['src/count.ts']);
    fx.commit('a type error');
    const result = await runGate(
      fx.root,
      ['pr', '--base', 'main'],
      cleanEnv({
        PATH: [join(WORKSPACE, 'tooling/gate/node_modules/.bin'), process.env.PATH].join(delimiter),
      }),
    );

    expect(result.code, result.output).toBe(1);
    expect(
      lastRun(fx.root)
        .tasks.map((task) => [task.taskId, task.status])
        .sort(),
    ).toEqual([
      ['@fx/a#lint', 'passed'],
      ['@fx/a#typecheck', 'failed'],
    ]);
    expect(result.output).toContain('✗ @fx/a#typecheck');
    expect(result.output).toContain(
      "src/count.ts(1,14): error TS2322: Type 'string' is not assignable to type 'number'.",
    );
    expect(result.output).toContain('rerun: pnpm --filter @fx/a typecheck');
    expect(result.lastLine).toBe('gate: 1 passed, 1 failed, 0 warned');
  });
});

describe.concurrent('gate precommit', () => {
  it('tests the staged content, not the working tree, and only what the staged files touch', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        files: {
          'src/math.ts': 'export const add = (x: number, y: number): number => x + y;\n',
          'src/math.test.ts': `import { expect, it } from 'vitest';\nimport { add } from './math.js';\nit('adds', () => {\n  expect(add(1, 2)).toBe(3);\n});\n`,
        },
      },
      {
        name: 'c',
        files: {
          'src/index.test.ts': `import { it } from 'vitest';\nit('broken elsewhere', () => {\n  throw new Error('not staged, not run');\n});\n`,
        },
      },
    ]);
    const fixed = 'export const add = (x: number, y: number): number => x + y; // unstaged\n';
    fx.write(
      'packages/a/src/math.ts',
      'export const add = (x: number, y: number): number => x - y;\n',
    );
    fx.git('add', 'packages/a/src/math.ts');
    fx.write('packages/a/src/math.ts', fixed);

    const result = await runGate(fx.root, ['precommit']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('✗ @fx/a  src/math.test.ts:3  adds');
    expect(result.output).toContain('expected -1 to be 3');
    expect(result.output).not.toContain('broken elsewhere');
    expect(result.lastLine).toBe('gate: 1 passed, 1 failed, 0 warned');
    expect(readFileSync(join(fx.root, 'packages/a/src/math.ts'), 'utf8')).toBe(fixed);
    expect(fx.git('diff', '--cached', '--name-only')).toBe('packages/a/src/math.ts');
  });
});

describe.concurrent('gate precommit, reused checkout', () => {
  // TypeScript 7 (`tsc7`, @jobgate/tsconfig's bin), as this repository's typecheck scripts: the
  // gate makes it incremental as it does `tsc`, at about a fifth of tsc 5.9's CPU per run here.
  const env = cleanEnv({
    PATH: [join(WORKSPACE, 'tooling/gate/node_modules/.bin'), process.env.PATH].join(delimiter),
  });

  it('typechecks incrementally in the reused checkout, nothing from an earlier run lingers there, and vitest starts only if the package has tests', async ({
    onTestFinished,
  }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        scripts: { typecheck: 'tsc7 --noEmit -p tsconfig.json' },
        files: {
          'tsconfig.json': JSON.stringify({
            compilerOptions: FIXTURE_COMPILER_OPTIONS,
            include: ['src/*.ts'],
            exclude: ['src/*.test.ts'],
          }),
          'src/extra.ts': 'export const extra: number = 1;\n',
          'src/use.ts': "import { extra } from './extra.js';\nexport const doubled = extra * 2;\n",
        },
      },
    ]);
    const tree = join(fx.root, '.gate/precommit/tree/packages/a');
    fx.write(
      'packages/a/src/use.ts',
      "import { extra } from './extra.js';\nexport const doubled = extra * 3;\n",
    );
    fx.git('add', 'packages/a/src/use.ts');

    const first = await runGate(fx.root, ['precommit'], env);
    expect(first.code).toBe(0);
    expect(first.output).toContain('✓ @fx/a#typecheck');
    expect(existsSync(join(fx.root, '.gate/precommit/tsbuildinfo/packages%2Fa.tsbuildinfo'))).toBe(
      true,
    );

    // extra.ts leaves the index (it stays in the working tree) and a type error is left in the
    // checkout: the first must fail the typecheck, the second must not be seen.
    fx.git('rm', '-q', '--cached', 'packages/a/src/extra.ts');
    writeFileSync(join(tree, 'src/stray.ts'), 'export const stray: number = "text";\n');
    const removed = await runGate(fx.root, ['precommit'], env);
    expect(removed.code).toBe(1);
    expect(removed.output).toContain('✗ @fx/a#typecheck');
    // tsc7 writes a diagnostic in several pieces; through turbo's output they may arrive as
    // separate lines of the task's last output ("| src/use.ts(1,23): " / "| error TS2307: " …).
    expect(removed.output).toMatch(
      /src\/use\.ts\(1,23\):[\s|]*error TS2307:[\s|]*Cannot find module '\.\/extra\.js'/,
    );
    expect(removed.output).not.toContain('stray');

    fx.git('add', 'packages/a/src/extra.ts');
    const restored = await runGate(fx.root, ['precommit'], env);
    expect(restored.code).toBe(0);
    expect(restored.output).toContain('✓ @fx/a#test:unit');
    expect(existsSync(join(tree, 'src/stray.ts'))).toBe(false);

    // No test file left in the package: vitest is not started at all.
    fx.git('rm', '-q', '--cached', 'packages/a/src/index.test.ts');
    const untested = await runGate(fx.root, ['precommit'], env);
    expect(untested.code).toBe(0);
    expect(untested.output).not.toContain('test:unit');
    expect(untested.lastLine).toBe('gate: 1 passed, 0 failed, 0 warned');
  });
});

describe.concurrent('services', () => {
  it('reports a Redis that accepts connections but never answers as infra, not as failing tests', async ({
    onTestFinished,
  }) => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const fx = fixture(onTestFinished, [
        {
          name: 'a',
          files: {
            'test/integration/ok.test.ts': `import { it } from 'vitest';\nit('ok', () => {});\n`,
          },
        },
      ]);
      const result = await runGate(
        fx.root,
        ['run', 'test:integration'],
        cleanEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, GATE_REDIS_TIMEOUT_MS: '1500' }),
      );

      expect(result.code).toBe(1);
      expect(result.output).toContain(
        `INFRA (integration): Redis did not answer PING at redis://127.0.0.1:${port}`,
      );
      expect(result.lastLine).toBe('gate: 0 passed, 1 failed, 0 warned');
      const record = lastRun(fx.root);
      expect(record.tests).toEqual([]);
      expect(record.levels[0]?.status).toBe('infra');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('on Ctrl-C stops the tasks and leaves no redis-server running', async ({ onTestFinished }) => {
    const fx = fixture(onTestFinished, [
      {
        name: 'a',
        files: {
          'test/integration/wait.test.ts': `import { writeFileSync } from 'node:fs';\nimport { it } from 'vitest';\nit('waits', async () => {\n  writeFileSync(process.env.GATE_FIXTURE_STATE + '/redis-url', process.env.REDIS_URL ?? '');\n  await new Promise(() => {});\n}, 120_000);\n`,
        },
      },
    ]);
    const marker = join(fx.scratch, 'redis-url');
    const { child, done } = startGate(
      fx.root,
      ['run', 'test:integration'],
      cleanEnv({ GATE_FIXTURE_STATE: fx.scratch }),
    );
    await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').length > 0, {
      timeoutMs: 30_000,
      what: 'the test to start',
    });
    const port = Number(new URL(readFileSync(marker, 'utf8')).port);
    child.kill('SIGINT');
    const result = await done;

    expect(result.code).toBe(130);
    expect(await portRefuses(port)).toBe(true);
    const processes = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(processes).not.toMatch(new RegExp(`redis-server.*--port ${port}\\b`));
    expect(processes).not.toContain(fx.root);
  });
});
