import { describe, expect, it } from 'vitest';
import { gatherEvidence } from './evidence.js';

describe('gatherEvidence: messages', () => {
  it('keeps distinct messages outermost first, a wrapper over the message it repeats', () => {
    const error = new Error('upload failed', {
      cause: new Error('Error in component: disk quota', { cause: new Error('disk quota') }),
    });
    expect(gatherEvidence(error).messages).toEqual([
      'upload failed',
      'Error in component: disk quota',
    ]);
    const inner = new Error('outer', { cause: new Error('  ') });
    expect(gatherEvidence(inner).messages).toEqual(['outer']);
    expect(gatherEvidence(new Error('a: b', { cause: new Error('b') })).messages).toEqual(['a: b']);
  });

  it('reads every message key of a provider body, and a string error or cause', () => {
    for (const key of [
      'message',
      'exception_message',
      'detail',
      'error_description',
      'reason',
      'refusal',
      'details',
    ])
      expect(gatherEvidence({ [key]: `said ${key}` }).messages, key).toEqual([`said ${key}`]);
    expect(gatherEvidence({ error: 'plain error' }).messages).toEqual(['plain error']);
    expect(gatherEvidence({ cause: 'plain cause' }).messages).toEqual(['plain cause']);
    expect(gatherEvidence({ data: 'not a message' }).messages).toEqual([]);
  });

  it('walks nested bodies, arrays (strings as text only), maps keyed by ids, and AggregateError', () => {
    const e = gatherEvidence({
      response: { data: { error: { message: 'deep' } } },
      errors: ['listed text', { message: 'listed message' }],
      'a1b2c3d4-0000-4000-8000-000000000001': { message: 'by prompt id' },
      not_an_id: { message: 'ignored' },
    });
    expect(e.messages).toEqual(['listed message', 'deep', 'by prompt id']);
    expect(e.text).toContain('listed text');
    expect(
      gatherEvidence(new AggregateError([new Error('first'), new Error('second')], 'all failed'))
        .messages,
    ).toEqual(['all failed', 'first', 'second']);
  });

  it('walks id-keyed maps near the top only, never the own keys of an Error', () => {
    const map = (message: string) => ({ 'a1b2c3d4-0000': { message } });
    expect(gatherEvidence({ error: { error: map('two deep') } }).messages).toEqual(['two deep']);
    expect(gatherEvidence({ error: { error: { error: map('three deep') } } }).messages).toEqual([]);
    expect(
      gatherEvidence({ abc_xyz: { message: 'x' }, xyz_abc: { message: 'y' } }).messages,
    ).toEqual([]);
    expect(gatherEvidence(Object.assign(new Error('e'), map('own key'))).messages).toEqual(['e']);
  });

  it('replaces a message by the wrapper that repeats it, wherever the message came first', () => {
    expect(
      gatherEvidence({ message: 'boom', error: { message: 'Error in component: boom' } }).messages,
    ).toEqual(['Error in component: boom']);
    expect(
      gatherEvidence({ message: 'first', error: { message: 'boom', error: 'wrapped: boom' } })
        .messages,
    ).toEqual(['first', 'wrapped: boom']);
  });

  it('walks only objects under id keys, three levels at most, and never takes their ids', () => {
    expect(
      gatherEvidence({ abc1: [{ message: 'in a list' }], abc2: 'a string', abc3: null }).messages,
    ).toEqual([]);
    expect(gatherEvidence({ a1: { b2: { c3: { message: 'three' } } } }).messages).toEqual([
      'three',
    ]);
    expect(gatherEvidence({ a1: { b2: { c3: { d4: { message: 'four' } } } } }).messages).toEqual(
      [],
    );
    expect(gatherEvidence({ abc1: { id: 'req_abcdef' } }).requestId).toBeUndefined();
    expect(gatherEvidence({ errors: [{ id: 'req_abcdef' }] }).requestId).toBeUndefined();
    expect(gatherEvidence(new AggregateError([{ id: 'req_abcdef' }])).requestId).toBeUndefined();
  });

  it('stops at depth 8 and at 50 array items, and survives cycles', () => {
    let chain: Record<string, unknown> = { message: 'm9' };
    for (let i = 8; i >= 0; i--) chain = { message: `m${i}`, cause: chain };
    expect(gatherEvidence(chain).messages).toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
      'm4',
      'm5',
      'm6',
      'm7',
      'm8',
    ]);
    const many = Array.from({ length: 60 }, (_, i) => ({ message: `item ${i}.` }));
    const { messages } = gatherEvidence({ errors: many });
    expect(messages).toHaveLength(50);
    expect(messages.at(-1)).toBe('item 49.');
    const loop: Record<string, unknown> = { message: 'loop' };
    loop.cause = loop;
    expect(gatherEvidence(loop).messages).toEqual(['loop']);
  });

  it('reads a provider error nested under any of the keys providers use', () => {
    for (const key of [
      'error',
      'errors',
      'cause',
      'node_errors',
      'status',
      'messages',
      'result',
      'response',
      'data',
      'body',
      'output',
      'extra_info',
      'incomplete_details',
      'last_error',
      'inner',
      'innerError',
      'originalError',
    ])
      expect(gatherEvidence({ [key]: { message: `under ${key}` } }).messages, key).toEqual([
        `under ${key}`,
      ]);
  });

  it('walks the response body from the context after the error', () => {
    const e = gatherEvidence(new Error('HTTP 400'), {
      responseData: { error: { message: 'bad prompt', code: 'invalid_prompt' } },
    });
    expect(e.messages).toEqual(['HTTP 400', 'bad prompt']);
    expect([...e.codes]).toEqual(['INVALID_PROMPT']);
  });
});

