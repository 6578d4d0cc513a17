/**
 * `pnpm dev` at the root: a throwaway Redis and every service of `DEV_SERVICES` (the API, one
 * simulation worker, the webhook service, the telemetry collector and the monitor, plus whatever
 * registers itself in `@jobgate/testkit/stack`), restarted on edits, with readable logs. Prints
 * working examples with the real URL, a fresh API key and a fresh operator key for the monitor. The collector exports to
 * OTEL_EXPORTER_OTLP_ENDPOINT when it is set (the other services then export their own spans
 * there too), else to a local OTLP receiver that prints one line per finished job's span.
 * SIGINT, SIGTERM or SIGHUP, to this process or to the `pnpm dev` that runs it, stops everything
 * and removes the throwaway Redis. REDIS_URL, if set, is used instead; PORT defaults to 3000,
 * MONITOR_PORT to PORT + 100 (a free one if that is taken); LOG_FORMAT=json keeps the apps' JSON
 * lines as they are.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  freePort,
  startOtlpReceiver,
  startRedis,
  type OtlpValue,
  type ReceivedSpan,
} from '@jobgate/testkit';
import { DEV_SERVICES, Stack } from '@jobgate/testkit/stack';
import { Redis } from 'ioredis';
import { prettyFactory } from 'pino-pretty';
import { ApiKeyStore } from '../src/auth.js';

const namespace = process.env.QUEUE_NAMESPACE ?? 'jq';
const port = Number(process.env.PORT ?? '3000');
const monitorDir = fileURLToPath(new URL('../../monitor/', import.meta.url));

/** `preferred` when nothing listens there, else a free port. */
async function portOr(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(preferred, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

/**
 * An operator key through the monitor's own CLI (`keys create`), so the API does not depend on
 * the monitor; the key is the CLI's only stdout line.
 */
async function operatorKey(redisUrl: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'src/keys-cli.ts', 'create', '--role', 'operator', '--label', 'pnpm dev'],
    {
      cwd: monitorDir,
      env: { ...process.env, REDIS_URL: redisUrl, QUEUE_NAMESPACE: namespace },
      timeout: 60_000,
    },
  );
  const key = stdout.trim();
  if (!/^jgo_\S+$/.test(key)) throw new Error(`monitor keys create printed no key: ${stdout}`);
  return key;
}
const pretty =
  process.env.LOG_FORMAT === 'json'
    ? undefined
    : prettyFactory({
        colorize: process.stdout.isTTY,
        singleLine: true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname,name,reqId',
      });

function print(app: string, line: string, stream: 'stdout' | 'stderr'): void {
  let text = line;
  if (pretty && line.startsWith('{')) {
    try {
      text = pretty(JSON.parse(line) as object).trimEnd();
    } catch {
      // Not a log record after all: print it as it came.
    }
  }
  (stream === 'stderr' ? process.stderr : process.stdout).write(`[${app}] ${text}\n`);
}

const redis = await startRedis({ own: !process.env.REDIS_URL, ownProcessGroup: true });
// Traces go to the developer's backend (e.g. a local Jaeger: OTEL_EXPORTER_OTLP_ENDPOINT=
// http://127.0.0.1:4318) or, by default, to a receiver here that prints each finished job.
const receiver = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? undefined : await startOtlpReceiver();
const text = (value: OtlpValue | undefined): string =>
  typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
const secondsOf = (span: ReceivedSpan): string =>
  (Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9).toFixed(2);
const printSpans = (): void => {
  if (!receiver) return;
  const spans = receiver.spans.splice(0);
  receiver.metricPoints.length = 0;
  receiver.requests.length = 0;
  for (const span of spans) {
    if (span.parentSpanId !== '' || !('job.status' in span.attributes)) continue;
    const a = span.attributes;
    const where = a['worker.id'] ? ` on ${text(a['worker.id'])}` : '';
    const failure = a['failure.reason']
      ? ` (${text(a['failure.type'])}: ${text(a['failure.reason'])})`
      : '';
    print(
      'otlp',
      `trace ${span.traceId} ${span.name} ${text(a['job.status'])}${failure} in ${secondsOf(span)} s, attempt ${text(a['job.attempt'] ?? 0)}${where}, job ${text(a['job.id'])}`,
      'stdout',
    );
  }
};
setInterval(printSpans, 250).unref();
const stack = new Stack({
  redisUrl: redis.url,
  namespace,
  mode: 'development',
  watch: true,
  onLine: print,
});

