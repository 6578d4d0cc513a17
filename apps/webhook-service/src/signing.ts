import { createHmac, randomBytes } from 'node:crypto';

/** `whsec_` + base64 of 24 random bytes, the Standard Webhooks secret format. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * `webhook-signature` for Standard Webhooks: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per
 * active secret, space-separated (the current secret first, then one being rotated out).
 */
export function signatureHeader(
  id: string,
  timestampSeconds: number,
  body: string,
  secrets: readonly string[],
): string {
  const content = `${id}.${timestampSeconds}.${body}`;
  return secrets
    .map((s) => `v1,${createHmac('sha256', secretBytes(s)).update(content).digest('base64')}`)
    .join(' ');
}
