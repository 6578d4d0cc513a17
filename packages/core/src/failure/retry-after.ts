type HeaderBag = Record<string, string | string[] | number | undefined>;

function header(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (Array.isArray(value)) return value[0];
    return value === undefined ? undefined : String(value);
  }
  return undefined;
}

/**
 * `Retry-After` is either delta-seconds (RFC 9110) or an HTTP date; some providers send
 * fractional seconds. Returns milliseconds, or undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | number | undefined,
  now = Date.now(),
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Go-style durations as OpenAI sends them in `x-ratelimit-reset-*`: `1s`, `6m0s`, `120ms`, `1.5s`. */
export function parseDuration(value: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  let consumed = 0;
  for (const m of value.trim().matchAll(re)) {
    matched = true;
    consumed += m[0].length;
    const n = Number(m[1]);
    const unit = m[2];
    total +=
      unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  }
  if (!matched || consumed !== value.trim().length) return undefined;
  return Math.round(total);
}

/**
 * When to come back, from what the upstream said: `retry-after-ms`, `Retry-After`,
 * `x-ratelimit-reset-*`, or the text of the message ("Please try again in 20s").
 */
export function retryAfterFrom(
  headers: HeaderBag | undefined,
  text: string,
  now = Date.now(),
): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const retryAfter = parseRetryAfter(header(headers, 'retry-after'), now);
  if (retryAfter !== undefined) return retryAfter;
  const resets = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((name) => header(headers, name))
    .map((value) => (value === undefined ? undefined : parseDuration(value)))
    .filter((value): value is number => value !== undefined);
  if (resets.length > 0) return Math.max(...resets);
  const inText =
    /(?:try again|retry)(?: after| in)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec(?:ond)?s?|m|min(?:ute)?s?)\b/i.exec(
      text,
    );
  if (inText) {
    const n = Number(inText[1]);
    const unit = (inText[2] ?? 's').toLowerCase();
    if (unit.startsWith('ms') || unit.startsWith('milli')) return Math.round(n);
    if (unit.startsWith('m')) return Math.round(n * 60_000);
    return Math.round(n * 1000);
  }
  return undefined;
}

export function headerValue(headers: HeaderBag | undefined, name: string): string | undefined {
  return header(headers, name);
}
