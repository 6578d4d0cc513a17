import { ConnectorError } from './types.js';

export interface HttpRequest {
  service: string;
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** The job's signal: cancellation and shutdown abort the request too. */
  signal: AbortSignal;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

/** `GET /v1/models` style label without host or query string (those can carry secrets). */
function label(method: string, url: string): string {
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return method;
  }
}

async function send(req: HttpRequest): Promise<Response> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([req.signal, timeout]);
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  try {
    return await fetch(req.url, { method: req.method, headers, body, signal });
  } catch (error) {
    if (req.signal.aborted) throw req.signal.reason;
    if (timeout.aborted) {
      throw new ConnectorError(
        `${req.service} ${label(req.method, req.url)} timed out after ${req.timeoutMs} ms`,
        { serviceType: req.service, timeout: true },
        { cause: error },
      );
    }
    throw new ConnectorError(
      `${req.service} ${label(req.method, req.url)} failed: ${(error as Error).message}`,
      { serviceType: req.service },
      { cause: error },
    );
  }
}

async function readBody(req: HttpRequest, res: Response): Promise<Buffer> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (error) {
    if (req.signal.aborted) throw req.signal.reason;
    // A body cut off midway: the connection dropped or the timeout fired while streaming.
    const timedOut = (error as Error).name === 'TimeoutError';
    throw new ConnectorError(
      `${req.service} ${label(req.method, req.url)} response ${timedOut ? 'timed out' : 'was cut off'}: ${(error as Error).message}`,
      { serviceType: req.service, httpStatus: res.status, timeout: timedOut },
      { cause: error },
    );
  }
}

/**
 * One HTTP call with a deadline, turning every way it can go wrong into a ConnectorError the
 * classifier understands: network errors keep their cause (ECONNRESET, ENOTFOUND...), non-2xx
 * keep status, parsed body and headers (Retry-After, x-request-id), and a 2xx that is not JSON is
 * a response error.
 */
export async function requestJson<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
  const res = await send(req);
  const raw = await readBody(req, res);
  const headers = Object.fromEntries(res.headers.entries());
  const text = raw.toString('utf8');
  let parsed: unknown = text;
  let isJson = false;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
      isJson = true;
    } catch {
      isJson = false;
    }
  }
  if (!res.ok) {
    throw new ConnectorError(
      `${req.service} ${label(req.method, req.url)} returned HTTP ${res.status}`,
      {
        serviceType: req.service,
        httpStatus: res.status,
        responseData: isJson ? parsed : text.slice(0, 2_000),
        headers,
      },
    );
  }
  const contentType = headers['content-type'] ?? '';
  if (!isJson) {
    const code =
      contentType.includes('json') || contentType === ''
        ? 'INVALID_RESPONSE_FORMAT'
        : 'UNEXPECTED_CONTENT_TYPE';
    throw new ConnectorError(
      `${req.service} ${label(req.method, req.url)} answered HTTP ${res.status} with ${contentType || 'no content type'} instead of JSON: ${text.slice(0, 200)}`,
      { serviceType: req.service, httpStatus: res.status, headers },
      { code },
    );
  }
  return { status: res.status, headers, body: parsed as T };
}

/** Bytes of an output file (ComfyUI `/view`). */
export async function requestBytes(
  req: HttpRequest,
): Promise<{ status: number; headers: Record<string, string>; bytes: Buffer }> {
  const res = await send(req);
  const bytes = await readBody(req, res);
  const headers = Object.fromEntries(res.headers.entries());
  if (!res.ok) {
    throw new ConnectorError(
      `${req.service} ${label(req.method, req.url)} returned HTTP ${res.status}`,
      {
        serviceType: req.service,
        httpStatus: res.status,
        responseData: bytes.toString('utf8').slice(0, 500),
        headers,
      },
    );
  }
  return { status: res.status, headers, bytes };
}