describe('gatherEvidence: text, codes, status', () => {
  it('puts names, types, tracebacks and stderr into the lower-cased text, at most 20,000 characters', () => {
    const e = gatherEvidence(
      Object.assign(new TypeError('X failed'), {
        traceback: ['  File "a.py"', 42, 'ValueError: Bad'],
        stderr: 'CUDA Error',
      }),
    );
    expect(e.text.split('\n')).toEqual(
      expect.arrayContaining([
        'x failed',
        'typeerror',
        '  file "a.py"',
        'valueerror: bad',
        'cuda error',
      ]),
    );
    expect(e.text).not.toContain('42');
    for (const key of [
      'type',
      'exception_type',
      'node_type',
      'class_type',
      'status_str',
      'name',
      'finish_reason',
    ])
      expect(gatherEvidence({ [key]: 'Marker' }).text, key).toBe('marker');
    expect(gatherEvidence('y'.repeat(30_000)).text).toHaveLength(20_000);
  });

  it('collects codes upper-cased from every code key, not over 80 characters', () => {
    const e = gatherEvidence({
      code: 'econnreset',
      type: 'invalid_request_error',
      errno: 'EPIPE',
      exception_type: 'torch.OutOfMemoryError',
      finish_reason: 'content_filter',
      error: { code: 'x'.repeat(81) },
    });
    expect([...e.codes].sort()).toEqual([
      'CONTENT_FILTER',
      'ECONNRESET',
      'EPIPE',
      'INVALID_REQUEST_ERROR',
      'TORCH.OUTOFMEMORYERROR',
    ]);
    expect([...gatherEvidence({ code: 'y'.repeat(80) }).codes]).toEqual(['Y'.repeat(80)]);
    const timeout = Object.assign(new Error('late'), { name: 'TimeoutError' });
    expect(gatherEvidence(timeout).codes.has('TIMEOUTERROR')).toBe(true);
    expect(gatherEvidence(new Error('late')).codes.size).toBe(0);
  });

  it('takes the first HTTP status 100-599 from the context or any status key', () => {
    expect(gatherEvidence({ status: 404 }, { httpStatus: 502 }).status).toBe(502);
    for (const key of ['status', 'statusCode', 'status_code', 'http_status'])
      expect(gatherEvidence({ [key]: 429 }).status, key).toBe(429);
    expect(gatherEvidence({ status: 503, error: { status: 400 } }).status).toBe(503);
    expect(gatherEvidence({ status: 100 }).status).toBe(100);
    expect(gatherEvidence({ status: 599 }).status).toBe(599);
    for (const bad of [99, 600, 404.5, '404'])
      expect(gatherEvidence({ status: bad }).status, String(bad)).toBeUndefined();
    expect(gatherEvidence({}, { httpStatus: 700 }).status).toBeUndefined();
  });

  it('reads the deadline flag only when it is true', () => {
    expect(gatherEvidence('x', { timeout: true }).timeout).toBe(true);
    expect(gatherEvidence('x', {}).timeout).toBe(false);
  });
});

describe('gatherEvidence: request id and headers', () => {
  it('takes the request id from the context, a body key, a provider id, a header, then the text', () => {
    expect(gatherEvidence({ request_id: 'body' }, { requestId: 'ctx' }).requestId).toBe('ctx');
    for (const key of ['request_id', 'requestId', 'x-request-id'])
      expect(gatherEvidence({ [key]: 'r-1' }).requestId, key).toBe('r-1');
    expect(gatherEvidence({ request_id: '' }).requestId).toBeUndefined();
    expect(gatherEvidence({ request_id: 42 }).requestId).toBeUndefined();
    expect(gatherEvidence({ id: 'chatcmpl-abc123' }).requestId).toBe('chatcmpl-abc123');
    for (const id of ['user-42', 'xreq_abc', 'req.abc', 'req_ab!', 'req_'])
      expect(gatherEvidence({ id }).requestId, id).toBeUndefined();
    expect(gatherEvidence({ id: 'gen_ab' }).requestId).toBe('gen_ab');
    expect(gatherEvidence('x', { responseData: { id: 'resp_42' } }).requestId).toBe('resp_42');
    expect(gatherEvidence({ error: { id: 'req_nested1' } }).requestId).toBeUndefined();
    for (const name of ['x-request-id', 'request-id', 'openai-request-id'])
      expect(gatherEvidence('x', { headers: { [name]: 'h-1' } }).requestId, name).toBe('h-1');
    expect(gatherEvidence('failed (req_abc123) try later').requestId).toBe('req_abc123');
    expect(gatherEvidence('failed req_abc').requestId).toBeUndefined();
  });

  it('reads headers from the context, else the first object that has them, Headers included', () => {
    const context = { headers: { 'retry-after': '1' } };
    expect(gatherEvidence({ headers: { 'retry-after': '2' } }, context).headers).toBe(
      context.headers,
    );
    expect(
      gatherEvidence({ response: { headers: new Headers({ 'Retry-After': '3' }) } }).headers,
    ).toEqual({ 'retry-after': '3' });
    expect(
      gatherEvidence({
        headers: { 'retry-after': '5' },
        error: { headers: { 'retry-after': '4' } },
      }).headers,
    ).toEqual({ 'retry-after': '5' });
    expect(gatherEvidence({ headers: 'nope' }).headers).toBeUndefined();
  });
});
