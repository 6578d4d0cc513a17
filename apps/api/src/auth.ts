import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { errorBody } from './http-error.js';
import { apiRedisKeys, type ApiRedisKeys } from './redis-keys.js';

/** `jgk_<16 hex key id>_<43 base64url secret>`: the id finds the record, only the secret's hash is stored. */
const KEY_FORMAT = /^jgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const CUSTOMER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export interface CreatedKey {
  /** The full key: shown once, never stored. */
  key: string;
  keyId: string;
  customerId: string;
}

export interface KeyInfo {
  keyId: string;
  customerId: string;
  createdAt: string;
  label: string;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function parseBearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Browsers cannot set headers on a WebSocket upgrade, so the key may come as a subprotocol:
 * `new WebSocket(url, ['jobgate', 'jobgate.bearer.<key>'])`; the server answers `jobgate`.
 */
export const WS_PROTOCOL = 'jobgate';
const WS_BEARER_PREFIX = 'jobgate.bearer.';

export function bearerFromProtocols(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const entry = header
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith(WS_BEARER_PREFIX));
  return entry?.slice(WS_BEARER_PREFIX.length);
}

interface CachedKey {
  customerId: string;
  secretHash: Buffer;
  expiresAt: number;
}

/**
 * API keys stored hashed (SHA-256 of a 256-bit random secret: no salt or slow hash needed at that
 * entropy). Verification compares hashes in constant time; a short positive cache keeps a Redis
 * round trip off every request, at the cost of a revoked key working for up to `cacheTtlMs`.
 */
export class ApiKeyStore {
  private readonly keys: ApiRedisKeys;
  private readonly cache = new Map<string, CachedKey>();

  constructor(
    private readonly redis: Redis,
    namespace: string,
    private readonly cacheTtlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = apiRedisKeys(namespace);
  }

  async create(customerId: string, label = ''): Promise<CreatedKey> {
    if (!CUSTOMER_ID.test(customerId)) {
      throw new Error(
        'customer id must be 1-128 characters of letters, digits, _ . : - (starting with a letter or digit)',
      );
    }
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.redis
      .multi()
      .hset(this.keys.apiKey(keyId), {
        customer_id: customerId,
        secret_sha256: sha256(secret).toString('hex'),
        created_at: new Date(this.now()).toISOString(),
        label,
      })
      .sadd(this.keys.customerKeys(customerId), keyId)
      .exec();
    return { key: `jgk_${keyId}_${secret}`, keyId, customerId };
  }

  async list(customerId: string): Promise<KeyInfo[]> {
    const ids = await this.redis.smembers(this.keys.customerKeys(customerId));
    const out: KeyInfo[] = [];
    for (const keyId of ids.sort()) {
      const record = await this.redis.hgetall(this.keys.apiKey(keyId));
      if (!record.customer_id) continue;
      out.push({
        keyId,
        customerId: record.customer_id,
        createdAt: record.created_at ?? '',
        label: record.label ?? '',
      });
    }
    return out;
  }

  /** Returns whether a key with that id existed. */
  async revoke(keyId: string): Promise<boolean> {
    const customerId = await this.redis.hget(this.keys.apiKey(keyId), 'customer_id');
    if (!customerId) return false;
    await this.redis
      .multi()
      .del(this.keys.apiKey(keyId))
      .srem(this.keys.customerKeys(customerId), keyId)
      .exec();
    this.cache.delete(keyId);
    return true;
  }

  /** The customer a presented key belongs to, or undefined for a malformed, unknown or wrong key. */
  async verify(presented: string | undefined): Promise<string | undefined> {
    if (!presented) return undefined;
    const match = KEY_FORMAT.exec(presented);
    if (!match) return undefined;
    const keyId = match[1]!;
    const secretHash = sha256(match[2]!);
    let entry = this.cache.get(keyId);
    if (!entry || entry.expiresAt <= this.now()) {
      this.cache.delete(keyId);
      const record = await this.redis.hmget(
        this.keys.apiKey(keyId),
        'customer_id',
        'secret_sha256',
      );
      const [customerId, storedHex] = record;
      if (!customerId || !storedHex || storedHex.length !== 64) return undefined;
      entry = {
        customerId,
        secretHash: Buffer.from(storedHex, 'hex'),
        expiresAt: this.now() + this.cacheTtlMs,
      };
      if (this.cacheTtlMs > 0) {
        if (this.cache.size >= 10_000) this.cache.clear();
        this.cache.set(keyId, entry);
      }
    }
    return timingSafeEqual(entry.secretHash, secretHash) ? entry.customerId : undefined;
  }
}

/**
 * The hook routes use (`onRequest` for HTTP, `preValidation` for the WebSocket upgrade): a key in
 * `Authorization: Bearer` or in the WebSocket subprotocol, else 401.
 */
export function authenticateWith(keys: ApiKeyStore) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const presented =
      parseBearer(request.headers.authorization) ??
      bearerFromProtocols(request.headers['sec-websocket-protocol']);
    const customer = await keys.verify(presented);
    if (!customer) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(
          errorBody(
            'unauthorized',
            'send a valid API key as "Authorization: Bearer <key>"',
            'authorization',
          ),
        );
      return;
    }
    request.customerId = customer;
  };
}
