/**
 * Redis keys the API owns (core owns the queue's). They share the queue namespace's hash tag
 * (`{ns}`), so they live in the queue's cluster slot and go away with the namespace.
 *
 * - `{ns}:api:key:<key_id>`              hash   customer_id, secret_sha256 (hex), created_at, label
 * - `{ns}:api:customer-keys:<customer>`  set    key ids of a customer (for `keys list`)
 * - `{ns}:api:idem:<customer>:<sha256>`  string SHA-256 of the body first sent with an Idempotency-Key (TTL)
 */
export function apiRedisKeys(namespace: string) {
  const tag = `{${namespace}}`;
  return {
    apiKey: (keyId: string) => `${tag}:api:key:${keyId}`,
    customerKeys: (customer: string) => `${tag}:api:customer-keys:${customer}`,
    idempotency: (customer: string, keyHash: string) => `${tag}:api:idem:${customer}:${keyHash}`,
  };
}

export type ApiRedisKeys = ReturnType<typeof apiRedisKeys>;
