import { describe, expect, it } from 'vitest';
import { AppError } from '../../infra/errors/registry.js';
import { checkWebhookTarget, forbiddenAddressReason, parseAllowedHosts, type TargetPolicy } from './url-guard.js';

// The SSRF guard is checked by calling it: no test lets a request go out, and names resolve through a
// table instead of DNS.

const names: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'dual.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'sneaky.example.com': ['93.184.216.34', '10.1.2.3'],
  'internal.example.com': ['192.168.1.20'],
  'rebind.example.com': ['169.254.169.254'],
  'v6-local.example.com': ['fe80::1'],
};
const policy = (overrides: Partial<TargetPolicy> = {}): TargetPolicy => ({
  allowHttp: false,
  allowedHosts: new Set(),
  resolve: async (host) => names[host] ?? [],
  ...overrides,
});

async function refusal(url: string, overrides: Partial<TargetPolicy> = {}): Promise<string> {
  const error = await checkWebhookTarget(url, policy(overrides)).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, `${url} was accepted`).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('VALIDATION_FAILED');
  return ((error as AppError).details.context!.field_errors as { error: string }[])[0]!.error;
}

describe('forbiddenAddressReason', () => {
  it.each([
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.0.1',
    '127.0.0.1',
    '127.9.9.9',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '192.0.2.10',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '2001:db8::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '::127.0.0.1',
  ])('refuses %s', (address) => {
    expect(forbiddenAddressReason(address)).toMatch(/private, loopback, link-local or reserved/);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '192.169.0.1',
    '100.128.0.1',
    '2606:2800:220:1:248:1893:25c8:1946',
    '::ffff:8.8.8.8',
  ])('allows the public address %s', (address) => {
    expect(forbiddenAddressReason(address)).toBeUndefined();
  });

  it('is not fooled by a name', () => {
    expect(forbiddenAddressReason('localhost')).toBe('not an IP address');
  });
});

describe('checkWebhookTarget', () => {
  it('accepts an https URL whose name resolves only to public addresses, and returns them', async () => {
    expect(await checkWebhookTarget('https://hooks.example.com/tmi', policy())).toEqual(['93.184.216.34']);
    expect(await checkWebhookTarget('https://dual.example.com:8443/x', policy())).toHaveLength(2);
    expect(await checkWebhookTarget('https://93.184.216.34/x', policy())).toEqual(['93.184.216.34']);
  });

  it('refuses plain http unless allowed, and every scheme but http(s)', async () => {
    expect(await refusal('http://hooks.example.com/tmi')).toBe('must be an https URL');
    expect(await checkWebhookTarget('http://hooks.example.com/tmi', policy({ allowHttp: true }))).toEqual([
      '93.184.216.34',
    ]);
    for (const url of ['ftp://hooks.example.com/', 'file:///etc/passwd', 'gopher://hooks.example.com/', 'not a url']) {
      await expect(checkWebhookTarget(url, policy({ allowHttp: true }))).rejects.toBeInstanceOf(AppError);
    }
  });

  it('refuses private, loopback, link-local and metadata targets, by address or by what a name resolves to', async () => {
    for (const url of [
      'https://10.0.0.5/hook',
      'https://127.0.0.1/hook',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://169.254.169.254/latest/meta-data/',
      'https://internal.example.com/hook',
      'https://rebind.example.com/hook',
      'https://v6-local.example.com/hook',
    ]) {
      expect(await refusal(url)).toMatch(/private, loopback, link-local or reserved/);
    }
    expect(await refusal('https://sneaky.example.com/hook')).toMatch(/sneaky.example.com resolves to 10.1.2.3/);
    expect(await refusal('https://localhost/hook')).toMatch(/loopback name/);
    expect(await refusal('https://api.localhost/hook')).toMatch(/loopback name/);
    expect(await refusal('https://metadata.google.internal/computeMetadata/v1/')).toMatch(/metadata/);
    expect(await refusal('https://nowhere.example.com/hook')).toMatch(/does not resolve/);
    expect(await refusal('https://user:secret@hooks.example.com/hook')).toMatch(/credentials/);
  });

  it('lets the allow-list name hosts that would otherwise be refused (local receivers)', async () => {
    const allowedHosts = parseAllowedHosts(' 127.0.0.1, LocalHost ,[::1]');
    expect([...allowedHosts]).toEqual(['127.0.0.1', 'localhost', '::1']);
    const local = policy({ allowHttp: true, allowedHosts });
    expect(await checkWebhookTarget('http://127.0.0.1:9999/hook', local)).toEqual([]);
    expect(await checkWebhookTarget('http://localhost:9999/hook', local)).toEqual([]);
    expect(await checkWebhookTarget('http://[::1]:9999/hook', local)).toEqual([]);
    // Other loopback forms stay refused: the allow-list names hosts, not ranges.
    expect(await refusal('http://127.0.0.2:9999/hook', { allowHttp: true, allowedHosts })).toMatch(/reserved/);
  });
});
