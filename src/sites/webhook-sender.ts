import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { checkLiteral, guardedLookup } from './egress-guard.js';

/** A webhook signing secret as Standard Webhooks writes it: `whsec_` and 24 random bytes, base64. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/**
 * The `webhook-signature` header (Standard Webhooks): `v1,` and the base64 HMAC-SHA256, keyed
 * with the secret's bytes (the base64 after `whsec_`), of "id.timestamp.body".
 */
export function webhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** A delivery that did not succeed, saying why (a status, a timeout, a refused address). */
export class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
}

const portOf = (url: URL): number => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * POSTs one signed event to a webhook under the egress policy (every address the name resolves to
 * is checked, as for staging). Resolves on a 2xx answer; anything else (another status, a
 * redirect, a timeout, a closed connection) rejects with DeliveryFailed.
 */
export function postWebhook(target: string, event: { id: string; body: string; secret: string }, policy: EgressPolicy, timeoutMs: number, now: () => number): Promise<void> {
  const url = new URL(target);
  checkLiteral(policy, url);
  const timestamp = Math.floor(now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'srcnet-execution-broker',
    'webhook-id': event.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(event.secret, event.id, timestamp, event.body),
    'content-length': String(Buffer.byteLength(event.body)),
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, agent: false, lookup: guardedLookup(policy, portOf(url)) }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      res.once('end', () => (status >= 200 && status < 300 ? resolve() : reject(new DeliveryFailed(`${url.host} answered ${status}`))));
      res.once('error', (error) => reject(new DeliveryFailed(`${url.host}: ${error.message}`)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new DeliveryFailed(`${url.host} did not answer within ${timeoutMs} ms`)));
    req.once('error', (error) => reject(error instanceof DeliveryFailed ? error : new DeliveryFailed(`${url.host}: ${error.message}`)));
    req.end(event.body);
  });
}
