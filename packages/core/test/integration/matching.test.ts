import { drain } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import type { Requirements, SubmitInput, WorkerSpec } from '../../src/index.js';
import { testQueue, worker } from './helpers.js';

interface Rule {
  name: string;
  job: Partial<SubmitInput> & { requirements?: Requirements };
  yes: Partial<WorkerSpec>;
  no: Partial<WorkerSpec>;
}

const rules: Rule[] = [
  {
    name: 'service_required is one of the worker services',
    job: { service_required: 'comfyui' },
    yes: { services: ['openai', 'comfyui'] },
    no: { services: ['openai'] },
  },
  {
    name: 'hardware minimum met (gpu_memory_gb)',
    job: { requirements: { hardware: { gpu_memory_gb: 24 } } },
    yes: { hardware: { gpu_memory_gb: 24 } },
    no: { hardware: { gpu_memory_gb: 16 } },
  },
  {
    name: 'every hardware minimum met',
    job: { requirements: { hardware: { cpu_cores: 8, ram_gb: 32 } } },
    yes: { hardware: { cpu_cores: 16, ram_gb: 32 } },
    no: { hardware: { cpu_cores: 16 } },
  },
  {
    name: 'every model present for the service',
    job: { requirements: { models: ['sdxl', 'flux'] } },
    yes: { models: { svc: ['flux', 'sdxl', 'x'] } },
    no: { models: { svc: ['sdxl'], other: ['flux'] } },
  },
  {
    name: 'strict isolation needs a strict worker',
    job: { customer_id: 'acme', requirements: { customer_isolation: 'strict' } },
    yes: { customer_access: { isolation: 'strict' } },
    no: { customer_access: { isolation: 'loose' } },
  },
  {
    name: 'customer in allowed_customers',
    job: { customer_id: 'acme' },
    yes: { customer_access: { isolation: 'loose', allowed_customers: ['acme'] } },
    no: { customer_access: { isolation: 'loose', allowed_customers: ['globex'] } },
  },
  {
    name: 'a job without customer is not in an allow list',
    job: {},
    yes: { customer_access: { isolation: 'none' } },
    no: { customer_access: { isolation: 'none', allowed_customers: ['acme'] } },
  },
  {
    name: 'customer not in denied_customers',
    job: { customer_id: 'acme' },
    yes: { customer_access: { isolation: 'loose', denied_customers: ['globex'] } },
    no: { customer_access: { isolation: 'loose', denied_customers: ['acme'] } },
  },
  {
    name: 'workflow-pinned worker takes only its workflow',
    job: { workflow_id: 'wf-1' },
    yes: { workflow_id: 'wf-1' },
    no: { workflow_id: 'wf-2' },
  },
  {
    name: 'custom array: worker has all items',
    job: { requirements: { features: ['lora', 'upscale'] } },
    yes: { capabilities: { features: ['upscale', 'lora', 'video'] } },
    no: { capabilities: { features: ['lora'] } },
  },
  {
    name: 'custom number: worker has at least',
    job: { requirements: { max_resolution: 2048 } },
    yes: { capabilities: { max_resolution: 4096 } },
    no: { capabilities: { max_resolution: 1024 } },
  },
  {
    name: 'custom string: equal',
    job: { requirements: { region: 'eu' } },
    yes: { capabilities: { region: 'eu' } },
    no: { capabilities: { region: 'us' } },
  },
  {
    name: 'custom boolean: equal',
    job: { requirements: { nsfw_filter: true } },
    yes: { capabilities: { nsfw_filter: true } },
    no: { capabilities: { nsfw_filter: false } },
  },
  {
    name: 'custom requirement missing on the worker',
    job: { requirements: { region: 'eu' } },
    yes: { capabilities: { region: 'eu' } },
    no: {},
  },
  {
    name: 'negative requirement must not match',
    job: { requirements: { not: { provider: 'spot' } } },
    yes: { capabilities: { provider: 'on-demand' } },
    no: { capabilities: { provider: 'spot' } },
  },
  {
    name: 'negative array requirement',
    job: { requirements: { not: { tags: ['preemptible'] } } },
    yes: { capabilities: { tags: ['gpu'] } },
    no: { capabilities: { tags: ['gpu', 'preemptible'] } },
  },
];

