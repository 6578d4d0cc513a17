import { describe, expect, it } from 'vitest';
import {
  addressProblem,
  checkTarget,
  guardedLookup,
  TargetRefusedError,
  type Resolver,
} from './ssrf.js';

const strict = { allowHttp: false, allowCidrs: [] };
const answers =
  (...addresses: string[]): Resolver =>
  () =>
    Promise.resolve(
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

describe('addressProblem', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses %s (%s)', (address, range) => {
    expect(addressProblem(address, strict)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'accepts public %s',
    (address) => {
      expect(addressProblem(address, strict)).toBeUndefined();
    },
  );

  it('accepts an explicitly allowed CIDR and nothing else', () => {
    const policy = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
    expect(addressProblem('127.0.0.1', policy)).toBeUndefined();
    expect(addressProblem('::ffff:127.0.0.1', policy)).toBeUndefined();
    expect(addressProblem('10.0.0.1', policy)).toBe('private');
    expect(addressProblem('::1', policy)).toBe('loopback');
  });
});

describe('checkTarget', () => {
  it('accepts https to a public host', async () => {
    const url = await checkTarget('https://hooks.example.com/x', strict, answers('93.184.216.34'));
    expect(url.hostname).toBe('hooks.example.com');
  });

  it.each([
    ['http://hooks.example.com/x', /https/],
    ['ftp://hooks.example.com/x', /https/],
    ['not a url', /absolute URL/],
    ['https://user:pw@hooks.example.com/', /credentials/],
    ['https://127.0.0.1/x', /loopback/],
    ['https://[::1]/x', /loopback/],
    ['https://[::ffff:169.254.169.254]/x', /linkLocal/],
    ['https://169.254.169.254/latest/meta-data', /linkLocal/],
  ])('refuses %s', async (url, message) => {
    await expect(checkTarget(url, strict, answers('93.184.216.34'))).rejects.toThrow(message);
  });

  it('refuses a host with any forbidden answer, naming it', async () => {
    await expect(
      checkTarget('https://mixed.example.com', strict, answers('93.184.216.34', '10.0.0.5')),
    ).rejects.toThrow(/resolves to a private address \(10\.0\.0\.5\)/);
  });

  it('refuses a host that does not resolve', async () => {
    const failing: Resolver = () => Promise.reject(new Error('ENOTFOUND'));
    await expect(checkTarget('https://nowhere.invalid', strict, failing)).rejects.toBeInstanceOf(
      TargetRefusedError,
    );
  });

  it('accepts http only when allowed', async () => {
    const policy = { allowHttp: true, allowCidrs: [] };
    await expect(
      checkTarget('http://a.example.com', policy, answers('8.8.8.8')),
    ).resolves.toBeInstanceOf(URL);
  });
});

describe('guardedLookup', () => {
  it('refuses at connect time when the answer changed to loopback', async () => {
    const lookup = guardedLookup(strict, answers('127.0.0.1'));
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('rebind.example.com', { all: true }, (e) => resolve(e)),
    );
    expect(error?.code).toBe('EWEBHOOKTARGET');
    expect(error?.message).toMatch(/loopback/);
  });

  it('passes public answers through in the shape asked for', async () => {
    const lookup = guardedLookup(strict, answers('93.184.216.34'));
    const all = await new Promise<unknown>((resolve) =>
      lookup('ok.example.com', { all: true }, (_e, a) => resolve(a)),
    );
    expect(all).toEqual([{ address: '93.184.216.34', family: 4 }]);
    const one = await new Promise<unknown[]>((resolve) =>
      lookup('ok.example.com', {}, (_e, a, f) => resolve([a, f])),
    );
    expect(one).toEqual(['93.184.216.34', 4]);
  });
});
