import { startFakeComfyUI, waitFor } from '@jobgate/testkit';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createComfyUIConnector } from '../../src/connectors/comfyui.js';
import { harness } from '../helpers.js';

const workflow = {
  '3': { class_type: 'KSampler', inputs: { seed: 1, steps: 4 } },
  '9': { class_type: 'SaveImage', inputs: { images: ['8', 0] } },
};

async function setup(options: { websocket?: boolean; connectorWebsocket?: boolean } = {}) {
  const comfy = await startFakeComfyUI(
    options.websocket === undefined ? {} : { websocket: options.websocket },
  );
  const h = await harness();
  await h.startWorker([
    createComfyUIConnector({
      baseUrl: comfy.origin,
      requestTimeoutMs: 2_000,
      pollIntervalMs: 20,
      websocket: options.connectorWebsocket ?? true,
    }),
  ]);
  return {
    comfy,
    h,
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await comfy.close();
    },
  };
}

describe('comfyui connector against a fake ComfyUI', () => {
  it('submits, follows websocket progress and fetches the outputs', async () => {
    await using env = await setup();
    env.comfy.enqueuePrompt({ steps: 5, stepDelayMs: 40, images: 2 });
    const { id } = await env.h.queue.submit({ service_required: 'comfyui', payload: { workflow } });
    const job = await env.h.waitForJob(id, (j) => j.status === 'completed');
    const result = job.result as {
      prompt_id: string;
      outputs: Array<{ filename: string; size: number; sha256: string; content_type: string }>;
    };
    expect(result.prompt_id).toBe(env.comfy.prompts()[0]);
    expect(result.outputs).toHaveLength(2);
    for (const output of result.outputs)
      expect(output).toMatchObject({ size: 70, content_type: 'image/png' });
    expect(env.comfy.requestsTo('GET /view')).toHaveLength(2);
    const body = env.comfy.requestsTo('POST /prompt')[0]?.body as {
      prompt: unknown;
      client_id: string;
    };
    expect(body.prompt).toEqual(workflow);
    const progress = (await env.h.queue.readEvents()).filter(
      (e) => e.job_id === id && e.type === 'job.progress',
    );
    expect(progress.length).toBeGreaterThanOrEqual(2);
    // With a live websocket the connector does not poll /history on every step.
    expect(env.comfy.requestsTo('GET /history/:id').length).toBeLessThanOrEqual(3);
  });

  it('falls back to /history polling when the websocket is refused', async () => {
    await using env = await setup({ websocket: false });
    env.comfy.enqueuePrompt({ steps: 3, stepDelayMs: 30 });
    const { id } = await env.h.queue.submit({ service_required: 'comfyui', payload: { workflow } });
    const job = await env.h.waitForJob(id, (j) => j.status === 'completed');
    expect((job.result as { outputs: unknown[] }).outputs).toHaveLength(1);
    expect(env.comfy.requestsTo('GET /history/:id').length).toBeGreaterThan(1);
  });

  it('still completes when the websocket drops mid-run', async () => {
    await using env = await setup();
    env.comfy.enqueuePrompt({ steps: 6, stepDelayMs: 30, dropWebsocketAfterStep: 2 });
    const { id } = await env.h.queue.submit({ service_required: 'comfyui', payload: { workflow } });
    await env.h.waitForJob(id, (j) => j.status === 'completed');
  });

  it('classifies CUDA out of memory from the history as a retryable GPU memory limit', async () => {
    await using env = await setup();
    env.comfy.enqueuePrompt({
      fail: {
        exception_type: 'torch.OutOfMemoryError',
        exception_message:
          'Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated: 21.3 GiB',
      },
    });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 2,
      payload: { workflow },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'completed');
    expect(job.attempts).toBe(2);
    expect(await env.h.attestations(id)).toMatchObject([
      {
        failure_type: 'resource_limit',
        failure_reason: 'gpu_memory_full',
        decision: 'retry',
        service_type: 'comfyui',
      },
    ]);
  });

  it('fails at once when a checkpoint is not installed (prompt validation, HTTP 400)', async () => {
    await using env = await setup();
    env.comfy.enqueue('POST /prompt', {
      status: 400,
      json: {
        error: {
          type: 'prompt_outputs_failed_validation',
          message: 'Prompt outputs failed validation',
          details: '',
          extra_info: {},
        },
        node_errors: {
          '4': {
            errors: [
              {
                type: 'value_not_in_list',
                message: 'Value not in list',
                details: "ckpt_name: 'flux-dev.safetensors' not in ['sd15.safetensors']",
              },
            ],
            dependent_outputs: ['9'],
            class_type: 'CheckpointLoaderSimple',
          },
        },
      },
    });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 3,
      payload: { workflow },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.attempts).toBe(1);
    expect(job.last_failure).toMatchObject({
      failure_type: 'validation_error',
      failure_reason: 'model_not_found',
      retryable: false,
    });
    expect(job.last_failure?.message).toContain('flux-dev.safetensors');
  });

  it('retries a 503 from POST /prompt', async () => {
    await using env = await setup();
    env.comfy.enqueue('POST /prompt', { status: 503, text: 'Service Unavailable' });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 2,
      payload: { workflow },
    });
    await env.h.waitForJob(id, (j) => j.status === 'completed');
    expect(await env.h.attestations(id)).toMatchObject([
      { failure_type: 'service_error', failure_reason: 'service_unavailable', decision: 'retry' },
    ]);
  });

  it('reports an output that /view cannot serve as missing data', async () => {
    await using env = await setup();
    env.comfy.enqueuePrompt({ missingOutput: true });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 1,
      payload: { workflow },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.last_failure).toMatchObject({
      failure_type: 'response_error',
      failure_reason: 'missing_expected_data',
    });
  });

  it('interrupts ComfyUI when the job times out', async () => {
    await using env = await setup();
    env.comfy.enqueuePrompt({ neverFinish: true, stepDelayMs: 20 });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 1,
      // Long enough for the websocket and POST /prompt on a loaded machine (at 300 ms a soak's
      // level timed the job out before the prompt was sent, in 2 of 20 runs).
      payload: { workflow, timeout_ms: 1_500 },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.last_failure).toMatchObject({
      failure_type: 'timeout',
      failure_reason: 'job_timeout',
    });
    await waitFor(() => env.comfy.requestsTo('POST /interrupt').length === 1, {
      timeoutMs: 5_000,
      what: 'the timed-out prompt interrupted on ComfyUI',
    });
    expect(env.comfy.requestsTo('POST /interrupt')[0]?.body).toEqual({
      prompt_id: env.comfy.prompts()[0],
    });
  });

  it('interrupts a prompt ComfyUI accepted after the job had timed out (POST /prompt still in flight)', async () => {
    await using env = await setup();
    // A busy ComfyUI answers the POST a second after the job's deadline and queues the prompt
    // then: it must not be left running on the GPU with nobody waiting for it.
    env.comfy.enqueue('POST /prompt', { delayMs: 1_000 });
    env.comfy.enqueuePrompt({ neverFinish: true, stepDelayMs: 20 });
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 1,
      payload: { workflow, timeout_ms: 200 },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.last_failure).toMatchObject({ failure_reason: 'job_timeout' });
    await waitFor(() => env.comfy.requestsTo('POST /interrupt').length === 1, {
      timeoutMs: 10_000,
      what: 'the prompt accepted late interrupted on ComfyUI',
    });
    const sent = env.comfy.requestsTo('POST /prompt')[0]?.body as { prompt_id?: string };
    expect(env.comfy.prompts()).toEqual([sent.prompt_id]);
    expect(env.comfy.requestsTo('POST /interrupt')[0]?.body).toEqual({
      prompt_id: sent.prompt_id,
    });
    expect(env.comfy.requestsTo('POST /queue')[0]?.body).toEqual({ delete: [sent.prompt_id] });
  });

  it('classifies an unreachable ComfyUI as a connection failure', async () => {
    // A port that was just free and is closed again: connecting is refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const h = await harness();
    try {
      await h.startWorker([
        createComfyUIConnector({
          baseUrl: `http://127.0.0.1:${port}`,
          requestTimeoutMs: 1_000,
          pollIntervalMs: 20,
          websocket: true,
        }),
      ]);
      const { id } = await h.queue.submit({
        service_required: 'comfyui',
        max_attempts: 1,
        payload: { workflow },
      });
      const job = await h.waitForJob(id, (j) => j.status === 'failed');
      expect(job.last_failure).toMatchObject({
        failure_type: 'network_error',
        failure_reason: 'connection_failed',
      });
      expect((await h.attestations(id))[0]?.message).toContain('ECONNREFUSED');
    } finally {
      await h[Symbol.asyncDispose]();
    }
  });

  it('rejects a payload without a workflow as invalid, without calling ComfyUI', async () => {
    await using env = await setup();
    const { id } = await env.h.queue.submit({
      service_required: 'comfyui',
      max_attempts: 3,
      payload: { prompt: 'a cat' },
    });
    const job = await env.h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.last_failure).toMatchObject({ failure_type: 'validation_error', retryable: false });
    expect(env.comfy.requestsTo('POST /prompt')).toHaveLength(0);
  });
});
