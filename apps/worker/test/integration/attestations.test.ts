import {
  createAttestationStore,
  FailureReason,
  FailureType,
  InvalidAttestationError,
  readJobAttestations,
  readWorkflowAttestations,
} from '@jobgate/core';
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers.js';

const valid = {
  job_id: 'job-1',
  workflow_id: 'wf-1',
  step: 1,
  attempt: 1,
  max_attempts: 3,
  worker_id: 'w-1',
  machine_id: 'box-1',
  service_type: 'openai',
  customer_id: 'acme',
  failure_type: FailureType.RATE_LIMIT,
  failure_reason: FailureReason.REQUESTS_PER_MINUTE,
  failure_description: 'Rate limited (openai, HTTP 429)',
  message: 'HTTP 429 with Authorization: Bearer abcdef123456 and sk-live-abcdefghijklmnop',
  retryable: true,
  decision: 'retry' as const,
  decision_reason: 'transient',
  retry_after_ms: 1_000,
  started_at: 1,
  failed_at: 2,
};

describe('attestation store', () => {
  it('keeps attestations per job and per workflow, in order, with secrets redacted on write', async () => {
    await using h = await harness();
    const store = createAttestationStore({ redis: h.redis, namespace: h.namespace });
    await store.record(valid);
    await store.record({ ...valid, job_id: 'job-2', attempt: 2, decision: 'fail' });
    await store.record({ ...valid, job_id: 'job-3', workflow_id: 'wf-other' });
    const wf = await readWorkflowAttestations(h.redis, h.namespace, 'wf-1');
    expect(wf.map((a) => [a.job_id, a.attempt, a.decision])).toEqual([
      ['job-1', 1, 'retry'],
      ['job-2', 2, 'fail'],
    ]);
    const [one] = await readJobAttestations(h.redis, h.namespace, 'job-1');
    expect(one?.message).not.toMatch(/abcdef123456|abcdefghijklmnop/);
    expect(one?.attestation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await store.recent(2)).map((a) => a.job_id)).toEqual(['job-3', 'job-2']);
    // Histories expire: a namespace does not grow without bound.
    expect(await h.redis.ttl(`{${h.namespace}}:attestations:job:job-1`)).toBeGreaterThan(0);
  });

  it('rejects an invalid attestation with the bad fields named, writing nothing', async () => {
    await using h = await harness();
    const store = createAttestationStore({ redis: h.redis, namespace: h.namespace });
    const bad = { ...valid, attempt: 0, failure_type: 'oops' as never };
    const error = await store.record(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidAttestationError);
    expect((error as Error).message).toMatch(/attempt/);
    expect((error as Error).message).toMatch(/failure_type/);
    expect(await store.forJob('job-1')).toEqual([]);
    expect(await store.forWorkflow('wf-1')).toEqual([]);
  });
});
