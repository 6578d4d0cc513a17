import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CONSUMER_GROUP, webhookKeys, type WebhookKeys } from './keys.js';
import { WebhookScripts } from './scripts.js';
import { newSecret } from './signing.js';
import {
  parseDelivery,
  parseEndpoint,
  TEST_EVENT_TYPE,
  type DeliveryRecord,
  type DeliveryStatus,
  type EndpointRecord,
} from './types.js';

/** How long a rotated-out secret keeps signing as a second signature. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;

export interface NewEndpoint {
  url: string;
  events: string[];
  description?: string;
  workflow_id?: string | null;
}

export type EndpointPatch = Partial<NewEndpoint> & { enabled?: boolean };

/** What a customer sees of an endpoint (never the secret, except once at creation). */
export interface EndpointView {
  id: string;
  url: string;
  events: string[];
  description: string;
  workflow_id: string | null;
  status: 'enabled' | 'disabled';
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  secret_rotation_ends_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface DeliveryView {
  id: string;
  endpoint_id: string;
  event_type: string;
  job_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  response_code: number | null;
  error: string | null;
  latency_ms: number | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  created_at: string;
  finished_at: string | null;
  attempt_log: {
    at: string;
    response_code: number | null;
    error: string | null;
    latency_ms: number;
    outcome: string;
  }[];
}

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export function endpointView(e: EndpointRecord, now: number): EndpointView {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    description: e.description,
    workflow_id: e.workflow_id,
    status: e.status,
    disabled_reason: e.disabled_reason,
    disabled_at: iso(e.disabled_at),
    failing_since: iso(e.failing_since),
    secret_rotation_ends_at:
      e.previous_secret && e.previous_secret_expires_at && e.previous_secret_expires_at > now
        ? iso(e.previous_secret_expires_at)
        : null,
    created_at: iso(e.created_at)!,
    updated_at: iso(e.updated_at)!,
  };
}

export function deliveryView(d: DeliveryRecord): DeliveryView {
  return {
    id: d.id,
    endpoint_id: d.endpoint_id,
    event_type: d.event_type,
    job_id: d.job_id,
    status: d.status,
    attempts: d.attempts,
    response_code: d.last_status_code,
    error: d.last_error,
    latency_ms: d.last_latency_ms,
    last_attempt_at: iso(d.last_attempt_at),
    next_attempt_at: iso(d.next_attempt_at),
    created_at: iso(d.created_at)!,
    finished_at: iso(d.finished_at),
    attempt_log: d.attempt_log.map((a) => ({
      at: iso(a.at)!,
      response_code: a.status_code,
      error: a.error,
      latency_ms: a.latency_ms,
      outcome: a.outcome,
    })),
  };
}

/** `msg_` + 26 base32-ish characters, derived so that re-reading one stream entry yields the same id. */
export function deliveryId(seed: string): string {
  return `msg_${createHash('sha256').update(seed).digest('base64url').slice(0, 27)}`;
}

export function newDelivery(
  fields: Pick<
    DeliveryRecord,
    'id' | 'endpoint_id' | 'customer_id' | 'event_type' | 'job_id' | 'event_id' | 'body'
  >,
  now: number,
): DeliveryRecord {
  return {
    ...fields,
    order_key: `${fields.endpoint_id}|${fields.job_id ?? fields.id}`,
    created_at: now,
    status: 'pending',
    attempts: 0,
    round_attempts: 0,
    next_attempt_at: now,
    claim: null,
    last_status_code: null,
    last_error: null,
    last_latency_ms: null,
    last_attempt_at: null,
    finished_at: null,
    attempt_log: [],
  };
}

/** An endpoint's deliveries in the log index: `<endpoint>|<created ms, 15 digits>|<id>`. */
export function logMember(d: Pick<DeliveryRecord, 'endpoint_id' | 'created_at' | 'id'>): string {
  return `${d.endpoint_id}|${String(d.created_at).padStart(15, '0')}|${d.id}`;
}

/** The five script arguments of each delivery to enqueue: id, order key, log member, entry, JSON. */
export function enqueueArgs(deliveries: DeliveryRecord[]): string[] {
  const args: string[] = [];
  for (const d of deliveries)
    args.push(d.id, d.order_key, logMember(d), d.event_id ?? '', JSON.stringify(d));
  return args;
}

/**
 * Endpoints and deliveries in Redis, scoped by customer: every read and write names the customer
 * and answers "not found" for another customer's ids. Shared by the API (registration) and the
 * service (delivery), so both read one format.
 */
export class WebhookStore {
  readonly keys: WebhookKeys;
  readonly scripts: WebhookScripts;

  constructor(
    readonly redis: Redis,
    namespace: string,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = webhookKeys(namespace);
    this.scripts = new WebhookScripts(redis, this.keys);
  }

  async create(
    customerId: string,
    input: NewEndpoint,
  ): Promise<{ endpoint: EndpointRecord; secret: string }> {
    const now = this.now();
    const endpoint: EndpointRecord = {
      id: `ep_${randomBytes(12).toString('hex')}`,
      customer_id: customerId,
      url: input.url,
      events: [...new Set(input.events)],
      description: input.description ?? '',
      workflow_id: input.workflow_id ?? null,
      status: 'enabled',
      disabled_reason: null,
      disabled_at: null,
      secret: newSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    await this.ensureGroup();
    await this.redis
      .multi()
      .hset(this.keys.endpoints, endpoint.id, JSON.stringify(endpoint))
      .sadd(this.keys.customer(customerId), endpoint.id)
      .incr(this.keys.version)
      .exec();
    return { endpoint, secret: endpoint.secret };
  }

  /**
   * The delivery consumer group, created at the stream's end if missing. Registration creates it
   * too, so events after the first endpoint exists wait for a webhook service that is not up yet.
   */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.events, CONSUMER_GROUP, '$', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
  }

