import type { CapabilityValue, Requirements, WorkerSpec } from './types.js';

/**
 * Why one worker would not claim a job, in the terms of the claim's rules (lua `runnable`):
 * the same checks in the same order, so the explanation names the rule the claim applies.
 * Kept in TypeScript because it only reads: the claim itself never calls it.
 */
export type Mismatch =
  | { kind: 'service' }
  | { kind: 'workflow'; pinned_to: string }
  | { kind: 'requirement'; requirement: string; wanted: unknown; has: unknown }
  | { kind: 'isolation'; rule: 'strict' | 'allowed_customers' | 'denied_customers' };

export interface MatchTarget {
  service_required: string;
  requirements: Requirements;
  customer_id: string | null;
  workflow_id: string | null;
}

const KNOWN = new Set(['hardware', 'models', 'customer_isolation', 'not']);

function capMatch(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    if (!Array.isArray(have)) return false;
    const set = new Set(have as unknown[]);
    return want.every((v) => set.has(v));
  }
  if (typeof want === 'number') return typeof have === 'number' && have >= want;
  return have === want;
}

/** The first rule that keeps `worker` from claiming `job`, or null when it may claim it. */
export function mismatch(worker: WorkerSpec, job: MatchTarget): Mismatch | null {
  if (!worker.services.includes(job.service_required)) return { kind: 'service' };
  if (worker.workflow_id !== undefined && worker.workflow_id !== job.workflow_id)
    return { kind: 'workflow', pinned_to: worker.workflow_id };
  const r = job.requirements ?? {};
  for (const [name, want] of Object.entries(r.hardware ?? {})) {
    const have = worker.hardware?.[name];
    if (typeof have !== 'number' || have < (want as number))
      return {
        kind: 'requirement',
        requirement: `hardware.${name}`,
        wanted: want,
        has: have ?? null,
      };
  }
  const models = new Set(worker.models?.[job.service_required] ?? []);
  for (const model of r.models ?? []) {
    if (!models.has(model))
      return { kind: 'requirement', requirement: `models`, wanted: model, has: [...models] };
  }
  const access = worker.customer_access;
  if (r.customer_isolation === 'strict' && access?.isolation !== 'strict')
    return { kind: 'isolation', rule: 'strict' };
  if (
    access?.allowed_customers &&
    (job.customer_id === null || !access.allowed_customers.includes(job.customer_id))
  )
    return { kind: 'isolation', rule: 'allowed_customers' };
  if (job.customer_id !== null && access?.denied_customers?.includes(job.customer_id))
    return { kind: 'isolation', rule: 'denied_customers' };
  const caps = (worker.capabilities ?? {}) as Record<string, CapabilityValue | undefined>;
  for (const [name, want] of Object.entries(r)) {
    if (KNOWN.has(name)) continue;
    if (!capMatch(want, caps[name]))
      return { kind: 'requirement', requirement: name, wanted: want, has: caps[name] ?? null };
  }
  for (const [name, want] of Object.entries(r.not ?? {})) {
    const have = caps[name];
    if (have !== undefined && capMatch(want, have))
      return { kind: 'requirement', requirement: `not.${name}`, wanted: want, has: have };
  }
  return null;
}
