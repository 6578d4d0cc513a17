import { randomUUID } from 'node:crypto';

export interface SubmitOutcome {
  status: number;
  /** The job id when the API named one (201/200, or a 503 for an unknown outcome). */
  id?: string;
  retryAfter?: string | null;
  body?: any;
  ms: number;
  /** A network error instead of an answer. */
  error?: string;
}

export async function submitJob(
  apiUrl: string,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<SubmitOutcome> {
  const started = performance.now();
  try {
    const response = await fetch(`${apiUrl}/api/jobs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    const id = parsed?.job?.id ?? parsed?.error?.job_id;
    return {
      status: response.status,
      ...(typeof id === 'string' ? { id } : {}),
      retryAfter: response.headers.get('retry-after'),
      body: parsed,
      ms: performance.now() - started,
    };
  } catch (error) {
    return { status: 0, error: (error as Error).message, ms: performance.now() - started };
  }
}

/**
 * Submits `bodies` with `concurrency` requests in flight; a request answered 503 or not answered
 * at all is retried with an `Idempotency-Key` (as the API asks), so every body becomes one job.
 * With `spreadOverMs`, body i is not sent before i/n of that time has passed (a steady stream).
 */
export async function submitAll(
  apiUrl: string,
  key: string,
  bodies: readonly unknown[],
  concurrency: number,
  deadlineMs = 120_000,
  spreadOverMs = 0,
): Promise<{ ids: string[]; outcomes: SubmitOutcome[] }> {
  const ids: string[] = new Array<string>(bodies.length);
  const outcomes: SubmitOutcome[] = [];
  let next = 0;
  const started = Date.now();
  const until = started + deadlineMs;
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const index = next++;
      const notBefore = started + (index * spreadOverMs) / bodies.length;
      if (notBefore > Date.now())
        await new Promise((resolve) => setTimeout(resolve, notBefore - Date.now()));
      const idempotencyKey = randomUUID();
      for (;;) {
        const outcome = await submitJob(apiUrl, key, bodies[index], {
          'idempotency-key': idempotencyKey,
        });
        outcomes.push(outcome);
        if ((outcome.status === 201 || outcome.status === 200) && outcome.id) {
          ids[index] = outcome.id;
          break;
        }
        if (outcome.status !== 0 && outcome.status !== 503 && outcome.status !== 429)
          throw new Error(`submit answered ${outcome.status}: ${JSON.stringify(outcome.body)}`);
        if (Date.now() > until)
          throw new Error(`submit kept failing until the deadline: ${JSON.stringify(outcome)}`);
        const wait = Number(outcome.retryAfter ?? '') * 1000;
        await new Promise((resolve) =>
          setTimeout(resolve, Number.isFinite(wait) && wait > 0 ? Math.min(wait, 1_000) : 100),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { ids, outcomes };
}

export interface CarefulResult {
  /** The job this body became (after a 503 outcome_unknown: the named id if it was stored). */
  id: string;
  /** 503 outcome_unknown answers seen, with what GET said about the named job. */
  unknown: { id: string; stored: boolean }[];
  /** Other 503s, 429s and dropped connections retried. */
  retried: number;
}

/**
 * Submits one body the way the API README tells a client without an Idempotency-Key to: on a
 * 503 that names a job (`outcome_unknown`), ask `GET /api/jobs/:id` (200: it exists, done; 404:
 * submit again); on any other 503/429 or a dropped connection, retry after `Retry-After`.
 */
export async function submitCarefully(
  apiUrl: string,
  key: string,
  body: unknown,
  deadlineMs = 60_000,
): Promise<CarefulResult> {
  const until = Date.now() + deadlineMs;
  const unknown: { id: string; stored: boolean }[] = [];
  let retried = 0;
  const pause = (retryAfter?: string | null): Promise<void> => {
    const wait = Number(retryAfter ?? '') * 1000;
    return new Promise((resolve) =>
      setTimeout(resolve, Number.isFinite(wait) && wait > 0 ? Math.min(wait, 1_000) : 100),
    );
  };
  for (;;) {
    if (Date.now() > until) throw new Error(`submit did not succeed within ${deadlineMs} ms`);
    const outcome = await submitJob(apiUrl, key, body);
    if (outcome.status === 201 && outcome.id) return { id: outcome.id, unknown, retried };
    if (outcome.status === 503 && outcome.body?.error?.code === 'outcome_unknown' && outcome.id) {
      const named = outcome.id;
      let status = 0;
      while (status !== 200 && status !== 404) {
        if (Date.now() > until) throw new Error(`GET /api/jobs/${named} never answered 200 or 404`);
        try {
          const response = await fetch(`${apiUrl}/api/jobs/${named}`, {
            headers: { authorization: `Bearer ${key}` },
          });
          status = response.status;
          await response.arrayBuffer();
        } catch {
          status = 0;
        }
        if (status !== 200 && status !== 404) await pause('1');
      }
      unknown.push({ id: named, stored: status === 200 });
      if (status === 200) return { id: named, unknown, retried };
      continue;
    }
    if (outcome.status === 0 || outcome.status === 503 || outcome.status === 429) {
      retried++;
      await pause(outcome.retryAfter);
      continue;
    }
    throw new Error(`submit answered ${outcome.status}: ${JSON.stringify(outcome.body)}`);
  }
}
