import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request as the fake saw it, for assertions ("the key was sent", "three attempts were made"). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON when the body was JSON, else the raw text (empty string for no body). */
  body: unknown;
  at: number;
}

/**
 * What the fake does with one request. `json` replies (after `delayMs`; a reply with only
 * `delayMs` gives the route's normal answer late); `drop` destroys the
 * socket without a response (after `afterMs`, optionally after sending the headers); `hang`
 * never answers until the fake closes.
 */
export type FakeReply =
  | {
      status?: number;
      headers?: Record<string, string>;
      json?: unknown;
      text?: string;
      bytes?: Buffer;
      delayMs?: number;
    }
  | { drop: true; afterMs?: number; afterHeaders?: boolean }
  | { hang: true };

export type ReplyFn = (
  request: RecordedRequest,
  params: Record<string, string>,
) => FakeReply | Promise<FakeReply>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: ReplyFn;
}

function compile(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), names };
}

function isDelayOnly(reply: FakeReply): reply is { delayMs?: number } {
  return Object.keys(reply).every((key) => key === 'delayMs');
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return '';
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * The shared machinery of every fake upstream: a real node:http server on 127.0.0.1 port 0,
 * routes with `:params`, a per-route queue of scripted replies that take precedence over the
 * default handler, a log of requests, and a close that cuts every open connection (a hung reply
 * must not keep a test alive).
 */
export class HttpFake implements AsyncDisposable {
  readonly requests: RecordedRequest[] = [];
  readonly server: Server;
  private readonly routes: Route[] = [];
  private readonly scripted = new Map<string, FakeReply[]>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private port = 0;

  constructor(private readonly name: string) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: { message: `${this.name} fake crashed: ${(error as Error).message}` },
            }),
          );
        }
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  route(method: string, path: string, handler: ReplyFn): void {
    this.routes.push({ method: method.toUpperCase(), ...compile(path), handler });
  }

  /**
   * The next requests to `route` (e.g. `POST /v1/chat/completions`, or `*` for any route) get
   * these replies, in order, before the default behaviour resumes.
   */
  enqueue(route: string, ...replies: FakeReply[]): void {
    const key =
      route === '*' ? '*' : route.replace(/\s+/, ' ').replace(/^(\w+)/, (m) => m.toUpperCase());
    const queue = this.scripted.get(key) ?? [];
    queue.push(...replies);
    this.scripted.set(key, queue);
  }

  /** Scripted replies not yet consumed (a test can assert its script was used up). */
  pending(route = '*'): number {
    return this.scripted.get(route)?.length ?? 0;
  }

  /** Requests to one route, e.g. `requestsTo('POST /v1/chat/completions')`. */
  requestsTo(route: string): RecordedRequest[] {
    const [method, path] = route.split(/\s+/);
    const { pattern } = compile(path ?? '');
    return this.requests.filter((r) => r.method === method?.toUpperCase() && pattern.test(r.path));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: await readBody(req),
      at: Date.now(),
    };
    this.requests.push(recorded);
    let params: Record<string, string> = {};
    let handler: ReplyFn | undefined;
    for (const route of this.routes) {
      if (route.method !== recorded.method) continue;
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      params = Object.fromEntries(
        route.names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
      );
      handler = route.handler;
      break;
    }
    let scripted = this.takeScripted(recorded);
    if (scripted && isDelayOnly(scripted)) {
      await this.sleep(scripted.delayMs ?? 0);
      scripted = undefined;
    }
    const reply: FakeReply =
      scripted ??
      (handler
        ? await handler(recorded, params)
        : {
            status: 404,
            json: { error: { message: `no route ${recorded.method} ${url.pathname}` } },
          });
    await this.send(res, reply);
  }

  private takeScripted(request: RecordedRequest): FakeReply | undefined {
    for (const [key, queue] of this.scripted) {
      if (queue.length === 0) continue;
      if (key === '*') return queue.shift();
      const [method, path] = key.split(' ');
      if (method !== request.method || !path) continue;
      if (compile(path).pattern.test(request.path)) return queue.shift();
    }
    return undefined;
  }

  private async send(res: ServerResponse, reply: FakeReply): Promise<void> {
    if ('hang' in reply) return;
    if ('drop' in reply) {
      if (reply.afterHeaders) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
      }
      if (reply.afterMs) await this.sleep(reply.afterMs);
      res.socket?.destroy();
      return;
    }
    if (reply.delayMs) await this.sleep(reply.delayMs);
    if (this.closed || res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    let payload: Buffer | string = '';
    if (reply.bytes) {
      payload = reply.bytes;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (reply.text !== undefined) {
      payload = reply.text;
      headers['content-type'] ??= 'text/plain';
    } else if (reply.json !== undefined) {
      payload = JSON.stringify(reply.json);
      headers['content-type'] ??= 'application/json';
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
