import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { RunRecord } from './record.js';

/** Tracked in the repo so a quarantine is reviewed like code. Override with GATE_QUARANTINE_FILE. */
export const QUARANTINE_FILE = 'tooling/gate/quarantine.json';

/** A quarantined test that passes this many fresh runs in a row is proposed for release. */
export const RELEASE_AFTER_RUNS = 20;

const entrySchema = z.object({
  id: z.string().regex(/^.+::.+::.+$/, 'id must be "<package>::<file>::<full test name>"'),
  reason: z.string().min(1, 'reason must say why the test is quarantined'),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'date must be YYYY-MM-DD'),
  issue: z.string().optional(),
});
const fileSchema = z.object({ tests: z.array(entrySchema) });

export type QuarantineEntry = z.infer<typeof entrySchema>;

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
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new QuarantineFileError(`${file} is invalid: ${issues}`);
  }
  return parsed.data.tests;
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
