import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSecret, signatureHeader } from './signing.js';

describe('signatureHeader', () => {
  it('verifies with the standardwebhooks library', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'job.completed', timestamp: 'x', data: { job_id: 'j1' } });
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader('msg_1', ts, body, [secret]),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('signs with both secrets during rotation; either verifies, a third does not', () => {
    const [current, previous, other] = [newSecret(), newSecret(), newSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"type":"job.failed","timestamp":"t","data":{}}';
    const signature = signatureHeader('msg_2', ts, body, [current, previous]);
    expect(signature.split(' ')).toHaveLength(2);
    const headers = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(ts),
      'webhook-signature': signature,
    };
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(other).verify(body, headers)).toThrow();
  });

  it('a changed body fails verification', () => {
    const secret = newSecret();
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_3',
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader('msg_3', ts, '{"a":1}', [secret]),
    };
    expect(() => new Webhook(secret).verify('{"a":2}', headers)).toThrow();
  });
});
