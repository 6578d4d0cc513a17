import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How the receiver answers: a status (with `Retry-After` when given), `hang` (never answers until
 * the receiver closes), or `drop` (destroys the connection without a response).
 */
export type ReceiverMode =
  { status: number; retryAfter?: string; delayMs?: number } | 'hang' | 'drop';

export interface WebhookBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  /** The exact bytes received, as a signature is computed over them. */
  rawBody: string;
  /** The parsed Standard Webhooks body, or undefined when the body is not JSON. */
  body: WebhookBody | undefined;
  /** The `webhook-id` header. */
  id: string | undefined;
  at: number;
  /** What the receiver answered: a status, `hang` or `drop`. */
  answer: number | 'hang' | 'drop';
}

export interface WebhookReceiver extends AsyncDisposable {
  origin: string;
  /** A URL on this receiver, e.g. `url('/a')`; paths let one receiver stand for several endpoints. */
  url(path?: string): string;
  /** Every request, whatever it was answered. */
  requests: ReceivedWebhook[];
  /** Requests answered with a 2xx: what a customer's handler would have processed. */
  accepted(path?: string): ReceivedWebhook[];
  /** The answer from now on (for one path, or every path without one). */
  setMode(mode: ReceiverMode, path?: string): void;
  /** The next requests (to any path) get these answers, in order, before the mode applies. */
  enqueue(...modes: ReceiverMode[]): void;
  /** Called for each request as it arrives (benchmarks measure receipt time here). */
  onRequest?: (request: ReceivedWebhook) => void;
  /**
   * An outage: stops listening and cuts open connections (senders get connection refused / reset)
   * until `up()`, which listens on the same port again.
   */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A customer's webhook endpoint: a real node:http server on 127.0.0.1 port 0 that records headers
 * and raw bodies and answers 200, any status (500, 429 with Retry-After, 410...), hangs, or drops
 * the connection, per path or scripted per request.
 */
export async function startWebhookReceiver(
  options: { mode?: ReceiverMode } = {},
): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const modes = new Map<string, ReceiverMode>();
  let fallback: ReceiverMode = options.mode ?? { status: 200 };
  const scripted: ReceiverMode[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: WebhookBody | undefined;
      try {
        body = JSON.parse(rawBody) as WebhookBody;
      } catch {
        body = undefined;
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const mode = scripted.shift() ?? modes.get(path) ?? fallback;
      const id = req.headers['webhook-id'];
      const record: ReceivedWebhook = {
        path,
        headers: req.headers,
        rawBody,
        body,
        id: Array.isArray(id) ? id[0] : id,
        at: Date.now(),
        answer: typeof mode === 'string' ? mode : mode.status,
      };
      requests.push(record);
      receiver.onRequest?.(record);
      if (mode === 'hang') return;
      if (mode === 'drop') {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (closed || res.destroyed) return;
        res.writeHead(mode.status, {
          'content-type': 'application/json',
          ...(mode.retryAfter ? { 'retry-after': mode.retryAfter } : {}),
        });
        res.end(JSON.stringify({ received: true }));
      };
      if (mode.delayMs) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, mode.delayMs);
        timers.add(timer);
      } else answer();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let listening = false;
  const listen = async (port: number): Promise<number> => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    listening = true;
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    await closing;
  };
  const port = await listen(0);
  const origin = `http://127.0.0.1:${port}`;

  const receiver: WebhookReceiver = {
    origin,
    url: (path = '/hooks') => `${origin}${path.startsWith('/') ? path : `/${path}`}`,
    requests,
    accepted: (path) =>
      requests.filter(
        (r) =>
          typeof r.answer === 'number' &&
          r.answer >= 200 &&
          r.answer < 300 &&
          (path === undefined || r.path === path),
      ),
    setMode(mode, path) {
      if (path === undefined) {
        fallback = mode;
        modes.clear();
      } else modes.set(path, mode);
    },
    enqueue: (...next) => {
      scripted.push(...next);
    },
    down: stopListening,
    async up() {
      if (!closed && !listening) await listen(port);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      await stopListening();
    },
    async [Symbol.asyncDispose]() {
      await receiver.close();
    },
  };
  return receiver;
}
