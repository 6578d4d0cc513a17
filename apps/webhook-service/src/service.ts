import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job } from '@jobgate/core';
import type { Redis } from 'ioredis';
import { parseEvent, type QueueEvent } from './events.js';
import { CONSUMER_GROUP } from './keys.js';
import { createMetrics, type WebhookMetrics } from './metrics.js';
import { buildPayload, TERMINAL_EVENTS } from './payload.js';
import {
  classifyStatus,
  nextAttemptAt,
  parseRetryAfter,
  STANDARD_SCHEDULE_MS,
} from './schedule.js';
import { Sender } from './sender.js';
import { signatureHeader } from './signing.js';
import { deliveryTracing, type WebhookTelemetry } from './tracing.js';
import type { Resolver, TargetPolicy } from './ssrf.js';
import { deliveryId, enqueueArgs, newDelivery, WebhookStore } from './store.js';
import {
  activeSecrets,
  parseDelivery,
  parseEndpoint,
  subscribes,
  WEBHOOK_EVENT_TYPES,
  type AttemptRecord,
  type DeliveryRecord,
  type EndpointRecord,
} from './types.js';

export interface ServiceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhookServiceOptions {
  namespace: string;
  policy: TargetPolicy;
  /** DNS for registration-like checks at connect time; tests inject answers. */
  resolve?: Resolver;
  /** Consumer name in the group; a stable name resumes its own unacknowledged entries on restart. */
  consumerName?: string;
  /** Per-request deadline. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * Requests this instance keeps open to one endpoint. Default 10 (measured against 50 in
   * bench/delivery.ts: 50 was not faster for a receiver answering at once, see the README).
   */
  concurrencyPerEndpoint?: number;
  /** Requests this instance keeps open in all. Default 256. */
  maxInFlight?: number;
  /** Waits before attempts 1..n (Standard Webhooks by default). */
  schedule?: readonly number[];
  /** An endpoint whose every attempt failed for this long is disabled. Default 5 days. */
  disableAfterMs?: number;
  /** Finished deliveries stay visible this long. Default 7 days. */
  retentionMs?: number;
  /** A claimed delivery whose sender vanished is due again after this. Default 2 x timeout + 5 s. */
  leaseMs?: number;
  /** Stream entries another consumer read but did not acknowledge for this long are taken over. Default 30 s. */
  claimIdleMs?: number;
  batchSize?: number;
  blockMs?: number;
  /**
   * An idle sender sleeps until the due set's first delivery comes due (a retry, a claim's lease
   * running out) and wakes at once for its own work (deliveries it enqueued, a finished request);
   * it looks again at least every `idleMs` for work others put there (a manual retry through the
   * API, deliveries another instance at its limit left) and at most every `pollMs` (due
   * deliveries it could not start: their endpoints at their limit). Defaults 20 ms and 500 ms.
   */
  pollMs?: number;
  idleMs?: number;
}

export interface WebhookServiceDeps extends WebhookServiceOptions {
  /** A span per delivery attempt and an attempt-duration histogram over OTLP; none when absent. */
  telemetry?: WebhookTelemetry;
  /** Commands; the service duplicates it once for the blocking stream read. */
  redis: Redis;
  /** Reads a finished job for its result (`@jobgate/core`'s queue). */
  jobs: { get(id: string): Promise<Job | null> };
  logger?: ServiceLogger;
  now?: () => number;
  random?: () => number;
  /** Register Node's default process metrics (off in tests that build several services). */
  defaultMetrics?: boolean;
}

export interface WebhookService {
  readonly consumer: string;
  readonly metrics: WebhookMetrics;
  /** Creates the consumer group (at the stream's end if new) and starts reading and sending. */
  start(): Promise<void>;
  /** Stops both loops and waits for open requests (each bounded by the timeout). */
  stop(): Promise<void>;
  /**
   * One round without the loops, for tests on a controllable clock: reads every entry available
   * now, takes over idle entries of other consumers, then sends whatever is due at `now()` until
   * nothing is, waiting for each request.
   */
  pump(): Promise<void>;
  health(): Promise<{ ok: boolean; redis: boolean; reading: boolean }>;
}

