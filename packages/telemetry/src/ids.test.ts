import { describe, expect, it } from 'vitest';
import { attemptSpanIdFor, jobSpanIdFor, traceIdFor } from './ids.js';

describe('ids', () => {
  // Pinned: every process (collector, worker, service) and every version must name the same trace.
  it('are SHA-256 prefixes of the job identity, the same in every version', () => {
    expect(traceIdFor('jq', { job_id: 'j1', workflow_id: 'wf-1', customer_id: 'acme' })).toBe(
      '188f015358bc74c45bfeb81be21a5198',
    );
    expect(traceIdFor('jq', { job_id: 'j1', workflow_id: 'wf-1', customer_id: null })).toBe(
      '0070a0b2530cc408a28a1ef3e5ab78eb',
    );
    expect(traceIdFor('jq', { job_id: 'j1', workflow_id: null, customer_id: 'acme' })).toBe(
      'ef231408c502e7a2bd3057961af9f17c',
    );
    expect(jobSpanIdFor('jq', 'j1')).toBe('a1a21893e4f9194b');
    expect(attemptSpanIdFor('jq', 'j1', '1733200000000-0')).toBe('56f2ededdadd1a4b');
  });
});
