import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecret, signBody, verifyBody } from './signature.js';

// The receiver's side is the recipe TMI's extension guide gives (Node): HMAC-SHA256 of the raw body,
// hex, prefixed `sha256=`, compared in constant time.
function receiverAccepts(payloadBody: Buffer, signatureHeader: string, secret: string): boolean {
  const hmac = createHmac('sha256', secret);
  hmac.update(payloadBody);
  const expectedSig = `sha256=${hmac.digest('hex')}`;
  const given = Buffer.from(signatureHeader);
  const expected = Buffer.from(expectedSig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('webhook signatures', () => {
  const secret = 'a-secret-of-at-least-16-chars';
  const body = Buffer.from(JSON.stringify({ event_type: 'threat.created', data: { name: 'Ünïcode ✓' } }));

  it('signs the exact body bytes so the guide’s receiver recipe accepts them', () => {
    const header = signBody(secret, body);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(receiverAccepts(body, header, secret)).toBe(true);
    expect(signBody(secret, body.toString('utf8'))).toBe(header);
  });

  it('verifies only the same body under the same secret', () => {
    const header = signBody(secret, body);
    expect(verifyBody(secret, body, header)).toBe(true);
    expect(verifyBody(secret, body, ` ${header} `)).toBe(true);
    expect(verifyBody('another-secret-entirely', body, header)).toBe(false);
    expect(verifyBody(secret, Buffer.concat([body, Buffer.from(' ')]), header)).toBe(false);
    expect(verifyBody(secret, body, header.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifyBody(secret, body, 'sha256=00')).toBe(false);
    expect(verifyBody(secret, body, undefined)).toBe(false);
  });

  it('generates secrets within TMI’s 16–128 characters, never the same twice', () => {
    const secrets = new Set(Array.from({ length: 50 }, generateSecret));
    expect(secrets.size).toBe(50);
    for (const generated of secrets) expect(generated).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
