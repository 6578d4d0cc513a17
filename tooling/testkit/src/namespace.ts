import { randomUUID } from 'node:crypto';

/** A namespace no other test uses, e.g. `t-3f2a9c1b`: tests own their keys and run in parallel. */
export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
