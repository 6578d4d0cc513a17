import { headerValue } from './retry-after.js';
import type { FailureContext } from './types.js';

type HeaderBag = Record<string, string | string[] | number | undefined>;

/** Everything the classifier looks at, gathered once from an error, its causes and the response. */
export interface Evidence {
  /** Distinct human messages, outermost first (the caller's, then the provider's, then causes'). */
  messages: string[];
  /** All text found (messages, types, details, tracebacks), lower-cased, for pattern rules. */
  text: string;
  /** Error codes and provider error codes/types, upper-cased (`ECONNRESET`, `MODERATION_BLOCKED`). */
  codes: Set<string>;
  status: number | undefined;
  timeout: boolean;
  requestId: string | undefined;
  headers: HeaderBag | undefined;
}

const MESSAGE_KEYS = [
  'message',
  'exception_message',
  'detail',
  'error_description',
  'reason',
  'refusal',
  'details',
];
const TEXT_KEYS = [
  'type',
  'exception_type',
  'node_type',
  'class_type',
  'status_str',
  'name',
  'finish_reason',
  'traceback',
  'stderr',
];
const CODE_KEYS = ['code', 'type', 'errno', 'exception_type', 'finish_reason'];
const NEST_KEYS = [
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
];
const PROVIDER_ID = /^(req|resp|chatcmpl|img|batch|run|job|gen)[-_][A-Za-z0-9_-]+$/;

function toHeaderBag(value: unknown): HeaderBag | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const maybe = value as { forEach?: unknown; get?: unknown };
  if (typeof maybe.forEach === 'function' && typeof maybe.get === 'function') {
    const bag: HeaderBag = {};
    (value as { forEach(cb: (v: string, k: string) => void): void }).forEach((v, k) => {
      bag[k] = v;
    });
    return bag;
  }
  return value as HeaderBag;
}

function isStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599;
}

export function gatherEvidence(input: unknown, context: FailureContext = {}): Evidence {
  const messages: string[] = [];
  const texts: string[] = [];
  const codes = new Set<string>();
  let status = isStatus(context.httpStatus) ? context.httpStatus : undefined;
  let requestId = context.requestId;
  let headers: HeaderBag | undefined = context.headers;
  const seen = new Set<unknown>();

  const addMessage = (value: string): void => {
    const trimmed = value.trim();
    if (!trimmed) return;
    texts.push(trimmed);
    if (messages.some((m) => m.includes(trimmed))) return;
    // A wrapper often repeats its cause's message ("Error in component: <cause>"): keep the longer.
    const inner = messages.findIndex((m) => trimmed.includes(m));
    if (inner >= 0) messages[inner] = trimmed;
    else messages.push(trimmed);
  };

  const walk = (value: unknown, depth: number, topLevel: boolean): void => {
    if (value === null || value === undefined || depth > 8) return;
    if (typeof value === 'string') {
      addMessage(value);
      return;
    }
    if (typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value.slice(0, 50)) {
        if (typeof item === 'string') texts.push(item);
        else walk(item, depth + 1, false);
      }
      return;
    }
    const record = value as Record<string, unknown>;
    if (value instanceof Error) {
      addMessage(value.message);
      // Its name (TypeError, AbortError) reaches the text through TEXT_KEYS, inherited or own.
      if (value.name === 'TimeoutError') codes.add('TIMEOUTERROR');
    }
    for (const key of MESSAGE_KEYS) {
      const v = record[key];
      if (typeof v === 'string' && !(value instanceof Error && key === 'message')) addMessage(v);
    }
    for (const key of TEXT_KEYS) {
      const v = record[key];
      if (typeof v === 'string') texts.push(v);
      else if (Array.isArray(v)) texts.push(v.filter((x) => typeof x === 'string').join('\n'));
    }
    for (const key of CODE_KEYS) {
      const v = record[key];
      if (typeof v === 'string' && v.length <= 80) codes.add(v.toUpperCase());
    }
    for (const key of ['status', 'statusCode', 'status_code', 'http_status']) {
      const v = record[key];
      if (status === undefined && isStatus(v)) status = v;
    }
    for (const key of ['request_id', 'requestId', 'x-request-id']) {
      const v = record[key];
      if (!requestId && typeof v === 'string' && v) requestId = v;
    }
    if (!requestId && topLevel && typeof record.id === 'string' && PROVIDER_ID.test(record.id))
      requestId = record.id;
    if (!headers && record.headers) headers = toHeaderBag(record.headers);
    for (const key of NEST_KEYS) {
      const v = record[key];
      if (v !== undefined && typeof v !== 'string') walk(v, depth + 1, false);
      else if (typeof v === 'string' && (key === 'error' || key === 'cause')) addMessage(v);
    }
    // ComfyUI history is keyed by prompt id, node_errors by node id: walk values of such maps.
    if (depth < 3 && !(value instanceof Error)) {
      for (const [key, v] of Object.entries(record)) {
        if (NEST_KEYS.includes(key) || MESSAGE_KEYS.includes(key)) continue;
        if (v && typeof v === 'object' && !Array.isArray(v) && /^[0-9a-f-]{1,36}$/i.test(key))
          walk(v, depth + 1, false);
      }
    }
    if (value instanceof AggregateError) walk(value.errors, depth + 1, false);
  };

  walk(input, 0, true);
  walk(context.responseData, 0, true);

  if (!requestId) {
    requestId =
      headerValue(headers, 'x-request-id') ??
      headerValue(headers, 'request-id') ??
      headerValue(headers, 'openai-request-id');
  }
  const all = [...messages, ...texts].join('\n');
  if (!requestId) requestId = /\b(req_[A-Za-z0-9]{6,})/.exec(all)?.[1];
  return {
    messages,
    text: all.toLowerCase().slice(0, 20_000),
    codes,
    status,
    timeout: context.timeout === true,
    requestId,
    headers,
  };
}