  async get(customerId: string, id: string): Promise<EndpointRecord | null> {
    const raw = await this.redis.hget(this.keys.endpoints, id);
    if (!raw) return null;
    const endpoint = parseEndpoint(raw);
    return endpoint.customer_id === customerId ? endpoint : null;
  }

  async list(customerId: string): Promise<EndpointRecord[]> {
    const ids = await this.redis.smembers(this.keys.customer(customerId));
    if (ids.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.endpoints, ...ids);
    return raws
      .filter((r): r is string => r !== null)
      .map(parseEndpoint)
      .filter((e) => e.customer_id === customerId)
      .sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  }

  async update(
    customerId: string,
    id: string,
    patch: EndpointPatch | Partial<EndpointRecord>,
  ): Promise<EndpointRecord | null> {
    const fields: Record<string, unknown> = { ...patch };
    if ('enabled' in fields) {
      const enabled = fields.enabled;
      delete fields.enabled;
      if (enabled === true) {
        Object.assign(fields, {
          status: 'enabled',
          disabled_reason: null,
          disabled_at: null,
          failing_since: null,
        });
      } else if (enabled === false) {
        Object.assign(fields, {
          status: 'disabled',
          disabled_reason: 'disabled by the customer',
          disabled_at: this.now(),
        });
      }
    }
    if (Array.isArray(fields.events)) fields.events = [...new Set(fields.events as string[])];
    const raw = await this.scripts.run<string | null>(
      'webhookPatchEndpoint',
      this.now(),
      id,
      customerId,
      JSON.stringify(fields),
    );
    return raw ? parseEndpoint(raw) : null;
  }

  /** A new secret signs from now on; the old one keeps signing as a second signature for 24 h. */
  async rotateSecret(
    customerId: string,
    id: string,
  ): Promise<{ endpoint: EndpointRecord; secret: string } | null> {
    const current = await this.get(customerId, id);
    if (!current) return null;
    const secret = newSecret();
    const endpoint = await this.update(customerId, id, {
      secret,
      previous_secret: current.secret,
      previous_secret_expires_at: this.now() + ROTATION_GRACE_MS,
    });
    return endpoint ? { endpoint, secret } : null;
  }

  /** Deliveries still queued for it fail as "endpoint deleted" when they come due. */
  async delete(customerId: string, id: string): Promise<boolean> {
    const endpoint = await this.get(customerId, id);
    if (!endpoint) return false;
    await this.redis
      .multi()
      .hdel(this.keys.endpoints, id)
      .srem(this.keys.customer(customerId), id)
      .incr(this.keys.version)
      .exec();
    return true;
  }

  /** Newest first, at most `limit`, optionally only one status (e.g. `dead` for dead letters). */
  async deliveries(
    customerId: string,
    endpointId: string,
    options: { limit?: number; status?: DeliveryStatus } = {},
  ): Promise<DeliveryRecord[]> {
    const limit = options.limit ?? 50;
    const out: DeliveryRecord[] = [];
    let max = `(${endpointId}}`;
    const min = `[${endpointId}|`;
    // Filtering by status reads further back, a page at a time, up to a bound.
    for (let page = 0; page < 20 && out.length < limit; page++) {
      const members = await this.redis.zrevrangebylex(this.keys.log, max, min, 'LIMIT', 0, 200);
      if (members.length === 0) break;
      const ids = members.map((m) => m.slice(m.lastIndexOf('|') + 1));
      const raws = await this.redis.hmget(this.keys.deliveries, ...ids);
      for (const raw of raws) {
        if (!raw) continue;
        const d = parseDelivery(raw);
        if (d.customer_id !== customerId) continue;
        if (options.status && d.status !== options.status) continue;
        out.push(d);
        if (out.length >= limit) break;
      }
      max = `(${members[members.length - 1]!}`;
    }
    return out;
  }

  async delivery(customerId: string, id: string): Promise<DeliveryRecord | null> {
    const raw = await this.redis.hget(this.keys.deliveries, id);
    if (!raw) return null;
    const d = parseDelivery(raw);
    return d.customer_id === customerId ? d : null;
  }

  /** Sends a finished delivery again, with the same `webhook-id`. */
  async retry(customerId: string, id: string): Promise<'ok' | 'not_found' | 'in_progress'> {
    return this.scripts.run('webhookRetry', this.now(), id, customerId);
  }

  /** Queues a `webhook.test` event to one endpoint. */
  async sendTest(endpoint: EndpointRecord): Promise<DeliveryRecord> {
    const now = this.now();
    const id = deliveryId(`test:${endpoint.id}:${randomBytes(12).toString('hex')}`);
    const body = JSON.stringify({
      type: TEST_EVENT_TYPE,
      timestamp: new Date(now).toISOString(),
      data: { endpoint_id: endpoint.id, message: 'a test event sent from the jobgate API' },
    });
    const delivery = newDelivery(
      {
        id,
        endpoint_id: endpoint.id,
        customer_id: endpoint.customer_id,
        event_type: TEST_EVENT_TYPE,
        job_id: null,
        event_id: null,
        body,
      },
      now,
    );
    await this.enqueue([delivery], [], '');
    return delivery;
  }

  /** Records deliveries as scheduled and acknowledges their stream entries, atomically. */
  enqueue(deliveries: DeliveryRecord[], acks: string[], group: string): Promise<number> {
    return this.scripts.run(
      'webhookEnqueue',
      this.now(),
      group,
      JSON.stringify(acks),
      deliveries.length,
      ...enqueueArgs(deliveries),
    );
  }
}
