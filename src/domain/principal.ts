import type { SecretToken } from './secret-token.js';

/** Who a request acts for: the subject of a verified token, or nobody in particular (anonymous mode). */
export interface Principal {
  /** Recorded as the owner of what this principal creates: the token's `sub`, or `anonymous`. */
  subject: string;
  authenticated: boolean;
  /** In the operator group: may read and cancel what others own. */
  operator: boolean;
  /** The bearer token the request came with, kept for a session whose site must act for the user. */
  token?: SecretToken;
}

/** The owner recorded, and the only principal, when the broker runs without authentication. */
export const ANONYMOUS_SUBJECT = 'anonymous';

export const ANONYMOUS: Principal = Object.freeze({ subject: ANONYMOUS_SUBJECT, authenticated: false, operator: false });

/** The owner of what a principal asks for, and whether the sites' fair share caps it (operators and anonymous mode are exempt). */
export const offerOwner = (principal: Principal): { owner: string; capped: boolean; token?: SecretToken } =>
  ({ owner: principal.subject, capped: principal.authenticated && !principal.operator, ...(principal.token ? { token: principal.token } : {}) });
