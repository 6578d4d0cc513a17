import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OtlpReceiver, ReceivedSpan, WebhookReceiver } from '@jobgate/testkit';
import { WEBHOOK_EVENT_TYPES, webhookKeys, type DeliveryRecord } from '@jobgate/webhook-service';
import type { Redis } from 'ioredis';
import type { StreamEvent } from './ledger.js';

/** Every delivery record of the namespace (HSCAN in pages, never all at once). */
export async function readDeliveries(redis: Redis, namespace: string): Promise<DeliveryRecord[]> {
  const key = webhookKeys(namespace).deliveries;
  const out: DeliveryRecord[] = [];
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1_000);
    for (let i = 1; i < flat.length; i += 2) out.push(JSON.parse(flat[i]!) as DeliveryRecord);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Standard Webhooks `v1,` signature check with the endpoint's `whsec_` secret. */
export function signatureValid(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
  header: string,
): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((part) => {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const WEBHOOK_TYPES = new Set<string>(WEBHOOK_EVENT_TYPES);

export interface WebhookVerdict {
  /** Stream entries the endpoint subscribes to: each must become one delivered webhook. */
  expected: number;
  /** Expected events accepted (2xx) by the receiver under their delivery's webhook-id. */
  delivered: number;
  /** Expected events with no delivery record, a record not `succeeded`, or never accepted. */
  missing: string[];
  /** Events that became more than one delivery (more than one webhook-id). */
  twoIds: string[];
  /** webhook-ids whose copies differ in content (from each other or from the record's body). */
  differing: string[];
  /** Copies whose signature does not verify with the endpoint's secret. */
  badSignature: string[];
  /** webhook-ids the receiver got that no delivery record or expected event explains. */
  unexplained: string[];
  /** webhook-ids the receiver saw more often than the record counts attempts. */
  attemptsShort: string[];
  /** Jobs whose events were first accepted out of stream order. */
  outOfOrder: string[];
  /** webhook-ids accepted more than once (at-least-once: identical copies, allowed). */
  resent: number;
  /** Requests the receiver saw in all, and delivery attempts that failed (connection refused...). */
  requests: number;
  failedAttempts: number;
  /** Most attempts any delivery needed. */
  maxAttempts: number;
  problems: string[];
  /** Event and delivery timelines of up to `limit` problem events, for the failure message. */
  timelines(limit?: number): string;
}

/**
 * Judges webhook delivery from both ends: the event stream says what must be delivered, the
 * delivery records say what the service did, the receiver says what a customer got. Transport is
 * at-least-once, so a webhook-id may arrive twice, but every copy must be identical and signed,
 * every subscribed event must arrive under exactly one webhook-id, and one job's events must
 * arrive in order.
 */
export async function judgeWebhooks(
  redis: Redis,
  namespace: string,
  events: readonly StreamEvent[],
  receiver: WebhookReceiver,
  endpoint: { id: string; customer: string; secret: string },
): Promise<WebhookVerdict> {
  const expectedEvents = events.filter(
    (e) => e.customer_id === endpoint.customer && WEBHOOK_TYPES.has(e.type),
  );
  const records = (await readDeliveries(redis, namespace)).filter(
    (d) => d.endpoint_id === endpoint.id && d.event_id !== null,
  );
  const recordsByEvent = new Map<string, DeliveryRecord[]>();
  for (const d of records)
    recordsByEvent.set(d.event_id!, [...(recordsByEvent.get(d.event_id!) ?? []), d]);
  const recordById = new Map(records.map((d) => [d.id, d]));
  const copies = new Map<string, WebhookReceiver['requests']>();
  receiver.requests.forEach((r) => {
    const id = r.id ?? '(none)';
    copies.set(id, [...(copies.get(id) ?? []), r]);
  });
  const firstAccepted = new Map<string, number>();
  receiver.requests.forEach((r, index) => {
    const ok = typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300;
    if (ok && r.id && !firstAccepted.has(r.id)) firstAccepted.set(r.id, index);
  });

  const missing: string[] = [];
  const twoIds: string[] = [];
  let delivered = 0;
  for (const e of expectedEvents) {
    const list = recordsByEvent.get(e.id) ?? [];
    if (list.length > 1) twoIds.push(e.id);
    const d = list[0];
    if (!d || d.status !== 'succeeded' || !firstAccepted.has(d.id)) missing.push(e.id);
    else delivered++;
  }
  const differing: string[] = [];
  const badSignature: string[] = [];
  const attemptsShort: string[] = [];
  let resent = 0;
  for (const [id, list] of copies) {
    const record = recordById.get(id);
    if (list.some((r) => r.rawBody !== (record?.body ?? list[0]!.rawBody))) differing.push(id);
    if (
      list.some(
        (r) =>
          !signatureValid(
            endpoint.secret,
            id,
            String(r.headers['webhook-timestamp']),
            r.rawBody,
            String(r.headers['webhook-signature']),
          ),
      )
    )
      badSignature.push(id);
    if (record && list.length > record.attempts) attemptsShort.push(id);
    const accepted = list.filter(
      (r) => typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300,
    ).length;
    if (accepted > 1) resent++;
  }
  const expectedIds = new Set(expectedEvents.map((e) => e.id));
  const unexplained = [...copies.keys()].filter((id) => {
    const record = recordById.get(id);
    return !record || !expectedIds.has(record.event_id!);
  });
  // One job's events must be first accepted in stream order.
  const outOfOrder: string[] = [];
  const byJob = new Map<string, number[]>();
  for (const e of expectedEvents) {
    const d = recordsByEvent.get(e.id)?.[0];
    const at = d ? firstAccepted.get(d.id) : undefined;
    if (at !== undefined) byJob.set(e.job_id, [...(byJob.get(e.job_id) ?? []), at]);
  }
  for (const [job, order] of byJob)
    if (order.some((at, i) => i > 0 && at < order[i - 1]!)) outOfOrder.push(job);

  const failedAttempts = records.reduce(
    (n, d) => n + d.attempt_log.filter((a) => a.outcome !== 'succeeded').length,
    0,
  );
  const maxAttempts = records.reduce((n, d) => Math.max(n, d.attempts), 0);
  const eventById = new Map(expectedEvents.map((e) => [e.id, e]));
  const describeEvent = (id: string): string => {
    const e = eventById.get(id);
    return e ? `${e.type} of job ${e.job_id} (entry ${id})` : `entry ${id}`;
  };
  const problems = [
    ...missing.map((id) => {
      const d = recordsByEvent.get(id)?.[0];
      return `missing: ${describeEvent(id)}: ${d ? `delivery ${d.id} is ${d.status} after ${d.attempts} attempts, accepted by the receiver: ${firstAccepted.has(d.id) ? 'yes' : 'no'}` : 'no delivery record'}`;
    }),
    ...twoIds.map(
      (id) =>
        `two webhook-ids: ${describeEvent(id)} became ${recordsByEvent
          .get(id)!
          .map((d) => d.id)
          .join(', ')}`,
    ),
    ...differing.map((id) => `differing copies: ${id} arrived with different bodies`),
    ...badSignature.map((id) => `bad signature: a copy of ${id}`),
    ...unexplained.map((id) => `unexplained: the receiver got ${id}, which no event explains`),
    ...attemptsShort.map(
      (id) =>
        `attempts: the receiver saw ${id} ${copies.get(id)!.length} times, its record counts ${recordById.get(id)!.attempts}`,
    ),
    ...outOfOrder.map((job) => `order: job ${job}'s events were first accepted out of order`),
  ];
  const timelines = (limit = 10): string => {
    const eventIds = [
      ...new Set([
        ...missing,
        ...twoIds,
        ...[...differing, ...badSignature, ...attemptsShort, ...unexplained]
          .map((id) => recordById.get(id)?.event_id)
          .filter((id): id is string => typeof id === 'string'),
        ...outOfOrder.flatMap((job) =>
          expectedEvents.filter((e) => e.job_id === job).map((e) => e.id),
        ),
      ]),
    ].slice(0, limit);
    return eventIds
      .map((eventId) => {
        const e = eventById.get(eventId);
        const lines: string[] = [];
        for (const d of recordsByEvent.get(eventId) ?? []) {
          lines.push(
            `    delivery ${d.id} ${d.status}, ${d.attempts} attempts, created ${d.created_at}`,
          );
          for (const a of d.attempt_log)
            lines.push(
              `      +${a.at - d.created_at} ms ${a.outcome} status=${a.status_code ?? '-'}${a.error ? ` error=${JSON.stringify(a.error)}` : ''} ${a.latency_ms} ms`,
            );
          for (const r of copies.get(d.id) ?? [])
            lines.push(`      receiver +${r.at - d.created_at} ms answered ${String(r.answer)}`);
        }
        return `  event ${e ? `${e.type} job ${e.job_id} attempt ${e.attempt} at ${e.timestamp}` : eventId} (${eventId}):\n${lines.join('\n') || '    (no delivery record)'}`;
      })
      .join('\n');
  };
  return {
    expected: expectedEvents.length,
    delivered,
    missing,
    twoIds,
    differing,
    badSignature,
    unexplained,
    attemptsShort,
    outOfOrder,
    resent,
    requests: receiver.requests.length,
    failedAttempts,
    maxAttempts,
    problems,
    timelines,
  };
}

export interface SpanVerdict {
  /** Spans the accepted jobs must produce: one job span + one per attempt. */
  expected: number;
  /** Distinct span ids received. */
  received: number;
  /** Job ids with no job span, or fewer attempt spans than attempts. */
  missing: string[];
  /** Span ids received more than once. */
  duplicated: string[];
  /** Spans of jobs nobody submitted, or more attempt spans than attempts. */
  extra: string[];
  /** Spans marked `jobgate.partial` or `jobgate.incomplete` (an event that never reached them). */
  partial: string[];
  problems: string[];
  /** Jobs named by a problem, for their event timelines. */
  problemJobs: string[];
}

function jobIdOf(span: ReceivedSpan): string {
  const id = span.attributes['job.id'];
  return typeof id === 'string' ? id : '';
}

/**
 * Judges span export: every accepted job has exactly one job span and one attempt span per
 * attempt (its record's `attempts`), each span id arrives exactly once, and none is partial.
 */
export function judgeSpans(
  receiver: OtlpReceiver,
  jobs: ReadonlyMap<string, { attempts: number }>,
): SpanVerdict {
  const copies = receiver.copies();
  const byId = receiver.spansById();
  const jobSpans = new Map<string, number>();
  const attemptSpans = new Map<string, number>();
  const extra: string[] = [];
  const partial: string[] = [];
  const problemJobs = new Set<string>();
  for (const span of byId.values()) {
    const jobId = jobIdOf(span);
    if (!jobs.has(jobId)) {
      extra.push(`${span.spanId} (${span.name}, job ${jobId || '?'})`);
      continue;
    }
    const into = span.name.startsWith('attempt ') ? attemptSpans : jobSpans;
    into.set(jobId, (into.get(jobId) ?? 0) + 1);
    if (span.attributes['jobgate.partial'] || span.attributes['jobgate.incomplete']) {
      partial.push(`${span.spanId} (${span.name}, job ${jobId})`);
      problemJobs.add(jobId);
    }
  }
  const missing: string[] = [];
  let expected = 0;
  for (const [id, job] of jobs) {
    expected += 1 + job.attempts;
    const attempts = attemptSpans.get(id) ?? 0;
    if (jobSpans.get(id) !== 1 || attempts < job.attempts) {
      missing.push(
        `${id}: ${jobSpans.get(id) ?? 0} job spans, ${attempts} attempt spans for ${job.attempts} attempts`,
      );
      problemJobs.add(id);
    } else if (attempts > job.attempts) {
      extra.push(`${id}: ${attempts} attempt spans for ${job.attempts} attempts`);
      problemJobs.add(id);
    }
  }
  const duplicated = [...copies]
    .filter(([, n]) => n > 1)
    .map(([id, n]) => {
      const span = byId.get(id);
      const jobId = span ? jobIdOf(span) : '';
      if (jobId) problemJobs.add(jobId);
      return `${id} × ${n} (${span?.name ?? '?'}, job ${jobId || '?'})`;
    });
  return {
    expected,
    received: byId.size,
    missing,
    duplicated,
    extra,
    partial,
    problems: [
      ...missing.map((m) => `missing: ${m}`),
      ...duplicated.map((d) => `duplicated: span ${d}`),
      ...extra.map((e) => `extra: ${e}`),
      ...partial.map((p) => `partial: ${p}`),
    ],
    problemJobs: [...problemJobs],
  };
}
