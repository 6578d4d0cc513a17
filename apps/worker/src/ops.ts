import { createAttestationStore, type Attestation } from '@jobgate/core';
import type { Redis } from 'ioredis';
import { listWorkers, type WorkerRecord } from './registry.js';

export const OPS_USAGE = `usage: jobgate-worker-ops <command>
  workers                      live workers: id, machine, status, services, current jobs, last heartbeat
  attestations --job <id>      failure attestations of one job, oldest first
  attestations --workflow <id> failure attestations of every job of a workflow
  attestations --recent [n]    the n most recent attestations of the namespace (default 20)
  add --json to print JSON instead of a table`;

export class OpsUsageError extends Error {
  override name = 'OpsUsageError';
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

/** What operators ask a running fleet: who is alive, and why did this job or workflow fail. */
export async function runOps(
  args: string[],
  deps: { redis: Redis; namespace: string; now?: number },
): Promise<string> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const [command, flag, value] = rest;
  const now = deps.now ?? Date.now();
  if (command === 'workers' && rest.length === 1) {
    const workers = await listWorkers(deps.redis, deps.namespace);
    return json ? JSON.stringify(workers, null, 2) : workersTable(workers, now);
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
