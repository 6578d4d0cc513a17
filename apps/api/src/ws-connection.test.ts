import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { EventHub, StreamEvent, Subscriber } from './event-hub.js';
import type { ApiQueue } from './context.js';
import { ClientConnection } from './ws-connection.js';

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: Array<{ type: string; id?: string }> = [];
  terminated = false;
  send(data: string): void {
    this.sent.push(JSON.parse(data) as { type: string; id?: string });
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
}

function setup(maxBufferedBytes = 1_000) {
  const socket = new FakeSocket();
  let subscriber: Subscriber | undefined;
  const hub = {
    position: '10-0',
    subscribe: (s: Subscriber) => {
      subscriber = s;
      return () => (subscriber = undefined);
    },
  } as unknown as EventHub;
  let slow = 0;
  const connection = new ClientConnection(socket as unknown as WebSocket, {
    customerId: 'acme',
    hub,
    redis: undefined as never,
    queue: {} as ApiQueue,
    streamKey: '{t}:events',
    maxBufferedBytes,
    onSent: () => undefined,
    onSlow: () => slow++,
    log: { warn: () => undefined },
  });
  const event = (id: string, job = 'j1', customer = 'acme'): StreamEvent => ({
    id,
    type: 'job.progress',
    job_id: job,
    customer_id: customer,
    workflow_id: null,
    event: { event_id: id, job_id: job },
  });
  const subscribeAll = async () => {
    socket.emit('message', Buffer.from('{"type":"subscribe","all":true}'), false);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    socket,
    connection,
    event,
    subscribeAll,
    deliver: (e: StreamEvent, batch = 1) => subscriber?.deliver(e, batch),
    slow: () => slow,
    subscribed: () => subscriber !== undefined,
  };
}

const eventIds = (socket: FakeSocket) =>
  socket.sent.filter((m) => m.type === 'event').map((m) => m.id);

describe('ClientConnection', () => {
  it('greets with the hub position and sends subscribed events once, in order', async () => {
    const t = setup();
    expect(t.socket.sent[0]).toEqual({ type: 'ready', customer_id: 'acme', last_event_id: '10-0' });
    t.deliver(t.event('11-0'));
    await t.subscribeAll();
    t.deliver(t.event('12-0'));
    t.deliver(t.event('12-0'));
    t.deliver(t.event('11-5'));
    t.deliver(t.event('13-0'));
    expect(eventIds(t.socket)).toEqual(['12-0', '13-0']);
  });

  it('lets a healthy client take a burst within one batch', async () => {
    const t = setup(1_000);
    await t.subscribeAll();
    for (let i = 1; i <= 50; i++) {
      t.deliver(t.event(`20-${i}`), 7);
      t.socket.bufferedAmount += 500;
    }
    expect(eventIds(t.socket)).toHaveLength(50);
    expect(t.socket.terminated).toBe(false);
    // Drained before the next batch: still fine.
    t.socket.bufferedAmount = 0;
    t.deliver(t.event('21-0'), 8);
    expect(t.socket.terminated).toBe(false);
  });

  it('drops a client still over the limit when the next batch arrives, and stops listening', async () => {
    const t = setup(1_000);
    await t.subscribeAll();
    t.deliver(t.event('20-1'), 1);
    t.socket.bufferedAmount = 1_001;
    t.deliver(t.event('20-2'), 2);
    expect(t.socket.terminated).toBe(true);
    expect(t.slow()).toBe(1);
    expect(t.subscribed()).toBe(false);
    expect(eventIds(t.socket)).toEqual(['20-1']);
  });
});
