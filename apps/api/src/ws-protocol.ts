import { z } from 'zod';
import { STREAM_ID } from './event-hub.js';
import { issuesOf, type FieldIssue } from './validation.js';

const jobIds = z
  .array(z.string().min(1).max(128), { message: 'must be an array of job ids' })
  .min(1, { message: 'must name at least one job id' })
  .max(1_000, { message: 'at most 1000 job ids per message' });

const since = z
  .string()
  .regex(STREAM_ID, { message: 'must be an event id received earlier, e.g. "1700000000000-0"' });

const schemas = {
  subscribeJobs: z.strictObject({
    type: z.literal('subscribe'),
    job_ids: jobIds,
    since: since.optional(),
  }),
  subscribeAll: z.strictObject({
    type: z.literal('subscribe'),
    all: z.literal(true),
    since: since.optional(),
  }),
  unsubscribeJobs: z.strictObject({ type: z.literal('unsubscribe'), job_ids: jobIds }),
  unsubscribeAll: z.strictObject({ type: z.literal('unsubscribe'), all: z.literal(true) }),
  ping: z.strictObject({ type: z.literal('ping') }),
};

export type ClientMessage =
  | { type: 'subscribe'; job_ids: string[]; since?: string }
  | { type: 'subscribe'; all: true; since?: string }
  | { type: 'unsubscribe'; job_ids: string[] }
  | { type: 'unsubscribe'; all: true }
  | { type: 'ping' };

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; issues: FieldIssue[] };

/** Parses one text frame; every problem names the field, as HTTP errors do. */
export function parseClientMessage(text: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, issues: [{ field: '(message)', message: 'is not valid JSON' }] };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, issues: [{ field: '(message)', message: 'must be a JSON object' }] };
  }
  const type = (json as { type?: unknown }).type;
  // Choose the one shape the client evidently meant, so the error names its real mistake.
  const hasAll = 'all' in json;
  const schema =
    type === 'subscribe'
      ? hasAll
        ? schemas.subscribeAll
        : schemas.subscribeJobs
      : type === 'unsubscribe'
        ? hasAll
          ? schemas.unsubscribeAll
          : schemas.unsubscribeJobs
        : type === 'ping'
          ? schemas.ping
          : undefined;
  if (!schema)
    return {
      ok: false,
      issues: [{ field: 'type', message: 'must be one of subscribe, unsubscribe, ping' }],
    };
  if ((type === 'subscribe' || type === 'unsubscribe') && !hasAll && !('job_ids' in json)) {
    return {
      ok: false,
      issues: [
        {
          field: 'job_ids',
          message: `is required: send {"type":"${type}","job_ids":["<job id>", ...]} or {"type":"${type}","all":true}`,
        },
      ],
    };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error) };
  return { ok: true, message: parsed.data };
}
