import { createHash } from 'node:crypto';

const OFFSET = 10n ** 16n;

/**
 * The priority part of a pending job's sort key: 17 digits of 10^16 - priority, so that a
 * lexicographic (byte) order puts higher priorities first. Exact for every safe integer: the
 * priority never shares a float with the submit sequence (the seed's bug above 2^53).
 */
export function priorityKey(priority: number): string {
  if (!Number.isSafeInteger(priority))
    throw new RangeError(`priority must be a safe integer (got ${priority})`);
  return (OFFSET - BigInt(priority)).toString().padStart(17, '0');
}

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    // An undefined value is left out by JSON.stringify, as by JSON itself.
    for (const key of Object.keys(source).sort()) sorted[key] = sortKeys(source[key]);
    return sorted;
  }
  return value;
}

/**
 * Requirement signature: jobs with identical requirements and customer share one pending bucket,
 * whose requirements a claim evaluates once. 80 bits of SHA-1: collisions are not a concern at
 * any realistic number of distinct requirement sets.
 */
export function requirementSignature(
  requirements: unknown,
  customerId: string | undefined,
): string {
  return createHash('sha1')
    .update(canonicalJson({ c: customerId ?? null, r: requirements ?? {} }))
    .digest('hex')
    .slice(0, 20);
}
