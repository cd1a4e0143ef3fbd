import { lookup } from 'node:dns/promises';
import { egressRefusal, parseAddress, type EgressPolicy } from '../domain/egress-policy.js';

const LOOKUP_TIMEOUT_MS = 3_000;

/**
 * Why the broker will not deliver to a webhook URL, told at request time, or undefined: its host
 * (an address, or every address its name resolves to now) must pass the broker's egress policy.
 * Delivery checks again, on the addresses each connection really uses.
 */
export async function webhookRefusal(target: string, policy: EgressPolicy): Promise<string | undefined> {
  const url = new URL(target);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const literal = parseAddress(url.hostname);
  if (literal) return egressRefusal(policy, url.hostname, literal, port);
  let found: Array<{ address: string }>;
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), LOOKUP_TIMEOUT_MS); });
    found = await Promise.race([lookup(url.hostname, { all: true }), timeout]).finally(() => clearTimeout(timer));
  } catch {
    return `${url.hostname} cannot be resolved`;
  }
  for (const { address } of found) {
    const parsed = parseAddress(address);
    const why = parsed ? egressRefusal(policy, url.hostname, parsed, port) : `${url.hostname} resolved to ${address}, which is not an address`;
    if (why) return why;
  }
  return found.length ? undefined : `${url.hostname} has no address`;
}
