import fastifyWebsocket from '@fastify/websocket';
import {
  cancelDrain,
  createAttestationStore,
  createInspector,
  JOB_STATUSES,
  LIBRARY_VERSION,
  operatorAuditKey,
  reaperLeader,
  recentOperatorActions,
  recordOperatorAction,
  requestDrain,
  UnknownWorkerError,
  type Job,
  type JobFilter,
  type JobStatus,
  type Queue,
  type QueueEvent,
} from '@jobgate/core';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Redis } from 'ioredis';
import { age, esc, layout, table } from './html.js';
import { OperatorKeyStore, type Operator } from './operator-keys.js';

export interface MonitorDeps {
  redis: Redis;
  queue: Queue;
  namespace: string;
  logger?: FastifyBaseLogger | false;
  /** Pending longer than this is shown as stuck. Default 5 min. */
  stuckAfterMs?: number;
  /** How often connected pages get a refresh tick even without events (ages, heartbeats). */
  tickMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator: Operator | null;
  }
}

const COOKIE = 'jg_op';
const BUCKET_MS = 10_000;
const WINDOW_BUCKETS = 90;

function cookieKey(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function bearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

function toEvent(id: string, fields: string[]): QueueEvent {
  const m: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) m[fields[i]!] = fields[i + 1]!;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(m.data ?? '{}') as Record<string, unknown>;
  } catch {
    data = {};
  }
  return {
    event_id: id,
    type: m.type as QueueEvent['type'],
    job_id: m.job_id ?? '',
    workflow_id: m.workflow_id || null,
    customer_id: m.customer_id || null,
    attempt: Number(m.attempt),
    timestamp: Number(m.timestamp),
    data,
  };
}

function jobLink(id: string): string {
  return `<a href="/jobs/${encodeURIComponent(id)}">${esc(id)}</a>`;
}

function statusCell(job: Job): string {
  const cls = job.status === 'failed' ? 'bad' : job.status === 'completed' ? 'ok' : '';
  return `<span class="${cls}" data-status="${esc(job.status)}">${esc(job.status)}</span>`;
}

/**
 * The operator's monitor: server-rendered pages kept live over one WebSocket per tab. Read-only
 * everywhere except the confirmed actions, which need an `operator` (not `read-only`) key and are
 * recorded in `{ns}:ops:audit`. Every request needs an operator key (customer keys never work)
 * and cross-origin requests are refused.
 */
