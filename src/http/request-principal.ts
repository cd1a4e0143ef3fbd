import type { Request } from 'express';
import type { Principal } from '../domain/principal.js';

// Beside the request rather than on it: nothing that prints or serialises a request sees it.
const principals = new WeakMap<Request, Principal>();

export function setPrincipal(req: Request, principal: Principal): void {
  principals.set(req, principal);
}

/** Who the request acts for; set by the authentication middleware before any route runs. */
export function requestPrincipal(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new Error('no principal: the route is mounted before authentication');
  return principal;
}
