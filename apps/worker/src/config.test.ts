import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig, loadOpsConfig } from './config.js';

const base = { REDIS_URL: 'redis://127.0.0.1:6390' };

describe('loadConfig', () => {
  it('applies defaults for a simulation-only worker', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      namespace: 'jq',
      connectors: ['simulation'],
      concurrency: 1,
      leaseMs: 30_000,
      shutdownGraceMs: 30_000,
      customerAccess: { isolation: 'none' },
      openai: undefined,
      comfyui: undefined,
    });
    expect(config.workerId).toMatch(/^[A-Za-z0-9_.:-]+$/);
  });

  it('gives every process its own default worker id', () => {
    expect(loadConfig(base).workerId).not.toBe(loadConfig(base).workerId);
  });

  it('reads connectors, capabilities and per-connector settings', () => {
    const config = loadConfig({
      ...base,
      WORKER_CONNECTORS: 'openai, comfyui',
      OPENAI_API_KEY: 'sk-test-123456',
      OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1',
      COMFYUI_URL: 'http://gpu-1:8188',
      COMFYUI_WEBSOCKET: 'false',
      WORKER_MODELS: '{"comfyui":["sdxl.safetensors"]}',
      WORKER_HARDWARE: '{"gpu_memory_gb":24}',
      WORKER_CUSTOMER_ISOLATION: 'strict',
      WORKER_ALLOWED_CUSTOMERS: 'acme,globex',
      WORKER_LEASE_MS: '5000',
    });
    expect(config.connectors).toEqual(['openai', 'comfyui']);
    expect(config.openai).toMatchObject({
      baseUrl: 'http://127.0.0.1:9999/v1',
      apiKey: 'sk-test-123456',
      service: 'openai',
    });
    expect(config.comfyui).toMatchObject({ baseUrl: 'http://gpu-1:8188', websocket: false });
    expect(config.models).toEqual({ comfyui: ['sdxl.safetensors'] });
    expect(config.hardware).toEqual({ gpu_memory_gb: 24 });
    expect(config.customerAccess).toEqual({
      isolation: 'strict',
      allowed_customers: ['acme', 'globex'],
    });
    expect(config.leaseMs).toBe(5_000);
  });

  it('names every bad variable at once and never echoes a secret', () => {
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'http://not-redis',
        WORKER_CONNECTORS: 'openai,gpu-magic',
        WORKER_CONCURRENCY: '0',
        OPENAI_BASE_URL: 'ftp://x',
        OPENAI_API_KEY: 'sk-supersecret-value',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['REDIS_URL', 'WORKER_CONNECTORS', 'WORKER_CONCURRENCY', 'OPENAI_BASE_URL'])
      expect(message).toContain(name);
    expect(message).not.toContain('sk-supersecret-value');
  });

  it('reports plain, JSON and cross-variable problems together, not one round each', () => {
    let message = '';
    try {
      loadConfig({
        ...base,
        WORKER_CONCURRENCY: 'lots',
        WORKER_MODELS: '{nope',
        WORKER_HARDWARE: '{"gpu_memory_gb":"big"}',
        WORKER_CONNECTORS: 'simulation,comfyui',
      });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const part of [
      'WORKER_CONCURRENCY',
      'WORKER_MODELS: must be JSON',
      'WORKER_HARDWARE: gpu_memory_gb',
      'COMFYUI_URL: required',
    ])
      expect(message).toContain(part);
  });

  it('requires the settings of each enabled connector', () => {
    expect(() => loadConfig({ ...base, WORKER_CONNECTORS: 'openai,comfyui' })).toThrow(
      /OPENAI_API_KEY: required when WORKER_CONNECTORS includes openai[\s\S]*COMFYUI_URL: required/,
    );
  });

  it('rejects malformed JSON capabilities with the variable name', () => {
    expect(() => loadConfig({ ...base, WORKER_MODELS: '{nope' })).toThrow(
      'WORKER_MODELS: must be JSON',
    );
    expect(() => loadConfig({ ...base, WORKER_HARDWARE: '{"gpu_memory_gb":"lots"}' })).toThrow(
      /WORKER_HARDWARE: gpu_memory_gb/,
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, WORKER_CONCURRENCY: '', OPENAI_API_KEY: '' }).concurrency).toBe(1);
  });

  it('describeConfig hides the API key and Redis password', () => {
    const config = loadConfig({
      REDIS_URL: 'redis://default:pw123@cache:6379',
      WORKER_CONNECTORS: 'openai',
      OPENAI_API_KEY: 'sk-secret-abcdef',
    });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('pw123');
    expect(text).not.toContain('sk-secret-abcdef');
  });
});

describe('loadOpsConfig', () => {
  it('needs only REDIS_URL and the namespace', () => {
    expect(loadOpsConfig({ REDIS_URL: 'redis://cache:6379', QUEUE_NAMESPACE: 'prod' })).toEqual({
      redisUrl: 'redis://cache:6379',
      namespace: 'prod',
    });
    expect(() => loadOpsConfig({})).toThrow(/REDIS_URL/);
  });
});
