import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const env = {
  REDIS_URL: 'redis://127.0.0.1:6380',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example/',
};

describe('loadConfig', () => {
  it('reads Dash0 credentials into headers and the endpoint without a trailing slash', () => {
    const config = loadConfig({ ...env, DASH0_AUTH_TOKEN: 't0k', DASH0_DATASET: 'prod' });
    expect(config.otlp).toEqual({
      endpoint: 'https://otlp.example',
      headers: { authorization: 'Bearer t0k', 'dash0-dataset': 'prod' },
      timeoutMs: 10_000,
    });
  });

  it('names every bad variable, never a secret value', () => {
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'nope',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x',
        TELEMETRY_BATCH_SIZE: '0',
        DASH0_AUTH_TOKEN: 'super-secret',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(message).toContain('TELEMETRY_BATCH_SIZE');
    expect(message).not.toContain('super-secret');
  });

  it('refuses an unknown event type in the filter, and needs an endpoint unless disabled', () => {
    expect(() => loadConfig({ ...env, TELEMETRY_EVENT_TYPES: 'job.done' })).toThrow(
      /TELEMETRY_EVENT_TYPES unknown event type "job.done"/,
    );
    expect(() => loadConfig({ REDIS_URL: env.REDIS_URL })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT is required/,
    );
    expect(loadConfig({ REDIS_URL: env.REDIS_URL, TELEMETRY_DISABLED: '1' }).otlp).toBeUndefined();
  });
});
