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
    ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic ***'],
    ['Authorization: Token abcdef', 'Authorization: Token ***'],
    ['Authorization: Bearer   abcdefgh', 'Authorization: Bearer ***'],
    ['accesstoken=abc&x=1', 'accesstoken=***&x=1'],
    ['refreshtoken=abc', 'refreshtoken=***'],
    ['authtoken=abc', 'authtoken=***'],
    ['clientsecret=abc', 'clientsecret=***'],
    ['auth-token: abc', 'auth-token: ***'],
    ['client_secret: "abc123"', 'client_secret: "***"'],
    ["refresh-token='r3fr3sh'", "refresh-token='***'"],
    ['access_token=a1;b=2', 'access_token=***;b=2'],
    ['DB_PASSWORD=hunter2, next', 'DB_PASSWORD=***, next'],
    ['signature=abc}', 'signature=***}'],
    ['ghp_abcdefghijklmnopqrstuvwxyz0123 leaked', 'gh_*** leaked'],
    ['gho_abcdefghijklmnopqrstuvwxyz0123', 'gh_***'],
    ['slack xoxb-1234567890-abcdef', 'slack xox-***'],
    ['aws AKIAABCDEFGHIJKLMNOP here', 'aws AKIA*** here'],
    ['https://user:p%40ss@host/x', 'https://user:***@host/x'],
    ['postgres+ssl://admin:s3cret@db:5432', 'postgres+ssl://admin:***@db:5432'],
    // Redis's own form: a password and no user name.
    ['redis://:s3cret@cache:6379/0 unreachable', 'redis://:***@cache:6379/0 unreachable'],
    // An unencoded @ or : in the password: all of it goes, up to the host.
    ['redis://default:p@ss@cache:6379', 'redis://default:***@cache:6379'],
    ['amqp://svc:a:b@c@mq/vhost', 'amqp://svc:***@mq/vhost'],
    [
      'two urls redis://:one@a:1 and redis://:two@b:2',
      'two urls redis://:***@a:1 and redis://:***@b:2',
    ],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('leaves ordinary text alone, including token counts and request ids', () => {
    const text =
      'max_tokens: 4096 exceeded; tokens per min (TPM) limit; request ID req_9f8e7d6c5b4a3921; model gpt-4o-mini';
    expect(redactSecrets(text)).toBe(text);
  });

  it('leaves short or masked values and lookalikes alone', () => {
    for (const text of [
      'Bearer abc',
      'sk-abc',
      'hf_short',
      'ghp_short',
      'xoxb-short',
      'AKIA123',
      'eyJabc.def',
      'https://host/path@v1',
      'password=***',
      'token: Bearer ***',
    ])
      expect(redactSecrets(text)).toBe(text);
  });
});
