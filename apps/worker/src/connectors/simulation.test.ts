import type { Job } from '@jobgate/core';
import { FailureClassifier } from '@jobgate/core';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { createSimulationConnector } from './simulation.js';
import { ConnectorError, type ProgressUpdate } from './types.js';

const job = (payload: unknown, attempts = 1): Job =>
  ({ id: 'j1', attempts, payload }) as unknown as Job;

function context(): {
  updates: ProgressUpdate[];
  ctx: Parameters<ReturnType<typeof createSimulationConnector>['run']>[1];
} {
  const updates: ProgressUpdate[] = [];
  return {
    updates,
    ctx: {
      signal: new AbortController().signal,
      progress: (u) => updates.push(u),
      log: silentLogger,
      workerId: 'w',
    },
  };
}

describe('simulation connector', () => {
  it('reports one progress update per step and returns the scripted result', async () => {
    const { updates, ctx } = context();
    const result = await createSimulationConnector().run(
      job({ steps: 4, result: { image: 'x' } }),
      ctx,
    );
    expect(result).toEqual({ image: 'x' });
    expect(updates.map((u) => u.percent)).toEqual([25, 50, 75, 100]);
  });

  it('fails only on the scripted attempts, with the context the classifier needs', async () => {
    const payload = {
      steps: 2,
      fail: {
        message: 'Too Many Requests',
        http_status: 429,
        headers: { 'retry-after': '3' },
        on_attempts: [1],
        after_step: 1,
      },
    };
    const first = context();
    const error = await createSimulationConnector()
      .run(job(payload, 1), first.ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(first.updates).toHaveLength(1);
    const classification = FailureClassifier.classify(error, (error as ConnectorError).context);
    expect(classification).toMatchObject({
      failure_type: 'rate_limit',
      retryable: true,
      retry_after_ms: 3_000,
    });
    await expect(
      createSimulationConnector().run(job(payload, 2), context().ctx),
    ).resolves.toMatchObject({ simulated: true, attempt: 2 });
  });

  it('rejects a malformed payload as a permanent validation error', async () => {
    const error = await createSimulationConnector()
      .run(job({ duration_ms: -5, steps: 'many' }), context().ctx)
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/duration_ms.*steps|steps.*duration_ms/s);
    const classification = FailureClassifier.classify(error, (error as ConnectorError).context);
    expect(classification).toMatchObject({
      failure_type: 'validation_error',
      failure_reason: 'invalid_payload',
      retryable: false,
    });
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    const running = createSimulationConnector().run(job({ duration_ms: 60_000, steps: 10 }), {
      ...context().ctx,
      signal: controller.signal,
    });
    controller.abort(new Error('cancelled'));
    await expect(running).rejects.toThrow('cancelled');
  });
});
