import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../../infra/errors/registry.js';

// The SSRF guard for outgoing webhook deliveries: a target must be a public address, named by an
// https URL, unless configuration allows plain http or names the host explicitly.

/** Addresses no webhook may reach: private, loopback, link-local (cloud metadata), and the rest of the
 *  special-purpose ranges of RFC 6890 that are not the public internet. */
const forbidden = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, where cloud metadata services live (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local (AWS's fd00:ec2::254 metadata included)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['100::', 64], // discard
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}

/** IPv4 addresses carried inside IPv6 ones (mapped, compatible, NAT64) are judged as IPv4. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Why an IP address may not be a webhook target, or undefined when it may. */
export function forbiddenAddressReason(address: string): string | undefined {
  const version = isIP(address);
  if (version === 0) return 'not an IP address';
  const v4 = version === 6 ? embeddedIpv4(address) : address;
  if (v4 !== undefined && forbidden.check(v4, 'ipv4'))
    return `${address} is a private, loopback, link-local or reserved address`;
  if (version === 6 && v4 === undefined && forbidden.check(address, 'ipv6')) {
    return `${address} is a private, loopback, link-local or reserved address`;
  }
  return undefined;
}

export interface TargetPolicy {
  /** TMI_WEBHOOK_ALLOW_HTTP_TARGETS: plain http is allowed (local development). */
  allowHttp: boolean;
  /** TMI_SSRF_WEBHOOK_ALLOWLIST: hosts allowed whatever they resolve to (e.g. 127.0.0.1, localhost). */
  allowedHosts: ReadonlySet<string>;
  /** Resolves a host name to its addresses (injected in tests; DNS otherwise). */
  resolve?: (host: string) => Promise<string[]>;
}

const resolveWithDns = async (host: string) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data']);

function refused(url: string, reason: string): AppError {
  return new AppError('VALIDATION_FAILED', `Invalid input: url: ${reason}`, {
    context: { field_errors: [{ field: 'url', error: reason }], url },
  });
}

/**
 * Checks a webhook target and returns the addresses it may be delivered to (empty for an allow-listed
 * host, which is reached as named). Refuses non-https URLs (unless allowed), URLs with credentials,
 * metadata host names, and hosts that are, or resolve to, any forbidden address — every resolved
 * address counts, so a name cannot smuggle a private address beside a public one.
 */
export async function checkWebhookTarget(rawUrl: string, policy: TargetPolicy): Promise<string[]> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw refused(rawUrl, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw refused(rawUrl, policy.allowHttp ? 'must be an http(s) URL' : 'must be an https URL');
  }
  if (url.username || url.password) throw refused(rawUrl, 'must not carry credentials');
  const host = url.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
    .replace(/\.$/, '');
  if (policy.allowedHosts.has(host)) return [];
  if (METADATA_HOSTS.has(host)) throw refused(rawUrl, `${host} is a cloud metadata service`);
  if (host === 'localhost' || host.endsWith('.localhost')) throw refused(rawUrl, `${host} is a loopback name`);
  const addresses = isIP(host) ? [host] : await (policy.resolve ?? resolveWithDns)(host).catch(() => []);
  if (addresses.length === 0) throw refused(rawUrl, `${host} does not resolve`);
  for (const address of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason) throw refused(rawUrl, isIP(host) ? reason : `${host} resolves to ${reason}`);
  }
  return addresses;
}

function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
}

/** `TMI_SSRF_WEBHOOK_ALLOWLIST`'s value as a set of lower-case host names. */
export function parseAllowedHosts(value: string | string[] | undefined): Set<string> {
  const hosts = Array.isArray(value) ? value : (value ?? '').split(',');
  return new Set(hosts.map(normalizeHost).filter(Boolean));
}

/** The guard's policy as configured. */
export function targetPolicy(webhooks: { allowHttpTargets: boolean; allowedHosts: string[] }): TargetPolicy {
  return { allowHttp: webhooks.allowHttpTargets, allowedHosts: parseAllowedHosts(webhooks.allowedHosts) };
}
