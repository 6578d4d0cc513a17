import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact.js';

describe('redactSecrets', () => {
  it.each([
    [
      'Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.',
      'Incorrect API key provided: sk-***.',
    ],
    [
      'Incorrect API key provided: sk-abc12*****************wxyz',
      'Incorrect API key provided: sk-***',
    ],
    ['Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer ***'],
    [
      'GET https://api.example.com/v1?api_key=s3cr3t&q=cat',
      'GET https://api.example.com/v1?api_key=***&q=cat',
    ],
    ['{"apiKey": "s3cr3t", "model": "gpt-4o"}', '{"apiKey": "***", "model": "gpt-4o"}'],
    [
      'redis://default:pa55word@cache.internal:6379/0 unreachable',
      'redis://default:***@cache.internal:6379/0 unreachable',
    ],
    ['password=hunter2 user=bob', 'password=*** user=bob'],
    ['x-api-key: abcdef123456', 'x-api-key: ***'],
    ['token hf_abcdefghijklmnopqrstuv rejected', 'token hf_*** rejected'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_nature_abc', 'jwt <jwt redacted>'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('leaves ordinary text alone, including token counts and request ids', () => {
    const text =
      'max_tokens: 4096 exceeded; tokens per min (TPM) limit; request ID req_9f8e7d6c5b4a3921; model gpt-4o-mini';
    expect(redactSecrets(text)).toBe(text);
  });
});