let stopping: Promise<void> | undefined;
function stop(reason: string, code = 0): Promise<void> {
  stopping ??= (async () => {
    console.log(`\njobgate dev stack: stopping (${reason})`);
    await stack.stop();
    printSpans();
    await receiver?.close();
    await redis.stop();
    process.exit(code);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void stop(signal));
}
// pnpm ends without passing on every signal; when the process that started this one goes away
// (re-parented), nobody is left to stop the stack but us.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop('the parent process exited');
}, 500).unref();

let key: string;
let opKey: string;
try {
  const admin = new Redis(redis.url);
  key = (await new ApiKeyStore(admin, namespace, 0).create('dev', 'pnpm dev')).key;
  admin.disconnect();
  const monitorPort = process.env.MONITOR_PORT
    ? Number(process.env.MONITOR_PORT)
    : await portOr(port + 100);
  // Made while the services start; awaited (and its failure reported) after them.
  const keyMade = operatorKey(redis.url);
  keyMade.catch(() => undefined);
  // All at once: none needs another to start, and on a busy 2-core machine four tsx start-ups
  // one after another took most of a minute.
  await Promise.all(
    DEV_SERVICES.map((service) => {
      const env: Record<string, string> =
        service === 'telemetry' && receiver ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } : {};
      const fixed = service === 'api' ? port : service === 'monitor' ? monitorPort : undefined;
      return stack.start(service, fixed === undefined ? { env } : { port: fixed, env });
    }),
  );
  opKey = await keyMade;
} catch (error) {
  console.error(`jobgate dev stack failed to start: ${(error as Error).message}`);
  await stop('start-up failed', 1);
  throw error;
}

const api = stack.urls.api!;
const ws = `${api.replace(/^http/, 'ws')}/api/ws`;
const auth = `-H 'authorization: Bearer ${key}'`;
const env = `REDIS_URL=${redis.url} QUEUE_NAMESPACE=${namespace}`;
console.log(`
jobgate dev stack is up
  redis     ${redis.url}${redis.owned ? ' (throwaway, removed on exit)' : ''}
${stack
  .describe()
  .map((line) => `  ${line}`)
  .join(
    '\n',
  )}${receiver ? `\n  otlp      ${receiver.url}   local receiver: one [otlp] line per finished job (set OTEL_EXPORTER_OTLP_ENDPOINT to export elsewhere)` : ''}
  key       ${key}   (customer "dev")
  operator  ${opKey}   (monitor sign-in; a viewer: pnpm --filter @jobgate/monitor keys create --role read-only)

Try it (copy and paste):
  # create a job; JOB holds its id
  JOB=$(curl -sS -w '\\n' -XPOST ${api}/api/jobs ${auth} -H 'content-type: application/json' -d '{"service_required":"simulation","payload":{"duration_ms":20000,"steps":4}}' | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).job.id'); echo $JOB
  # read it, list your jobs, cancel it
  curl -sS -w '\\n' ${api}/api/jobs/$JOB ${auth}
  curl -sS -w '\\n' '${api}/api/jobs?limit=5' ${auth}
  curl -sS -w '\\n' -XDELETE ${api}/api/jobs/$JOB ${auth}
  # follow every event of your jobs over the WebSocket (Ctrl-C to stop)
  node --experimental-websocket -e "const s = new WebSocket('${ws}', ['jobgate', 'jobgate.bearer.${key}']); s.onopen = () => s.send(JSON.stringify({ type: 'subscribe', all: true })); s.onmessage = (m) => console.log(m.data)"
  # operations: live workers, recent failure attestations, drain and undrain the worker
  ${env} pnpm ops workers
  ${env} pnpm ops attestations --recent 5
  ${env} pnpm ops drain dev-worker && ${env} pnpm ops undrain dev-worker
  # the monitor's pages as a script sees them (a browser signs in at ${stack.urls.monitor ?? ''}/login)
  curl -sS -o /dev/null -w 'monitor %{http_code}\\n' ${stack.urls.monitor ?? ''}/workers -H 'authorization: Bearer ${opKey}'

Ctrl-C (or SIGTERM to pnpm dev) stops everything.
`);
