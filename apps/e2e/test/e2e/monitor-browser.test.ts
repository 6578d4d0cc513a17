import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '@jobgate/api';
import { registryKeys, type WorkerRecord } from '@jobgate/core';
import { OperatorKeyStore } from '@jobgate/monitor';
import { CHROMIUM_TEST_ARGS, dropNamespace, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Stack } from '@jobgate/testkit/stack';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

/**
 * The monitor in Chromium against the real stack: the API, a worker and the monitor run as their
 * built bundles (`dist/main.js`, what `pnpm start` runs), each its own process on the e2e Redis.
 * A job is submitted over HTTP and watched on its monitor page, and the worker is drained and
 * undrained with the page's buttons.
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../.test-results/e2e/screenshots/', import.meta.url));
const BUNDLED = ['api', 'worker', 'monitor'] as const;

// Under plain node, as `pnpm start` runs them (tsx's loader would only add its start-up cost).
const bundles = Object.fromEntries(BUNDLED.map((s) => [s, `${root}apps/${s}/dist/main.js`]));

let stack: Stack;
let namespace: string;
let browser: Browser;
let customerKey: string;
let operatorKey: string;
let monitor: string;
const workerId = 'browser-w1';

beforeAll(async () => {
  const missing = BUNDLED.filter((s) => !existsSync(`${root}apps/${s}/dist/main.js`));
  if (missing.length > 0)
    throw new Error(
      `no bundle for ${missing.join(', ')}: build first (turbo's test:e2e does, through ^build; ` +
        `by hand: pnpm --filter @jobgate/api --filter @jobgate/worker --filter @jobgate/monitor build)`,
    );
  mkdirSync(SHOTS, { recursive: true });
  namespace = uniqueNamespace('e2e-mon');
  stack = new Stack({ redisUrl: process.env.REDIS_URL!, namespace, mode: 'test', bundles });
  await stack.start('api');
  await stack.start('worker', { instance: workerId });
  await stack.start('monitor', { env: { REAPER_INTERVAL_MS: '500' } });
  monitor = stack.urls.monitor!;
  customerKey = (await new ApiKeyStore(stack.redis, namespace, 0).create('acme')).key;
  operatorKey = (await new OperatorKeyStore(stack.redis, namespace).create('operator', 'on-call'))
    .key;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_TEST_ARGS],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stopApps();
  if (stack) await dropNamespace(stack.redis, namespace).catch(() => undefined);
  await stack?.stop();
});

async function signIn(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  // The page's confirm() for actions: the operator says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${monitor}/login`);
  await page.fill('input[name=key]', operatorKey);
  await Promise.all([page.waitForURL(`${monitor}/`), page.click('button')]);
  return page;
}

async function workerRecord(): Promise<WorkerRecord | null> {
  const raw = await stack.redis.get(registryKeys(namespace).worker(workerId));
  return raw === null ? null : (JSON.parse(raw) as WorkerRecord);
}

it('a job submitted over HTTP moves through its states live; a worker drained from the page stops claiming until undrained', async () => {
  const workers = await signIn();
  await workers.goto(`${monitor}/workers`);
  await workers.locator('#live.up').waitFor({ timeout: 10_000 });
  const status = workers.locator(`[data-worker-status="${workerId}"]`);
  await status.filter({ hasText: /^idle$/ }).waitFor({ timeout: 10_000 });

  // Drain from the page (confirmed in a dialog); the worker shows it at its next heartbeat.
  await Promise.all([
    workers.waitForURL(`${monitor}/workers`),
    workers.click(`[data-worker-action="${workerId}"]`),
  ]);
  await status.filter({ hasText: /^drained$/ }).waitFor({ timeout: 10_000 });
  await workers.getByText('drained by on-call').waitFor({ timeout: 5_000 });
  await workers.screenshot({ path: `${SHOTS}workers-drained.png`, fullPage: true });

  const response = await fetch(`${stack.urls.api!}/api/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${customerKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      service_required: 'simulation',
      payload: { duration_ms: 3_000, steps: 6 },
    }),
  });
  expect(response.status).toBe(201);
  const { job } = (await response.json()) as { job: { id: string } };

  // A second tab stays on the job's page for the whole flow: every change arrives live.
  const jobPage = await signIn();
  await jobPage.goto(`${monitor}/jobs/${job.id}`);
  await jobPage.locator('#live.up').waitFor({ timeout: 10_000 });
  await jobPage.evaluate(() => {
    (globalThis as unknown as { stayed: boolean }).stayed = true;
  });
  const jobStatus = jobPage.locator('#job-status [data-status]');
  expect(await jobStatus.getAttribute('data-status')).toBe('pending');
  await jobPage
    .locator('#waiting')
    .filter({ hasText: 'is drained, draining or stopping' })
    .waitFor({ timeout: 10_000 });
  // The drained worker keeps heartbeating and claims nothing: three beats later still pending.
  const beat = (await workerRecord())!.last_heartbeat;
  let beats = 0;
  let last = beat;
  await waitFor(
    async () => {
      const now = (await workerRecord())?.last_heartbeat ?? last;
      if (now > last) [beats, last] = [beats + 1, now];
      return beats >= 3;
    },
    { timeoutMs: 10_000, intervalMs: 50, what: 'three registry heartbeats of the drained worker' },
  );
  const held = (await (
    await fetch(`${stack.urls.api!}/api/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${customerKey}` },
    })
  ).json()) as { job: { status: string; waiting_reason: { code: string } } };
  expect(held.job).toMatchObject({
    status: 'pending',
    waiting_reason: { code: 'workers_draining' },
  });
  await jobPage.screenshot({ path: `${SHOTS}job-waiting-drained.png`, fullPage: true });

  // Undrain from the page: the worker claims the job, runs it and completes it.
  await Promise.all([
    workers.waitForURL(`${monitor}/workers`),
    workers.click(`[data-worker-action="${workerId}"]`),
  ]);
  await jobStatus.and(jobPage.locator('[data-status=active]')).waitFor({ timeout: 15_000 });
  await jobPage.locator('[data-event="job.claimed"]').waitFor({ timeout: 5_000 });
  await jobPage.screenshot({ path: `${SHOTS}job-active.png`, fullPage: true });
  await jobStatus.and(jobPage.locator('[data-status=completed]')).waitFor({ timeout: 20_000 });
  await jobPage.locator('[data-event="job.completed"]').waitFor({ timeout: 5_000 });
  expect(await jobPage.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(
    true,
  );
  await jobPage.screenshot({ path: `${SHOTS}job-completed.png`, fullPage: true });
  expect(await workerRecord()).toMatchObject({ drain: null, jobs_completed: 1 });

  // Both actions are on the overview's audit list, with the operator's label.
  await workers.goto(`${monitor}/`);
  const audit = workers.locator('h2:has-text("Operator actions") + table');
  await audit.getByText('undrain', { exact: true }).waitFor({ timeout: 5_000 });
  await expect(audit.getByText('drain', { exact: true }).count()).resolves.toBe(1);
  await workers.screenshot({ path: `${SHOTS}overview-audit.png`, fullPage: true });
}, 90_000);
