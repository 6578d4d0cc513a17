import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/**
 * The official OTLP definitions (opentelemetry-proto, vendored under `proto/`, see its README):
 * the receiver decodes with these through protobufjs, never with the exporter's own transformer,
 * so an encoding bug in the exporter path cannot hide behind a matching decoder.
 */
const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

let rootPromise: Promise<protobuf.Root> | undefined;
function loadRoot(): Promise<protobuf.Root> {
  rootPromise ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
    await root.load(
      [
        'opentelemetry/proto/collector/trace/v1/trace_service.proto',
        'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      ],
      { keepCase: false },
    );
    root.resolveAll();
    return root;
  })();
  return rootPromise;
}

export type OtlpValue = string | number | boolean | null | OtlpValue[] | { [k: string]: OtlpValue };

export interface ReceivedSpanEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Record<string, OtlpValue>;
}

/** One span as the receiver decoded it; ids in lower-case hex, times in ns. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, OtlpValue>;
  events: ReceivedSpanEvent[];
  /** code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, OtlpValue>;
  scope: string;
}

export interface ReceivedMetricPoint {
  name: string;
  attributes: Record<string, OtlpValue>;
  value: number;
  resource: Record<string, OtlpValue>;
}

export interface OtlpRequestRecord {
  path: string;
  headers: IncomingMessage['headers'];
  status: number;
  spans: number;
}

export interface OtlpReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`; exporters append `/v1/traces`, `/v1/metrics`. */
  url: string;
  port: number;
  /** Every span received, duplicates included, in arrival order. */
  spans: ReceivedSpan[];
  metricPoints: ReceivedMetricPoint[];
  requests: OtlpRequestRecord[];
  /** Spans by span id (the last copy when one arrived twice). */
  spansById(): Map<string, ReceivedSpan>;
  /** How many times each span id arrived. */
  copies(): Map<string, number>;
  trace(traceId: string): ReceivedSpan[];
  /** Requests being handled now (their body still arriving or their answer not yet sent). */
  inFlight(): number;
  /** Answer every export with this status (e.g. 503) until `healthy()`. */
  failWith(status: number): void;
  healthy(): void;
  /**
   * Stop listening (connections refused) until `up()`, which listens on the same port again. An
   * export already being handled is answered first (at most 1 s).
   */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  /** Require this exact header on every export (e.g. `{ authorization: 'Bearer t' }`), else 401. */
  requireHeaders?: Record<string, string>;
  port?: number;
}

type Json = { [k: string]: unknown };

function anyValue(value: Json | undefined): OtlpValue {
  if (!value) return null;
  if ('stringValue' in value) return value.stringValue as string;
  if ('boolValue' in value) return value.boolValue as boolean;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue as number;
  if ('arrayValue' in value)
    return ((value.arrayValue as Json).values as Json[] | undefined)?.map(anyValue) ?? [];
  if ('kvlistValue' in value) return attributes((value.kvlistValue as Json).values as Json[]);
  if ('bytesValue' in value) return value.bytesValue as string;
  return null;
}

function attributes(list: Json[] | undefined): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const kv of list ?? []) out[kv.key as string] = anyValue(kv.value as Json | undefined);
  return out;
}

const hex = (b64: unknown): string =>
  typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('hex') : '';

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

/**
 * A real OTLP/HTTP receiver on 127.0.0.1: accepts protobuf (`application/x-protobuf`) exports on
 * `/v1/traces` and `/v1/metrics`, decodes them with the official proto definitions and records
 * spans and metric points. It can refuse exports (`failWith(503)`) or stop listening (`down()`)
 * to play an outage.
 */
