import { FailureClassifier, FailureReason, FailureType, JobNotHeldError } from '@jobgate/core';
import { describe, expect, it } from 'vitest';
import { createRunning, holdLost, MissingConnectorError, runJob } from './job-run.js';
import type { Job, Queue } from '@jobgate/core';
import { silentLogger } from './logger.js';

const job = { id: 'j-1', service_required: 'svc', payload: {}, attempts: 1 } as unknown as Job;
const deps = {
  queue: {} as Queue,
  workerId: 'w-1',
  log: silentLogger,
  jobTimeoutMs: 60_000,
  progressEveryMs: 250,
};

describe('runJob', () => {
  it('a job no connector serves fails as a configuration error the classifier does not retry', async () => {
    const outcome = await runJob(createRunning(job), undefined, deps);
    expect(outcome.kind).toBe('failed');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(MissingConnectorError);
    expect(FailureClassifier.classify(error)).toMatchObject({
      failure_type: FailureType.SYSTEM_ERROR,
      failure_reason: FailureReason.CONFIG_ERROR,
      retryable: false,
    });
  });

  it('a job lost while it runs is aborted and dropped, not reported', async () => {
    const entry = createRunning(job);
    const outcome = runJob(
      entry,
      {
        kind: 'test',
        service: 'svc',
        run: (_job, ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
          }),
      },
      deps,
    );
    holdLost(entry, new JobNotHeldError('j-1', 'w-1', 'other_worker'));
    expect(await outcome).toEqual({ kind: 'dropped' });
    expect(entry.lost).toBe('other_worker');
    expect(entry.controller.signal.reason).toMatchObject({ name: 'LeaseLost' });
  });
});
