import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestRecord } from './results.js';

/**
 * ADR-002 release criteria: P0 blocks a release, P1 warns ("should pass"), P2 is tracked and runs
 * only when asked.
 */
export type Tier = 'P0' | 'P1' | 'P2';

export const TIERS: readonly Tier[] = ['P0', 'P1', 'P2'];
export const DEFAULT_TIER: Tier = 'P0';

export class TierDeclarationError extends Error {
  override name = 'TierDeclarationError';
}

function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

/**
 * The one place packages declare their tier, reviewed like code: `{ "packages": { "<name>": "P1" } }`.
 * A package not listed is P0. Override the path with GATE_TIERS_FILE.
 */
export const TIERS_FILE = 'tooling/gate/tiers.json';

export function tiersPath(root: string): string {
  return join(root, process.env.GATE_TIERS_FILE ?? TIERS_FILE);
}

/**
 * Package name -> tier. Every problem is named; a typo must not silently demote a package to
 * "warning only", so an invalid file stops the gate (exit 2).
 */
export function parseTiers(raw: unknown, where: string): Map<string, Tier> {
  const packages = (raw as { packages?: unknown } | null)?.packages;
  if (packages === null || typeof packages !== 'object' || Array.isArray(packages))
    throw new TierDeclarationError(
      `${where}: packages must be an object of "<package>": "P0|P1|P2"`,
    );
  const issues: string[] = [];
  const tiers = new Map<string, Tier>();
  for (const [name, tier] of Object.entries(packages as Record<string, unknown>)) {
    if (isTier(tier)) tiers.set(name, tier);
    else
      issues.push(
        `packages.${name}: must be one of ${TIERS.join(', ')}, not ${JSON.stringify(tier)}`,
      );
  }
  if (issues.length > 0)
    throw new TierDeclarationError(`${where} is invalid: ${issues.join('; ')}`);
  return tiers;
}

export function loadTiers(root: string): Map<string, Tier> {
  const file = tiersPath(root);
  if (!existsSync(file)) return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TierDeclarationError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseTiers(raw, file);
}

export function packageTier(tiers: ReadonlyMap<string, Tier>, name: string): Tier {
  return tiers.get(name) ?? DEFAULT_TIER;
}

const TAG = /\[(P[012])\]/g;

/**
 * A test's tier: a `[P0]`, `[P1]` or `[P2]` tag anywhere in its full name (its own title or any
 * enclosing `describe`; the innermost, i.e. last, tag wins) overrides its package's tier.
 */
export function testTier(fullName: string, tierOfPackage: Tier): Tier {
  const last = [...fullName.matchAll(TAG)].at(-1)?.[1];
  return isTier(last) ? last : tierOfPackage;
}

/** Whether a failure at this tier blocks: P0 always, P1 and P2 only with `--strict`. */
export function blocks(tier: Tier, strict: boolean): boolean {
  return tier === 'P0' || strict;
}

/** Sets a test's tier, quarantine and warning flags from its package tier and the run's policy. */
export function judgeTest(
  test: TestRecord,
  packageTier: Tier,
  quarantined: ReadonlySet<string>,
  strict: boolean,
): void {
  test.quarantined = quarantined.has(test.id);
  test.tier = testTier(test.name, packageTier);
  test.warned = test.state === 'failed' && !test.quarantined && !blocks(test.tier, strict);
}

/** A failed test that blocks: not quarantined and at a blocking tier. */
export function isBlockingFailure(test: TestRecord): boolean {
  return test.state === 'failed' && !test.quarantined && !test.warned;
}
