import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { BrowserLogin } from '../auth/browser-login.js';
import type { Authenticator } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { checkSameOrigin, LOGIN, readCookie } from './login-cookie.js';
import { setPrincipal } from './request-principal.js';

/** RFC 6750 token68 after "Bearer" (the only scheme taken; tokens in query strings end up in logs). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The bearer token of an Authorization header; undefined without one (or with another scheme). */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization || !/^Bearer(\s|$)/i.test(authorization)) return undefined;
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw new BrokerError('invalid-token', { values: { reason: 'the Authorization header is not "Bearer <token>"' } });
  return match[1];
}

export interface CookieLogin {
  login: BrowserLogin;
  publicUrl: string | undefined;
}

/**
 * Who a request acts for: a bearer token (scripts, as ever) or, without one, the login cookie of
 * the page (its login's access token, refreshed as needed). A request with the cookie that could
 * change something must come from the broker's own origin (`always`: WebSocket handshakes).
 */
export async function principalOf(req: IncomingMessage, authenticator: Authenticator, cookies: CookieLogin | undefined, always = false): Promise<Principal> {
  if (!authenticator.required) return authenticator.authenticate(undefined);
  let token = bearerToken(req.headers.authorization);
  const cookie = token === undefined && cookies ? readCookie(req, LOGIN, cookies.publicUrl) : undefined;
  if (cookie !== undefined && cookies) {
    checkSameOrigin(req, cookies.publicUrl, always);
    token = await cookies.login.accessToken(cookie);
    if (token === undefined) throw new BrokerError('authentication-required', { detail: 'The login has ended; log in again' });
  }
  return authenticator.authenticate(token);
}

/**
 * Finds who the request acts for before any route runs; an authenticated answer says whom in
 * X-VO-Authenticated (IVOA SSO). In anonymous mode every request is the anonymous principal.
 */
export function authenticate(authenticator: Authenticator, cookies?: CookieLogin): RequestHandler {
  return async (req, res, next) => {
    const principal = await principalOf(req, authenticator, cookies);
    setPrincipal(req, principal);
    if (principal.authenticated) res.set('X-VO-Authenticated', principal.subject);
    next();
  };
}
