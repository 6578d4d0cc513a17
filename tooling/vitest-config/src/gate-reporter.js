// @ts-check
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

/**
 * Writes `.test-results/<level>/gate.json`: one record per test with its file:line, final state,
 * retry count and flaky flag. Vitest's own JSON reporter drops retries, and the gate must tell a
 * test that passed from one that passed only on a retry (ADR-002 Q4: flaky is never a plain pass).
 *
 * @typedef {{ file: string, line?: number, column?: number, name: string,
 *   state: 'passed' | 'failed' | 'skipped' | 'pending', retries: number, flaky: boolean,
 *   durationMs: number, slow: boolean, errors: string[] }} GateTestRecord
 */

const MAX_ERROR_CHARS = 2_000;

/**
 * @param {unknown} error
 * @param {string} root frames are shown relative to the package, as the rerun command is
 */
function describeError(error, root) {
  if (!error || typeof error !== 'object') return String(error);
  const { name, message, stack } =
    /** @type {{ name?: string, message?: string, stack?: string }} */ (error);
  const head = `${name && name !== 'Error' ? `${name}: ` : ''}${message ?? ''}`;
  const frames = (stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at .*\.[cm]?[jt]sx?:\d+/.test(line) && !line.includes('node_modules'))
    .slice(0, 3)
    .map((line) => line.replaceAll(`${root}/`, ''))
    .join('\n');
  return `${head}${frames ? `\n${frames}` : ''}`.slice(0, MAX_ERROR_CHARS);
}

export default class GateReporter {
  /** @param {{ outputFile?: string, slowTestMs?: number }} [options] */
  constructor(options = {}) {
    this.outputFile = options.outputFile ?? 'gate.json';
    /** The level's per-test budget: a test over it is flagged `slow` for the gate's report. */
    this.slowTestMs = options.slowTestMs;
    this.root = process.cwd();
  }

  /** @param {import('vitest/node').Vitest} vitest */
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  /**
   * @param {ReadonlyArray<import('vitest/node').TestModule>} testModules
   * @param {ReadonlyArray<unknown>} unhandledErrors
   * @param {string} reason
   */
  onTestRunEnd(testModules, unhandledErrors, reason) {
    /** @type {GateTestRecord[]} */
    const tests = [];
    /** @type {{ file: string, errors: string[] }[]} */
    const moduleErrors = [];
    for (const module of testModules) {
      const file = relative(this.root, module.moduleId);
      const errors = module.errors();
      if (errors.length > 0)
        moduleErrors.push({ file, errors: errors.map((error) => describeError(error, this.root)) });
      for (const test of module.children.allTests()) {
        const result = test.result();
        const diagnostic = test.diagnostic();
        const durationMs = Math.round(diagnostic?.duration ?? 0);
        tests.push({
          file,
          line: test.location?.line,
          column: test.location?.column,
          name: test.fullName,
          state: result.state,
          retries: diagnostic?.retryCount ?? 0,
          flaky: diagnostic?.flaky ?? false,
          durationMs,
          slow: this.slowTestMs !== undefined && durationMs > this.slowTestMs,
          errors: (result.errors ?? []).map((error) => describeError(error, this.root)),
        });
      }
    }
    const target = resolve(this.root, this.outputFile);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(
      target,
      `${JSON.stringify(
        {
          version: 1,
          reason,
          finishedAt: new Date().toISOString(),
          slowTestMs: this.slowTestMs,
          tests,
          moduleErrors,
          unhandledErrors: unhandledErrors.map((error) => describeError(error, this.root)),
        },
        null,
        1,
      )}\n`,
    );
  }
}
