import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has production defaults: https only, no private targets, Standard Webhooks schedule', () => {
    const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390' });
    expect(config.allowHttp).toBe(false);
    expect(config.allowCidrs).toEqual([]);
    expect(config.timeoutMs).toBe(10_000);
    expect(config.schedule).toHaveLength(8);
  });

  it('reads the development and test settings', () => {
    const config = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6390',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8, ::1/128',
      WEBHOOK_RETRY_SCHEDULE_MS: '0,100,200',
    });
    expect(config.allowHttp).toBe(true);
    expect(config.allowCidrs).toEqual(['127.0.0.0/8', '::1/128']);
    expect(config.schedule).toEqual([0, 100, 200]);
  });

  it('names every bad value without echoing secrets', () => {
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'http://:hunter2@x',
        WEBHOOK_TIMEOUT_MS: '5',
        WEBHOOK_ALLOW_CIDRS: 'everything',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/REDIS_URL/);
    expect(message).toMatch(/WEBHOOK_TIMEOUT_MS must be at least 100/);
    expect(message).toMatch(/WEBHOOK_ALLOW_CIDRS/);
    expect(message).not.toMatch(/hunter2/);
  });
});
