import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent } from './record.js';
import { compareEntryIds, type RecordedEvent } from './spans.js';

const base = {
  job_id: 'j1',
  workflow_id: 'wf',
  customer_id: null,
  attempt: 1,
  timestamp: 1_700_000_000_123,
};
const failure = {
  failure_type: 'GPU',
  failure_reason: 'oom',
  message: 'out of memory',
  retryable: true,
};
const events: RecordedEvent[] = [
  {
    ...base,
    attempt: 0,
    event_id: '1-0',
    type: 'job.received',
    data: { service_required: 's', priority: -3, step: 2 },
  },
  {
    ...base,
    event_id: '1-1',
    type: 'job.received',
    data: { service_required: 's', priority: 0, unrunnable_reason: 'bad requirements' },
  },
  { ...base, event_id: '2-0', type: 'job.claimed', data: { worker_id: 'w' }, machine_id: 'm-1' },
  { ...base, event_id: '2-1', type: 'job.claimed', data: { worker_id: 'w' } },
  {
    ...base,
    event_id: '3-0',
    type: 'job.progress',
    data: { worker_id: 'w', percent: 42.5, message: 'half "way"' },
  },
  { ...base, event_id: '3-1', type: 'job.progress', data: { worker_id: 'w' } },
  {
    ...base,
    event_id: '4-0',
    type: 'job.retry_scheduled',
    data: { worker_id: 'w', failure, delay_ms: 250 },
  },
  {
    ...base,
    event_id: '5-0',
    type: 'job.failed',
    data: { worker_id: 'w', failure: { ...failure, retryable: false } },
  },
  { ...base, event_id: '6-0', type: 'job.completed', data: { worker_id: 'w' } },
  { ...base, event_id: '7-0', type: 'job.stalled', data: { worker_id: 'w' } },
  { ...base, event_id: '8-0', type: 'job.released', data: { worker_id: 'w' } },
  { ...base, customer_id: 'acme', event_id: '9-0', type: 'job.cancelled', data: {} },
  { ...base, event_id: '9-1', type: 'job.cancelled', data: { worker_id: 'w' } },
];

describe('record format', () => {
  it('keeps every field span building reads, for every event type', () => {
    for (const event of events) {
      const value = encodeEvent(event);
      const decoded = decodeEvent('j1', event.event_id, value);
      const expected = JSON.parse(JSON.stringify(event)) as RecordedEvent;
      expect(JSON.parse(JSON.stringify(decoded))).toEqual(expected);
    }
  });

  it('drops data fields span building does not read', () => {
    const claimed = {
      ...base,
      event_id: '2-0',
      type: 'job.claimed',
      data: { worker_id: 'w', lease_expires_at: 9 },
    } as RecordedEvent;
    expect(decodeEvent('j1', '2-0', encodeEvent(claimed))?.data).toEqual({ worker_id: 'w' });
    expect(encodeEvent(claimed).length).toBeLessThan(JSON.stringify(claimed).length / 2);
  });

  it('reads records written as whole JSON events, and refuses junk', () => {
    expect(decodeEvent('j1', '6-0', JSON.stringify(events[8]))).toEqual(events[8]);
    expect(decodeEvent('j1', '6-0', 'not json')).toBeNull();
    expect(decodeEvent('j1', '6-0', '[7,1,2]')).toBeNull();
    expect(decodeEvent('j1', '6-0', 'null')).toBeNull();
  });
});

describe('compareEntryIds', () => {
  it('orders numerically by time, then sequence', () => {
    const ids = ['10-0', '9-5', '9-10', '9-0', '100-0', '10-1'];
    expect([...ids].sort(compareEntryIds)).toEqual(['9-0', '9-5', '9-10', '10-0', '10-1', '100-0']);
    expect(compareEntryIds('9', '9-0')).toBe(0);
    expect(compareEntryIds('1733-2', '1733-2')).toBe(0);
  });
});
