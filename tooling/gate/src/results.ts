import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { LevelName } from './levels.js';
import type { Tier } from './tiers.js';

export type TestState = 'passed' | 'failed' | 'skipped';

export interface TestRecord {
  /** `<package>::<file>::<full name>`: the key of the quarantine list and the history. */
  id: string;
  package: string;
  level: LevelName;
  taskId: string;
  file: string;
  line?: number;
  name: string;
  state: TestState;
  retries: number;
  /** Failed at least once and then passed: reported as flaky, never as a plain pass. */
  flaky: boolean;
  quarantined: boolean;
  /** Release tier (ADR-002): the package's, or a `[P1]`-style tag in the test's name. */
  tier?: Tier;
  /** Failed at a tier that does not block this run (P1/P2 without `--strict`): a warning. */
  warned?: boolean;
  durationMs: number;
  /** The level's per-test budget from its preset; over it, the report flags the test SLOW. */
  slowMs?: number;
  errors: string[];
  /** The result came from Turbo's cache (a replay, not a fresh run). */
  cached: boolean;
  rerun: string;
}

export interface TaskTests {
  tests: TestRecord[];
  /** Errors outside any test (unhandled rejections, a file that failed to load). */
  problems: string[];
}

export function testId(pkg: string, file: string, name: string): string {
  return `${pkg}::${file}::${name}`;
}

/** The command that reruns one test locally: the package's own script, narrowed to file:line. */
export function rerunCommand(pkg: string, task: string, file: string, line?: number): string {
  const target = line ? `${file}:${line}` : file;
  return `pnpm --filter ${pkg} ${task} ${target}`;
}

interface GateJson {
  tests: {
    file: string;
    line?: number;
    name: string;
    state: string;
    retries?: number;
    flaky?: boolean;
    durationMs?: number;
    errors?: string[];
  }[];
  moduleErrors?: { file: string; errors: string[] }[];
  unhandledErrors?: string[];
  slowTestMs?: number;
}

interface VitestJson {
  testResults?: {
    name: string;
    status?: string;
    message?: string;
    assertionResults?: {
      fullName?: string;
      title?: string;
      status: string;
      location?: { line: number; column: number };
      failureMessages?: string[];
      duration?: number;
    }[];
  }[];
}

function state(raw: string): TestState {
  if (raw === 'passed') return 'passed';
  if (raw === 'failed') return 'failed';
  return 'skipped';
}

export interface ReadTaskOptions {
  /** Absolute package directory. */
  dir: string;
  package: string;
  task: string;
  level: LevelName;
  resultsDir: string;
  cached: boolean;
  /** Results older than this (ms since epoch) belong to an earlier run and are ignored. */
  notBefore?: number;
}

/**
 * Reads what a test task left in `.test-results/<level>/`: the gate reporter's `gate.json`
 * (retries, flaky), else vitest's `results.json`. Undefined when the task wrote nothing this run
 * (it crashed, was killed, or is not a vitest task).
 */
export function readTaskTests(options: ReadTaskOptions): TaskTests | undefined {
  const base = join(options.dir, '.test-results', options.resultsDir);
  const gateFile = join(base, 'gate.json');
  const vitestFile = join(base, 'results.json');
  const fresh = (file: string): boolean =>
    existsSync(file) &&
    (options.notBefore === undefined || statSync(file).mtimeMs >= options.notBefore - 1_000);
  const taskId = `${options.package}#${options.task}`;
  const make = (
    file: string,
    name: string,
    line: number | undefined,
  ): Pick<
    TestRecord,
    | 'id'
    | 'package'
    | 'level'
    | 'taskId'
    | 'file'
    | 'line'
    | 'name'
    | 'cached'
    | 'rerun'
    | 'quarantined'
  > => ({
    id: testId(options.package, file, name),
    package: options.package,
    level: options.level,
    taskId,
    file,
    line,
    name,
    cached: options.cached,
    quarantined: false,
    rerun: rerunCommand(options.package, options.task, file, line),
  });

  if (fresh(gateFile)) {
    const data = JSON.parse(readFileSync(gateFile, 'utf8')) as GateJson;
    const tests: TestRecord[] = data.tests.map((test) => ({
      ...make(test.file, test.name, test.line),
      state: state(test.state),
      retries: test.retries ?? 0,
      flaky: Boolean(test.flaky) && test.state === 'passed',
      durationMs: test.durationMs ?? 0,
      ...(data.slowTestMs === undefined ? {} : { slowMs: data.slowTestMs }),
      errors: test.errors ?? [],
    }));
    for (const moduleError of data.moduleErrors ?? []) {
      tests.push({
        ...make(moduleError.file, '(file-level error: import or hook)', undefined),
        state: 'failed',
        retries: 0,
        flaky: false,
        durationMs: 0,
        errors: moduleError.errors,
      });
    }
    return { tests, problems: data.unhandledErrors ?? [] };
  }
  if (fresh(vitestFile)) {
    const data = JSON.parse(readFileSync(vitestFile, 'utf8')) as VitestJson;
    const tests: TestRecord[] = [];
    for (const fileResult of data.testResults ?? []) {
      const file = isAbsolute(fileResult.name)
        ? relative(options.dir, fileResult.name)
        : fileResult.name;
      const assertions = fileResult.assertionResults ?? [];
      for (const assertion of assertions) {
        const name = assertion.fullName ?? assertion.title ?? '(unnamed)';
        tests.push({
          ...make(file, name, assertion.location?.line),
          state: state(assertion.status),
          retries: 0,
          flaky: false,
          durationMs: Math.round(assertion.duration ?? 0),
          errors: assertion.failureMessages ?? [],
        });
      }
      if (assertions.length === 0 && fileResult.status === 'failed') {
        tests.push({
          ...make(file, '(file-level error: import or hook)', undefined),
          state: 'failed',
          retries: 0,
          flaky: false,
          durationMs: 0,
          errors: [fileResult.message ?? 'failed'],
        });
      }
    }
    return { tests, problems: [] };
  }
  return undefined;
}

/** The first lines of an error, for reports: enough to recognise it, short enough to scan. */
export function firstLines(errors: readonly string[], count = 4): string[] {
  return errors
    .join('\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(0, count);
}
