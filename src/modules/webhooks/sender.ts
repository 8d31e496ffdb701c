import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { checkWebhookTarget, type TargetPolicy } from './url-guard.js';

// The one way the server posts to a webhook: the target is checked again at send time, once per batch and
// URL (DNS may have changed since the subscription was made), and the connection goes to the addresses that
// were checked, so a name cannot resolve to a private address between the check and the connect. No
// redirects are followed (a 3xx is a failed attempt), and every attempt has a deadline.

export interface SendResult {
  /** The HTTP status, when an answer came. */
  statusCode?: number;
  /** The receiver asked to report the outcome later (`X-TMI-Callback: async`). */
  async: boolean;
  /** Why the attempt failed: an error, a timeout, a refused target or a non-2xx status. */
  error?: string;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** A lookup that answers only with addresses the guard already accepted. */
function pinnedLookup(addresses: string[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = (address: string) => (isIP(address) === 6 ? 6 : 4);
    if (options.all) {
      callback(
        null,
        addresses.map((address) => ({ address, family: family(address) })),
      );
    } else {
      callback(null, addresses[0]!, family(addresses[0]!));
    }
  };
}

interface CheckedTarget {
  target: URL;
  /** The addresses to connect to; empty for an allow-listed host, which is reached as named. */
  addresses: string[];
}

/**
 * The targets of one batch of POSTs: each distinct URL is checked (and its host resolved) once, when its
 * first POST goes out, and its POSTs share the answer — one DNS lookup per batch instead of one per POST.
 */
export class TargetChecks {
  private readonly checks = new Map<string, Promise<CheckedTarget>>();

  constructor(private readonly policy: TargetPolicy) {}

  check(url: string): Promise<CheckedTarget> {
    let check = this.checks.get(url);
    if (!check) {
      check = checkWebhookTarget(url, this.policy).then((addresses) => ({ target: new URL(url), addresses }));
      this.checks.set(url, check);
    }
    return check;
  }
}

export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { targets: TargetChecks; timeoutMs: number },
): Promise<SendResult> {
  let checked: CheckedTarget;
  try {
    checked = await options.targets.check(url);
  } catch (error) {
    return { async: false, error: `target refused: ${(error as Error).message}` };
  }
  const { target, addresses } = checked;
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    const request = transport.request(
      target,
      {
        method: 'POST',
        agent: agents[target.protocol as 'http:' | 'https:'],
        // Allow-listed hosts are reached as named; any other is pinned to its checked addresses.
        ...(addresses.length > 0 ? { lookup: pinnedLookup(addresses) } : {}),
        headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        // The answer's body is not used; drain it so the connection can be reused.
        response.resume();
        response.on('end', () => {
          const statusCode = response.statusCode ?? 0;
          const ok = statusCode >= 200 && statusCode < 300;
          const callback = String(response.headers['x-tmi-callback'] ?? '').toLowerCase();
          resolve({
            statusCode,
            async: ok && callback === 'async',
            ...(ok ? {} : { error: `receiver answered ${statusCode}` }),
          });
        });
        response.on('error', (error) =>
          resolve({ statusCode: response.statusCode, async: false, error: error.message }),
        );
      },
    );
    request.on('error', (error) => {
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError';
      resolve({ async: false, error: timedOut ? `no answer within ${options.timeoutMs} ms` : error.message });
    });
    request.end(body);
  });
}
