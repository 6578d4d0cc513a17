/**
 * Key names of one queue namespace, in the order every library function receives them as KEYS:
 * scripts/embed-lua.mjs generates the Lua `K_*` indexes from this list (see lua/header.lua for
 * what each key holds). Every key carries the hash tag `{ns}`, so one namespace lives in one
 * cluster slot.
 */
export const KEY_NAMES = [
  'jobs',
  'payloads',
  'results',
  'pending',
  'buckets',
  'bucket-heads',
  'specs',
  'wf-pending',
  'active',
  'delayed',
  'events',
  'seq',
  'wake',
  'unrunnable',
  'all',
  'by-customer',
  'by-workflow',
  'by-status',
  'heads',
] as const;

/**
 * Keys older library versions wrote and nothing reads any more (`depth` up to version 10,
 * `bucket-len` up to 12): createQueue deletes them.
 */
export const RETIRED_KEY_NAMES = ['depth', 'bucket-len'] as const;

/**
 * The fields of one job in a jobgate_submit call, in order: the Lua `F_*` indexes are generated
 * from this list, and the client builds the arguments from it, so neither side counts positions.
 */
export const SUBMIT_FIELDS = [
  'id',
  'service_required',
  'sig',
  'priority',
  'P',
  'requirements',
  'customer_id',
  'workflow_id',
  'step',
  'max_attempts',
  'payload',
] as const;

export type SubmitField = (typeof SUBMIT_FIELDS)[number];

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