/**
 * An endpoint with a request open this long (at least; a quarter of the timeout when that is
 * longer) counts as slow (see the claim in scripts.ts): a loaded machine stretches every request
 * a little, a hung receiver holds its requests until the timeout.
 */
const SLOW_ENDPOINT_MS = 1_000;

const NOOP_LOGGER: ServiceLogger = { info() {}, warn() {}, error() {} };
const EVENT_TYPES = new Set<string>(WEBHOOK_EVENT_TYPES);
type StreamEntry = [string, string[]];

export function createWebhookService(deps: WebhookServiceDeps): WebhookService {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const log = deps.logger ?? NOOP_LOGGER;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const perEndpoint = deps.concurrencyPerEndpoint ?? 10;
  const maxInFlight = deps.maxInFlight ?? 256;
  const schedule = deps.schedule ?? STANDARD_SCHEDULE_MS;
  const disableAfterMs = deps.disableAfterMs ?? 5 * 24 * 3_600_000;
  const retentionMs = deps.retentionMs ?? 7 * 24 * 3_600_000;
  const leaseMs = deps.leaseMs ?? timeoutMs * 2 + 5_000;
  const claimIdleMs = deps.claimIdleMs ?? 30_000;
  const batchSize = deps.batchSize ?? 200;
  const blockMs = deps.blockMs ?? 1_000;
  const pollMs = deps.pollMs ?? 20;
  const idleMs = Math.max(pollMs, deps.idleMs ?? 500);
  const consumer =
    deps.consumerName ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  const redis = deps.redis;
  const store = new WebhookStore(redis, deps.namespace, now);
  const keys = store.keys;
  const traceAttempt = deps.telemetry ? deliveryTracing(deps.telemetry) : undefined;
  const sender = new Sender({
    policy: deps.policy,
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
    timeoutMs,
    // Sockets per receiver origin up to the in-flight limit: requests to one origin (many
    // endpoints of one customer, or one busy endpoint) never queue in the agent behind a smaller
    // pool, which would count as time open and make the endpoint look slow.
    maxSocketsPerHost: maxInFlight,
  });

  /** Open requests per endpoint: delivery id -> when the request started (real time). */
  const inflightByEndpoint = new Map<string, Map<string, number>>();
  const active = new Set<Promise<void>>();
  let claimSeq = 0;
  let stopped = false;
  let reader: Redis | undefined;
  let lastReadAt = 0;
  let lastAutoclaim = 0;
  let lastCleanup = 0;
  const loops: Promise<void>[] = [];

  const metrics = createMetrics(
    {
      queueLagSeconds: async () => {
        const oldest = await redis.zrangebyscore(
          keys.due,
          '-inf',
          now(),
          'WITHSCORES',
          'LIMIT',
          0,
          1,
        );
        return oldest[1] === undefined ? 0 : Math.max(0, (now() - Number(oldest[1])) / 1_000);
      },
      dueDeliveries: () => redis.zcount(keys.due, '-inf', now()),
      streamLag: async () => {
        try {
          const groups = (await redis.xinfo('GROUPS', keys.events)) as unknown[][];
          for (const g of groups) {
            const i = g.indexOf('name');
            if (g[i + 1] === CONSUMER_GROUP) {
              const lag = g[g.indexOf('lag') + 1];
              return typeof lag === 'number' ? lag : 0;
            }
          }
        } catch {
          // No stream yet: nothing waits.
        }
        return 0;
      },
      inFlight: () => open,
    },
    { defaults: deps.defaultMetrics ?? true },
  );

  // Endpoints per customer, dropped whenever any endpoint changes (one GET per batch).
  const endpointCache = new Map<string, Promise<EndpointRecord[]>>();
  let cacheVersion: string | null | undefined;

  async function endpointsOf(customerId: string): Promise<EndpointRecord[]> {
    let hit = endpointCache.get(customerId);
    if (!hit) {
      if (endpointCache.size > 10_000) endpointCache.clear();
      hit = store.list(customerId);
      endpointCache.set(customerId, hit);
      hit.catch(() => endpointCache.delete(customerId));
    }
    return hit;
  }

  const ensureGroup = () => store.ensureGroup();

  /** Turns entries into scheduled deliveries and acknowledges them in the same script call. */
  async function consume(entries: StreamEntry[], knownVersion?: string | null): Promise<number> {
    if (entries.length === 0) return 0;
    const version = knownVersion !== undefined ? knownVersion : await redis.get(keys.version);
    if (version !== cacheVersion) {
      endpointCache.clear();
      cacheVersion = version;
    }
    const matched: { event: QueueEvent; endpoints: EndpointRecord[] }[] = [];
    for (const [id, fields] of entries) {
      metrics.eventsConsumed.inc();
      const event = parseEvent(id, fields ?? []);
      if (!event || !event.customer_id || !EVENT_TYPES.has(event.type)) continue;
      const customer = event.customer_id;
      const endpoints = (await endpointsOf(customer)).filter(
        (e) =>
          e.customer_id === customer &&
          e.status === 'enabled' &&
          subscribes(e, event.type) &&
          (e.workflow_id === null || e.workflow_id === event.workflow_id),
      );
      if (endpoints.length > 0) matched.push({ event, endpoints });
    }
    const deliveries: DeliveryRecord[] = [];
    const jobs = await Promise.all(
      matched.map(({ event }) =>
        TERMINAL_EVENTS.has(event.type) ? deps.jobs.get(event.job_id) : Promise.resolve(null),
      ),
    );
    const at = now();
    matched.forEach(({ event, endpoints }, i) => {
      const job = jobs[i] ?? null;
      // A job record of another customer (never expected) would leak its result: send none of it.
      const body = buildPayload(event, job && job.customer_id === event.customer_id ? job : null);
      for (const endpoint of endpoints) {
        deliveries.push(
          newDelivery(
            {
              id: deliveryId(`${deps.namespace}:${event.id}:${endpoint.id}`),
              endpoint_id: endpoint.id,
              customer_id: endpoint.customer_id,
              event_type: event.type,
              job_id: event.job_id,
              event_id: event.id,
              body,
            },
            // The event's time, so the delivery log and event-to-receipt lag start at the event.
            Math.min(at, event.timestamp),
          ),
        );
      }
    });
    // Due "now" on this clock, whatever the event's time.
    for (const d of deliveries) d.next_attempt_at = at;
    // Recorded and acknowledged in the sender's next call, which also claims them (and records
    // whatever results are waiting): one round trip from reading an event to sending it.
    const { added } = await settle({ deliveries, acks: entries.map(([id]) => id) });
    return added;
  }

  async function readOnce(client: Redis, block: boolean, id = '>'): Promise<number> {
    const args: (string | number)[] = ['GROUP', CONSUMER_GROUP, consumer, 'COUNT', batchSize];
    if (block) args.push('BLOCK', blockMs);
    args.push('STREAMS', keys.events, id);
    // The endpoints' version is read in the same pipeline, right after the entries (Redis answers
    // it once the read returns): no extra round trip between reading an event and recording it.
    const pipeline = client.pipeline();
    (pipeline.xreadgroup as (...a: (string | number)[]) => unknown).call(pipeline, ...args);
    const replies = await pipeline.get(keys.version).exec();
    lastReadAt = Date.now();
    const [readReply, versionReply] = replies ?? [];
    if (readReply?.[0]) throw readReply[0];
    const result = readReply?.[1] as [string, StreamEntry[]][] | null | undefined;
    const entries = result?.[0]?.[1] ?? [];
    const version =
      versionReply && !versionReply[0] ? (versionReply[1] as string | null) : undefined;
    await consume(entries, version);
    return entries.length;
  }

  /** Entries read by a consumer that died before acknowledging them. */
  async function autoclaim(): Promise<number> {
    lastAutoclaim = Date.now();
    let cursor = '0-0';
    let total = 0;
    for (let round = 0; round < 100; round++) {
      const [next, entries, deleted] = (await redis.xautoclaim(
        keys.events,
        CONSUMER_GROUP,
        consumer,
        claimIdleMs,
        cursor,
        'COUNT',
        batchSize,
      )) as [string, (StreamEntry | null)[], string[]?];
      const live = entries.filter((e): e is StreamEntry => Array.isArray(e) && Array.isArray(e[1]));
      await consume(live);
      // Entries trimmed from the stream while pending cannot be read any more; clear them.
      if (deleted && deleted.length > 0) await redis.xack(keys.events, CONSUMER_GROUP, ...deleted);
      total += live.length;
      cursor = next;
      if (cursor === '0-0') break;
    }
    return total;
  }

  function headersFor(d: DeliveryRecord, endpoint: EndpointRecord): Record<string, string> {
    const at = now();
    const ts = Math.floor(at / 1_000);
    return {
      'webhook-id': d.id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader(d.id, ts, d.body, activeSecrets(endpoint, at)),
    };
  }

  /** One attempt's outcome, waiting for the sender's next settle call to record it. */
  interface PendingResult {
    id: string;
    claim: string;
    outcome: {
      attempt: AttemptRecord;
      result: string;
      next_at: number | null;
      disable_reason: string | null;
    };
    done: (recorded: boolean) => void;
    failed: (error: unknown) => void;
  }
  const pendingResults: PendingResult[] = [];
  /** Open requests, in all and per endpoint (what the limits count). */
  let open = 0;

  /** Sends one claimed delivery; resolves once its outcome is recorded. */
  async function deliver(d: DeliveryRecord, endpoint: EndpointRecord): Promise<void> {
    const endSpan = traceAttempt?.(d, endpoint);
    let result;
    try {
      result = await sender.send(endpoint.url, headersFor(d, endpoint), d.body);
    } finally {
      // The request is over: its slot is free for the settle call that records its outcome.
      open--;
      const open_ = inflightByEndpoint.get(endpoint.id);
      open_?.delete(d.id);
      if (open_?.size === 0) inflightByEndpoint.delete(endpoint.id);
    }
    const at = now();
    let outcome: AttemptRecord['outcome'];
    let nextAt: number | null = null;
    let disableReason: string | null = null;
    const kind =
      result.status !== null ? classifyStatus(result.status) : result.refused ? 'fail' : 'retry';
    if (kind === 'success') outcome = 'succeeded';
    else if (kind === 'gone') {
      outcome = 'disabled';
      disableReason = 'the endpoint answered 410 Gone';
    } else if (kind === 'fail') outcome = 'failed';
    else {
      const retryAfterMs = parseRetryAfter(result.retryAfter, at);
      nextAt = nextAttemptAt(at, d.round_attempts, schedule, {
        random,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
      outcome = nextAt === null ? 'dead' : 'retry';
    }
    const attempt: AttemptRecord = {
      at,
      status_code: result.status,
      error: result.error,
      latency_ms: result.latencyMs,
      outcome,
    };
    const recorded = await new Promise<boolean>((done, failed) => {
      pendingResults.push({
        id: d.id,
        claim: d.claim ?? '',
        outcome: {
          attempt,
          result: outcome === 'disabled' ? 'failed' : outcome,
          next_at: nextAt,
          disable_reason: disableReason,
        },
        done,
        failed,
      });
      wake();
    });
    endSpan?.({ status: result.status, error: result.error, outcome });
    metrics.deliveries.inc({ outcome });
    metrics.attemptLatency.observe({ outcome }, result.latencyMs / 1_000);
    if (d.attempts === 1) metrics.eventToSend.observe(Math.max(0, at - d.created_at) / 1_000);
    if (outcome === 'dead') metrics.deadLetters.inc();
    if (!recorded) {
      log.warn({ delivery: d.id }, 'delivery was taken over by another sender; result dropped');
    }
    if (outcome === 'disabled') {
      log.warn({ endpoint: endpoint.id }, 'endpoint answered 410 Gone; disabled');
    }
  }

  /**
   * Records every outcome collected since the last call and claims what is due within this
   * instance's limits, in one script call; starts sending what it claimed and returns how many.
   * Calls never overlap (the slot counts they pass would), a caller arriving meanwhile waits.
   */
  async function settle(enqueue?: {
    deliveries: DeliveryRecord[];
    acks: string[];
  }): Promise<{ started: number; added: number }> {
    while (settling) await settling.catch(() => undefined);
    const call = settleOnce(enqueue);
    settling = call;
    try {
      return await call;
    } finally {
      if (settling === call) settling = undefined;
    }
  }

  let settling: Promise<{ started: number; added: number }> | undefined;

  async function settleOnce(enqueue?: {
    deliveries: DeliveryRecord[];
    acks: string[];
  }): Promise<{ started: number; added: number }> {
    const batch = pendingResults.splice(0);
    const room = stopped ? 0 : Math.max(0, maxInFlight - open);
    if (batch.length === 0 && room === 0 && !enqueue) return { started: 0, added: 0 };
    const slots: Record<string, number> = {};
    // Endpoints whose oldest open request has run for a while: their waiting deliveries may be
    // put back when they crowd the claim's window. A fast endpoint's backlog keeps its place.
    const slow: string[] = [];
    const startedBefore = performance.now() - Math.max(SLOW_ENDPOINT_MS, timeoutMs / 4);
    for (const [endpoint, requests] of inflightByEndpoint) {
      slots[endpoint] = perEndpoint - requests.size;
      for (const started of requests.values()) {
        if (started < startedBefore) {
          slow.push(endpoint);
          break;
        }
      }
    }
    const token = `${consumer}:${++claimSeq}`;
    let reply: [number[], string[], number];
    try {
      reply = await store.scripts.run<[number[], string[], number]>(
        'webhookSettle',
        now(),
        JSON.stringify(batch.map((r) => [r.id, r.claim, r.outcome])),
        disableAfterMs,
        leaseMs,
        room,
        // The look-ahead: enough to get past a few saturated endpoints' deliveries, bounded
        // because every entry looked at costs a read.
        Math.min(Math.max(room * 2, 100), 500),
        JSON.stringify(slots),
        perEndpoint,
        250,
        token,
        JSON.stringify(slow),
        CONSUMER_GROUP,
        JSON.stringify(enqueue?.acks ?? []),
        enqueue?.deliveries.length ?? 0,
        ...enqueueArgs(enqueue?.deliveries ?? []),
      );
    } catch (error) {
      // Claims still leased bring these deliveries back; they are sent again under the same id.
      for (const r of batch) r.failed(error);
      throw error;
    }
    const [recorded, flat, added] = reply;
    batch.forEach((r, i) => r.done(recorded[i] === 1));
    // Deliveries of one endpoint come with the same endpoint JSON: parsed once per call.
    const endpoints = new Map<string, EndpointRecord>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const d = parseDelivery(flat[i]!);
      const raw = flat[i + 1]!;
      let endpoint = endpoints.get(raw);
      if (!endpoint) endpoints.set(raw, (endpoint = parseEndpoint(raw)));
      open++;
      let requests = inflightByEndpoint.get(endpoint.id);
      if (!requests) inflightByEndpoint.set(endpoint.id, (requests = new Map<string, number>()));
      requests.set(d.id, performance.now());
      const task: Promise<void> = deliver(d, endpoint)
        .catch((error: unknown) => {
          // The claim's lease brings it back; nothing is lost, it is sent again under the same id.
          log.error({ err: error, delivery: d.id }, 'recording a delivery attempt failed');
        })
        .finally(() => {
          active.delete(task);
          wake();
        });
      active.add(task);
    }
    return { started: flat.length / 2, added };
  }

  async function housekeeping(): Promise<void> {
    if (Date.now() - lastCleanup < 60_000) return;
    lastCleanup = Date.now();
    await store.scripts.run('webhookCleanup', now(), now() - retentionMs, 1_000);
  }

  // Wake-ups: a result to record, a slot freed, deliveries enqueued. A wake-up that arrives while
  // the dispatcher is busy is remembered, so it never sleeps through one.
  let woken = false;
  const waiters: (() => void)[] = [];
  function wake(): void {
    woken = true;
    for (const w of waiters.splice(0)) w();
  }
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });

  // Settles when stop() is called: a read queued on a reconnecting connection (Redis gone) may
  // never settle once that connection is closed, and must not hold the stop.
  let signalStop: () => void = () => {};
  const stopSignal = new Promise<void>((resolve) => (signalStop = resolve));

  async function readLoop(): Promise<void> {
    const client = reader!;
    while (!stopped) {
      try {
        await Promise.race([readOnce(client, true), stopSignal]);
        if (stopped) break;
        if (Date.now() - lastAutoclaim > claimIdleMs / 2) await autoclaim();
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error }, 'reading job events failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** How long an idle sender sleeps: until the first due delivery, within [pollMs, idleMs]. */
  async function idleWait(): Promise<number> {
    const [, score] = await redis.zrangebyscore(
      keys.due,
      '-inf',
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      1,
    );
    const untilDue = score === undefined ? idleMs : Number(score) - now();
    return Math.min(idleMs, Math.max(pollMs, untilDue));
  }

  async function sendLoop(): Promise<void> {
    while (!stopped) {
      try {
        woken = false;
        const { started } = await settle();
        await housekeeping();
        if (started === 0 && pendingResults.length === 0 && !stopped) await pause(await idleWait());
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error }, 'recording results or claiming due deliveries failed; retrying');
        woken = false;
        await pause(500);
      }
    }
  }

  return {
    consumer,
    metrics,
    async start() {
      await ensureGroup();
      reader = redis.duplicate();
      reader.on('error', (error) =>
        log.warn({ err: error.message }, 'stream reader connection error'),
      );
      // Our own unacknowledged entries first (a restart under the same consumer name).
      while ((await readOnce(reader, false, '0')) > 0);
      loops.push(readLoop(), sendLoop());
      log.info({ consumer }, 'webhook service started');
    },
    async stop() {
      stopped = true;
      signalStop();
      wake();
      // The blocked XREADGROUP ends at once when its connection goes. With Redis gone the wait
      // for open requests' outcomes is bounded: whatever is not recorded in time stays claimed,
      // and is sent again under the same id once its lease runs out (by this consumer after a
      // restart, or by another one).
      const deadline = performance.now() + timeoutMs + 5_000;
      const untilDeadline = (): Promise<void> =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
          timer.unref();
        });
      reader?.disconnect();
      await Promise.race([Promise.all(loops), untilDeadline()]);
      // Record the outcomes of the requests still open (each bounded by the timeout).
      while (active.size > 0 && performance.now() < deadline) {
        woken = false;
        if (pendingResults.length > 0)
          await Promise.race([settle().catch(() => undefined), untilDeadline()]);
        else await pause(Math.max(0, deadline - performance.now()));
      }
      if (active.size > 0 || pendingResults.length > 0)
        log.error(
          { open: active.size, unrecorded: pendingResults.length, timeout_ms: timeoutMs + 5_000 },
          'Redis did not answer: outcomes left unrecorded; those deliveries are sent again once their claims expire',
        );
      sender.close();
    },
    async pump() {
      await ensureGroup();
      await readOnce(redis, false, '0');
      while ((await readOnce(redis, false)) > 0);
      await autoclaim();
      for (;;) {
        woken = false;
        const { started } = await settle();
        if (started > 0 || pendingResults.length > 0) continue;
        if (active.size === 0) break;
        // Wait for a request to finish (its result queued) before the next call.
        await pause(60_000);
      }
    },
    async health() {
      let redisOk: boolean;
      try {
        redisOk = (await redis.ping()) === 'PONG';
      } catch {
        redisOk = false;
      }
      const reading = stopped ? false : Date.now() - lastReadAt < blockMs * 3 + 5_000;
      return { ok: redisOk && reading, redis: redisOk, reading };
    },
  };
}
