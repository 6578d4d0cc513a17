import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import {
  compareStreamIds,
  readStreamAfter,
  resumeHasGap,
  type EventHub,
  type StreamEvent,
  type Subscriber,
} from './event-hub.js';
import type { ApiQueue } from './context.js';
import { parseClientMessage, type ClientMessage } from './ws-protocol.js';

export interface ConnectionOptions {
  customerId: string;
  hub: EventHub;
  redis: Redis;
  queue: ApiQueue;
  streamKey: string;
  maxBufferedBytes: number;
  onSent: () => void;
  onSlow: () => void;
  log: { warn(obj: object, msg: string): void };
}

/** Live events held while a resuming client catches up from the stream; beyond this it is too slow. */
const MAX_CATCHUP_BUFFER = 50_000;
const MAX_JOB_SUBSCRIPTIONS = 10_000;

/**
 * One WebSocket client: its subscriptions, its place in the stream, and back-pressure. Events
 * arrive from the shared hub in stream order and are sent only if they are newer than the last
 * one sent, so a resume that overlaps live delivery never duplicates or reorders.
 */
export class ClientConnection implements Subscriber {
  readonly customerId: string;
  alive = true;
  private all = false;
  private readonly jobIds = new Set<string>();
  private lastSentId = '0-0';
  /** Non-null while catching up: live events wait here. */
  private pending: StreamEvent[] | null = null;
  private closed = false;
  /** The read batch whose first event last checked the send buffer. */
  private checkedBatch = Number.NaN;
  private unsubscribe: () => void;
  /** Serialises client messages, so a resume finishes before the next subscribe starts. */
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    this.customerId = options.customerId;
    this.unsubscribe = options.hub.subscribe(this);
    this.lastSentId = options.hub.position;
    socket.on('message', (data, isBinary) => {
      const text = isBinary
        ? ''
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.concat(data as Buffer[]).toString('utf8');
      this.work = this.work
        .then(() => this.handle(text))
        .catch((error: unknown) => {
          options.log.warn({ err: error }, 'websocket message failed');
          this.send({
            type: 'error',
            error: { code: 'internal_error', message: 'could not process the message; try again' },
          });
        });
    });
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => this.dispose());
    socket.on('error', () => this.dispose());
    this.send({ type: 'ready', customer_id: this.customerId, last_event_id: this.lastSentId });
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.pending = null;
  }

  deliver(event: StreamEvent, batch: number): void {
    if (this.closed) return;
    if (this.pending) {
      if (this.pending.length >= MAX_CATCHUP_BUFFER) return this.dropSlow();
      this.pending.push(event);
      return;
    }
    this.sendEvent(event, batch);
  }

  /**
   * A client still holding more than the limit from earlier batches is not keeping up. Checking
   * once per batch (not per frame) lets a healthy client take a burst: memory per client stays
   * below the limit plus one batch.
   */
  private keepingUp(batch: number): boolean {
    if (batch === this.checkedBatch) return true;
    this.checkedBatch = batch;
    if (this.socket.bufferedAmount <= this.options.maxBufferedBytes) return true;
    this.dropSlow();
    return false;
  }

  private matches(event: StreamEvent): boolean {
    return event.customer_id === this.customerId && (this.all || this.jobIds.has(event.job_id));
  }

  private sendEvent(event: StreamEvent, batch: number): void {
    if (compareStreamIds(event.id, this.lastSentId) <= 0) return;
    if (!this.keepingUp(batch)) return;
    if (!this.matches(event)) {
      // Still advance: a later resume from lastSentId must not replay what this client skipped.
      this.lastSentId = event.id;
      return;
    }
    this.lastSentId = event.id;
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify({ type: 'event', id: event.id, event: event.event }));
    this.options.onSent();
  }

  /** Sends a frame unless the client is not reading: then it is dropped rather than buffered without bound. */
  private send(message: object): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return false;
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.dropSlow();
      return false;
    }
    this.socket.send(JSON.stringify(message));
    return true;
  }

  private dropSlow(): void {
    if (this.closed) return;
    this.options.onSlow();
    this.dispose();
    // A close frame would queue behind the backlog the client is not reading: end the socket.
    this.socket.terminate();
  }

  private async handle(text: string): Promise<void> {
    if (this.closed) return;
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      const first = parsed.issues[0]!;
      this.send({
        type: 'error',
        error: {
          code: 'invalid_message',
          message: `${first.field} ${first.message}`,
          field: first.field,
          issues: parsed.issues,
        },
      });
      return;
    }
    await this.apply(parsed.message);
  }

  private async apply(message: ClientMessage): Promise<void> {
    if (message.type === 'ping') {
      this.send({ type: 'pong' });
      return;
    }
    if (message.type === 'unsubscribe') {
      if ('all' in message) {
        this.all = false;
        this.jobIds.clear();
      } else {
        for (const id of message.job_ids) this.jobIds.delete(id);
      }
      this.send({
        type: 'unsubscribed',
        ...('all' in message ? { all: true } : { job_ids: message.job_ids }),
      });
      return;
    }
    if (message.since !== undefined) {
      const newest =
        (
          await this.options.redis.xrevrange(this.options.streamKey, '+', '-', 'COUNT', 1)
        )[0]?.[0] ?? '0-0';
      if (compareStreamIds(message.since, newest) > 0) {
        // Resuming from an id the stream never had would silently skip every event up to it.
        this.send({
          type: 'error',
          error: {
            code: 'invalid_message',
            field: 'since',
            message: `since is newer than the newest event (${newest})`,
          },
        });
        return;
      }
    }
    const added: string[] = [];
    if ('all' in message) {
      this.all = true;
    } else {
      const jobs = await Promise.all(message.job_ids.map((id) => this.options.queue.get(id)));
      const missing: string[] = [];
      message.job_ids.forEach((id, i) => {
        const job = jobs[i];
        // Another customer's job is answered exactly like a job that does not exist.
        if (!job || job.customer_id !== this.customerId) missing.push(id);
        else added.push(id);
      });
      if (this.jobIds.size + added.length > MAX_JOB_SUBSCRIPTIONS) {
        this.send({
          type: 'error',
          error: {
            code: 'too_many_subscriptions',
            field: 'job_ids',
            message: `at most ${MAX_JOB_SUBSCRIPTIONS} job subscriptions per connection; subscribe to all instead`,
          },
        });
        return;
      }
      for (const id of added) this.jobIds.add(id);
      for (const id of missing) {
        this.send({
          type: 'error',
          error: {
            code: 'not_found',
            field: 'job_ids',
            message: `job ${id} not found`,
            job_id: id,
          },
        });
      }
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i];
        if (job && job.customer_id === this.customerId) this.send({ type: 'snapshot', job });
      }
    }
    if (message.since !== undefined) await this.resume(message.since);
    this.send({
      type: 'subscribed',
      ...('all' in message ? { all: true } : { job_ids: added }),
      last_event_id: this.lastSentId,
    });
  }

  /** Replays matching entries after `since`, then hands over to live delivery without a gap. */
  private async resume(since: string): Promise<void> {
    const { redis, streamKey } = this.options;
    this.pending = [];
    try {
      if (await resumeHasGap(redis, streamKey, since)) {
        this.send({
          type: 'gap',
          since,
          message:
            'some events after this id were trimmed from the stream; read the jobs over HTTP',
        });
      }
      // Replay from the resume point even if live delivery already passed it for other jobs.
      this.lastSentId = since;
      let page = 0;
      for await (const events of readStreamAfter(redis, streamKey, since)) {
        page--;
        for (const event of events) {
          if (this.closed) return;
          // Replay pages count as batches of their own (negative, never equal to a live one).
          this.sendEvent(event, page);
        }
      }
    } finally {
      const held = this.pending ?? [];
      this.pending = null;
      const batch = Number.MIN_SAFE_INTEGER;
      for (const event of held) this.sendEvent(event, batch);
    }
  }
}
