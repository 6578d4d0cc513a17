import { createHash, randomUUID } from 'node:crypto';
import { comfyPayloadSchema, type Job } from '@jobgate/core';
import type WebSocket from 'ws';
import { requestBytes, requestJson } from './http.js';
import { ConnectorError, isRecord, type Connector, type ConnectorContext } from './types.js';

export interface ComfyUIConnectorOptions {
  /** e.g. `http://127.0.0.1:8188`. */
  baseUrl: string;
  requestTimeoutMs: number;
  /** /history polling interval when the websocket is unavailable (and its safety net when it is). */
  pollIntervalMs: number;
  /** Follow progress over `ws /ws?clientId=`; false polls /history only. */
  websocket: boolean;
  service?: string;
  models?: string[];
}

interface HistoryEntry {
  outputs?: Record<string, Record<string, unknown>>;
  status?: { status_str?: string; completed?: boolean; messages?: unknown[] };
}

interface OutputFile {
  node_id: string;
  filename: string;
  subfolder: string;
  type: string;
}

/** Follows one prompt over the websocket; resolves `settled` on success, error or disconnect. */
class ProgressSocket {
  private ws: WebSocket | undefined;
  private promptId: string | undefined;
  private early: Array<{ type: string; data: Record<string, unknown> }> = [];
  private notify: (() => void) | undefined;
  finished = false;
  closed = false;

  constructor(
    private readonly url: string,
    private readonly onProgress: (percent: number, message: string) => void,
  ) {}

  async open(timeoutMs: number): Promise<boolean> {
    // Loaded on the first prompt, not at start: a worker without the comfyui connector never needs it.
    const { default: WebSocket } = await import('ws');
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url, { handshakeTimeout: timeoutMs });
      this.ws = ws;
      ws.once('open', () => resolve(true));
      ws.once('error', () => {
        this.closed = true;
        resolve(false);
      });
      ws.on('close', () => {
        this.closed = true;
        this.notify?.();
      });
      ws.on('message', (raw: WebSocket.RawData, isBinary: boolean) => {
        // Binary frames are latent previews: nothing to report.
        if (isBinary) return;
        let message: unknown;
        try {
          message = JSON.parse(
            Buffer.isBuffer(raw)
              ? raw.toString('utf8')
              : Buffer.from(raw as ArrayBuffer).toString('utf8'),
          );
        } catch {
          return;
        }
        if (!isRecord(message) || typeof message.type !== 'string' || !isRecord(message.data))
          return;
        const event = { type: message.type, data: message.data };
        if (this.promptId === undefined) this.early.push(event);
        else this.handle(event);
      });
    });
  }

  follow(promptId: string): void {
    this.promptId = promptId;
    for (const event of this.early.splice(0)) this.handle(event);
  }

  private handle(event: { type: string; data: Record<string, unknown> }): void {
    if (event.data.prompt_id !== undefined && event.data.prompt_id !== this.promptId) return;
    const { type, data } = event;
    if (
      type === 'progress' &&
      typeof data.value === 'number' &&
      typeof data.max === 'number' &&
      data.max > 0
    ) {
      this.onProgress(
        Math.min(95, Math.round((data.value / data.max) * 95)),
        `node ${typeof data.node === 'string' ? data.node : '?'}: step ${data.value}/${data.max}`,
      );
    } else if (type === 'execution_start') {
      this.onProgress(1, 'started');
    } else if (
      type === 'execution_success' ||
      type === 'execution_error' ||
      type === 'execution_interrupted' ||
      (type === 'executing' && data.node === null)
    ) {
      this.finished = true;
      this.notify?.();
    }
  }

  /** Resolves when the prompt finished, the socket closed, or `ms` passed. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.finished || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.notify = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.notify = done;
    });
  }

  close(): void {
    this.ws?.terminate();
  }
}

/**
 * Runs an API-format workflow on ComfyUI: opens the progress websocket, `POST /prompt`, follows
 * `progress` messages (falling back to `/history` polling when the socket is refused or drops),
 * reads the result from `GET /history/{id}` and fetches every output through `GET /view`.
 */
