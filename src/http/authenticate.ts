import type { RequestHandler } from 'express';
import type { Authenticator } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
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

/**
 * Finds who the request acts for before any route runs; an authenticated answer says whom in
 * X-VO-Authenticated (IVOA SSO). In anonymous mode every request is the anonymous principal.
 */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const token = authenticator.required ? bearerToken(req.get('authorization')) : undefined;
    const principal = await authenticator.authenticate(token);
    setPrincipal(req, principal);
    if (principal.authenticated) res.set('X-VO-Authenticated', principal.subject);
    next();
  };
}
