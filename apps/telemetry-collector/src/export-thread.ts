import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpTarget } from '@jobgate/telemetry';

/**
 * The SDK's OTLP/HTTP protobuf trace exporter on a thread of its own (`worker_threads`), so its
 * protobuf serialization and the HTTP request run on the second core while the collector's thread
 * reads, records and builds the next batch. Each `export` hands the spans' data over (structured
 * clone) and the worker rebuilds them as `ReadableSpan`s for the same exporter `traceExporter`
 * makes, so the bytes sent are those of the exporter on the main thread; the callback gets the
 * worker's result. Every span exported through it carries `resource` (the collector's one
 * resource); a span's own resource is not sent.
 *
 * The worker's code is a string evaluated as CommonJS, requiring the SDK by the paths resolved
 * here: it runs the same under the bundle, tsx and vitest, with no file of its own to build.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { OTLPTraceExporter } = require(workerData.exporterPath);
const { resourceFromAttributes } = require(workerData.resourcesPath);
const exporter = new OTLPTraceExporter(workerData.exporter);
const resource = resourceFromAttributes(workerData.resource);
const SAMPLED = 1;
function toSpan(d, scope) {
  const context = { traceId: d.traceId, spanId: d.spanId, traceFlags: SAMPLED };
  return {
    name: d.name,
    kind: d.kind,
    spanContext: () => context,
    parentSpanContext: d.parentSpanId === undefined ? undefined
      : { traceId: d.traceId, spanId: d.parentSpanId, traceFlags: SAMPLED },
    startTime: d.startTime,
    endTime: d.endTime,
    duration: d.duration,
    status: d.status,
    attributes: d.attributes,
    links: [],
    events: d.events,
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
parentPort.on('message', (m) => {
  const reply = (code, error) => parentPort.postMessage({ id: m.id, code, error });
  if (m.kind === 'export') {
    let spans;
    try {
      spans = m.spans.map((d) => toSpan(d, m.scopes[d.scope]));
    } catch (error) {
      reply(1, String(error && error.message));
      return;
    }
    exporter.export(spans, (result) => reply(result.code, result.error && result.error.message));
  } else if (m.kind === 'flush') {
    exporter.forceFlush().then(() => reply(0), (e) => reply(1, String(e && e.message)));
  } else if (m.kind === 'shutdown') {
    exporter.shutdown().then(() => reply(0), (e) => reply(1, String(e && e.message)));
  }
});
`;

interface SpanData {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  startTime: ReadableSpan['startTime'];
  endTime: ReadableSpan['endTime'];
  duration: ReadableSpan['duration'];
  status: ReadableSpan['status'];
  attributes: ReadableSpan['attributes'];
  events: ReadableSpan['events'];
  /** Index into the message's scopes. */
  scope: number;
}

interface Reply {
  id: number;
  code: ExportResultCode;
  error?: string;
}

export class ThreadSpanExporter implements SpanExporter {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private closed = false;

  constructor(
    private readonly target: OtlpTarget,
    private readonly resource: Resource,
  ) {
    // Loading the SDK in the worker takes a while: at start-up, not at the first export.
    this.start();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const require = createRequire(import.meta.url);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        exporterPath: require.resolve('@opentelemetry/exporter-trace-otlp-proto'),
        resourcesPath: require.resolve('@opentelemetry/resources'),
        // The options `traceExporter` (`@jobgate/telemetry`) gives the exporter.
        exporter: {
          url: `${this.target.endpoint}/v1/traces`,
          headers: this.target.headers,
          timeoutMillis: this.target.timeoutMs,
        },
        resource: this.resource.attributes,
      },
    });
    // Exports in flight do not keep a stopping process alive (the collector waits for its own).
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const done = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      done?.(reply);
    });
    const fail = (error: unknown): void => {
      if (this.worker === worker) this.worker = undefined;
      const message = `export thread stopped: ${error instanceof Error ? error.message : String(error)}`;
      for (const [id, done] of this.pending) {
        this.pending.delete(id);
        done({ id, code: ExportResultCode.FAILED, error: message });
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(`exit code ${String(code)}`));
    this.worker = worker;
    return worker;
  }

  private send(message: Record<string, unknown>): Promise<Reply> {
    if (this.closed)
      return Promise.resolve({ id: -1, code: ExportResultCode.FAILED, error: 'shut down' });
    const id = this.nextId++;
    return new Promise<Reply>((resolve) => {
      this.pending.set(id, resolve);
      try {
        this.start().postMessage({ ...message, id });
      } catch (error) {
        this.pending.delete(id);
        resolve({ id, code: ExportResultCode.FAILED, error: (error as Error).message });
      }
    });
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const scopes: ReadableSpan['instrumentationScope'][] = [];
    const data: SpanData[] = [];
    for (const span of spans) {
      let scope = scopes.indexOf(span.instrumentationScope);
      if (scope < 0) scope = scopes.push(span.instrumentationScope) - 1;
      const context = span.spanContext();
      data.push({
        name: span.name,
        kind: span.kind,
        traceId: context.traceId,
        spanId: context.spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        startTime: span.startTime,
        endTime: span.endTime,
        duration: span.duration,
        status: span.status,
        attributes: span.attributes,
        events: span.events,
        scope,
      });
    }
    void this.send({ kind: 'export', spans: data, scopes }).then((reply) =>
      resultCallback(
        reply.code === ExportResultCode.SUCCESS
          ? { code: ExportResultCode.SUCCESS }
          : {
              code: ExportResultCode.FAILED,
              error: new Error(reply.error ?? 'OTLP export failed'),
            },
      ),
    );
  }

  async forceFlush(): Promise<void> {
    if (!this.worker) return;
    await this.send({ kind: 'flush' });
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    const worker = this.worker;
    if (worker) await this.send({ kind: 'shutdown' });
    this.closed = true;
    await worker?.terminate();
    this.worker = undefined;
  }
}
