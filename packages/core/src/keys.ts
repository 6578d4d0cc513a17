/**
 * Key names of one queue namespace, in the exact order of the KEYS list documented at the top of
 * lua/jobgate.lua. Every key carries the hash tag `{ns}`, so one namespace lives in one cluster slot.
 */
export const KEY_NAMES = [
  'jobs',
  'payloads',
  'results',
  'pending',
  'buckets',
  'bucket-len',
  'specs',
  'wf-pending',
  'active',
  'delayed',
  'events',
  'seq',
  'wake',
  'depth',
  'unrunnable',
  'all',
  'by-customer',
  'by-workflow',
  'by-status',
  'heads',
] as const;

export type KeyName = (typeof KEY_NAMES)[number];
export type QueueKeys = Readonly<Record<KeyName, string>> & { readonly list: readonly string[] };

const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE.test(namespace);
}

export function queueKeys(namespace: string): QueueKeys {
  if (!isValidNamespace(namespace)) {
    throw new TypeError(
      `namespace must be 1-64 characters of letters, digits, "_", ".", ":" or "-" (got ${JSON.stringify(namespace)})`,
    );
  }
  const entries = KEY_NAMES.map((name) => [name, `{${namespace}}:${name}`] as const);
  return Object.freeze({
    ...(Object.fromEntries(entries) as Record<KeyName, string>),
    list: Object.freeze(entries.map(([, key]) => key)),
  });
}

/**
 * The wake-up list of one service's idle workers (`{ns}:wake:<service>`): submits push a token
 * per new job there, `waitForWork(timeoutMs, services)` blocks on it.
 */
export function serviceWakeKey(keys: QueueKeys, service: string): string {
  return `${keys.wake}:${service}`;
}
