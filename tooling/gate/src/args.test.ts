import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './args.js';
import { parseDuration, planLevels, PROFILES, profileTasks, rootTurboDefines } from './levels.js';

describe('parseArgs', () => {
  it('stops `gate test` after a failed level like `gate release`, unless --keep-going', () => {
    expect(parseArgs(['test']).keepGoing).toBe(false);
    expect(parseArgs(['release']).keepGoing).toBe(false);
    expect(parseArgs(['test', '--keep-going']).keepGoing).toBe(true);
  });

  it('bails (stops a level at its first blocking failure) in `gate test` unless --keep-going; elsewhere only with --bail', () => {
    expect(parseArgs(['test']).bail).toBe(true);
    expect(parseArgs(['test', '--keep-going']).bail).toBe(false);
    expect(parseArgs(['release']).bail).toBe(false);
    expect(parseArgs(['release', '--bail']).bail).toBe(true);
    expect(parseArgs(['run', 'test:e2e', '--bail']).bail).toBe(true);
    expect(() => parseArgs(['release', '--bail', '--keep-going'])).toThrow(
      /--bail stops at the first blocking failure, --keep-going runs everything: pick one/,
    );
    expect(() => parseArgs(['test', '--bial'])).toThrow(/Did you mean "--bail"\?/);
  });

  it('reads gate run with tasks, affected, base, timeout and budget mode', () => {
    expect(
      parseArgs([
        'run',
        'test:e2e',
        '--affected',
        '--base=origin/main',
        '--timeout',
        '90s',
        '--budget=fail',
      ]),
    ).toMatchObject({
      command: 'run',
      tasks: ['test:e2e'],
      affected: true,
      base: 'origin/main',
      timeoutMs: 90_000,
      budget: 'fail',
    });
  });

  it('reads --concurrency and --force, and refuses a concurrency that is not a whole number', () => {
    expect(parseArgs(['release', '--concurrency', '3', '--force'])).toMatchObject({
      concurrency: 3,
      force: true,
    });
    expect(parseArgs(['release'])).toMatchObject({ force: false });
    expect(parseArgs(['release']).concurrency).toBeUndefined();
    for (const bad of ['0', '1.5', 'many'])
      expect(() => parseArgs(['release', `--concurrency=${bad}`])).toThrow(
        `--concurrency must be a whole number of at least 1, not "${bad}"`,
      );
  });

  it('makes pr affected-only and a --base imply --affected', () => {
    expect(parseArgs(['pr']).affected).toBe(true);
    expect(parseArgs(['run', 'lint', '--base', 'main']).affected).toBe(true);
  });

  it.each([
    [['deploy'], /Unknown command "deploy"/],
    [['run'], /gate run needs at least one task/],
    [['release', '--budget=maybe'], /--budget must be warn or fail/],
    [['release', '--timeout', 'soon'], /Not a duration: "soon"/],
    [['release', '--frobnicate'], /Unknown option "--frobnicate"/],
    [['release', 'test:unit'], /Unexpected argument "test:unit" for gate release/],
    [['run', 'lint', '--base'], /--base needs a value/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('levels', () => {
  it('orders tasks by the pyramid and puts unknown tasks into build verification', () => {
    const plan = planLevels(['test:e2e', 'test:unit', 'lint', 'format:check', 'test:integration']);
    expect(plan.map((run) => [run.level.name, run.tasks])).toEqual([
      ['build', ['lint', 'format:check']],
      ['unit', ['test:unit']],
      ['integration', ['test:integration']],
      ['e2e', ['test:e2e']],
    ]);
    expect(plan.filter((run) => run.level.needsRedis).map((run) => run.level.name)).toEqual([
      'integration',
      'e2e',
    ]);
  });

  it('carries the ADR-002 budgets', () => {
    const budgets = Object.fromEntries(
      planLevels(['build', 'test:unit', 'test:integration', 'test:e2e']).map((run) => [
        run.level.name,
        run.level.budgetMs / 60_000,
      ]),
    );
    expect(budgets).toEqual({ build: 5, unit: 5, integration: 10, e2e: 15 });
  });

  it('runs chaos after e2e in release, with its own budget, timeout and report', () => {
    const plan = planLevels(PROFILES.release);
    expect(plan.map((run) => run.level.name)).toEqual([
      'build',
      'unit',
      'integration',
      'e2e',
      'chaos',
    ]);
    expect(plan.at(-1)!.level).toMatchObject({
      tasks: ['test:chaos'],
      budgetMs: 4 * 60_000,
      timeoutMs: 10 * 60_000,
      resultsDir: 'chaos',
      reportFile: 'table.md',
    });
  });

  it('runs check in place of typecheck + lint in release and pr when the repository has it', () => {
    expect(profileTasks('release', true)).toEqual([
      'check',
      'build',
      'test:unit',
      'test:integration',
      'test:e2e',
      'test:chaos',
    ]);
    expect(profileTasks('pr', true)).toEqual(['check', 'test:unit']);
    expect(profileTasks('release', false)).toEqual([...PROFILES.release]);
    expect(profileTasks('pr', false)).toEqual(['typecheck', 'lint', 'test:unit']);
    expect(profileTasks('test', true)).toEqual([...PROFILES.test]);
    expect(planLevels(profileTasks('pr', true)).map((run) => [run.level.name, run.tasks])).toEqual([
      ['build', ['check']],
      ['unit', ['test:unit']],
    ]);
  });

  it('sees a check task in the root turbo.json or turbo.jsonc, comments and trailing commas allowed', ({
    onTestFinished,
  }) => {
    const root = mkdtempSync(join(tmpdir(), 'gate-turbo-json-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const write = (name: string, text: string): void => writeFileSync(join(root, name), text);
    expect(rootTurboDefines(root, 'check')).toBe(false); // no turbo.json at all
    write('turbo.json', JSON.stringify({ tasks: { typecheck: {}, lint: {} } }));
    expect(rootTurboDefines(root, 'check')).toBe(false);
    write('turbo.json', JSON.stringify({ tasks: { 'web#check': {}, '//#check': {} } }));
    expect(rootTurboDefines(root, 'check')).toBe(false);
    write(
      'turbo.json',
      '{\n  // the one program per package\n  "tasks": { "check": { "inputs": ["src/**", "!a//b/*"], }, /* x */ },\n}\n',
    );
    expect(rootTurboDefines(root, 'check')).toBe(true);
    write('turbo.json', '{ "tasks": { "check": ');
    expect(rootTurboDefines(root, 'check')).toBe(false); // invalid: turbo will say why
    rmSync(join(root, 'turbo.json'));
    write('turbo.jsonc', '{ "tasks": { "check": {} } } // jsonc');
    expect(rootTurboDefines(root, 'check')).toBe(true);
  });

  it('parses durations', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('5m')).toBe(300_000);
  });
});

describe('a mistyped option', () => {
  it.each([
    ['--bse', '--base'],
    ['--filtre', '--filter'],
    ['--verbos', '--verbose'],
    ['--timeout=5m'.replace('timeout', 'timout'), '--timeout'],
  ])('%s suggests %s', (typo, meant) => {
    expect(() => parseArgs(['pr', typo])).toThrow(`Did you mean "${meant}"?`);
  });

  it('suggests nothing for a word that is not near any option', () => {
    expect(() => parseArgs(['release', '--frobnicate'])).toThrow(/Unknown option "--frobnicate"\./);
    expect(() => parseArgs(['release', '--frobnicate'])).not.toThrow(/Did you mean/);
  });
});

describe('--overlap', () => {
  it('is the default of gate release only; --no-overlap turns it off; =LEVELS names the levels', () => {
    expect(parseArgs(['release']).overlap).toEqual([]);
    expect(parseArgs(['release', '--no-overlap']).overlap).toBe(false);
    expect(parseArgs(['test']).overlap).toBeUndefined();
    expect(parseArgs(['run', 'test:e2e', '--overlap']).overlap).toEqual([]);
    expect(parseArgs(['test', '--overlap=integration, e2e']).overlap).toEqual([
      'integration',
      'e2e',
    ]);
    expect(() => parseArgs(['release', '--overlap=e2e,build'])).toThrow(
      '--overlap takes test levels (unit, integration, e2e, chaos), not "build".',
    );
    expect(() => parseArgs(['release', '--overlap=e2e'])).toThrow('names at least two levels');
  });

  it('groups e2e and chaos by default, the named levels when named, one level per group without it', async () => {
    const { groupLevels } = await import('./gate.js');
    const names = (overlap: string[] | false | undefined, tasks: readonly string[]) =>
      groupLevels(planLevels(tasks), overlap).map((group) => group.map((run) => run.level.name));
    expect(names([], PROFILES.release)).toEqual([
      ['build'],
      ['unit'],
      ['integration'],
      ['e2e', 'chaos'],
    ]);
    expect(names(['integration', 'e2e', 'chaos'], PROFILES.release)).toEqual([
      ['build'],
      ['unit'],
      ['integration', 'e2e', 'chaos'],
    ]);
    // Only adjacent levels share a group.
    expect(names(['integration', 'chaos'], PROFILES.release)).toEqual([
      ['build'],
      ['unit'],
      ['integration'],
      ['e2e'],
      ['chaos'],
    ]);
    for (const off of [false, undefined] as const)
      expect(names(off, PROFILES.release)).toEqual([
        ['build'],
        ['unit'],
        ['integration'],
        ['e2e'],
        ['chaos'],
      ]);
    expect(names([], PROFILES.test)).toEqual([['unit'], ['integration'], ['e2e']]);
    expect(names(['integration', 'e2e'], PROFILES.test)).toEqual([
      ['unit'],
      ['integration', 'e2e'],
    ]);
  });
});
