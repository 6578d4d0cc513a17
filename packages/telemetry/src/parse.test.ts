import { describe, expect, it } from 'vitest';
import { EventDecoder, eventFilterSchema, parseStreamEntry, splitList } from './parse.js';

/** An entry as the Lua library writes it (flat field list, as ioredis returns it). */
function entry(overrides: Record<string, string | undefined> = {}): string[] {
  const fields: Record<string, string | undefined> = {
    type: 'job.claimed',
    job_id: 'j1',
    workflow_id: 'wf-1',
    customer_id: 'acme',
    attempt: '1',
    timestamp: '1700000000000',
    data: JSON.stringify({ worker_id: 'w1', lease_expires_at: 1700000030000 }),
    ...overrides,
  };
  return Object.entries(fields).flatMap(([k, v]) => (v === undefined ? [] : [k, v]));
}

describe('parseStreamEntry', () => {
  it('turns a well-formed entry into a typed event, empty ids into null', () => {
    const result = parseStreamEntry('1700000000000-0', entry({ workflow_id: '' }));
    expect(result).toEqual({
      ok: true,
      event: {
        event_id: '1700000000000-0',
        type: 'job.claimed',
        job_id: 'j1',
        workflow_id: null,
        customer_id: 'acme',
        attempt: 1,
        timestamp: 1700000000000,
        data: { worker_id: 'w1', lease_expires_at: 1700000030000 },
      },
    });
  });

  it('reads the priority Lua writes as a decimal string as a number', () => {
    const result = parseStreamEntry(
      '1-0',
      entry({
        type: 'job.received',
        attempt: '0',
        data: JSON.stringify({ service_required: 'svc', priority: '-5', step: 2 }),
      }),
    );
    expect(result.ok && result.event.data).toEqual({
      service_required: 'svc',
      priority: -5,
      step: 2,
    });
  });

  it('keeps data fields it does not know (a newer library may add some)', () => {
    const result = parseStreamEntry(
      '1-0',
      entry({ data: JSON.stringify({ worker_id: 'w1', lease_expires_at: 5, region: 'eu' }) }),
    );
    expect(result.ok && result.event.data).toEqual({
      worker_id: 'w1',
      lease_expires_at: 5,
      region: 'eu',
    });
  });

  it.each([
    ['no type', { type: undefined }, 'type: missing'],
    ['no job id', { job_id: undefined }, 'job_id'],
    ['empty job id', { job_id: '' }, 'job_id'],
    ['attempt not a number', { attempt: 'one' }, 'attempt'],
    ['negative timestamp', { timestamp: '-5' }, 'timestamp'],
    ['data not JSON', { data: '{oops' }, 'data: not valid JSON'],
    ['data missing', { data: undefined }, 'data: missing'],
    ['data an array', { data: '[1]' }, 'data'],
    [
      'data field of the wrong type',
      { data: '{"worker_id":7,"lease_expires_at":5}' },
      'data.worker_id',
    ],
    ['data field missing', { data: '{"worker_id":"w1"}' }, 'data.lease_expires_at'],
  ])('drops an entry with %s as malformed, naming the field', (_, overrides, message) => {
    const result = parseStreamEntry('1-0', entry(overrides));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe('malformed');
    expect(result.entryId).toBe('1-0');
    expect(result.error).toContain(message);
  });

  it('drops an unknown type as unknown_type', () => {
    expect(parseStreamEntry('1-0', entry({ type: 'job.teleported' }))).toMatchObject({
      ok: false,
      reason: 'unknown_type',
    });
  });

  it('never throws, whatever it is handed', () => {
    const junk: unknown[] = [[], ['type'], [1, 2, 3], [null, null], ['type', {}], {}];
    for (const fields of junk) {
      expect(() => parseStreamEntry('x', fields as string[])).not.toThrow();
      expect(parseStreamEntry('x', fields as string[]).ok).toBe(false);
    }
  });

  it('checks each type against its own data shape', () => {
    const failed = entry({
      type: 'job.failed',
      data: JSON.stringify({ worker_id: 'w1', failure: { failure_type: 'x' } }),
    });
    const result = parseStreamEntry('1-0', failed);
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    expect(!result.ok && result.error).toContain('data.failure');
  });
});

describe('EventDecoder', () => {
  it('counts accepted, dropped (by reason and type) and filtered entries', () => {
    const dropped: string[] = [];
    const decoder = new EventDecoder({
      filter: { types: ['job.claimed'], excludeCustomers: ['internal'] },
      onDrop: (d) => dropped.push(d.entryId),
    });
    expect(decoder.decode('1-0', entry())).not.toBeNull();
    expect(decoder.decode('2-0', entry({ attempt: 'x' }))).toBeNull();
    expect(decoder.decode('3-0', entry({ type: 'job.nope' }))).toBeNull();
    expect(decoder.decode('4-0', entry({ customer_id: 'internal' }))).toBeNull();
    expect(
      decoder.decode(
        '5-0',
        entry({ type: 'job.released', data: '{"reason":"shutdown","worker_id":"w"}' }),
      ),
    ).toBeNull();
    expect(decoder.counts).toEqual({
      accepted: 1,
      filtered: 2,
      dropped: { malformed: 1, unknown_type: 1 },
      droppedByType: { 'job.claimed': 1, 'job.nope': 1 },
    });
    expect(decoder.droppedTotal).toBe(2);
    expect(dropped).toEqual(['2-0', '3-0']);
  });

  it('filters by customer: events without a customer are out when a customer list is set', () => {
    const decoder = new EventDecoder({ filter: { customers: ['acme'] } });
    expect(decoder.decode('1-0', entry())).not.toBeNull();
    expect(decoder.decode('2-0', entry({ customer_id: 'globex' }))).toBeNull();
    expect(decoder.decode('3-0', entry({ customer_id: '' }))).toBeNull();
  });

  it('survives an onDrop hook that throws', () => {
    const decoder = new EventDecoder({
      onDrop: () => {
        throw new Error('logger down');
      },
    });
    expect(decoder.decode('1-0', ['junk'])).toBeNull();
    expect(decoder.counts.dropped.malformed).toBe(1);
  });

  it('keeps a bounded number of per-type drop counters', () => {
    const decoder = new EventDecoder();
    for (let i = 0; i < 100; i++) decoder.decode(`${i}-0`, entry({ type: `junk.${i}` }));
    expect(Object.keys(decoder.counts.droppedByType).length).toBeLessThanOrEqual(33);
    expect(decoder.counts.dropped.unknown_type).toBe(100);
  });
});

describe('filter configuration', () => {
  it('refuses an unknown event type, naming it', () => {
    const result = eventFilterSchema.safeParse({ types: ['job.completed', 'job.done'] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('"job.done"');
  });

  it('reads comma lists; blank means no filter', () => {
    expect(splitList(' job.completed, job.failed ,')).toEqual(['job.completed', 'job.failed']);
    expect(splitList('  ')).toBeUndefined();
    expect(splitList(undefined)).toBeUndefined();
  });
});
