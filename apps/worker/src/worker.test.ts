import type { Queue } from '@jobgate/core';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createSimulationConnector } from './connectors/simulation.js';
import { createWorker, type WorkerOptions } from './worker.js';

// Building a worker touches neither Redis nor the queue; only start() does.
const queue = { namespace: 'jq' } as unknown as Queue;
const redis = {} as Redis;
const base = (over: Partial<WorkerOptions> = {}): WorkerOptions => ({
  queue,
  redis,
  capabilities: { worker_id: 'w-1' },
  connectors: [createSimulationConnector({ models: ['sim-v1'] })],
  ...over,
});

describe('createWorker', () => {
  it('claims exactly the services it has connectors for, with their models', () => {
    const worker = createWorker(
      base({
        capabilities: { worker_id: 'w-1', services: ['comfyui'], hardware: { gpu_memory_gb: 24 } },
      }),
    );
    expect(worker.spec).toEqual({
      worker_id: 'w-1',
      services: ['simulation'],
      hardware: { gpu_memory_gb: 24 },
      models: { simulation: ['sim-v1'] },
    });
  });

  it.each([
    [{ concurrency: 0 }, /concurrency must be a positive integer/],
    [{ leaseMs: 50 }, /leaseMs must be an integer >= 100/],
    [
      { leaseMs: 1_000, heartbeatEveryMs: 1_000 },
      /heartbeatEveryMs \(1000\) must be shorter than leaseMs/,
    ],
    [{ connectors: [] }, /at least one connector/],
    [
      { connectors: [createSimulationConnector(), createSimulationConnector()] },
      /two connectors serve simulation/,
    ],
  ] as Array<[Partial<WorkerOptions>, RegExp]>)('rejects %o', (over, message) => {
    expect(() => createWorker(base(over))).toThrow(message);
  });

  it('accepts a short lease because the default heartbeat is a third of it', () => {
    expect(() => createWorker(base({ leaseMs: 300 }))).not.toThrow();
  });
});
