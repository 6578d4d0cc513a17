import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventSchemas, type EventType } from './events.js';
import { fastParseEvent } from './fast-parse.js';

// The hand-written hot path against zod, the schema of record: over generated valid events and
// events with one part broken, the fast path must accept exactly what zod accepts, with the same
// output. Candidates are what parseStreamEntry hands both (envelope fields converted, `data`
// fresh from JSON.parse).

type Obj = Record<string, unknown>;

const id = fc.string({ minLength: 1, maxLength: 12 });
const ms = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const int = fc.oneof(fc.integer(), fc.maxSafeInteger());
const text = fc.string({ maxLength: 12 });
const extra = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 2 },
);

const failure = fc.record(
  {
    failure_type: text,
    failure_reason: text,
    message: text,
    retryable: fc.boolean(),
    retry_after_ms: ms,
  },
  { requiredKeys: ['failure_type', 'failure_reason', 'message', 'retryable'] },
);

/** Valid `data` of each type, with fields no schema names now and then (loose: kept). */
const dataOf: Record<EventType, fc.Arbitrary<Obj>> = {
  'job.received': fc.record(
    {
      service_required: id,
      priority: fc.oneof(int, int.map(String)),
      step: int,
      unrunnable_reason: text,
    },
    { requiredKeys: ['service_required', 'priority'] },
  ),
  'job.claimed': fc.record({ worker_id: id, lease_expires_at: ms }),
  'job.progress': fc.record(
    {
      worker_id: id,
      percent: fc.double({ noNaN: true, noDefaultInfinity: true }),
      message: text,
    },
    { requiredKeys: ['worker_id'] },
  ),
  'job.completed': fc.record({ worker_id: id, duration_ms: ms }),
  'job.failed': fc.record(
    {
      worker_id: id,
      failure,
      retries_exhausted: fc.boolean(),
      stalled: fc.constant(true),
      lease_expired_at: ms,
    },
    { requiredKeys: ['worker_id', 'failure'] },
  ),
  'job.retry_scheduled': fc.record({ worker_id: id, failure, delay_ms: ms, retry_at: ms }),
  'job.stalled': fc.record({ worker_id: id, requeued: fc.constant(true), lease_expired_at: ms }),
  'job.released': fc.record({ reason: fc.constant('shutdown'), worker_id: id }),
  'job.cancelled': fc.record(
    { previous_status: fc.constantFrom('pending', 'active'), worker_id: id },
    { requiredKeys: ['previous_status'] },
  ),
};

const entryId = fc
  .tuple(fc.maxSafeNat(), fc.nat())
  .map(([millis, seq]) => `${String(millis)}-${String(seq)}`);

/** A valid candidate of a random type. */
const valid = fc.constantFrom(...EVENT_TYPES).chain((type) =>
  fc
    .record({
      event_id: entryId,
      job_id: id,
      workflow_id: fc.option(id, { nil: null }),
      customer_id: fc.option(id, { nil: null }),
      attempt: ms,
      timestamp: ms,
      data: fc.tuple(dataOf[type], extra).map(([data, more]) => ({ ...more, ...data })),
    })
    .map((c): [EventType, Obj] => [type, { type, ...c }]),
);

/** Near misses of every field's check (Infinity: JSON.parse reads 1e999 as that). */
const NEAR_MISSES: unknown[] = [
  undefined,
  null,
  '',
  '1',
  '-1',
  '1.5',
  'x',
  -1,
  -0,
  1.5,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  [],
  {},
  'shutdown',
  'pending',
  'active',
  '12345678901234567',
  '1234567890123456',
  '-1234567890123456',
  '1-0',
  '1-',
  ' 1-0',
  Infinity,
  -Infinity,
];

/** Values a broken field gets: near misses, then anything JSON holds. */
const wrong = fc.oneof(fc.constantFrom(...NEAR_MISSES), fc.jsonValue({ maxDepth: 2 }));

/** A valid candidate with one field (envelope, data or failure) changed, removed or added. */
const mutated = fc
  .tuple(valid, fc.nat(), wrong, fc.constantFrom('set', 'delete'), fc.string({ maxLength: 6 }))
  .map(([[type, candidate], pick, value, how, newKey]): [EventType, Obj] => {
    const c = structuredClone(candidate);
    const data = c.data as Obj;
    const targets: [Obj, string][] = [
      ...Object.keys(c).map((k): [Obj, string] => [c, k]),
      ...Object.keys(data).map((k): [Obj, string] => [data, k]),
      [data, newKey],
    ];
    if (data.failure && typeof data.failure === 'object')
      for (const k of [...Object.keys(data.failure), 'retry_after_ms'])
        targets.push([data.failure as Obj, k]);
    const [object, key] = targets[pick % targets.length]!;
    if (key !== '__proto__') {
      if (how === 'delete') delete object[key];
      else object[key] = value;
    }
    // The schema is still the entry's type: a changed `type` field is a broken envelope.
    return [type, c];
  });

