import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  cancelDrain,
  createAttestationStore,
  createInspector,
  createQueue,
  JOB_STATUSES,
  type Attestation,
  type Job,
  type JobFilter,
  type JobStatus,
  type QueueEvent,
  recordOperatorAction,
  registryKeys,
  requestDrain,
  UnknownWorkerError,
} from '@jobgate/core';
import type { Redis } from 'ioredis';
import { listWorkers, type WorkerRecord } from './registry.js';

export const OPS_USAGE = `usage: jobgate-worker-ops <command>   (pnpm --filter @jobgate/worker ops <command>)
  workers                      live workers: id, machine, status, services, current jobs, last heartbeat
  jobs [filters]               jobs of every customer, newest first, with why each one waits
    --status <s>                 pending | active | completed | failed | cancelled
    --service <name>             one service (pending: in claim order)
    --customer <id>  --workflow <id>
    --stuck                      active with an expired lease, or pending longer than --older-than
    --older-than <dur>           e.g. 90s, 5m, 2h (default 5m; with --stuck)
    --unrunnable                 pending jobs no live worker can run, or with invalid requirements
    --limit <n>                  page size (default 50, at most 1000); --cursor <c> for the next page
  job <id>                     one job: state, why it waits or is stuck, event timeline, attestations
  reap                         requeue expired leases and promote due retries now
  drain <worker-id>            the worker finishes its running jobs and claims nothing new; it stays
                               registered (status draining, then drained) until undrained or stopped
  undrain <worker-id>          the worker claims again
    --wait <dur>                 how long to wait for the worker to acknowledge (default 30s; it reads
                                 the request with its registry heartbeat); --no-wait to return at once
  attestations --job <id>      failure attestations of one job, oldest first
  attestations --workflow <id> failure attestations of every job of a workflow
  attestations --recent [n]    the n most recent attestations of the namespace (default 20)
  add --json to print JSON instead of a table
environment: REDIS_URL (required), QUEUE_NAMESPACE (default jq)`;

export class OpsUsageError extends Error {
  override name = 'OpsUsageError';
}

/** A request that was made but not (yet) carried out: exit code 1. */
export class OpsPendingError extends Error {
  override name = 'OpsPendingError';
}

function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): the host still says where it came from.
  }
  return `ops (${user}@${hostname()})`;
}

function parseWaitArgs(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      options: { wait: { type: 'string' }, 'no-wait': { type: 'boolean' } },
    });
  } catch (error) {
    throw new OpsUsageError(`${(error as Error).message}\n${OPS_USAGE}`);
  }
  if (parsed.values['no-wait'] && parsed.values.wait !== undefined)
    throw new OpsUsageError('use either --wait or --no-wait, not both');
  if (parsed.values['no-wait']) return 0;
  return parsed.values.wait === undefined ? 30_000 : duration(parsed.values.wait, '--wait');
}

function jobsText(w: WorkerRecord): string {
  const n = w.current_jobs.length;
  return n === 0
    ? 'no jobs running'
    : `${n} job${n === 1 ? '' : 's'} running (${w.current_jobs.join(', ')})`;
}

