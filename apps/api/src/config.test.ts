import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const base = { REDIS_URL: 'redis://127.0.0.1:6380' };

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    expect(loadConfig(base)).toEqual({
      port: 3000,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6380',
      namespace: 'jq',
      bodyLimitBytes: 1_048_576,
      logLevel: 'info',
      logRequests: false,
      services: ['simulation', 'openai', 'comfyui'],
      wsPingIntervalMs: 30_000,
      wsMaxBufferedBytes: 1_048_576,
      authCacheTtlMs: 5_000,
      idempotencyTtlSeconds: 86_400,
      webhookAllowHttp: false,
      webhookAllowCidrs: [],
      reaperIntervalMs: 1_000,
      limits: { maxInFlight: 1024, maxEventLoopDelayMs: 1000, maxPendingJobs: 0 },
      telemetry: {
        serviceName: 'jobgate-api',
        serviceVersion: '0.0.0',
        environment: 'development',
        otlp: undefined,
        metricIntervalMs: 15_000,
      },
    });
  });

  it('exports its own telemetry only with OTEL_EXPORTER_OTLP_ENDPOINT, and names a bad one', () => {
    expect(
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).telemetry.otlp,
    ).toEqual({ endpoint: 'http://127.0.0.1:4318', headers: {}, timeoutMs: 10_000 });
    expect(() => loadConfig({ ...base, PORT: 'x', OTEL_EXPORTER_OTLP_ENDPOINT: 'nope' })).toThrow(
      /PORT[\s\S]*OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it('reads the webhook development settings and names a bad CIDR', () => {
    const config = loadConfig({
      ...base,
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8, ::1/128',
    });
    expect(config.webhookAllowHttp).toBe(true);
    expect(config.webhookAllowCidrs).toEqual(['127.0.0.0/8', '::1/128']);
    expect(() => loadConfig({ ...base, WEBHOOK_ALLOW_CIDRS: 'anywhere' })).toThrow(
      /WEBHOOK_ALLOW_CIDRS must be comma-separated CIDRs/,
    );
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...base,
      PORT: '8080',
      QUEUE_NAMESPACE: 'prod',
      BODY_LIMIT_BYTES: '2048',
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'true',
      SERVICES: 'simulation, gpu-a ,simulation',
    });
    expect(config).toMatchObject({
      logRequests: true,
      port: 8080,
      namespace: 'prod',
      bodyLimitBytes: 2048,
      logLevel: 'warn',
      services: ['simulation', 'gpu-a'],
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...base, PORT: '' }).port).toBe(3000);
  });

  it('names every bad value in one error and never echoes the Redis URL', () => {
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'http://user:hunter2@x',
        PORT: '70000',
        LOG_LEVEL: 'loud',
        BODY_LIMIT_BYTES: '1kb',
        QUEUE_NAMESPACE: 'a b',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('REDIS_URL must be a redis:// or rediss:// URL');
    expect(message).toContain('PORT must be at most 65535');
    expect(message).toContain(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(message).toContain('BODY_LIMIT_BYTES must be a whole number between 1024 and 67108864');
    expect(message).toContain('QUEUE_NAMESPACE must be 1-64 characters');
    expect(message).not.toContain('hunter2');
  });

  it('requires REDIS_URL', () => {
    expect(() => loadConfig({})).toThrow(/REDIS_URL is required/);
  });

  it('rejects a service list with bad names', () => {
    expect(() => loadConfig({ ...base, SERVICES: 'ok,Not OK' })).toThrow(
      /SERVICES must be a comma-separated list/,
    );
  });
});
