import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failedTaskOf, parseTaskLine, remoteCacheTrouble, turboEnv } from './turbo.js';

describe('parseTaskLine', () => {
  it.each([
    [
      '@jobgate/core:test:unit: cache miss, executing 0af7',
      '@jobgate/core#test:unit',
      'cache miss, executing 0af7',
    ],
    ['@jobgate/core:test:unit: a: b: c', '@jobgate/core#test:unit', 'a: b: c'],
    ['@jobgate/core:test:unit:', '@jobgate/core#test:unit', ''],
    ['web:build: done', 'web#build', 'done'],
  ])('reads %j as a line of its task', (line, taskId, text) => {
    expect(parseTaskLine(line)).toEqual({ taskId, text });
  });

  it.each([
    '@jobgate/core#test:unit:  WARNING  command finished with error, but continuing...',
    ' Tasks:    3 successful, 3 total',
    'Summary:    /repo/.turbo/runs/3Ma.json',
    '   • Packages in scope: @jobgate/core',
  ])('treats %j as turbo output, not a task line', (line) => {
    expect(parseTaskLine(line)).toBeUndefined();
  });
});

describe('remoteCacheTrouble', () => {
  it('reads the reason from turbo lines when the remote cache is down', () => {
    expect(
      remoteCacheTrouble([
        '   • Running test:unit in 2 packages',
        ' WARNING     • Remote caching unavailable (Could not connect to "http://127.0.0.1:41998")',
        ' WARNING  could not connect to the cache',
      ]),
    ).toBe('Could not connect to "http://127.0.0.1:41998"');
    expect(remoteCacheTrouble([' WARNING  could not connect to the cache'])).toBe(
      'could not connect to the cache',
    );
  });

  it('says nothing when turbo did not complain', () => {
    expect(
      remoteCacheTrouble(['   • Remote caching enabled', ' Tasks:    3 successful, 3 total']),
    ).toBeUndefined();
  });
});

describe('failedTaskOf', () => {
  it.each([
    [
      '@jobgate/core#test:unit:  WARNING  command finished with error, but continuing...',
      '@jobgate/core#test:unit',
    ],
    ['web#build: ERROR  command finished with error: exit status 1', 'web#build'],
  ])('reads the failed task of %j', (line, taskId) => {
    expect(failedTaskOf(line)).toBe(taskId);
  });

  it.each([
    '@jobgate/core:test:unit: WARNING  command finished with error, but continuing...',
    ' Tasks:    3 successful, 4 total',
    ' Failed:    @jobgate/core#test:unit',
  ])('finds no failed task in %j', (line) => {
    expect(failedTaskOf(line)).toBeUndefined();
  });
});

describe('turboEnv', () => {
  it('gives turbo a shell level of at least 1 and keeps a higher one', () => {
    expect(turboEnv({}).SHLVL).toBe('1');
    expect(turboEnv({ SHLVL: '0' }).SHLVL).toBe('1');
    expect(turboEnv({ SHLVL: 'x' }).SHLVL).toBe('1');
    expect(turboEnv({ SHLVL: '3' }).SHLVL).toBe('3');
    expect(turboEnv({ TURBO_TELEMETRY_DISABLED: '0' }).TURBO_TELEMETRY_DISABLED).toBe('0');
  });

  // Linux only: the ~/.bashrc rule is Debian's bash (the CI machines and this one).
  it.runIf(process.platform === 'linux')(
    "a task's bash with a piped stdin skips ~/.bashrc even when the gate was started without a shell level",
    async ({ onTestFinished }) => {
      const home = mkdtempSync(join(tmpdir(), 'gate-shlvl-'));
      onTestFinished(() => rmSync(home, { recursive: true, force: true }));
      const mark = join(home, 'ran');
      writeFileSync(join(home, '.bashrc'), `touch '${mark}'\n`);
      /** `bash -c true` as zx starts it (stdin a pipe); true when it ran ~/.bashrc. */
      const bashReadsRc = async (env: NodeJS.ProcessEnv): Promise<boolean> => {
        rmSync(mark, { force: true });
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
      };
      // What turbo hands a task: only the variables the root turbo.json lets through.
      const passThrough = (
        JSON.parse(readFileSync(join(import.meta.dirname, '../../../turbo.json'), 'utf8')) as {
          globalPassThroughEnv: string[];
        }
      ).globalPassThroughEnv;
      const taskEnv = (gateEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
        const given = turboEnv(gateEnv);
        return Object.fromEntries(passThrough.map((name) => [name, given[name]]));
      };
      const { SHLVL: _level, ...withoutLevel } = process.env;
      expect(await bashReadsRc(taskEnv(withoutLevel))).toBe(false);
      expect(await bashReadsRc(taskEnv({ ...withoutLevel, SHLVL: '0' }))).toBe(false);
      // What this guards against: the same bash without a shell level reads ~/.bashrc.
      expect(await bashReadsRc({ PATH: process.env.PATH })).toBe(true);
    },
  );
});