/** JSON round trip of `data`, as parseStreamEntry makes it (and a fresh object for each path). */
function fresh(candidate: Obj): Obj {
  const data = candidate.data;
  return {
    ...candidate,
    data: data === undefined ? undefined : (JSON.parse(JSON.stringify(data)) as unknown),
  };
}

function agree(
  [type, candidate]: [EventType, Obj],
  copy: (c: Obj) => Obj = fresh,
): { zodOk: boolean; fastOk: boolean } {
  const zod = eventSchemas[type].safeParse(copy(candidate));
  const fast = fastParseEvent(type, copy(candidate));
  if (zod.success && fast) expect(fast).toEqual(zod.data);
  expect(fast !== undefined).toBe(zod.success);
  return { zodOk: zod.success, fastOk: fast !== undefined };
}

// Thousands of generated events each: 1-2 s alone, past the unit level's 5 s when the level's other
// packages share the two cores (a cold release timed out at 5.1 s). The runs stay; the bound grows.
describe('fastParseEvent (the hot path) against the zod schemas', { timeout: 30_000 }, () => {
  it('accepts every valid event, with the output zod gives', () => {
    fc.assert(
      fc.property(valid, (candidate) => {
        expect(agree(candidate)).toEqual({ zodOk: true, fastOk: true });
      }),
      { numRuns: 1_500 },
    );
  });

  it('accepts and rejects exactly what zod does when one field is broken', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutated, (candidate) => {
        if (!agree(candidate).zodOk) rejected++;
      }),
      { numRuns: 4_000 },
    );
    // The generator must actually break things (and sometimes not: e.g. an unknown data field).
    expect(rejected).toBeGreaterThan(1_000);
  });

  it('agrees on every near miss in every field of every type', () => {
    // Exhaustive over the fields of one valid event per type (no JSON round trip, so Infinity
    // and -0 reach the checks as JSON.parse can hand them).
    const samples = fc.sample(valid, { numRuns: 200, seed: 7 });
    for (const type of EVENT_TYPES) {
      const [, base] = samples.find(([t]) => t === type)!;
      const data = base.data as Obj;
      const failureKeys = data.failure ? Object.keys(data.failure).concat('retry_after_ms') : [];
      const paths = [
        ...Object.keys(base).map((k) => [k]),
        ...Object.keys(data).map((k) => ['data', k]),
        ...['step', 'percent', 'message', 'unrunnable_reason', 'stalled', 'worker_id'].map((k) => [
          'data',
          k,
        ]),
        ...failureKeys.map((k) => ['data', 'failure', k]),
      ];
      for (const path of paths)
        for (const value of NEAR_MISSES) {
          const c = structuredClone(base);
          let target: Obj = c;
          for (const key of path.slice(0, -1)) target = target[key] as Obj;
          target[path[path.length - 1]!] = value;
          agree([type, c], structuredClone);
        }
    }
  });

  it('converts a received priority written as text, as the schema transform does', () => {
    const candidate = {
      event_id: '1-0',
      type: 'job.received',
      job_id: 'j',
      workflow_id: null,
      customer_id: null,
      attempt: 0,
      timestamp: 5,
      data: { service_required: 's', priority: '-7' },
    };
    expect(fastParseEvent('job.received', candidate)?.data).toEqual({
      service_required: 's',
      priority: -7,
    });
  });

  it('leaves an own __proto__ key (JSON.parse makes one) to zod', () => {
    const data = JSON.parse('{"worker_id":"w","lease_expires_at":1,"__proto__":{"x":1}}') as Obj;
    const candidate = {
      event_id: '1-0',
      type: 'job.claimed',
      job_id: 'j',
      workflow_id: null,
      customer_id: null,
      attempt: 1,
      timestamp: 5,
      data,
    };
    expect(fastParseEvent('job.claimed', candidate)).toBeUndefined();
    expect(eventSchemas['job.claimed'].safeParse(candidate).success).toBe(true);
  });
});