describe('matching rules (jobgate_claim)', () => {
  it.each(rules)('$name', async (rule) => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({
      service_required: 'svc',
      priority: 1,
      payload: { n: 1 },
      ...rule.job,
    });
    // The non-matching worker first: it must get nothing and leave the job pending.
    expect(await t.queue.claim(worker(rule.no))).toBeNull();
    expect((await t.queue.get(id))?.status).toBe('pending');
    const job = await t.queue.claim(worker(rule.yes));
    expect(job?.id).toBe(id);
    expect(job?.status).toBe('active');
    expect(job?.payload).toEqual({ n: 1 });
  });

  it('a strict worker still takes jobs that do not ask for isolation (only allow/deny lists restrict it)', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', customer_id: 'acme' });
    expect(
      (
        await t.queue.claim(
          worker({ customer_access: { isolation: 'strict', allowed_customers: ['acme'] } }),
        )
      )?.id,
    ).toBe(id);
  });

  it('a worker without the workflow pin takes workflow jobs too', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', workflow_id: 'wf-9' });
    expect((await t.queue.claim(worker()))?.id).toBe(id);
  });

  // 3,000 submits and claims: seconds alone, longer with ten packages' suites on two cores.
  it(
    'gives the highest priority first and first-submitted among equals, exactly, over 3,000 jobs',
    { timeout: 120_000 },
    async () => {
      await using t = await testQueue();
      const inputs: SubmitInput[] = [];
      // Mixed services and requirement buckets, so order must hold across buckets too.
      for (let i = 0; i < 3_000; i++) {
        inputs.push({
          service_required: i % 3 === 0 ? 'svc' : 'svc2',
          priority: (i * 7919) % 10,
          payload: { i },
          requirements: i % 5 === 0 ? { region: 'eu' } : {},
        });
      }
      await t.queue.submitMany(inputs);
      const expected = inputs
        .map((input, i) => ({ i, priority: input.priority! }))
        .sort((a, b) => b.priority - a.priority || a.i - b.i)
        .map((x) => x.i);
      const w = worker({ services: ['svc', 'svc2'], capabilities: { region: 'eu' } });
      const claimed = await drain(() => t.queue.claim(w), {
        max: inputs.length,
        id: (j) => j.id,
        what: 'claims',
      });
      const got = claimed.map((job) => (job.payload as { i: number }).i);
      expect(got).toEqual(expected);
    },
  );

  it('keeps exact order with hundreds of buckets (the per-service head lookup)', async () => {
    await using t = await testQueue();
    // 300 customers -> 300 buckets: more than the bucket-head walk is used for.
    const inputs: SubmitInput[] = Array.from({ length: 1_200 }, (_, i) => ({
      service_required: i % 2 ? 'svc' : 'svc2',
      priority: (i * 31) % 7,
      customer_id: `c-${i % 300}`,
      payload: { i },
    }));
    await t.queue.submitMany(inputs);
    // Denying c-0 makes its bucket unrunnable; everything else must come out in exact order.
    const w = worker({
      services: ['svc', 'svc2'],
      customer_access: { isolation: 'loose', denied_customers: ['c-0'] },
    });
    const expected = inputs
      .map((input, i) => ({ i, priority: input.priority!, customer: input.customer_id }))
      .filter((x) => x.customer !== 'c-0')
      .sort((a, b) => b.priority - a.priority || a.i - b.i)
      .map((x) => x.i);
    const claimed = await drain(() => t.queue.claim(w), {
      max: expected.length,
      id: (j) => j.id,
      what: 'claims',
    });
    const got = claimed.map((job) => (job.payload as { i: number }).i);
    expect(got).toEqual(expected);
    expect((await t.queue.counts()).pending).toBe(4);
  });

  // A worker of one or two services searches its own services' buckets first (library version
  // 15); the heads of the 30 other services, all of higher priority, sort ahead of every one of
  // its jobs in the global head list. The answer must not change: exact priority, then FIFO.
  describe('a worker of few services among many other services', () => {
    const others = Array.from({ length: 30 }, (_, i) => `other-${i}`);
    function workload(): SubmitInput[] {
      const inputs: SubmitInput[] = [];
      for (let i = 0; i < 600; i++) {
        const own = i % 4 === 0;
        inputs.push({
          // Every fourth job is one of the worker's services (mine-a, mine-b alternating);
          // the others all carry a higher priority than any of the worker's jobs.
          service_required: own ? (i % 8 === 0 ? 'mine-a' : 'mine-b') : others[i % others.length]!,
          priority: own ? (i * 7) % 5 : 10 + (i % 3),
          // Three requirement buckets per service, one of which the worker cannot run.
          customer_id: `c-${i % 3}`,
          payload: { i },
        });
      }
      return inputs;
    }
    const runnable = (input: SubmitInput, services: string[]): boolean =>
      services.includes(input.service_required) && input.customer_id !== 'c-2';
    const expectedOrder = (inputs: SubmitInput[], services: string[]): number[] =>
      inputs
        .map((input, i) => ({ i, input }))
        .filter(({ input }) => runnable(input, services))
        .sort((a, b) => b.input.priority! - a.input.priority! || a.i - b.i)
        .map(({ i }) => i);

    it.each([
      ['one service', ['mine-a']],
      ['two services (exact priority across both)', ['mine-a', 'mine-b']],
      ['three services (the global head list)', ['mine-a', 'mine-b', 'other-0']],
    ])(
      '%s: every runnable job in exact priority and FIFO order, none of another service',
      async (_, services) => {
        await using t = await testQueue();
        const inputs = workload();
        await t.queue.submitMany(inputs);
        const w = worker({
          services,
          customer_access: { isolation: 'loose', denied_customers: ['c-2'] },
        });
        const expected = expectedOrder(inputs, services);
        // Both own services have jobs, so the two-service case really interleaves them.
        expect(new Set(expected.map((i) => inputs[i]!.service_required)).size).toBe(
          services.length,
        );
        const claimed = await drain(() => t.queue.claim(w), {
          max: expected.length,
          id: (j) => j.id,
          what: 'claims',
        });
        expect(claimed.map((job) => (job.payload as { i: number }).i)).toEqual(expected);
        // What it may not run stays pending: the denied bucket and every other service.
        expect((await t.queue.counts()).pending).toBe(inputs.length - expected.length);
      },
    );

    it('a single-service worker gets its newest higher-priority job before older lower ones, with completions in between', async () => {
      await using t = await testQueue();
      await t.queue.submitMany(workload());
      const w = worker({ services: ['mine-a'] });
      const first = await t.queue.claim(w);
      expect(first?.priority).toBe(4);
      // A later, higher-priority job of its own service comes next, ahead of older ones and ahead
      // of the other services' still higher heads (which it does not serve).
      const late = await t.queue.submit({ service_required: 'mine-a', priority: 9 });
      const late2 = await t.queue.submit({ service_required: 'mine-a', priority: 9 });
      const next = await t.queue.completeAndClaim(first!.id, w.worker_id, null, w);
      expect(next?.id).toBe(late.id);
      const after = await t.queue.completeAndClaim(next!.id, w.worker_id, null, w);
      expect(after?.id).toBe(late2.id);
    });
  });

  it('keeps priorities beyond 2^53 apart and FIFO within them', async () => {
    await using t = await testQueue();
    const max = Number.MAX_SAFE_INTEGER;
    const a = await t.queue.submit({ service_required: 'svc', priority: max - 1 });
    const b = await t.queue.submit({ service_required: 'svc', priority: max });
    const c = await t.queue.submit({ service_required: 'svc', priority: max - 1 });
    const d = await t.queue.submit({ service_required: 'svc', priority: -max });
    const w = worker();
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await t.queue.claim(w))?.id);
    expect(order).toEqual([b.id, a.id, c.id, d.id]);
  });

  it('finds a runnable job behind 10,000 higher-priority jobs the worker cannot run', async () => {
    await using t = await testQueue();
    const blockers: SubmitInput[] = [];
    for (let i = 0; i < 10_000; i++) {
      // Half share one bucket, half are spread over 5,000 customer buckets the worker denies.
      blockers.push(
        i % 2 === 0
          ? { service_required: 'svc', priority: 100, requirements: { models: ['huge-model'] } }
          : { service_required: 'svc', priority: 100, customer_id: `c-${i}` },
      );
    }
    await t.queue.submitMany(blockers);
    const target = await t.queue.submit({
      service_required: 'svc',
      priority: 1,
      customer_id: 'acme',
      payload: { deep: true },
    });
    const w = worker({
      models: { svc: ['small-model'] },
      customer_access: { isolation: 'loose', allowed_customers: ['acme'] },
    });
    const job = await t.queue.claim(w);
    expect(job?.id).toBe(target.id);
    expect((await t.queue.counts()).pending).toBe(10_000);
  });

  it('a workflow-pinned worker finds its job behind 2,000 jobs of its workflow it cannot run', async () => {
    await using t = await testQueue();
    await t.queue.submitMany(
      Array.from({ length: 2_000 }, () => ({
        service_required: 'svc',
        priority: 5,
        workflow_id: 'wf',
        requirements: { gpu: 'h100' },
      })),
    );
    await t.queue.submit({ service_required: 'svc', priority: 9, workflow_id: 'other' });
    const target = await t.queue.submit({
      service_required: 'svc',
      priority: 1,
      workflow_id: 'wf',
    });
    expect(
      (await t.queue.claim(worker({ workflow_id: 'wf', capabilities: { gpu: 'a10' } })))?.id,
    ).toBe(target.id);
  });
});