async function drainCommand(
  command: 'drain' | 'undrain',
  workerId: string,
  args: string[],
  deps: { redis: Redis; namespace: string; actor?: string },
): Promise<string> {
  const waitMs = parseWaitArgs(args);
  const { redis, namespace } = deps;
  const by = deps.actor ?? whoAmI();
  let note: string;
  try {
    if (command === 'drain') {
      const { already, request } = await requestDrain(redis, namespace, workerId, by);
      note = already
        ? `already drained by ${request.by || 'someone'} at ${new Date(request.requested_at).toISOString()}`
        : 'requested';
    } else {
      const { existed, worker } = await cancelDrain(redis, namespace, workerId);
      note = !existed
        ? 'was not drained'
        : worker
          ? 'requested'
          : 'removed the drain request of a worker that is not live';
    }
  } catch (error) {
    if (error instanceof UnknownWorkerError) throw new OpsUsageError(error.message);
    throw error;
  }
  await recordOperatorAction(redis, namespace, {
    key_id: 'cli',
    label: by,
    action: command,
    target: workerId,
    result: note,
  });
  const acknowledged = (w: WorkerRecord | null): boolean =>
    w === null ||
    (command === 'drain'
      ? !!w.drain && (w.status === 'draining' || w.status === 'drained')
      : !w.drain && w.status !== 'draining' && w.status !== 'drained');
  const read = async (): Promise<WorkerRecord | null> => {
    const raw = await redis.get(registryKeys(namespace).worker(workerId));
    return raw === null ? null : (JSON.parse(raw) as WorkerRecord);
  };
  const deadline = Date.now() + waitMs;
  let record = await read();
  while (waitMs > 0 && !acknowledged(record) && Date.now() < deadline) {
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    record = await read();
  }
  if (record === null)
    return `worker ${workerId} is not registered any more (stopped or lost); ${command} ${note}`;
  if (!acknowledged(record)) {
    if (waitMs === 0)
      return `${command} of worker ${workerId} ${note}; it takes effect at the worker's next registry heartbeat`;
    throw new OpsPendingError(
      `${command} of worker ${workerId} ${note}, but the worker has not acknowledged it within ${Math.round(waitMs / 1000)} s ` +
        `(status ${record.status}); the request stays in place and takes effect at its next registry heartbeat`,
    );
  }
  return command === 'drain'
    ? `worker ${workerId} ${record.status}: ${jobsText(record)}; it claims nothing new until "ops undrain ${workerId}" (${note})`
    : `worker ${workerId} ${record.status}: claiming again (${note})`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

function workersTable(workers: WorkerRecord[], now: number): string {
  if (workers.length === 0) return 'no live workers';
  return table([
    ['WORKER', 'MACHINE', 'STATUS', 'SERVICES', 'JOBS', 'DONE/FAILED', 'HEARTBEAT'],
    ...workers.map((w) => [
      w.worker_id,
      w.machine_id,
      w.status,
      w.services.join(','),
      `${w.current_jobs.length}/${w.concurrency}`,
      `${w.jobs_completed}/${w.jobs_failed}`,
      ago(w.last_heartbeat, now),
    ]),
  ]);
}

function attestationsTable(list: Attestation[]): string {
  if (list.length === 0) return 'no attestations';
  return table([
    ['FAILED AT', 'JOB', 'STEP', 'ATTEMPT', 'WORKER', 'CLASSIFICATION', 'DECISION', 'DESCRIPTION'],
    ...list.map((a) => [
      new Date(a.failed_at).toISOString(),
      a.job_id,
      a.step === null ? '-' : String(a.step),
      `${a.attempt}/${a.max_attempts}`,
      `${a.worker_id}@${a.machine_id}`,
      `${a.failure_type}/${a.failure_reason}`,
      a.decision,
      a.failure_description.length > 100
        ? `${a.failure_description.slice(0, 99)}…`
        : a.failure_description,
    ]),
  ]);
}

function duration(text: string, option = '--older-than'): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!match)
    throw new OpsUsageError(`${option} takes a duration like 90s, 5m or 2h (got ${text})`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3_600)}h`;
}

function parseJobsArgs(args: string[]): JobFilter {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      options: {
        status: { type: 'string' },
        service: { type: 'string' },
        customer: { type: 'string' },
        workflow: { type: 'string' },
        stuck: { type: 'boolean' },
        'older-than': { type: 'string' },
        unrunnable: { type: 'boolean' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
      },
    });
  } catch (error) {
    throw new OpsUsageError(`${(error as Error).message}\n${OPS_USAGE}`);
  }
  const v = parsed.values;
  if (v.status !== undefined && !JOB_STATUSES.includes(v.status as JobStatus))
    throw new OpsUsageError(`--status must be one of ${JOB_STATUSES.join(', ')} (got ${v.status})`);
  const limit = v.limit === undefined ? 50 : Number(v.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
    throw new OpsUsageError(`--limit takes a count from 1 to 1000 (got ${v.limit})`);
  if (v.stuck && v.unrunnable)
    throw new OpsUsageError('use either --stuck or --unrunnable, not both');
  if (v['older-than'] !== undefined && !v.stuck)
    throw new OpsUsageError('--older-than only applies with --stuck');
  return {
    ...(v.status ? { status: v.status as JobStatus } : {}),
    ...(v.service ? { service: v.service } : {}),
    ...(v.customer ? { customer_id: v.customer } : {}),
    ...(v.workflow ? { workflow_id: v.workflow } : {}),
    ...(v.stuck ? { stuck: true, stuckAfterMs: duration(v['older-than'] ?? '5m') } : {}),
    ...(v.unrunnable ? { unrunnable: true } : {}),
    ...(v.cursor ? { cursor: v.cursor } : {}),
    limit,
  };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function eventLine(e: QueueEvent): string {
  const d = e.data;
  const detail = [
    d.worker_id ? `worker=${text(d.worker_id)}` : '',
    d.failure && typeof d.failure === 'object'
      ? `failure=${String((d.failure as Record<string, unknown>).failure_type)}/${String((d.failure as Record<string, unknown>).failure_reason)}`
      : '',
    d.delay_ms !== undefined ? `retry in ${text(d.delay_ms)}ms` : '',
    d.reason ? `reason=${text(d.reason)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${new Date(e.timestamp).toISOString()}  ${e.type.padEnd(20)} attempt ${e.attempt}  ${detail}`.trimEnd();
}

/** What operators ask a running fleet: who is alive, and why did this job or workflow fail. */
export async function runOps(
  args: string[],
  deps: { redis: Redis; namespace: string; now?: number; actor?: string },
): Promise<string> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const [command, flag, value] = rest;
  const now = deps.now ?? Date.now();
  if (command === 'workers' && rest.length === 1) {
    const workers = await listWorkers(deps.redis, deps.namespace);
    return json ? JSON.stringify(workers, null, 2) : workersTable(workers, now);
  }
  if ((command === 'drain' || command === 'undrain') && flag && !flag.startsWith('-'))
    return drainCommand(command, flag, rest.slice(2), deps);
  if (command === 'jobs' || command === 'job' || command === 'reap') {
    const queue = await createQueue({ redis: deps.redis, namespace: deps.namespace });
    try {
      const inspector = createInspector({ redis: deps.redis, queue, clock: () => now });
      if (command === 'reap' && rest.length === 1) {
        const reaped = await queue.reapExpired();
        return json
          ? JSON.stringify(reaped)
          : `requeued or failed ${reaped.expired} expired lease(s), promoted ${reaped.promoted} due retr${reaped.promoted === 1 ? 'y' : 'ies'}`;
      }
      if (command === 'jobs') {
        const page = await inspector.listJobs(parseJobsArgs(rest.slice(1)));
        const why = await inspector.explainMany(page.jobs);
        if (json)
          return JSON.stringify(
            {
              jobs: page.jobs.map((job, i) => ({ ...job, ...why[i] })),
              cursor: page.cursor,
            },
            null,
            2,
          );
        if (page.jobs.length === 0) return 'no jobs match';
        const rows = table([
          ['JOB', 'STATUS', 'SERVICE', 'CUSTOMER', 'AGE', 'ATTEMPT', 'WORKER', 'WHY'],
          ...page.jobs.map((job, i) => [
            job.id,
            job.status,
            job.service_required,
            job.customer_id ?? '-',
            age(now - job.created_at),
            `${job.attempts}/${job.max_attempts}`,
            job.worker_id ?? '-',
            why[i]!.stuck?.message ??
              why[i]!.waiting_reason?.message ??
              (job.last_failure
                ? `${job.last_failure.failure_type}/${job.last_failure.failure_reason}`
                : ''),
          ]),
        ]);
        return page.cursor ? `${rows}\nmore: --cursor ${page.cursor}` : rows;
      }
      if (command === 'job' && flag && rest.length === 2) {
        const job = await queue.get(flag);
        if (!job) throw new OpsUsageError(`no job ${flag} in namespace ${deps.namespace}`);
        const [why, timeline, attestations] = await Promise.all([
          inspector.explain(job),
          inspector.jobEvents(job),
          createAttestationStore({ redis: deps.redis, namespace: deps.namespace }).forJob(job.id),
        ]);
        if (json)
          return JSON.stringify({ job, ...why, events: timeline.events, attestations }, null, 2);
        return jobText(job, why, timeline, attestations, now);
      }
    } finally {
      await queue.close();
    }
  }
  if (command === 'attestations') {
    const store = createAttestationStore({ redis: deps.redis, namespace: deps.namespace });
    let list: Attestation[] | undefined;
    if (flag === '--job' && value) list = await store.forJob(value);
    else if (flag === '--workflow' && value) list = await store.forWorkflow(value);
    else if (flag === '--recent') {
      const n = value === undefined ? 20 : Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new OpsUsageError(
          `--recent takes a count from 1 to 10000 (got ${value})\n${OPS_USAGE}`,
        );
      list = await store.recent(n);
    }
    if (list) return json ? JSON.stringify(list, null, 2) : attestationsTable(list);
  }
  throw new OpsUsageError(`unknown command: ${rest.join(' ') || '(none)'}\n${OPS_USAGE}`);
}

function jobText(
  job: Job,
  why: Awaited<ReturnType<ReturnType<typeof createInspector>['explain']>>,
  timeline: { events: QueueEvent[]; truncated: boolean },
  attestations: Attestation[],
  now: number,
): string {
  const lines = [
    `job ${job.id}  ${job.status}  service ${job.service_required}  priority ${job.priority}`,
    `customer ${job.customer_id ?? '-'}  workflow ${job.workflow_id ?? '-'}${job.step === null ? '' : ` step ${job.step}`}  attempt ${job.attempts}/${job.max_attempts}`,
    `created ${new Date(job.created_at).toISOString()} (${age(now - job.created_at)} ago)${job.worker_id ? `  worker ${job.worker_id}` : ''}${job.lease_expires_at ? `  lease until ${new Date(job.lease_expires_at).toISOString()}` : ''}`,
  ];
  if (why.stuck) lines.push(`STUCK: ${why.stuck.message}`);
  if (why.waiting_reason) lines.push(`waiting: ${why.waiting_reason.message}`);
  if (job.last_failure)
    lines.push(
      `last failure: ${job.last_failure.failure_type}/${job.last_failure.failure_reason}: ${job.last_failure.message}`,
    );
  lines.push('', 'timeline:');
  lines.push(
    ...(timeline.events.length > 0
      ? timeline.events.map(eventLine)
      : ['  (no events in the stream)']),
  );
  if (timeline.truncated) lines.push('  (older part of the stream not scanned)');
  lines.push('', attestationsTable(attestations));
  return lines.join('\n');
}
