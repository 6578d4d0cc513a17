import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from './record.js';

/** Tracked in the repo so a quarantine is reviewed like code. Override with GATE_QUARANTINE_FILE. */
export const QUARANTINE_FILE = 'tooling/gate/quarantine.json';

/** A quarantined test that passes this many fresh runs in a row is proposed for release. */
export const RELEASE_AFTER_RUNS = 20;

export interface QuarantineEntry {
  /** `<package>::<file relative to the package>::<full test name>` */
  id: string;
  reason: string;
  /** YYYY-MM-DD */
  date: string;
  issue?: string;
}

/** Every problem of the file, `tests.0.reason: ...`, so one edit fixes them all. */
function validate(raw: unknown): { entries: QuarantineEntry[]; issues: string[] } {
  const issues: string[] = [];
  const tests = (raw as { tests?: unknown } | null)?.tests;
  if (!Array.isArray(tests)) return { entries: [], issues: ['tests: must be an array of entries'] };
  const entries: QuarantineEntry[] = [];
  tests.forEach((item: unknown, index) => {
    const entry = (item ?? {}) as Record<string, unknown>;
    const at = `tests.${index}`;
    if (typeof entry.id !== 'string' || !/.+::.+::.+/.test(entry.id)) {
      issues.push(`${at}.id: id must be "<package>::<file>::<full test name>"`);
    }
    if (typeof entry.reason !== 'string' || entry.reason.trim() === '') {
      issues.push(`${at}.reason: reason must say why the test is quarantined`);
    }
    if (typeof entry.date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(entry.date)) {
      issues.push(`${at}.date: date must be YYYY-MM-DD`);
    }
    if (entry.issue !== undefined && typeof entry.issue !== 'string')
      issues.push(`${at}.issue: must be a string`);
    // Returned only when no entry had an issue (loadQuarantine throws otherwise).
    entries.push(entry as unknown as QuarantineEntry);
  });
  return { entries, issues };
}

export class QuarantineFileError extends Error {
  override name = 'QuarantineFileError';
}

export function quarantinePath(root: string): string {
  return join(root, process.env.GATE_QUARANTINE_FILE ?? QUARANTINE_FILE);
}

export function loadQuarantine(root: string): QuarantineEntry[] {
  const file = quarantinePath(root);
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new QuarantineFileError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const { entries, issues } = validate(raw);
  if (issues.length > 0) throw new QuarantineFileError(`${file} is invalid: ${issues.join('; ')}`);
  return entries;
}

export interface ReleaseProposal {
  id: string;
  passesInARow: number;
}

/**
 * Quarantined tests whose last RELEASE_AFTER_RUNS fresh results (not cache replays) are all clean
 * passes, newest run first. A retried pass breaks the streak: that is still flaky.
 */
export function proposeReleases(
  entries: readonly QuarantineEntry[],
  runsNewestFirst: readonly RunRecord[],
): ReleaseProposal[] {
  const proposals: ReleaseProposal[] = [];
  for (const entry of entries) {
    let streak = 0;
    for (const run of runsNewestFirst) {
      const result = run.tests.find((test) => test.id === entry.id && !test.cached);
      if (!result) continue;
      if (result.state !== 'passed' || result.retries > 0) break;
      streak++;
      if (streak >= RELEASE_AFTER_RUNS) break;
    }
    if (streak >= RELEASE_AFTER_RUNS) proposals.push({ id: entry.id, passesInARow: streak });
  }
  return proposals;
}
