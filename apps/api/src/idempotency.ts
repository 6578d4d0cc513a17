import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { apiRedisKeys, type ApiRedisKeys } from './redis-keys.js';

/**
 * The job id an Idempotency-Key maps to: a UUID-shaped digest of (customer, key). Submitting with
 * it makes the queue itself deduplicate (core's `submit` with an existing id creates nothing), so a
 * retry after a crash or timeout at any point never creates a second job.
 */
export function idempotentJobId(customerId: string, idempotencyKey: string): string {
  const hex = createHash('sha256')
    .update(`jobgate-idempotency\0${customerId}\0${idempotencyKey}`)
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Remembers the body each Idempotency-Key was first used with, so the same key with a different
 * body is refused (422) instead of silently answering with a job the client did not describe.
 */
export class IdempotencyStore {
  private readonly keys: ApiRedisKeys;

  constructor(
    private readonly redis: Redis,
    namespace: string,
    private readonly ttlSeconds: number,
  ) {
    this.keys = apiRedisKeys(namespace);
  }

  /**
   * `reused`: the key was first used with another body. `release` forgets a key this call
   * reserved, for a submission that then failed: the client may fix the body and retry.
   */
  async check(
    customerId: string,
    idempotencyKey: string,
    body: unknown,
  ): Promise<{ reused: boolean; release: () => Promise<void> }> {
    const result = await this.matches(customerId, idempotencyKey, body);
    const key = this.keys.idempotency(
      customerId,
      createHash('sha256').update(idempotencyKey).digest('hex'),
    );
    return {
      reused: !result.ok,
      release: async () => {
        if (result.reserved) await this.redis.del(key);
      },
    };
  }

  private async matches(
    customerId: string,
    idempotencyKey: string,
    body: unknown,
  ): Promise<{ ok: boolean; reserved: boolean }> {
    const key = this.keys.idempotency(
      customerId,
      createHash('sha256').update(idempotencyKey).digest('hex'),
    );
    const bodyHash = createHash('sha256').update(stableStringify(body)).digest('hex');
    const reserved = await this.redis.set(key, bodyHash, 'EX', this.ttlSeconds, 'NX');
    if (reserved === 'OK') return { ok: true, reserved: true };
    const existing = await this.redis.get(key);
    return { ok: existing === null || existing === bodyHash, reserved: false };
  }
}

/** JSON with sorted object keys: the same request body always hashes the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}
