import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver, waitFor } from '@jobgate/testkit';
import { expect, it } from 'vitest';
import { readTelemetryEnv, setupTelemetry } from '../../src/setup-entry.js';

it('one call: a service exports its own spans and metrics over OTLP with its resource attributes', async () => {
  await using receiver = await startOtlpReceiver();
  const { settings } = readTelemetryEnv(
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      SERVICE_VERSION: '2.0.1',
      DEPLOYMENT_ENVIRONMENT: 'staging',
      DASH0_AUTH_TOKEN: 'auth_token_1',
      DASH0_DATASET: 'jobs',
    },
    'jobgate-thing',
  );
  expect(settings?.otlp?.endpoint).toBe(receiver.url);
  const telemetry = await setupTelemetry({ ...settings!, global: false });
  expect(telemetry.enabled).toBe(true);
  const span = telemetry.tracer('t').startSpan('work', { attributes: { 'job.id': 'j1' } });
  span.end();
  telemetry.meter('t').createCounter('things').add(3, { kind: 'a' });
  await telemetry.flush();
  await waitFor(() => receiver.spans.length === 1 && receiver.metricPoints.length > 0, {
    timeoutMs: 5_000,
    what: 'the span and the metric at the receiver',
  });
  expect(receiver.spans[0]).toMatchObject({
    name: 'work',
    attributes: { 'job.id': 'j1' },
    resource: {
      'service.name': 'jobgate-thing',
      'service.version': '2.0.1',
      'deployment.environment.name': 'staging',
    },
  });
  expect(receiver.metricPoints).toContainEqual(
    expect.objectContaining({ name: 'things', value: 3, attributes: { kind: 'a' } }),
  );
  // Dash0's variables become its headers.
  expect(receiver.requests[0]?.headers).toMatchObject({
    authorization: 'Bearer auth_token_1',
    'dash0-dataset': 'jobs',
  });
  await telemetry.shutdown();
});

it('off without an endpoint (or with OTEL_SDK_DISABLED): no-op tracers, and the SDK is never loaded', async () => {
  expect(readTelemetryEnv({}, 'x').settings?.otlp).toBeUndefined();
  expect(
    readTelemetryEnv(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318', OTEL_SDK_DISABLED: 'true' },
      'x',
    ).settings?.otlp,
  ).toBeUndefined();
  const telemetry = await setupTelemetry({
    serviceName: 'x',
    serviceVersion: '1',
    environment: 'test',
    otlp: undefined,
  });
  expect(telemetry.enabled).toBe(false);
  telemetry.tracer('t').startSpan('nothing').end();

  // In a fresh process: which OpenTelemetry packages does an off setup load? Only the API.
  const entry = fileURLToPath(new URL('../../src/setup-entry.ts', import.meta.url));
  // A resolve hook (module.register) reports every @opentelemetry module the process resolves.
  const hook = `export async function resolve(specifier, context, next) {
    const result = await next(specifier, context);
    const name = /@opentelemetry[\\/]([^\\/]+)/.exec(result.url)?.[1];
    if (name) process.stderr.write('LOADED ' + name + '\\n');
    return result;
  }`;
  const script = `
    import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
    const { setupTelemetry } = await import(${JSON.stringify(entry)});
    const t = await setupTelemetry({ serviceName: 'x', serviceVersion: '1', environment: 't', otlp: undefined });
    t.tracer('a').startSpan('b').end();
  `;
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
    },
  );
  expect(run.status, run.stderr).toBe(0);
  const loaded = new Set([...run.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]));
  expect([...loaded]).toEqual(['api']);
});

it('names each bad variable, never a header value', () => {
  const result = readTelemetryEnv(
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://nope',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer secret_value,broken',
      OTEL_METRIC_EXPORT_INTERVAL: 'soon',
    },
    'x',
  );
  expect(result.settings).toBeUndefined();
  expect(result.problems.join('\n')).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  expect(result.problems.join('\n')).toMatch(/OTEL_METRIC_EXPORT_INTERVAL/);
  expect(result.problems.join('\n')).not.toContain('secret_value');
});
