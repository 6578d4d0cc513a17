import {
  EventDecoder,
  parseStreamEntry as parseEntry,
  type QueueEvent,
} from '@jobgate/telemetry/events';
import type { Redis } from 'ioredis';

/** One entry of the `{ns}:events` stream, as clients receive it. */
export interface StreamEvent {
  /** The stream entry id: what a client sends back as `since` to resume. */
  id: string;
  type: string;
  job_id: string;
  customer_id: string;
  workflow_id: string | null;
  event: Record<string, unknown>;
}

export interface Subscriber {
  customerId: string;
  /**
   * `batch` numbers the stream reads: events of one read arrive synchronously, so a subscriber
   * judges back-pressure between batches, when its socket has had a chance to drain.
   */
  deliver(event: StreamEvent, batch: number): void;
}

export interface HubLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** `1700000000000-3` -> comparable pair; stream ids order by (ms, seq). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

export const STREAM_ID = /^\d{1,20}(-\d{1,20})?$/;

/** A validated event in the shape WebSocket clients receive (customer `''` when it has none). */
export function toStreamEvent(event: QueueEvent): StreamEvent {
  return {
    id: event.event_id,
    type: event.type,
    job_id: event.job_id,
    customer_id: event.customer_id ?? '',
    workflow_id: event.workflow_id,
    event: { ...event },
  };
}

/**
 * A stream entry through the shared schemas of `@jobgate/telemetry`; null for a malformed or
 * unknown entry, which no client is sent.
 */
export function parseStreamEntry(id: string, fields: string[]): StreamEvent | null {
  const result = parseEntry(id, fields);
  return result.ok ? toStreamEvent(result.event) : null;
}

/**
 * The one reader of the event stream per API process: a single blocking XREAD loop on its own
 * connection, fanning entries out to subscribers by customer. Redis load does not grow with the
 * number of WebSocket clients; only resuming clients read a range once.
 */
export class EventHub {
  private readonly byCustomer = new Map<string, Set<Subscriber>>();
  private lastId = '0-0';
  private stopped = false;
  private loop: Promise<void> | undefined;
  private started = false;
  private resolveStopped: () => void = () => undefined;
  private readonly stoppedSignal = new Promise<null>((resolve) => {
    this.resolveStopped = () => resolve(null);
  });
  /** Resolves `waitForNext`-style pollers in tests and health: the reader is alive. */
  lastReadAt = 0;
  delivered = 0;
  private batch = 0;
  /** Dropped (malformed or unknown) entries are counted here and logged, never sent. */
  readonly decoder: EventDecoder;

  constructor(
    private readonly reader: Redis,
    private readonly streamKey: string,
    private readonly logger: HubLogger,
    private readonly options: { blockMs?: number; count?: number } = {},
  ) {
    this.decoder = new EventDecoder({
      onDrop: (drop) =>
        this.logger.warn(
          { entry: drop.entryId, reason: drop.reason, error: drop.error },
          'event stream entry dropped',
        ),
    });
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.byCustomer.values()) n += set.size;
    return n;
  }

  /** The id of the newest entry the hub has dispatched (or found at start). */
  get position(): string {
    return this.lastId;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const newest = (await this.reader.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as [
      string,
      string[],
    ][];
    this.lastId = newest[0]?.[0] ?? '0-0';
    this.lastReadAt = Date.now();
    this.loop = this.run();
  }

  subscribe(subscriber: Subscriber): () => void {
    let set = this.byCustomer.get(subscriber.customerId);
    if (!set) {
      set = new Set();
      this.byCustomer.set(subscriber.customerId, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.byCustomer.get(subscriber.customerId);
      if (!current) return;
      current.delete(subscriber);
      if (current.size === 0) this.byCustomer.delete(subscriber.customerId);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // ioredis can keep an in-flight command pending forever when the connection was already lost
    // (it waits to resend it), so the loop also wakes on this signal rather than on XREAD alone.
    this.resolveStopped();
    this.reader.disconnect();
    await this.loop;
  }

  private dispatch(event: StreamEvent): void {
    const set = this.byCustomer.get(event.customer_id);
    if (!set) return;
    for (const subscriber of [...set]) {
      try {
        subscriber.deliver(event, this.batch);
        this.delivered++;
      } catch (error) {
        this.logger.error({ err: error }, 'event subscriber threw');
      }
    }
  }

  private async run(): Promise<void> {
    const blockMs = this.options.blockMs ?? 5_000;
    const count = this.options.count ?? 500;
    let failures = 0;
    while (!this.stopped) {
      try {
        const read = this.reader.xread(
          'COUNT',
          count,
          'BLOCK',
          blockMs,
          'STREAMS',
          this.streamKey,
          this.lastId,
        );
        read.catch(() => undefined);
        const reply = await Promise.race([read, this.stoppedSignal]);
        if (this.stopped) return;
        failures = 0;
        this.lastReadAt = Date.now();
        this.batch++;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            const event = this.decoder.decode(id, fields);
            if (event) this.dispatch(toStreamEvent(event));
          }
        }
      } catch (error) {
        if (this.stopped) return;
        failures++;
        this.logger.warn({ err: error, failures }, 'event stream read failed; retrying');
        // Back off so a Redis outage is not a hot loop; ioredis reconnects underneath.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise((resolve) => {
            timer = setTimeout(resolve, Math.min(2_000, 50 * 2 ** Math.min(failures, 6)));
          }),
          this.stoppedSignal,
        ]);
        clearTimeout(timer);
      }
    }
  }
}

/** Reads the stream after `afterId` (exclusive) page by page, for a client that resumes. */
export async function* readStreamAfter(
  redis: Redis,
  streamKey: string,
  afterId: string,
  pageSize = 500,
): AsyncGenerator<StreamEvent[]> {
  let cursor = afterId;
  for (;;) {
    const page = await redis.xrange(streamKey, `(${cursor}`, '+', 'COUNT', pageSize);
    if (page.length > 0) {
      cursor = page[page.length - 1]![0];
      const events: StreamEvent[] = [];
      for (const [id, fields] of page) {
        const event = parseStreamEntry(id, fields);
        if (event) events.push(event);
      }
      yield events;
    }
    if (page.length < pageSize) return;
  }
}

/**
 * Whether entries after `afterId` may be gone: trimmed from the head (`MAXLEN ~`) past the resume
 * point, or deleted after it. Conservative: a client resuming from exactly the last trimmed entry
 * is told too, and re-reads its jobs over HTTP, which is always safe.
 */
export async function resumeHasGap(
  redis: Redis,
  streamKey: string,
  afterId: string,
): Promise<boolean> {
  let info: unknown[];
  try {
    info = (await redis.call('XINFO', 'STREAM', streamKey)) as unknown[];
  } catch {
    return false; // no stream yet: nothing was ever trimmed
  }
  const fields = new Map<string, unknown>();
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
  const maxDeleted = text(fields.get('max-deleted-entry-id')) || '0-0';
  if (maxDeleted !== '0-0' && compareStreamIds(afterId, maxDeleted) < 0) return true;
  const length = Number(fields.get('length') ?? 0);
  const added = Number(fields.get('entries-added') ?? length);
  if (added <= length) return false; // nothing was ever trimmed
  const first =
    fields.get('recorded-first-entry-id') ?? (fields.get('first-entry') as unknown[] | null)?.[0];
  return typeof first === 'string' && compareStreamIds(afterId, first) < 0;
}
