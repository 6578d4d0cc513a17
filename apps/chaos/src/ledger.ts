import type { Job, Queue } from '@jobgate/core';
import { waitFor } from '@jobgate/testkit';
import type { Redis } from 'ioredis';

export interface StreamEvent {
  id: string;
  type: string;
  job_id: string;
  customer_id: string;
  workflow_id: string;
  attempt: number;
  timestamp: number;
  data: Record<string, unknown>;
}

/** The whole event stream of a namespace, oldest first (read in pages, never all at once). */
export async function readEvents(redis: Redis, namespace: string): Promise<StreamEvent[]> {
  const key = `{${namespace}}:events`;
  const events: StreamEvent[] = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(key, start, '+', 'COUNT', 5_000);
    for (const [id, flat] of page) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(fields.data ?? '{}') as Record<string, unknown>;
      } catch {
        data = { unparsed: fields.data };
      }
      events.push({
        id,
        type: fields.type ?? '?',
        job_id: fields.job_id ?? '?',
        customer_id: fields.customer_id ?? '',
        workflow_id: fields.workflow_id ?? '',
        attempt: Number(fields.attempt ?? 0),
        timestamp: Number(fields.timestamp ?? 0),
        data,
      });
    }
    if (page.length < 5_000) return events;
    start = `(${page.at(-1)![0]}`;
  }
}

/** `+ms type attempt worker reason` lines per job, for a failure message. */
export function eventTimelines(
  events: readonly StreamEvent[],
  jobIds: readonly string[],
  limit = 10,
): string {
  return [...new Set(jobIds)]
    .slice(0, limit)
    .map((id) => {
      const list = events.filter((e) => e.job_id === id);
      const t0 = list[0]?.timestamp ?? 0;
      const lines = list.map(
        (e) =>
          `    +${e.timestamp - t0} ms ${e.type} attempt=${e.attempt} entry=${e.id}${e.data.worker_id ? ` worker=${JSON.stringify(e.data.worker_id)}` : ''}${e.data.reason ? ` reason=${JSON.stringify(e.data.reason)}` : ''}`,
      );
      return `  job ${id}:\n${lines.join('\n') || '    (no events)'}`;
    })
    .join('\n');
}

/**
 * Waits until no job is pending, delayed or active and `expected` jobs have finished; returns
 * false (never throws) when that did not happen in time, so the judge still prints what is stuck.
 */
export async function settle(queue: Queue, expected: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitFor(
      async () => {
        const c = await queue.counts();
        return (
          c.pending === 0 &&
          c.active === 0 &&
          c.delayed === 0 &&
          c.completed + c.failed + c.cancelled >= expected
        );
      },
      { timeoutMs, intervalMs: 200, what: `${expected} jobs finished` },
    );
    return true;
  } catch {
    return false;
  }
}

export interface Verdict {
  jobs: number;
  completedOnce: number;
  /** Jobs with more than one `job.completed` event. */
  duplicated: string[];
  /** Accepted jobs that are missing, unfinished, failed or without their `job.completed`. */
  lost: string[];
  /** Jobs whose attempts differ from 1 + stalls + retries (+ releases do not count). */
  attemptsWrong: string[];
  /** Completed events for jobs nobody was told were accepted (e.g. a 5xx that stored the job). */
  unannounced: string[];
  events: StreamEvent[];
  /** Every problem in one list, empty when the scenario held. */
  problems: string[];
  /** Timelines of up to `limit` problem jobs, for the failure message. */
  timelines(limit?: number): string;
}

/**
 * Judges a run from the outside: the event stream and the job records must agree that every
 * accepted job completed exactly once, with attempts = 1 + stalls + retries.
 */
export async function judge(
  redis: Redis,
  queue: Queue,
  namespace: string,
  accepted: readonly string[],
  options: { checkAttempts?: boolean } = {},
): Promise<Verdict> {
  const events = await readEvents(redis, namespace);
  const byJob = new Map<string, StreamEvent[]>();
  for (const event of events) {
    const list = byJob.get(event.job_id) ?? [];
    list.push(event);
    byJob.set(event.job_id, list);
  }
  const records = new Map<string, Job | null>();
  const ids = [...new Set(accepted)];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const jobs = await Promise.all(chunk.map((id) => queue.get(id)));
    chunk.forEach((id, j) => records.set(id, jobs[j] ?? null));
  }
  const count = (id: string, type: string): number =>
    (byJob.get(id) ?? []).filter((e) => e.type === type).length;

  const duplicated: string[] = [];
  const lost: string[] = [];
  const attemptsWrong: string[] = [];
  let completedOnce = 0;
  for (const id of ids) {
    const job = records.get(id);
    const completions = count(id, 'job.completed');
    if (completions > 1) duplicated.push(id);
    if (!job || job.status !== 'completed' || completions === 0) lost.push(id);
    else if (completions === 1) completedOnce++;
    if (options.checkAttempts !== false && job?.status === 'completed') {
      const expected = 1 + count(id, 'job.stalled') + count(id, 'job.retry_scheduled');
      if (job.attempts !== expected) attemptsWrong.push(id);
    }
  }
  const acceptedSet = new Set(ids);
  const unannounced = [
    ...new Set(
      events
        .filter((e) => e.type === 'job.completed' && !acceptedSet.has(e.job_id))
        .map((e) => e.job_id),
    ),
  ];
  const problems = [
    ...duplicated.map((id) => `duplicated: ${id} completed ${count(id, 'job.completed')} times`),
    ...lost.map((id) => `lost: ${id} is ${records.get(id)?.status ?? 'missing'}`),
    ...attemptsWrong.map(
      (id) =>
        `attempts: ${id} has attempts=${records.get(id)?.attempts}, expected 1 + ${count(id, 'job.stalled')} stalls + ${count(id, 'job.retry_scheduled')} retries`,
    ),
  ];
  const timelines = (limit = 10): string => {
    const problemIds = [...new Set([...duplicated, ...lost, ...attemptsWrong])].slice(0, limit);
    return problemIds
      .map((id) => {
        const list = byJob.get(id) ?? [];
        const t0 = list[0]?.timestamp ?? 0;
        const lines = list.map(
          (e) =>
            `    +${e.timestamp - t0} ms ${e.type} attempt=${e.attempt}${e.data.worker_id ? ` worker=${JSON.stringify(e.data.worker_id)}` : ''}${e.data.reason ? ` reason=${JSON.stringify(e.data.reason)}` : ''}`,
        );
        const job = records.get(id);
        return `  job ${id} (${job ? `${job.status}, attempts ${job.attempts}, worker ${job.worker_id}` : 'no record'}):\n${lines.join('\n') || '    (no events)'}`;
      })
      .join('\n');
  };
  return {
    jobs: ids.length,
    completedOnce,
    duplicated,
    lost,
    attemptsWrong,
    unannounced,
    events,
    problems,
    timelines,
  };
}