export async function createMonitor(deps: MonitorDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    forceCloseConnections: true,
    routerOptions: { maxParamLength: 256 },
  });
  const { redis, queue, namespace } = deps;
  const stuckAfterMs = deps.stuckAfterMs ?? 5 * 60_000;
  const inspector = createInspector({ redis, queue, namespace });
  const operators = new OperatorKeyStore(redis, namespace);
  const attestations = createAttestationStore({ redis, namespace });
  const auditKey = operatorAuditKey(namespace);
  const eventsKey = `{${namespace}}:events`;

  // The event tail: one blocking reader per monitor process, fanned out to every page.
  const recent: QueueEvent[] = [];
  const buckets = new Map<number, { completed: number; failed: number; received: number }>();
  const count = (event: QueueEvent): void => {
    const slot = Math.floor(event.timestamp / BUCKET_MS);
    const b = buckets.get(slot) ?? { completed: 0, failed: 0, received: 0 };
    if (event.type === 'job.completed') b.completed++;
    else if (event.type === 'job.failed') b.failed++;
    else if (event.type === 'job.received') b.received++;
    buckets.set(slot, b);
    for (const key of buckets.keys()) if (key < slot - WINDOW_BUCKETS) buckets.delete(key);
  };
  const sockets = new Set<{ send(data: string): void }>();
  const broadcast = (message: unknown): void => {
    const text = JSON.stringify(message);
    for (const socket of sockets) socket.send(text);
  };
  const reader = redis.duplicate();
  reader.on('error', () => {});
  let tailing = true;
  let tickTimer: NodeJS.Timeout | undefined;
  const tail = async (): Promise<void> => {
    const backfill = await queue.readEvents({
      after: `${Date.now() - WINDOW_BUCKETS * BUCKET_MS}-0`,
      count: 5_000,
    });
    for (const e of backfill) count(e);
    recent.push(...backfill.slice(-50));
    let last = backfill.at(-1)?.event_id ?? '$';
    while (tailing) {
      try {
        const reply = await reader.xread('COUNT', 500, 'BLOCK', 1_000, 'STREAMS', eventsKey, last);
        if (!reply) continue;
        const entries = reply[0]![1];
        last = entries.at(-1)![0];
        for (const [id, fields] of entries) {
          const e = toEvent(id, fields);
          count(e);
          recent.push(e);
        }
        recent.splice(0, Math.max(0, recent.length - 50));
        broadcast({ type: 'events', count: entries.length });
      } catch {
        if (!tailing) return;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  const audit = async (
    op: Operator,
    action: string,
    target: string,
    result: string,
  ): Promise<void> => {
    await recordOperatorAction(redis, namespace, {
      key_id: op.keyId,
      label: op.label,
      action,
      target,
      result,
    });
    broadcast({ type: 'audit' });
  };

  app.decorateRequest('operator', null);
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  // Same-origin only: a page elsewhere can neither read these pages nor post actions with the
  // operator's cookie (the cookie is SameSite=Strict too).
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    const host = request.headers.host ?? '';
    if (
      (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) ||
      site === 'cross-site'
    ) {
      return reply.code(403).type('text/plain').send('cross-origin requests are refused');
    }
    reply.header('x-frame-options', 'DENY').header('cache-control', 'no-store');
    if (request.url === '/login' || request.url.startsWith('/login?')) return;
    const operator = await operators.verify(
      bearer(request.headers.authorization) ?? cookieKey(request.headers.cookie),
    );
    if (!operator) {
      if (request.method === 'GET' && !request.headers['x-fragment'] && !request.ws)
        return reply.redirect('/login');
      return reply
        .code(401)
        .type('text/plain')
        .send('an operator key is required (customer keys are refused)');
    }
    request.operator = operator;
  });

  app.get('/login', async (request, reply) => {
    const failed = (request.query as { failed?: string }).failed === '1';
    return reply.type('text/html').send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jobgate monitor · sign in</title></head><body style="font:14px system-ui;margin:40px">
<h1>jobgate monitor</h1>${failed ? '<p style="color:#b42318">That is not an operator key.</p>' : ''}
<form method="post" action="/login"><label>Operator key <input name="key" type="password" size="70" autocomplete="off" autofocus></label> <button>Sign in</button></form>
<p>Create one with <code>pnpm --filter @jobgate/monitor keys create --role operator</code> (or <code>--role read-only</code>).</p></body></html>`,
    );
  });
  app.post('/login', async (request, reply) => {
    const key = (request.body as { key?: string } | undefined)?.key?.trim();
    const operator = await operators.verify(key);
    if (!operator || !key) return reply.redirect('/login?failed=1');
    return reply
      .header(
        'set-cookie',
        `${COOKIE}=${encodeURIComponent(key)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200`,
      )
      .redirect('/');
  });
  app.post('/logout', async (_request, reply) =>
    reply
      .header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
      .redirect('/login'),
  );

  const page = (
    path: string,
    title: string,
    render: (request: FastifyRequest) => Promise<string> | string,
  ) => {
    app.get(path, async (request, reply) => {
      const body = await render(request);
      const op = request.operator!;
      reply.type('text/html; charset=utf-8');
      if (request.headers['x-fragment']) return reply.send(body);
      return reply.send(
        layout(title, request.url.split('?')[0]!, body, `${op.label || op.keyId} (${op.role})`),
      );
    });
  };

  page('/', 'Overview', async () => {
    const [health, counts, services, leader, auditEntries] = await Promise.all([
      inspector.health(),
      queue.counts(),
      inspector.services(),
      reaperLeader(redis, namespace),
      recentOperatorActions(redis, namespace, 10),
    ]);
    const now = Date.now();
    const window = (minutes: number) => {
      let completed = 0;
      let failed = 0;
      const from = Math.floor((now - minutes * 60_000) / BUCKET_MS);
      for (const [slot, b] of buckets)
        if (slot >= from) {
          completed += b.completed;
          failed += b.failed;
        }
      const rate = completed + failed === 0 ? 0 : (100 * failed) / (completed + failed);
      return `${(completed / (minutes * 60)).toFixed(2)} jobs/s done, ${rate.toFixed(1)}% failed`;
    };
    const banner = health.degraded
      ? `<div class="banner bad" id="health">Degraded: ${health.reasons.map(esc).join('; ')} <a href="/jobs?stuck=1">stuck jobs</a></div>`
      : `<div class="banner ok" id="health">Healthy: no expired leases; every service with pending jobs has a live worker.</div>`;
    const cards = (
      ['pending', 'active', 'delayed', 'unrunnable', 'failed', 'completed', 'cancelled'] as const
    )
      .map(
        (k) =>
          `<a class="card" id="count-${k}" href="/jobs?status=${k === 'delayed' || k === 'unrunnable' ? 'pending' : k}"><b>${counts[k]}</b>${k}</a>`,
      )
      .join('');
    const serviceRows = services.map((s) => [
      `<a href="/jobs?status=pending&service=${encodeURIComponent(s.service)}">${esc(s.service)}</a>`,
      String(s.pending),
      String(s.active),
      s.oldest_pending_ms === null
        ? '-'
        : `<span class="${s.oldest_pending_ms > stuckAfterMs ? 'bad' : ''}">${age(s.oldest_pending_ms)}</span>`,
      s.workers === 0 && s.pending > 0 ? '<span class="bad">0</span>' : String(s.workers),
    ]);
    const eventRows = [...recent]
      .reverse()
      .slice(0, 20)
      .map((e) => [
        new Date(e.timestamp).toISOString().slice(11, 23),
        esc(e.type),
        jobLink(e.job_id),
        esc(e.customer_id ?? '-'),
        String(e.attempt),
      ]);
    const auditRows = auditEntries.map((m) => [
      new Date(m.at).toISOString().slice(11, 19),
      esc(m.label || m.key_id),
      esc(m.action),
      esc(m.target),
      esc(m.result),
    ]);
    return `${banner}<div class="cards">${cards}</div>
<p>Last 5 min: ${window(5)} · last 15 min: ${window(15)} · reaper leader: <code>${esc(leader ?? 'none')}</code> · expired leases: <b>${health.expired_leases}</b></p>
<h2>Services</h2>${table(['service', 'pending (claimable)', 'active', 'oldest pending', 'live workers'], serviceRows, 'no services yet')}
<h2>Live events</h2>${table(['time', 'event', 'job', 'customer', 'attempt'], eventRows, 'no events yet')}
<h2>Operator actions</h2>${table(['time', 'operator', 'action', 'target', 'result'], auditRows, 'no actions yet')}`;
  });

  page('/workers', 'Machines & workers', async (request) => {
    const [{ live, lost }, expired, activePage] = await Promise.all([
      inspector.workers(),
      inspector.expiredLeaseJobs(500),
      queue.list({ status: 'active', limit: 1_000 }),
    ]);
    const now = Date.now();
    const liveIds = new Set(live.map((w) => w.worker_id));
    const canAct = request.operator!.role === 'operator';
    const workerAction = (w: (typeof live)[number]): string => {
      const drained = !!w.drain;
      const name = drained ? 'undrain' : 'drain';
      const confirm = drained
        ? `Let worker ${w.worker_id} claim jobs again?`
        : `Drain worker ${w.worker_id}? It finishes its ${w.current_jobs.length} running job(s) and claims nothing new until undrained.`;
      const note = drained
        ? `<div class="warn">drained by ${esc(w.drain!.by || '?')} ${age(now - w.drain!.requested_at)} ago</div>`
        : '';
      if (!canAct) return note;
      return `${note}<form class="inline" method="post" action="/actions/${name}" data-confirm="${esc(confirm)}"><input type="hidden" name="worker_id" value="${esc(w.worker_id)}"><input type="hidden" name="confirm" value="yes"><button data-action="${name}" data-worker-action="${esc(w.worker_id)}">${drained ? 'Undrain' : 'Drain'}</button></form>`;
    };
    const machines = new Map<string, typeof live>();
    for (const w of live) machines.set(w.machine_id, [...(machines.get(w.machine_id) ?? []), w]);
    const rows = live.map((w) => {
      const caps = w.capabilities as {
        hardware?: Record<string, number>;
        models?: Record<string, string[]>;
      };
      return [
        `<span data-worker="${esc(w.worker_id)}">${esc(w.worker_id)}</span>`,
        esc(w.machine_id),
        `<span class="${w.status === 'draining' || w.status === 'drained' ? 'warn' : ''}" data-worker-status="${esc(w.worker_id)}">${esc(w.status)}</span>`,
        esc(w.services.join(', ')),
        `<code>${esc(JSON.stringify({ hardware: caps.hardware ?? {}, models: caps.models ?? {} }))}</code>`,
        `${w.current_jobs.length}/${w.concurrency} ${w.current_jobs.map(jobLink).join(' ')}`,
        `${w.jobs_completed}/${w.jobs_failed}`,
        `<span class="${now - w.last_heartbeat > 15_000 ? 'bad' : ''}">${age(now - w.last_heartbeat)} ago</span>`,
        workerAction(w),
      ];
    });
    // Lost: registered and expired, or holding active jobs while not registered at all.
    const lostMap = new Map<string, { last: number | null; jobs: Job[] }>();
    for (const w of lost) lostMap.set(w.worker_id, { last: w.last_heartbeat, jobs: [] });
    for (const job of activePage.jobs) {
      if (!job.worker_id || liveIds.has(job.worker_id)) continue;
      const entry = lostMap.get(job.worker_id) ?? { last: null, jobs: [] };
      entry.jobs.push(job);
      lostMap.set(job.worker_id, entry);
    }
    const lostRows = [...lostMap].map(([id, w]) => [
      `<span class="bad" data-lost-worker="${esc(id)}">${esc(id)}</span>`,
      w.last === null ? 'not registered' : `${age(now - w.last)} ago`,
      w.jobs
        .map(
          (j) =>
            `${jobLink(j.id)} (lease ${j.lease_expires_at && j.lease_expires_at < now ? `expired ${age(now - j.lease_expires_at)} ago` : 'running'})`,
        )
        .join('<br>') || 'no jobs',
    ]);
    return `<p>${live.length} live workers on ${machines.size} machines · ${expired.length} jobs hold an expired lease</p>
<h2>Live workers</h2>${table(['worker', 'machine', 'status', 'services', 'capabilities', 'jobs', 'done/failed', 'heartbeat', 'drain'], rows, 'no live workers')}
<h2>Lost workers</h2>${table(['worker', 'last heartbeat', 'jobs'], lostRows, 'no lost workers')}`;
  });

  page('/jobs', 'Jobs', async (request) => {
    const q = request.query as Record<string, string | undefined>;
    if (q.q) {
      const job = await queue.get(q.q.trim()).catch(() => null);
      if (job)
        return `<p>Found ${jobLink(job.id)} — <a href="/jobs/${encodeURIComponent(job.id)}">open</a></p>`;
    }
    const status = JOB_STATUSES.includes(q.status as JobStatus)
      ? (q.status as JobStatus)
      : undefined;
    const filter: JobFilter = {
      ...(status ? { status } : {}),
      ...(q.service ? { service: q.service } : {}),
      ...(q.customer ? { customer_id: q.customer } : {}),
      ...(q.workflow ? { workflow_id: q.workflow } : {}),
      ...(q.stuck === '1' ? { stuck: true, stuckAfterMs } : {}),
      ...(q.unrunnable === '1' ? { unrunnable: true } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
      limit: 50,
    };
    let pageOf;
    let problem = '';
    try {
      pageOf = await inspector.listJobs(filter);
    } catch (error) {
      problem = (error as Error).message;
      pageOf = { jobs: [], cursor: null };
    }
    const why = await inspector.explainMany(pageOf.jobs);
    const now = Date.now();
    const rows = pageOf.jobs.map((job, i) => [
      jobLink(job.id),
      statusCell(job),
      esc(job.service_required),
      esc(job.customer_id ?? '-'),
      esc(job.workflow_id ?? '-'),
      String(job.priority),
      `${job.attempts}/${job.max_attempts}`,
      age(now - job.created_at),
      esc(job.worker_id ?? '-'),
      `<span class="${why[i]!.stuck ? 'bad' : ''}">${esc(why[i]!.stuck?.message ?? why[i]!.waiting_reason?.message ?? (job.last_failure ? `${job.last_failure.failure_type}/${job.last_failure.failure_reason}` : ''))}</span>`,
    ]);
    const opt = (value: string) =>
      `<option${q.status === value ? ' selected' : ''}>${value}</option>`;
    const params = new URLSearchParams(
      Object.entries(q).filter(([k, v]) => k !== 'cursor' && v) as Array<[string, string]>,
    );
    if (pageOf.cursor) params.set('cursor', pageOf.cursor);
    return `<form method="get" action="/jobs" id="filters">
<input name="q" placeholder="job id" value="${esc(q.q)}"> <select name="status"><option value="">any status</option>${JOB_STATUSES.map(opt).join('')}</select>
<input name="service" placeholder="service" value="${esc(q.service)}"> <input name="customer" placeholder="customer" value="${esc(q.customer)}"> <input name="workflow" placeholder="workflow" value="${esc(q.workflow)}">
<label><input type="checkbox" name="stuck" value="1"${q.stuck === '1' ? ' checked' : ''}> stuck</label> <label><input type="checkbox" name="unrunnable" value="1"${q.unrunnable === '1' ? ' checked' : ''}> unrunnable</label> <button>Filter</button></form>
${problem ? `<p class="bad">${esc(problem)}</p>` : ''}
${table(['job', 'status', 'service', 'customer', 'workflow', 'prio', 'attempt', 'age', 'worker', 'why'], rows, 'no jobs match')}
${pageOf.cursor ? `<a href="/jobs?${esc(params.toString())}">next page →</a>` : ''}`;
  });

  page('/jobs/:id', 'Job', async (request) => {
    const { id } = request.params as { id: string };
    const job = await queue.get(id).catch(() => null);
    if (!job) return `<p class="bad">No job ${esc(id)}.</p>`;
    const [why, timeline, attested] = await Promise.all([
      inspector.explain(job),
      inspector.jobEvents(job),
      attestations.forJob(job.id),
    ]);
    const canAct = request.operator!.role === 'operator';
    const action = (name: string, label: string, confirm: string) =>
      canAct
        ? `<form class="inline" method="post" action="/actions/${name}" data-confirm="${esc(confirm)}"><input type="hidden" name="job_id" value="${esc(job.id)}"><input type="hidden" name="confirm" value="yes"><button id="action-${name}">${esc(label)}</button></form>`
        : '';
    const actions = [
      job.status === 'pending' || job.status === 'active'
        ? action('cancel', 'Cancel job', `Cancel job ${job.id}?`)
        : '',
      job.status === 'failed'
        ? action('retry', 'Retry as a new job', `Submit a copy of failed job ${job.id}?`)
        : '',
      why.stuck
        ? action('reap', 'Requeue expired leases now', 'Requeue every expired lease now?')
        : '',
    ].join(' ');
    const events = timeline.events.map((e) => [
      new Date(e.timestamp).toISOString(),
      `<span data-event="${esc(e.type)}">${esc(e.type)}</span>`,
      String(e.attempt),
      `<code>${esc(JSON.stringify(e.data))}</code>`,
    ]);
    const attestRows = attested.map((a) => [
      new Date(a.failed_at).toISOString(),
      `${a.attempt}/${a.max_attempts}`,
      esc(`${a.worker_id}@${a.machine_id}`),
      esc(`${a.failure_type}/${a.failure_reason}`),
      esc(a.decision),
      esc(a.failure_description),
    ]);
    const payload = JSON.stringify(job.payload, null, 2) ?? 'null';
    return `<h1>Job <code id="job-id">${esc(job.id)}</code> <span id="job-status">${statusCell(job)}</span></h1>
${why.stuck ? `<div class="banner bad">${esc(why.stuck.message)}</div>` : ''}${why.waiting_reason ? `<div class="banner ${why.waiting_reason.code === 'ready' || why.waiting_reason.code === 'queued_behind' ? 'ok' : 'bad'}" id="waiting">${esc(why.waiting_reason.message)}</div>` : ''}
<p>${actions}</p>
${table(
  ['field', 'value'],
  [
    ['service', esc(job.service_required)],
    ['priority', String(job.priority)],
    ['customer', esc(job.customer_id ?? '-')],
    [
      'workflow',
      job.workflow_id
        ? `<a href="/workflows/${encodeURIComponent(job.workflow_id)}">${esc(job.workflow_id)}</a> step ${esc(job.step ?? '-')}`
        : '-',
    ],
    ['attempts', `${job.attempts}/${job.max_attempts}`],
    ['worker', esc(job.worker_id ?? '-')],
    ['created', new Date(job.created_at).toISOString()],
    ['lease until', job.lease_expires_at ? new Date(job.lease_expires_at).toISOString() : '-'],
    ['finished', job.finished_at ? new Date(job.finished_at).toISOString() : '-'],
    ['requirements', `<code>${esc(JSON.stringify(job.requirements))}</code>`],
    [
      'last failure',
      job.last_failure
        ? `<span class="bad">${esc(job.last_failure.failure_type)}/${esc(job.last_failure.failure_reason)}</span>: ${esc(job.last_failure.message)}`
        : '-',
    ],
  ],
)}
<h2>Timeline</h2>${table(['time', 'event', 'attempt', 'data'], events, 'no events in the stream')}${timeline.truncated ? '<p class="warn">older part of the stream not scanned</p>' : ''}
<h2>Attestations</h2>${table(['failed at', 'attempt', 'worker', 'classification', 'decision', 'description'], attestRows, 'no failures attested')}
<h2>Payload</h2><pre>${esc(payload.length > 4_000 ? `${payload.slice(0, 4_000)}…` : payload)}</pre>`;
  });

  page('/workflows', 'Workflows', (request) => {
    const q = request.query as { id?: string };
    const form = `<form method="get" action="/workflows"><input name="id" placeholder="workflow id" value="${esc(q.id)}"> <button>Open</button></form>`;
    if (!q.id) {
      const recentWf = [
        ...new Set(
          [...recent]
            .reverse()
            .map((e) => e.workflow_id)
            .filter((w): w is string => !!w),
        ),
      ].slice(0, 20);
      return `${form}<h2>Workflows in recent events</h2>${table(
        ['workflow'],
        recentWf.map((w) => [`<a href="/workflows/${encodeURIComponent(w)}">${esc(w)}</a>`]),
        'none in the recent events',
      )}`;
    }
    return `${form}<script>location.replace('/workflows/'+encodeURIComponent(${JSON.stringify(q.id)}))</script>`;
  });

  page('/workflows/:id', 'Workflow', async (request) => {
    const { id } = request.params as { id: string };
    const { jobs } = await queue.list({ workflow_id: id, limit: 1_000 });
    const steps = [...jobs].sort(
      (a, b) => (a.step ?? 0) - (b.step ?? 0) || a.created_at - b.created_at,
    );
    const why = await inspector.explainMany(steps);
    const tally = Object.fromEntries(
      JOB_STATUSES.map((s) => [s, steps.filter((j) => j.status === s).length]),
    );
    return `<h1>Workflow <code>${esc(id)}</code></h1><p>${JOB_STATUSES.map((s) => `${s}: ${tally[s]}`).join(' · ')}</p>
${table(
  ['step', 'job', 'status', 'service', 'attempt', 'why'],
  steps.map((j, i) => [
    esc(j.step ?? '-'),
    jobLink(j.id),
    statusCell(j),
    esc(j.service_required),
    `${j.attempts}/${j.max_attempts}`,
    esc(
      why[i]!.stuck?.message ??
        why[i]!.waiting_reason?.message ??
        (j.last_failure ? `${j.last_failure.failure_type}/${j.last_failure.failure_reason}` : ''),
    ),
  ]),
  'no jobs in this workflow',
)}`;
  });

  page('/redis', 'Redis', async () => {
    const [info, version, streamLength, auditLength] = await Promise.all([
      redis.info(),
      redis.fcall_ro('jobgate_version', 0).catch((e: Error) => `unavailable: ${e.message}`),
      redis.xlen(eventsKey),
      redis.xlen(auditKey),
    ]);
    const fields = Object.fromEntries(
      info
        .split('\r\n')
        .filter((l) => l.includes(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
    );
    const pick = [
      'redis_version',
      'uptime_in_seconds',
      'connected_clients',
      'blocked_clients',
      'used_memory_human',
      'used_memory_peak_human',
      'maxmemory_human',
      'maxmemory_policy',
      'instantaneous_ops_per_sec',
      'role',
    ];
    return `${table(
      ['', ''],
      [
        [
          'monitor connection',
          `<span class="${redis.status === 'ready' ? 'ok' : 'bad'}">${esc(redis.status)}</span>`,
        ],
        ['functions library', `${esc(String(version))} (this build needs ${LIBRARY_VERSION})`],
        ['event stream length', String(streamLength)],
        ['operator audit entries', String(auditLength)],
        ['namespace', esc(namespace)],
        ...pick.map((k) => [esc(k), esc(fields[k] ?? '-')]),
      ],
    )}`;
  });

  /** A confirmed, audited action on a job (`job_id`), a worker (`worker_id`) or everything. */
  const act = (
    name: string,
    run: (target: string, op: Operator) => Promise<string>,
    target: 'job_id' | 'worker_id' | null = 'job_id',
  ) => {
    app.post(`/actions/${name}`, async (request, reply) => {
      const op = request.operator!;
      const body = (request.body ?? {}) as Record<string, string | undefined>;
      if (op.role !== 'operator')
        return reply.code(403).type('text/plain').send('a read-only operator key cannot act');
      if (body.confirm !== 'yes')
        return reply
          .code(400)
          .type('text/plain')
          .send('confirm=yes is required: actions are confirmed');
      const id = target ? (body[target] ?? '').trim() : '';
      if (target && !id) return reply.code(400).type('text/plain').send(`${target} is required`);
      let result: string;
      try {
        result = await run(id, op);
      } catch (error) {
        if (!(error instanceof UnknownWorkerError)) throw error;
        return reply.code(404).type('text/plain').send(error.message);
      }
      await audit(op, name, id || '*', result);
      if (request.headers.accept?.includes('application/json')) return reply.send({ result });
      if (target === 'worker_id') return reply.redirect('/workers');
      // Reap is started from a stuck job's page: back there.
      const jobId = target === 'job_id' ? id : (body.job_id ?? '').trim();
      return reply.redirect(jobId ? `/jobs/${encodeURIComponent(jobId)}` : '/');
    });
  };
  act('cancel', async (jobId) => {
    const { cancelled, job } = await queue.cancel(jobId);
    return cancelled ? 'cancelled' : `not cancelled: already ${job.status}`;
  });
  act('retry', async (jobId) => {
    const job = await queue.get(jobId);
    if (!job) return 'no such job';
    if (job.status !== 'failed') return `not retried: ${job.status}`;
    // Core has no "retry a finished job": a copy under a derived id keeps the original's record
    // and attestations intact; the derived id makes a double click a no-op.
    for (let n = 1; n <= 20; n++) {
      const { id, created } = await queue.submit({
        id: `${job.id}.retry${n}`,
        service_required: job.service_required,
        priority: job.priority,
        payload: job.payload,
        requirements: job.requirements,
        max_attempts: job.max_attempts,
        ...(job.customer_id ? { customer_id: job.customer_id } : {}),
        ...(job.workflow_id ? { workflow_id: job.workflow_id } : {}),
        ...(job.step !== null ? { step: job.step } : {}),
      });
      if (created) return `resubmitted as ${id}`;
    }
    return 'not retried: 20 retries exist';
  });
  act(
    'reap',
    async () => {
      const { expired, promoted } = await queue.reapExpired();
      return `requeued or failed ${expired} expired leases, promoted ${promoted} retries`;
    },
    null,
  );
  // The worker reads the request with its next registry heartbeat and shows draining/drained.
  act(
    'drain',
    async (workerId, op) => {
      const { already, worker } = await requestDrain(
        redis,
        namespace,
        workerId,
        op.label || op.keyId,
      );
      return already
        ? 'already drained'
        : `drain requested (${worker.current_jobs.length} running job(s) finish first)`;
    },
    'worker_id',
  );
  act(
    'undrain',
    async (workerId) => {
      const { existed, worker } = await cancelDrain(redis, namespace, workerId);
      if (!existed) return 'was not drained';
      return worker ? 'undrain requested' : 'drain request of a gone worker removed';
    },
    'worker_id',
  );

  await app.register(fastifyWebsocket);
  app.get('/ws', { websocket: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });

  app.addHook('onReady', (hookDone) => {
    void tail();
    tickTimer = setInterval(() => broadcast({ type: 'tick' }), deps.tickMs ?? 2_000);
    tickTimer.unref();
    hookDone();
  });
  app.addHook('onClose', (_instance, hookDone) => {
    tailing = false;
    clearInterval(tickTimer);
    reader.disconnect();
    hookDone();
  });
  return app;
}

export type { FastifyReply };