export function createComfyUIConnector(options: ComfyUIConnectorOptions): Connector {
  const service = options.service ?? 'comfyui';
  const base = options.baseUrl.replace(/\/+$/, '');

  const http = <T>(ctx: ConnectorContext, method: 'GET' | 'POST', path: string, body?: unknown) =>
    requestJson<T>({
      service,
      method,
      url: `${base}${path}`,
      body,
      timeoutMs: options.requestTimeoutMs,
      signal: ctx.signal,
    });

  async function interrupt(promptId: string): Promise<void> {
    // Best effort and not bound to the job's (already aborted) signal.
    const signal = AbortSignal.timeout(2_000);
    await Promise.allSettled([
      fetch(`${base}/queue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ delete: [promptId] }),
        signal,
      }),
      fetch(`${base}/interrupt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt_id: promptId }),
        signal,
      }),
    ]);
  }

  return {
    kind: 'comfyui',
    service,
    ...(options.models ? { models: options.models } : {}),
    async run(job: Job, ctx: ConnectorContext): Promise<unknown> {
      const parsed = comfyPayloadSchema.safeParse(job.payload ?? {});
      if (!parsed.success) {
        throw new ConnectorError(
          `Invalid comfyui payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
          { serviceType: service, httpStatus: 400 },
          { code: 'INVALID_PAYLOAD' },
        );
      }
      const clientId = `jobgate-${randomUUID()}`;
      let socket: ProgressSocket | undefined;
      if (options.websocket) {
        const wsUrl = `${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}`;
        socket = new ProgressSocket(wsUrl, (percent, message) =>
          ctx.progress({ percent, message }),
        );
        const opened = await socket.open(Math.min(options.requestTimeoutMs, 5_000));
        if (!opened) {
          ctx.log.warn(
            { service },
            'comfyui websocket unavailable; following progress by polling /history',
          );
          socket = undefined;
        }
      }
      let promptId: string | undefined;
      try {
        // The prompt's id is ours (ComfyUI keeps a `prompt_id` the client sends), and the POST
        // is not cut by the job's deadline or cancellation (only by its own timeout): a prompt
        // ComfyUI accepted is always known, so an aborted job interrupts it instead of leaving
        // it to run on the GPU with nobody waiting for it.
        if (ctx.signal.aborted) throw ctx.signal.reason;
        promptId = randomUUID();
        const submitted = await requestJson<Record<string, unknown>>({
          service,
          method: 'POST',
          url: `${base}/prompt`,
          body: { prompt: parsed.data.workflow, client_id: clientId, prompt_id: promptId },
          timeoutMs: options.requestTimeoutMs,
          signal: new AbortController().signal,
        });
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (typeof submitted.body.prompt_id !== 'string') {
          throw new ConnectorError(
            'comfyui POST /prompt answered without a prompt_id',
            { serviceType: service, httpStatus: submitted.status, responseData: submitted.body },
            { code: 'MISSING_EXPECTED_DATA' },
          );
        }
        promptId = submitted.body.prompt_id;
        ctx.progress({ percent: 0, message: `queued as ${promptId}` });
        socket?.follow(promptId);

        let entry: HistoryEntry | undefined;
        for (;;) {
          const live = socket && !socket.closed;
          if (live) await socket!.wait(options.pollIntervalMs * 10, ctx.signal);
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const history = await http<Record<string, HistoryEntry>>(
            ctx,
            'GET',
            `/history/${encodeURIComponent(promptId)}`,
          );
          entry = history.body[promptId];
          if (
            entry &&
            (entry.status?.completed ||
              entry.status?.status_str === 'error' ||
              entry.status?.status_str === 'success')
          )
            break;
          if (!live) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, options.pollIntervalMs);
              ctx.signal.addEventListener(
                'abort',
                () => {
                  clearTimeout(timer);
                  resolve();
                },
                { once: true },
              );
            });
            if (ctx.signal.aborted) throw ctx.signal.reason;
          }
        }
        if (entry.status?.status_str === 'error') {
          const interrupted = JSON.stringify(entry.status.messages ?? []).includes(
            'execution_interrupted',
          );
          throw new ConnectorError(
            `comfyui prompt ${promptId} ${interrupted ? 'was interrupted' : 'failed'}`,
            { serviceType: service, responseData: { [promptId]: entry } },
          );
        }
        const files: OutputFile[] = [];
        for (const [nodeId, output] of Object.entries(entry.outputs ?? {})) {
          for (const key of ['images', 'gifs', 'videos', 'audio']) {
            const list = output[key];
            if (!Array.isArray(list)) continue;
            for (const item of list) {
              if (isRecord(item) && typeof item.filename === 'string') {
                files.push({
                  node_id: nodeId,
                  filename: item.filename,
                  subfolder: typeof item.subfolder === 'string' ? item.subfolder : '',
                  type: typeof item.type === 'string' ? item.type : 'output',
                });
              }
            }
          }
        }
        if (files.length === 0)
          throw new ConnectorError(
            `comfyui prompt ${promptId} finished with no outputs`,
            { serviceType: service },
            { code: 'MISSING_EXPECTED_DATA' },
          );
        const outputs = [];
        for (const file of files) {
          const query = new URLSearchParams({
            filename: file.filename,
            subfolder: file.subfolder,
            type: file.type,
          });
          let fetched;
          try {
            fetched = await requestBytes({
              service,
              method: 'GET',
              url: `${base}/view?${query.toString()}`,
              timeoutMs: options.requestTimeoutMs,
              signal: ctx.signal,
            });
          } catch (error) {
            if (error instanceof ConnectorError && error.context.httpStatus === 404) {
              throw new ConnectorError(
                `comfyui output ${file.filename} of prompt ${promptId} is missing (GET /view answered 404)`,
                { serviceType: service },
                { code: 'MISSING_EXPECTED_DATA', cause: error },
              );
            }
            throw error;
          }
          if (fetched.bytes.length === 0)
            throw new ConnectorError(
              `comfyui output ${file.filename} is empty`,
              { serviceType: service },
              { code: 'CORRUPTED_DATA' },
            );
          outputs.push({
            ...file,
            content_type: fetched.headers['content-type'] ?? null,
            size: fetched.bytes.length,
            sha256: createHash('sha256').update(fetched.bytes).digest('hex'),
          });
        }
        ctx.progress({ percent: 100, message: `${outputs.length} output(s)` });
        return { prompt_id: promptId, outputs };
      } catch (error) {
        if (ctx.signal.aborted && promptId) await interrupt(promptId);
        throw error;
      } finally {
        socket?.close();
      }
    },
  };
}
