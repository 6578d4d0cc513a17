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
 */
export async function submitAll(
  apiUrl: string,
  key: string,
  bodies: readonly unknown[],
  concurrency: number,
  deadlineMs = 120_000,
): Promise<{ ids: string[]; outcomes: SubmitOutcome[] }> {
  const ids: string[] = new Array<string>(bodies.length);
  const outcomes: SubmitOutcome[] = [];
  let next = 0;
  const until = Date.now() + deadlineMs;
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const index = next++;
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
