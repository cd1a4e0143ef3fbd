import { BrokerError } from '../domain/errors.js';
import type { OidcSettings } from '../domain/auth-settings.js';
import { ANONYMOUS_SUBJECT, type Principal } from '../domain/principal.js';
import type { SecretToken } from '../domain/secret-token.js';

/** A subject that can go in a header and a Redis hash as it is (IAM subjects are UUIDs). */
const USABLE_SUBJECT = /^[\x21-\x7e]{1,255}$/;

/** Words of a claim that may be a list or a space-separated string (`scope`, `scp`, groups). */
function words(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/** A claim by its literal name (`wlcg.groups` is one name), else by a dotted path into objects. */
function claim(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** IAM writes groups as `/ska/ops` in some claims and `ska/ops` in others: one leading slash is not significant. */
const groupName = (name: string): string => name.replace(/^\//, '');

/**
 * The principal a verified token stands for: its subject, whether it is an operator, and the
 * token itself (for a site that will act for the user). A token without every required scope is
 * refused with 403 insufficient-scope; one outside the required groups with insufficient-group.
 */
export function principalFromClaims(claims: Record<string, unknown>, settings: OidcSettings, token: SecretToken): Principal {
  const subject = claims.sub;
  if (typeof subject !== 'string' || !USABLE_SUBJECT.test(subject) || subject === ANONYMOUS_SUBJECT) {
    throw new BrokerError('invalid-token', { values: { reason: 'the token\'s subject is missing or not usable' } });
  }
  const scopes = new Set([...words(claims.scope), ...words(claims.scp)]);
  const missing = settings.requiredScopes.filter((scope) => !scopes.has(scope));
  if (missing.length) throw new BrokerError('insufficient-scope', { values: { scope: settings.requiredScopes.join(' '), missing: missing.join(' ') } });
  const groups = new Set(words(claim(claims, settings.groupsClaim)).map(groupName));
  const operator = settings.operatorGroup !== undefined && groups.has(groupName(settings.operatorGroup));
  if (!operator && settings.requiredGroups.length && !settings.requiredGroups.some((group) => groups.has(groupName(group)))) {
    throw new BrokerError('insufficient-group', { values: { groups: settings.requiredGroups.join(', ') } });
  }
  return { subject, authenticated: true, operator, token };
}
