import http from 'node:http';
import https from 'node:https';
import ipaddr from 'ipaddr.js';
import {
  addressProblem,
  guardedLookup,
  systemResolver,
  type Resolver,
  type TargetPolicy,
} from './ssrf.js';

export interface SendResult {
  /** The HTTP status, when a response arrived. */
  status: number | null;
  retryAfter?: string;
  /** Why no response arrived (timeout, connection error, refused target). */
  error: string | null;
  /** True when the target address was refused (SSRF check at connect time). */
  refused: boolean;
  latencyMs: number;
}

export interface SenderOptions {
  policy: TargetPolicy;
  resolve?: Resolver;
  /** Whole-request deadline: connect, send, response headers and body. */
  timeoutMs: number;
  /** Open sockets per receiver origin (the service passes its in-flight limit). Default 32. */
  maxSocketsPerHost?: number;
}

/** How much of a response body is read before the socket is released; the rest is discarded. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one signed body over node:http(s). Every new connection resolves through the SSRF guard,
 * so the address actually connected to is the one checked; IP-literal hosts (which skip lookup)
 * are checked here. Redirects are not followed.
 */
export class Sender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly lookup: ReturnType<typeof guardedLookup>;

  constructor(private readonly options: SenderOptions) {
    const maxSockets = options.maxSocketsPerHost ?? 32;
    // Idle sockets are kept up to the same bound: a steady stream of requests reuses its
    // connections instead of closing and opening them around a burst.
    const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
    this.lookup = guardedLookup(options.policy, options.resolve ?? systemResolver);
  }

  send(target: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return Promise.resolve({ status: null, error: 'invalid url', refused: true, latencyMs: 0 });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (ipaddr.isValid(host)) {
      const problem = addressProblem(host, this.options.policy);
      if (problem) {
        return Promise.resolve({
          status: null,
          error: `${host} is a ${problem} address; refused`,
          refused: true,
          latencyMs: 0,
        });
      }
    }
    const isHttps = url.protocol === 'https:';
    if (!isHttps && !(url.protocol === 'http:' && this.options.policy.allowHttp)) {
      return Promise.resolve({
        status: null,
        error: 'url scheme not allowed',
        refused: true,
        latencyMs: 0,
      });
    }
    const payload = Buffer.from(body);
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (result: Omit<SendResult, 'latencyMs'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, latencyMs: latency() });
      };
      const request = (isHttps ? https : http).request(url, {
        method: 'POST',
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        lookup: this.lookup,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(payload.length),
          'user-agent': 'jobgate-webhooks/1',
        },
      });
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      request.on('response', (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        const finish = () => {
          const retryAfter = response.headers['retry-after'];
          done({
            status: response.statusCode ?? null,
            ...(retryAfter ? { retryAfter } : {}),
            error: null,
            refused: false,
          });
        };
        response.on('end', finish);
        response.on('close', finish);
        response.on('error', finish);
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        const refused = error.code === 'EWEBHOOKTARGET';
        done({ status: null, error: error.message || error.code || 'connection error', refused });
      });
      request.end(payload);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
