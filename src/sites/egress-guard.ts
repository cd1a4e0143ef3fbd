import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import { egressRefusal, parseAddress, type EgressPolicy } from '../domain/egress-policy.js';

/** A connection the site's egress policy refuses (domain/egress-policy.ts), saying why. */
export class EgressRefused extends Error {
  override readonly name = 'EgressRefused';
}

const portOf = (url: URL): number => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * A `lookup` for net and tls connections that refuses a name when any address it resolves to is
 * refused: the addresses checked are the ones the connection then uses, so a name that answers
 * one address to a check and another to the connection (DNS rebinding) gains nothing.
 */
export function guardedLookup(policy: EgressPolicy, port: number): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      for (const found of addresses) {
        const address = parseAddress(found.address);
        const why = address ? egressRefusal(policy, hostname, address, port) : `${hostname} resolved to ${found.address}, which is not an address`;
        if (why) return callback(Object.assign(new EgressRefused(why), { code: 'EEGRESS' }) as NodeJS.ErrnoException, '', 0);
      }
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/** Throws EgressRefused when a URL's host is an address the policy refuses (connections to an address look nothing up). */
export function checkLiteral(policy: EgressPolicy, url: URL): void {
  const literal = parseAddress(url.hostname);
  const why = literal ? egressRefusal(policy, url.hostname, literal, portOf(url)) : undefined;
  if (why) throw new EgressRefused(why);
}

/** A request other than a plain GET: its method and body (sent again on a 307/308). */
export interface GuardedRequest {
  method?: string;
  body?: string;
}

function sendOnce(url: URL, policy: EgressPolicy, headers: Record<string, string>, request: GuardedRequest): Promise<IncomingMessage> {
  checkLiteral(policy, url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection each time, never a pooled one opened for another host.
    const req = send(url, { method: request.method ?? 'GET', headers, agent: false, lookup: guardedLookup(policy, portOf(url)) }, resolve);
    req.once('error', reject);
    req.end(request.body);
  });
}

/**
 * GET a URL under the policy, following up to `maxRedirects` redirects, each checked as the first
 * hop was. `headersFor` gives each hop's headers (a token only for the hosts that may see it).
 */
export async function guardedGet(url: string, policy: EgressPolicy, headersFor: (url: string) => Record<string, string>, maxRedirects = 5): Promise<IncomingMessage> {
  return guardedRequest(url, policy, headersFor, {}, maxRedirects);
}

/**
 * Any request under the policy (PROPFIND of a WebDAV collection, POST to Rucio's REST API): a GET
 * follows every redirect, another method only 307 and 308, which keep the method and body.
 */
export async function guardedRequest(url: string, policy: EgressPolicy, headersFor: (url: string) => Record<string, string>, request: GuardedRequest, maxRedirects = 5): Promise<IncomingMessage> {
  let current = new URL(url);
  const method = request.method ?? 'GET';
  const follows = method === 'GET' ? [301, 302, 303, 307, 308] : [307, 308];
  for (let hop = 0; ; hop++) {
    if (!/^https?:$/.test(current.protocol)) throw new EgressRefused(`a redirect to ${current.protocol} is not followed`);
    const response = await sendOnce(current, policy, headersFor(current.href), request);
    const location = response.headers.location;
    if (!location || !follows.includes(response.statusCode ?? 0)) return response;
    response.resume();
    if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects from ${url}`);
    current = new URL(location, current);
  }
}

/**
 * A site's policy on this machine: its allow-list, the broker's listening socket (refused always;
 * a wildcard listen address stands for every address of the machine) and the machine's addresses.
 */
export function machineEgressPolicy(allow: readonly string[], listen: { host: string; port: number }): EgressPolicy {
  const ownAddresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((nic) => nic.address));
  const wildcard = ['0.0.0.0', '::', '[::]', ''].includes(listen.host);
  const hosts = wildcard ? [...ownAddresses, '127.0.0.1', '::1'] : [listen.host === 'localhost' ? '127.0.0.1' : listen.host];
  return { allow, ownSockets: hosts.map((address) => ({ address, port: listen.port })), ownAddresses };
}
