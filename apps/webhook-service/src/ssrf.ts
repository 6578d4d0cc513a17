import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';

/** Where deliveries may go. Only public unicast addresses unless a CIDR is explicitly allowed. */
export interface TargetPolicy {
  /** Accept `http://` URLs (development only). */
  allowHttp: boolean;
  /** CIDRs exempt from the address check, e.g. `127.0.0.0/8` for tests on loopback. */
  allowCidrs: readonly string[];
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true });

export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
  constructor(
    message: string,
    readonly reason: 'url' | 'address' | 'dns',
  ) {
    super(message);
  }
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

function parseCidrs(cidrs: readonly string[]): [Parsed, number][] {
  return cidrs.map((cidr) => {
    try {
      return ipaddr.parseCIDR(cidr);
    } catch {
      throw new TypeError(`not a CIDR: ${cidr} (e.g. 127.0.0.0/8 or ::1/128)`);
    }
  });
}

/**
 * Why an address may not receive webhooks (`loopback`, `private`, `linkLocal` — which holds the
 * 169.254.169.254 cloud metadata service —, `uniqueLocal`, `multicast`, `carrierGradeNat`, ...),
 * or undefined when it may. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 it
 * carries; anything but public unicast is refused, so NAT64, 6to4 and Teredo forms that embed a
 * private IPv4 are refused too.
 */
export function addressProblem(address: string, policy: TargetPolicy): string | undefined {
  let ip: Parsed;
  try {
    ip = ipaddr.process(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return 'not an IP address';
  }
  for (const [net, bits] of parseCidrs(policy.allowCidrs)) {
    if (ip.kind() === net.kind() && ip.match(net, bits)) return undefined;
  }
  const range = ip.range();
  return range === 'unicast' ? undefined : range;
}

/**
 * Checks a webhook URL as registration does: `https://` (or `http://` when allowed), no
 * credentials, and a host whose every DNS answer is a permitted address.
 */
export async function checkTarget(
  raw: string,
  policy: TargetPolicy,
  resolve: Resolver = systemResolver,
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusedError(
      'url must be an absolute URL, e.g. https://example.com/hooks',
      'url',
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw new TargetRefusedError(
      policy.allowHttp ? 'url must use https:// or http://' : 'url must use https://',
      'url',
    );
  }
  if (url.username || url.password) {
    throw new TargetRefusedError('url must not contain credentials', 'url');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host, policy);
    if (problem)
      throw new TargetRefusedError(`url host ${host} is a ${problem} address`, 'address');
    return url;
  }
  let answers: LookupAddress[];
  try {
    answers = await resolve(host);
  } catch {
    throw new TargetRefusedError(`url host ${host} does not resolve`, 'dns');
  }
  if (answers.length === 0)
    throw new TargetRefusedError(`url host ${host} does not resolve`, 'dns');
  for (const answer of answers) {
    const problem = addressProblem(answer.address, policy);
    if (problem) {
      throw new TargetRefusedError(
        `url host ${host} resolves to a ${problem} address (${answer.address})`,
        'address',
      );
    }
  }
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for node:http(s) connections: the address a socket connects to is the one checked
 * here, so a DNS answer that changed since registration (rebinding) is refused before connecting.
 */
export function guardedLookup(policy: TargetPolicy, resolve: Resolver = systemResolver) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (answers) => {
        const bad = answers
          .map((a) => [a, addressProblem(a.address, policy)] as const)
          .find(([, p]) => p);
        if (bad || answers.length === 0) {
          const error: NodeJS.ErrnoException = new TargetRefusedError(
            bad
              ? `${hostname} resolves to a ${bad[1]} address (${bad[0].address}); refused`
              : `${hostname} does not resolve`,
            bad ? 'address' : 'dns',
          );
          error.code = bad ? 'EWEBHOOKTARGET' : 'ENOTFOUND';
          callback(error, '');
          return;
        }
        if (options.all) callback(null, answers);
        else callback(null, answers[0]!.address, answers[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
