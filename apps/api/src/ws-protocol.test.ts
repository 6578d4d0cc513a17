import { describe, expect, it } from 'vitest';
import { compareStreamIds, parseStreamEntry } from './event-hub.js';
import { stableStringify } from './idempotency.js';
import { parseClientMessage } from './ws-protocol.js';

describe('parseClientMessage', () => {
  it('accepts each message type', () => {
    expect(parseClientMessage('{"type":"subscribe","all":true,"since":"17-2"}')).toEqual({
      ok: true,
      message: { type: 'subscribe', all: true, since: '17-2' },
    });
    expect(parseClientMessage('{"type":"subscribe","job_ids":["a"]}')).toEqual({
      ok: true,
      message: { type: 'subscribe', job_ids: ['a'] },
    });
    expect(parseClientMessage('{"type":"unsubscribe","all":true}')).toEqual({
      ok: true,
      message: { type: 'unsubscribe', all: true },
    });
    expect(parseClientMessage('{"type":"ping"}')).toEqual({ ok: true, message: { type: 'ping' } });
  });

  it.each([
    ['not json', '(message)', 'is not valid JSON'],
    ['[1]', '(message)', 'must be a JSON object'],
    ['{"type":"dance"}', 'type', 'must be one of subscribe, unsubscribe, ping'],
    ['{"type":"subscribe","job_ids":[]}', 'job_ids', 'must name at least one job id'],
    ['{"type":"subscribe","all":true,"since":"yesterday"}', 'since', 'must be an event id'],
    ['{"type":"subscribe","all":true,"extra":1}', 'extra', 'is not a known field'],
  ])('rejects %s naming %s', (text, field, message) => {
    const parsed = parseClientMessage(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues[0]?.field).toBe(field);
    expect(parsed.issues[0]?.message).toContain(message);
  });
});

describe('stream ids and entries', () => {
  it('orders ids numerically, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-2', '10-2')).toBe(0);
    expect(compareStreamIds('18446744073709551615-1', '18446744073709551615-0')).toBe(1);
  });

  it('parses an entry into the QueueEvent shape', () => {
    const event = parseStreamEntry('5-0', [
      'type',
      'job.progress',
      'job_id',
      'j1',
      'workflow_id',
      '',
      'customer_id',
      'acme',
      'attempt',
      '2',
      'timestamp',
      '1700',
      'data',
      '{"worker_id":"w1","percent":50}',
    ]);
    expect(event).toEqual({
      id: '5-0',
      type: 'job.progress',
      job_id: 'j1',
      customer_id: 'acme',
      workflow_id: null,
      event: {
        event_id: '5-0',
        type: 'job.progress',
        job_id: 'j1',
        customer_id: 'acme',
        workflow_id: null,
        attempt: 2,
        timestamp: 1700,
        data: { worker_id: 'w1', percent: 50 },
      },
    });
  });

  it('drops a malformed or unknown entry instead of sending it', () => {
    expect(parseStreamEntry('6-0', ['type', 'job.completed', 'data', '{oops'])).toBeNull();
    expect(
      parseStreamEntry('7-0', ['type', 'job.teleported', 'job_id', 'j1', 'data', '{}']),
    ).toBeNull();
  });
});

describe('stableStringify', () => {
  it('ignores key order and undefined fields', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { y: 1, x: 2 }], c: undefined } })).toBe(
      stableStringify({ a: { d: [1, { x: 2, y: 1 }] }, b: 1 }),
    );
    expect(stableStringify({ a: 1 })).not.toBe(stableStringify({ a: 2 }));
  });
});

describe('a subscribe without job_ids', () => {
  it.each(['subscribe', 'unsubscribe'])('explains what a %s message looks like', (type) => {
    const parsed = parseClientMessage(JSON.stringify({ type }));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues[0]!.field).toBe('job_ids');
    expect(parsed.issues[0]!.message).toContain(`{"type":"${type}","job_ids":[`);
    expect(parsed.issues[0]!.message).toContain(`{"type":"${type}","all":true}`);
  });
});