export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const root = await loadRoot();
  const TraceRequest = root.lookupType(
    'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
  );
  const MetricsRequest = root.lookupType(
    'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
  );
  const TraceResponse = root.lookupType(
    'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
  );
  const toObject = { longs: String, bytes: String, defaults: false, enums: Number } as const;

  const spans: ReceivedSpan[] = [];
  const metricPoints: ReceivedMetricPoint[] = [];
  const requests: OtlpRequestRecord[] = [];
  let failStatus: number | undefined;
  const sockets = new Set<Socket>();
  /** Requests being handled: `down()` lets them have their answer before it drops connections. */
  const inFlight = new Set<ServerResponse>();

  const decodeTraces = (body: Buffer): ReceivedSpan[] => {
    const message = TraceRequest.toObject(TraceRequest.decode(body), toObject);
    const out: ReceivedSpan[] = [];
    for (const rs of (message.resourceSpans as Json[] | undefined) ?? []) {
      const resource = attributes((rs.resource as Json | undefined)?.attributes as Json[]);
      for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
        const scope = ((ss.scope as Json | undefined)?.name as string | undefined) ?? '';
        for (const s of (ss.spans as Json[] | undefined) ?? []) {
          const status = (s.status as Json | undefined) ?? {};
          out.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: (s.name as string | undefined) ?? '',
            kind: (s.kind as number | undefined) ?? 0,
            startTimeUnixNano: BigInt((s.startTimeUnixNano as string | undefined) ?? '0'),
            endTimeUnixNano: BigInt((s.endTimeUnixNano as string | undefined) ?? '0'),
            attributes: attributes(s.attributes as Json[]),
            events: ((s.events as Json[] | undefined) ?? []).map((e) => ({
              name: (e.name as string | undefined) ?? '',
              timeUnixNano: BigInt((e.timeUnixNano as string | undefined) ?? '0'),
              attributes: attributes(e.attributes as Json[]),
            })),
            status: {
              code: (status.code as number | undefined) ?? 0,
              message: (status.message as string | undefined) ?? '',
            },
            resource,
            scope,
          });
        }
      }
    }
    return out;
  };

  const decodeMetrics = (body: Buffer): ReceivedMetricPoint[] => {
    const message = MetricsRequest.toObject(MetricsRequest.decode(body), toObject);
    const out: ReceivedMetricPoint[] = [];
    for (const rm of (message.resourceMetrics as Json[] | undefined) ?? []) {
      const resource = attributes((rm.resource as Json | undefined)?.attributes as Json[]);
      for (const sm of (rm.scopeMetrics as Json[] | undefined) ?? []) {
        for (const m of (sm.metrics as Json[] | undefined) ?? []) {
          const data = (m.gauge ?? m.sum) as Json | undefined;
          for (const p of (data?.dataPoints as Json[] | undefined) ?? []) {
            const value =
              p.asDouble !== undefined ? Number(p.asDouble) : Number(p.asInt ?? Number.NaN);
            out.push({
              name: m.name as string,
              attributes: attributes(p.attributes as Json[]),
              value,
              resource,
            });
          }
        }
      }
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const record: OtlpRequestRecord = { path, headers: req.headers, status: 200, spans: 0 };
    const reply = (status: number, body: Uint8Array | string = ''): void => {
      record.status = status;
      requests.push(record);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain' : 'application/x-protobuf',
      });
      res.end(body);
    };
    const body = await readBody(req);
    if (req.method !== 'POST' || (path !== '/v1/traces' && path !== '/v1/metrics'))
      return reply(404, 'not found');
    for (const [name, value] of Object.entries(options.requireHeaders ?? {})) {
      if (req.headers[name.toLowerCase()] !== value) return reply(401, `missing header ${name}`);
    }
    if (failStatus !== undefined) return reply(failStatus, 'unavailable');
    if (!String(req.headers['content-type']).startsWith('application/x-protobuf'))
      return reply(415, 'expected application/x-protobuf');
    try {
      if (path === '/v1/traces') {
        const decoded = decodeTraces(body);
        record.spans = decoded.length;
        spans.push(...decoded);
        return reply(200, TraceResponse.encode(TraceResponse.create({})).finish());
      }
      metricPoints.push(...decodeMetrics(body));
      return reply(200, new Uint8Array());
    } catch (error) {
      return reply(400, `undecodable OTLP: ${(error as Error).message}`);
    }
  };

  let server: Server | undefined;
  let port = options.port ?? 0;
  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
      handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    // New connections are refused from here on and idle ones closed; a request already being
    // handled gets its answer first (at most 1 s), as a receiver that stops listening answers
    // what it has taken. Destroying its socket at once dropped an answer whose spans were
    // recorded, so the sender exported them again: a duplicate the receiver itself made.
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeIdleConnections();
    const signal = AbortSignal.timeout(1_000);
    await Promise.all([...inFlight].map((res) => once(res, 'close', { signal }))).catch(
      () => undefined,
    );
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();

  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    spans,
    metricPoints,
    requests,
    spansById: () => new Map(spans.map((s) => [s.spanId, s])),
    copies: () => {
      const counts = new Map<string, number>();
      for (const s of spans) counts.set(s.spanId, (counts.get(s.spanId) ?? 0) + 1);
      return counts;
    },
    trace: (traceId) => spans.filter((s) => s.traceId === traceId),
    inFlight: () => inFlight.size,
    failWith: (status) => {
      failStatus = status;
    },
    healthy: () => {
      failStatus = undefined;
    },
    down: stop,
    up: async () => {
      if (!server) await listen();
    },
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
  return receiver;
}
