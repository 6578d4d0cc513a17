import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/** `operator` may act (cancel, retry, requeue); `read-only` only sees. */
export type OperatorRole = 'operator' | 'read-only';
export const OPERATOR_ROLES: readonly OperatorRole[] = ['operator', 'read-only'];

/**
 * `jgo_<16 hex id>_<43 base64url secret>`: a different prefix and a different Redis record from
 * customer keys (`jgk_`), so a customer key can never open the monitor, whatever it is.
 */
const KEY_FORMAT = /^jgo_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface Operator {
  keyId: string;
  role: OperatorRole;
  label: string;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** `{ns}:ops:key:<id>` hash (role, secret_sha256, label, created_at); `{ns}:ops:keys` set of ids. */
export function operatorKeyNames(namespace: string) {
  return {
    key: (id: string) => `{${namespace}}:ops:key:${id}`,
    all: `{${namespace}}:ops:keys`,
  };
}

/** Operator keys, stored like API keys: only the SHA-256 of a 256-bit secret. */
export class OperatorKeyStore {
  private readonly names: ReturnType<typeof operatorKeyNames>;

  constructor(
    private readonly redis: Redis,
    namespace: string,
  ) {
    this.names = operatorKeyNames(namespace);
  }

  async create(role: OperatorRole, label = ''): Promise<{ key: string; keyId: string }> {
    if (!OPERATOR_ROLES.includes(role))
      throw new Error(`role must be one of ${OPERATOR_ROLES.join(', ')} (got ${String(role)})`);
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.redis
      .multi()
      .hset(this.names.key(keyId), {
        role,
        label,
        secret_sha256: sha256(secret).toString('hex'),
        created_at: new Date().toISOString(),
      })
      .sadd(this.names.all, keyId)
      .exec();
    return { key: `jgo_${keyId}_${secret}`, keyId };
  }

  async list(): Promise<Array<Operator & { createdAt: string }>> {
    const ids = (await this.redis.smembers(this.names.all)).sort();
    const out: Array<Operator & { createdAt: string }> = [];
    for (const keyId of ids) {
      const r = await this.redis.hgetall(this.names.key(keyId));
      if (!r.role) continue;
      out.push({
        keyId,
        role: r.role as OperatorRole,
        label: r.label ?? '',
        createdAt: r.created_at ?? '',
      });
    }
    return out;
  }

  async revoke(keyId: string): Promise<boolean> {
    const removed = await this.redis.del(this.names.key(keyId));
    await this.redis.srem(this.names.all, keyId);
    return removed === 1;
  }

  /** The operator a presented key belongs to, or undefined (malformed, unknown, revoked, customer key). */
  async verify(presented: string | undefined): Promise<Operator | undefined> {
    const match = presented ? KEY_FORMAT.exec(presented) : null;
    if (!match) return undefined;
    const keyId = match[1]!;
    const [role, stored, label] = await this.redis.hmget(
      this.names.key(keyId),
      'role',
      'secret_sha256',
      'label',
    );
    if (!role || !stored || stored.length !== 64) return undefined;
    if (!timingSafeEqual(Buffer.from(stored, 'hex'), sha256(match[2]!))) return undefined;
    return { keyId, role: role as OperatorRole, label: label ?? '' };
  }
}
