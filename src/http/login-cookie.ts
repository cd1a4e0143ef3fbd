import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { BrokerError } from '../domain/errors.js';

/**
 * The login cookies. Behind TLS (an https PUBLIC_URL, or a request that came over TLS) they are
 * Secure and `__Host-` prefixed (no Domain, Path=/: no other host or path can set or shadow
 * them). The login's cookie is SameSite=Strict: no request another site starts carries it. The
 * short-lived one that binds a login under way to its browser is Lax, as the provider's redirect
 * back is a navigation from another site.
 */
export const LOGIN = 'eb-login';
export const PENDING = 'eb-login-pending';

const secureFor = (req: Request | IncomingMessage, publicUrl: string | undefined): boolean =>
  publicUrl ? publicUrl.startsWith('https:') : Boolean((req.socket as { encrypted?: boolean }).encrypted);

const named = (name: string, secure: boolean): string => (secure ? `__Host-${name}` : name);

/** A cookie's value from a request's Cookie header (the `__Host-` one behind TLS). */
export function readCookie(req: Request | IncomingMessage, name: string, publicUrl: string | undefined): string | undefined {
  const wanted = named(name, secureFor(req, publicUrl));
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === wanted) {
      const value = part.slice(at + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function setCookie(res: Response, req: Request, publicUrl: string | undefined, name: string, value: string, options: { maxAgeMs: number; sameSite: 'strict' | 'lax' }): void {
  const secure = secureFor(req, publicUrl);
  res.cookie(named(name, secure), value, { httpOnly: true, secure, sameSite: options.sameSite, path: '/', maxAge: options.maxAgeMs });
}

export function clearCookie(res: Response, req: Request, publicUrl: string | undefined, name: string): void {
  const secure = secureFor(req, publicUrl);
  res.clearCookie(named(name, secure), { httpOnly: true, secure, sameSite: name === LOGIN ? 'strict' : 'lax', path: '/' });
}

/** The broker's own origin: the configured public URL's, else the one the request was sent to. */
export function ownOrigin(req: Request | IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl) return new URL(publicUrl).origin;
  const secure = Boolean((req.socket as { encrypted?: boolean }).encrypted);
  return `${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a request made with the login cookie that could change something (any method but GET,
 * HEAD, OPTIONS; and every WebSocket handshake) unless it comes from the broker's own origin: its
 * Origin header says so, or, without one, Sec-Fetch-Site says same-origin. With the SameSite=Strict
 * cookie (no other site's request carries it) this stops forgery from a site's other origins too
 * (another port, another subdomain of the same site), which SameSite alone lets through.
 */
export function checkSameOrigin(req: Request | IncomingMessage, publicUrl: string | undefined, always = false): void {
  if (!always && SAFE.has(req.method ?? 'GET')) return;
  const origin = ownOrigin(req, publicUrl);
  const given = req.headers.origin;
  if (given === origin) return;
  if (given === undefined && req.headers['sec-fetch-site'] === 'same-origin') return;
  throw new BrokerError('cross-origin-request', { values: { origin, from: given === undefined ? 'an unknown origin' : given.slice(0, 100) } });
}
