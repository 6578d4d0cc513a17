import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createQueue, createReaper, type Queue } from '@jobgate/core';
import { CHROMIUM_TEST_ARGS, dropNamespace, uniqueNamespace } from '@jobgate/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorKeyStore } from '../../src/operator-keys.js';
import { createMonitor } from '../../src/server.js';

const SHOTS = new URL('../../.test-results/e2e/screenshots/', import.meta.url).pathname;
let redis: Redis;
let queue: Queue;
let app: FastifyInstance;
let browser: Browser;
let page: Page;
let base: string;
let namespace: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  redis = new Redis(process.env.REDIS_URL!);
  namespace = uniqueNamespace('mon-e2e');
  queue = await createQueue({ redis, namespace });
  app = await createMonitor({ redis, queue, namespace, tickMs: 500 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const key = (await new OperatorKeyStore(redis, namespace).create('operator', 'e2e')).key;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_TEST_ARGS],
  });
  page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${base}/jobs`);
  expect(page.url()).toBe(`${base}/login`);
  await page.fill('input[name=key]', key);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button')]);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await queue?.close();
  if (redis) await dropNamespace(redis, namespace);
  redis?.disconnect();
});

const status = (p: Page) =>
  p.locator('#job-status [data-status]').getAttribute('data-status', { timeout: 5_000 });

describe('the monitor in a browser', () => {
  it('every page opens; a screenshot of each is kept', async () => {
    await queue.submit({ service_required: 'comfyui', workflow_id: 'wf-shot', step: 1 });
    for (const [path, name] of [
      ['/', 'overview'],
      ['/workers', 'workers'],
      ['/jobs', 'jobs'],
      ['/workflows/wf-shot', 'workflow'],
      ['/redis', 'redis'],
    ] as const) {
      const response = await page.goto(`${base}${path}`);
      expect(response?.status(), path).toBe(200);
      await page.locator('#live.up').waitFor({ timeout: 5_000 });
      await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
    }
  });

  it('a submitted job moves through its states on the open page, without reloads', async () => {
    const { id } = await queue.submit({ service_required: 'simulation' });
    await page.goto(`${base}/jobs/${id}`);
    await page.locator('#live.up').waitFor({ timeout: 5_000 });
    expect(await status(page)).toBe('pending');
    const w = { worker_id: 'e2e-worker', services: ['simulation'] };
    await queue.claim(w);
    await page.locator('#job-status [data-status=active]').waitFor({ timeout: 5_000 });
    await queue.complete(id, 'e2e-worker', { ok: true });
    await page.locator('#job-status [data-status=completed]').waitFor({ timeout: 5_000 });
    await page.locator('[data-event="job.completed"]').waitFor({ timeout: 5_000 });
    await page.screenshot({ path: `${SHOTS}job-detail.png`, fullPage: true });
  });

  it('cancels a job from its page, confirmed, and the overview records the action', async () => {
    const { id } = await queue.submit({ service_required: 'simulation' });
    await page.goto(`${base}/jobs/${id}`);
    await Promise.all([page.waitForURL(`${base}/jobs/${id}`), page.click('#action-cancel')]);
    await page.locator('#job-status [data-status=cancelled]').waitFor({ timeout: 5_000 });
    expect((await queue.get(id))?.status).toBe('cancelled');
    await page.goto(`${base}/`);
    await page.getByText('cancelled', { exact: true }).first().waitFor({ timeout: 5_000 });
  });

  it("shows a killed worker's job as stuck, then requeued by the reaper, live", async () => {
    const { id } = await queue.submit({ service_required: 'simulation', max_attempts: 3 });
    // A worker that claims and then dies: no heartbeat, no completion.
    await queue.claim({ worker_id: 'killed-worker', services: ['simulation'] }, { leaseMs: 1_000 });
    await page.goto(`${base}/workers`);
    await page.locator('[data-lost-worker="killed-worker"]').waitFor({ timeout: 5_000 });
    await page.goto(`${base}/jobs/${id}`);
    await page
      .getByText(/lease expired \d+ s ago; worker killed-worker is gone/)
      .waitFor({ timeout: 5_000 });
    const reaper = createReaper({ redis, queue, intervalMs: 200, lockTtlMs: 2_000 });
    reaper.start();
    try {
      await page.locator('#job-status [data-status=pending]').waitFor({ timeout: 5_000 });
      await page.locator('[data-event="job.stalled"]').waitFor({ timeout: 5_000 });
      await page.screenshot({ path: `${SHOTS}job-requeued.png`, fullPage: true });
    } finally {
      await reaper.stop();
    }
  });
});
