import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  openaiReplies,
  startFakeComfyUI,
  startFakeOpenAI,
  startOtlpReceiver,
  startWebhookReceiver,
  TINY_PNG,
  waitFor,
} from '../../src/index.js';

describe('fake OpenAI', () => {
  it('answers chat completions and refuses a wrong key the way OpenAI does', async () => {
    await using fake = await startFakeOpenAI({ apiKey: 'sk-test-right' });
    const call = (key: string): Promise<Response> =>
      fetch(`${fake.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const ok = await call('sk-test-right');
    expect(ok.status).toBe(200);
    expect(
      ((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]
        ?.message.content,
    ).toBe('echo: hi');
    const denied = await call('sk-wrong');
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect(fake.requestsTo('POST /v1/chat/completions')).toHaveLength(2);
  });

  it('plays scripted replies in order, then returns to normal', async () => {
    await using fake = await startFakeOpenAI();
    fake.enqueue(
      'POST /v1/chat/completions',
      openaiReplies.rateLimited(3),
      openaiReplies.unavailable(),
    );
    const post = (): Promise<Response> =>
      fetch(`${fake.baseUrl}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [] }),
      });
    const first = await post();
    expect([first.status, first.headers.get('retry-after')]).toEqual([429, '3']);
    expect((await post()).status).toBe(503);
    expect((await post()).status).toBe(200);
  });

  it('drops a connection without answering', async () => {
    await using fake = await startFakeOpenAI();
    fake.enqueue('*', openaiReplies.drop());
    const error = await fetch(`${fake.baseUrl}/models`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(((error as Error).cause as { code?: string }).code).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
  });

  it('closes promptly even with a reply still hanging', async () => {
    const fake = await startFakeOpenAI();
    fake.enqueue('*', { hang: true });
    const pending = fetch(`${fake.baseUrl}/models`).catch((e: unknown) => e);
    await waitFor(() => fake.requests.length === 1, {
      timeoutMs: 5_000,
      what: 'the fake to receive the request',
    });
    const started = Date.now();
    await fake.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('runs a background response to a moderation_blocked failure inside an HTTP 200', async () => {
    await using fake = await startFakeOpenAI();
    const created = (await (
      await fetch(`${fake.baseUrl}/responses`, {
        method: 'POST',
        body: JSON.stringify({ model: 'gpt-image-1', input: 'x', background: true }),
      })
    ).json()) as { id: string; status: string };
    expect(created.status).toBe('queued');
    fake.enqueue('GET /v1/responses/:id', openaiReplies.moderationBlocked('req_abc123456789'));
    const polled = await fetch(`${fake.baseUrl}/responses/${created.id}`);
    expect(polled.status).toBe(200);
    expect(await polled.json()).toMatchObject({
      status: 'failed',
      error: { code: 'moderation_blocked' },
    });
  });
});

describe('fake ComfyUI', () => {
  it('runs a prompt with websocket progress, history and /view outputs', async () => {
    await using comfy = await startFakeComfyUI();
    const ws = new WebSocket(`${comfy.origin.replace('http', 'ws')}/ws?clientId=c1`);
    const messages: Array<{ type: string; data: Record<string, unknown> }> = [];
    ws.on('message', (raw: Buffer) =>
      messages.push(JSON.parse(raw.toString()) as { type: string; data: Record<string, unknown> }),
    );
    await new Promise((resolve) => ws.once('open', resolve));
    comfy.enqueuePrompt({ steps: 3 });
    const res = await fetch(`${comfy.origin}/prompt`, {
      method: 'POST',
      body: JSON.stringify({
        prompt: { '3': { class_type: 'KSampler', inputs: {} } },
        client_id: 'c1',
      }),
    });
    const { prompt_id } = (await res.json()) as { prompt_id: string };
    await waitFor(() => messages.some((m) => m.type === 'execution_success'), {
      timeoutMs: 5_000,
      what: 'execution_success on the websocket',
    });
    expect(messages.filter((m) => m.type === 'progress').map((m) => m.data.value)).toEqual([
      1, 2, 3,
    ]);
    const history = (await (await fetch(`${comfy.origin}/history/${prompt_id}`)).json()) as Record<
      string,
      { outputs: Record<string, { images: Array<{ filename: string }> }> }
    >;
    const image = history[prompt_id]?.outputs['9']?.images[0];
    const view = await fetch(
      `${comfy.origin}/view?filename=${image?.filename}&subfolder=&type=output`,
    );
    expect(Buffer.from(await view.arrayBuffer())).toEqual(TINY_PNG);
    ws.close();
  });

  it('reports a CUDA out-of-memory execution_error in history', async () => {
    await using comfy = await startFakeComfyUI({ websocket: false });
    comfy.enqueuePrompt({
      fail: {
        exception_type: 'torch.OutOfMemoryError',
        exception_message: 'CUDA out of memory. Tried to allocate 2.00 GiB.',
      },
    });
    const { prompt_id } = (await (
      await fetch(`${comfy.origin}/prompt`, {
        method: 'POST',
        body: JSON.stringify({ prompt: { '3': {} } }),
      })
    ).json()) as { prompt_id: string };
    const entry = await waitFor(
      async () =>
        (
          (await (await fetch(`${comfy.origin}/history/${prompt_id}`)).json()) as Record<
            string,
            { status: { status_str: string } }
          >
        )[prompt_id],
      { timeoutMs: 5_000, what: `prompt ${prompt_id} in the history` },
    );
    expect(entry.status.status_str).toBe('error');
    expect(JSON.stringify(entry)).toContain('CUDA out of memory');
  });
});

describe('slow replies', () => {
  it('delays the normal answer when given only a delay', async () => {
    await using fake = await startFakeOpenAI();
    fake.enqueue('GET /v1/models', openaiReplies.slow(150));
    const started = Date.now();
    const res = await fetch(`${fake.baseUrl}/models`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('list');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('webhook receiver outage', () => {
  it('refuses connections while down and takes requests on the same URL once up again', async () => {
    await using receiver = await startWebhookReceiver();
    const post = (body: string) =>
      fetch(receiver.url('/a'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': `msg_${body}` },
        body,
      });
    expect((await post('1')).status).toBe(200);
    await receiver.down();
    const refused = await post('2').then(
      () => 'answered',
      (error: Error) => String((error.cause as { code?: string } | undefined)?.code),
    );
    expect(refused).toBe('ECONNREFUSED');
    await receiver.up();
    expect((await post('3')).status).toBe(200);
    expect(receiver.accepted('/a').map((r) => r.id)).toEqual(['msg_1', 'msg_3']);
  });
});

describe('OTLP receiver outage', () => {
  it('answers an export it is handling when it goes down, then refuses connections until up', async () => {
    await using receiver = await startOtlpReceiver();
    // An export whose body is still arriving when the receiver goes down: an
    // ExportTraceServiceRequest with one empty ResourceSpans (field 1, length 0), sent in two parts.
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-length': '2' },
      });
      req.once('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.write(Buffer.from([0x0a]));
      waitFor(() => receiver.inFlight() === 1, { timeoutMs: 5_000, what: 'the export in flight' })
        .then(() => {
          const down = receiver.down();
          req.end(Buffer.from([0x00]));
          return down;
        })
        .catch(reject);
    });
    expect(await answer).toBe(200);
    expect(receiver.requests.map((r) => [r.path, r.status])).toEqual([['/v1/traces', 200]]);
    const refused = await fetch(`${receiver.url}/v1/traces`, { method: 'POST' }).then(
      () => 'answered',
      (error: Error) => String((error.cause as { code?: string } | undefined)?.code),
    );
    expect(refused).toBe('ECONNREFUSED');
    await receiver.up();
    expect((await fetch(`${receiver.url}/v1/metrics`, { method: 'POST' })).status).toBe(415);
  });
});
