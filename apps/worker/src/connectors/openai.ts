import { openaiPayloadSchema, type Job } from '@jobgate/core';
import { requestJson } from './http.js';
import { ConnectorError, isRecord, sleep, type Connector, type ConnectorContext } from './types.js';

export interface OpenAIConnectorOptions {
  /** e.g. `https://api.openai.com/v1` or any OpenAI-compatible server. */
  baseUrl: string;
  apiKey: string;
  /** Deadline of each HTTP request. */
  requestTimeoutMs: number;
  /** Interval between polls of a background response. */
  pollIntervalMs: number;
  organization?: string;
  service?: string;
  models?: string[];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);

export function createOpenAIConnector(options: OpenAIConnectorOptions): Connector {
  const service = options.service ?? 'openai';
  const base = options.baseUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = { authorization: `Bearer ${options.apiKey}` };
  if (options.organization) headers['openai-organization'] = options.organization;

  const call = <T>(ctx: ConnectorContext, method: 'GET' | 'POST', path: string, body?: unknown) =>
    requestJson<T>({
      service,
      method,
      url: `${base}${path}`,
      headers,
      body,
      timeoutMs: options.requestTimeoutMs,
      signal: ctx.signal,
    });

  return {
    kind: 'openai',
    service,
    ...(options.models ? { models: options.models } : {}),
    async run(job: Job, ctx: ConnectorContext): Promise<unknown> {
      const parsed = openaiPayloadSchema.safeParse(job.payload ?? {});
      if (!parsed.success) {
        throw new ConnectorError(
          `Invalid openai payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
          { serviceType: service, httpStatus: 400 },
          { code: 'INVALID_PAYLOAD' },
        );
      }
      const p = parsed.data;
      ctx.progress({ percent: 5, message: `calling ${p.operation}` });

      if (p.operation === 'chat') {
        if (!p.messages)
          throw new ConnectorError(
            'openai chat payload needs messages',
            { serviceType: service },
            { code: 'MISSING_REQUIRED_PARAMETER' },
          );
        const res = await call<Record<string, unknown>>(ctx, 'POST', '/chat/completions', {
          ...p.params,
          model: p.model,
          messages: p.messages,
        });
        const requestId = res.headers['x-request-id'];
        const choice = Array.isArray(res.body.choices)
          ? (res.body.choices[0] as Record<string, unknown> | undefined)
          : undefined;
        const message = isRecord(choice?.message) ? choice.message : undefined;
        if (!choice || !message) {
          throw new ConnectorError(
            'openai chat completion has no choices',
            {
              serviceType: service,
              httpStatus: res.status,
              responseData: res.body,
              ...(requestId ? { requestId } : {}),
            },
            { code: 'MISSING_EXPECTED_DATA' },
          );
        }
        if (typeof message.refusal === 'string' && message.refusal) {
          throw new ConnectorError(`The model refused: ${message.refusal}`, {
            serviceType: service,
            httpStatus: res.status,
            responseData: { error: { code: 'refusal', message: message.refusal } },
            ...(requestId ? { requestId } : {}),
          });
        }
        if (choice.finish_reason === 'content_filter') {
          throw new ConnectorError('The response was cut off by the content filter', {
            serviceType: service,
            httpStatus: res.status,
            responseData: {
              error: { code: 'content_filter', message: 'finish_reason content_filter' },
            },
            ...(requestId ? { requestId } : {}),
          });
        }
        ctx.progress({ percent: 100, message: 'done' });
        return {
          text: message.content ?? null,
          model: res.body.model,
          usage: res.body.usage ?? null,
          finish_reason: choice.finish_reason ?? null,
          request_id: requestId ?? null,
        };
      }

      if (p.operation === 'images') {
        const res = await call<Record<string, unknown>>(ctx, 'POST', '/images/generations', {
          ...p.params,
          model: p.model,
          prompt: p.prompt,
        });
        const data = Array.isArray(res.body.data)
          ? (res.body.data as Array<Record<string, unknown>>)
          : [];
        if (data.length === 0)
          throw new ConnectorError(
            'openai image generation returned no images',
            { serviceType: service, httpStatus: res.status, responseData: res.body },
            { code: 'MISSING_EXPECTED_DATA' },
          );
        ctx.progress({ percent: 100, message: 'done' });
        return {
          images: data.map((d) => ({
            b64_json: d.b64_json ?? null,
            url: d.url ?? null,
            revised_prompt: d.revised_prompt ?? null,
          })),
          request_id: res.headers['x-request-id'] ?? null,
        };
      }

      const created = await call<Record<string, unknown>>(ctx, 'POST', '/responses', {
        ...p.params,
        model: p.model,
        input: p.input ?? p.prompt,
        ...(p.background ? { background: true } : {}),
      });
      let response = created;
      const firstRequestId = created.headers['x-request-id'];
      while (typeof response.body.status === 'string' && !TERMINAL.has(response.body.status)) {
        ctx.progress({
          percent: response.body.status === 'in_progress' ? 50 : 10,
          message: response.body.status,
        });
        await sleep(options.pollIntervalMs, ctx.signal);
        response = await call<Record<string, unknown>>(
          ctx,
          'GET',
          `/responses/${encodeURIComponent(String(created.body.id))}`,
        );
      }
      if (response.body.status !== 'completed' && response.body.status !== undefined) {
        // The provider reports an asynchronous failure (e.g. moderation_blocked) inside an HTTP 200.
        const requestId = response.headers['x-request-id'] ?? firstRequestId;
        throw new ConnectorError(
          `openai response ${JSON.stringify(response.body.id)} ended ${JSON.stringify(response.body.status)}`,
          {
            serviceType: service,
            httpStatus: response.status,
            responseData: response.body,
            headers: response.headers,
            ...(requestId ? { requestId } : {}),
          },
        );
      }
      ctx.progress({ percent: 100, message: 'done' });
      return {
        response_id: response.body.id ?? null,
        output: response.body.output ?? null,
        request_id: response.headers['x-request-id'] ?? firstRequestId ?? null,
      };
    },
  };
}
