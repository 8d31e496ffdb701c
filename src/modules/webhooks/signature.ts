import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomSecret } from '../../auth/tokens.js';

// TMI's webhook signatures: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`,
// keyed by the subscription's secret. Receivers check them with the recipe of TMI's extension guide;
// the server checks the status callbacks of asynchronous add-ons the same way.

/** The signature header's value for a body, exactly as sent. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether a signature header matches the body, compared in constant time. */
export function verifyBody(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A secret for a subscription that was given none: 43 URL-safe characters (TMI asks for 16–128). */
export function generateSecret(): string {
  return randomSecret(32);
}
