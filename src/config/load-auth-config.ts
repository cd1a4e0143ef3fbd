import { randomBytes } from 'node:crypto';
import type { OidcSettings } from '../domain/auth-settings.js';
import { parseDuration } from '../domain/iso8601.js';
import type { SiteProfile } from '../domain/site-profile.js';
import { ConfigError } from './config-error.js';

/** The `auth` block of the sites file; the environment overrides each field (OIDC_*, TOKEN_KEY). */
export interface AuthFileBlock {
  issuer?: string;
  audience?: string;
  scopes?: string[];
  groupsClaim?: string;
  operatorGroup?: string;
  requiredGroups?: string[];
  clientId?: string;
  clientSecret?: string;
  introspection?: boolean;
  clockTolerance?: string;
  jwksCooldown?: string;
}

export interface AuthConfig {
  /** Undefined: anonymous mode (no issuer configured). */
  oidc?: OidcSettings;
  /** The page's login with the broker's client (authorization code + PKCE); undefined without a client or with OIDC_LOGIN=false. */
  login?: { scope: string; redirectUrl?: string; postLogoutRedirectUrl?: string; maxAgeMs: number; refreshBeforeMs: number };
  /** AES-256 key for user tokens at rest: TOKEN_KEY, or made up for this process when none is needed. */
  tokenKey: Uint8Array;
  /** True when TOKEN_KEY was given: every process of the broker shares it. */
  tokenKeyGiven: boolean;
  /** ALLOW_ANONYMOUS_REMOTE=true: anonymous mode may listen beyond loopback. */
  allowAnonymousRemote: boolean;
}


const list = (text: string | undefined): string[] | undefined =>
  text === undefined || text === '' ? undefined : text.split(/[\s,]+/).filter(Boolean);

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^(true|false)$/i.test(text)) throw new ConfigError(`${name} must be true or false, not "${text}"`);
  return text.toLowerCase() === 'true';
}

function seconds(text: string | undefined, fallback: string, what: string): number {
  const parsed = parseDuration(text ?? fallback);
  if (!parsed.ok) throw new ConfigError(`${what} must be an ISO 8601 duration (e.g. PT5S), not "${text}"`);
  return parsed.ms / 1000;
}

/** An issuer must be https, except on this machine (development and tests). */
function checkIssuer(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`OIDC_ISSUER must be a URL, not "${text}"`);
  }
  const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(`OIDC_ISSUER must be an https URL (plain http only on loopback), not "${text}"`);
  }
  if (url.search || url.hash) throw new ConfigError('OIDC_ISSUER must have no query or fragment');
  return text;
}

function httpUrl(text: string, what: string): string {
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(text)) throw new ConfigError(`${what} must be an http(s) URL, not "${text}"`);
  return text;
}

/** TOKEN_KEY: 32 bytes, as 64 hex digits or base64. */
function tokenKeyFrom(text: string): Uint8Array {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError('TOKEN_KEY must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)');
  return key;
}

/**
 * Environment and the sites file's `auth` block -> the auth part of Config, refusing the
 * combinations that cannot work: settings without an issuer, a site that acts for the user
 * without an issuer, client credentials or a shared token key.
 */
export function loadAuthConfig(env: NodeJS.ProcessEnv, file: AuthFileBlock, sites: readonly SiteProfile[]): AuthConfig {
  const issuer = env.OIDC_ISSUER || file.issuer;
  const allowAnonymousRemote = flag(env, 'ALLOW_ANONYMOUS_REMOTE', false);
  const exchangeSites = sites.filter((site) => site.tokenExchange).map((site) => site.name);
  const keyText = env.TOKEN_KEY || undefined;
  const tokenKey = keyText ? tokenKeyFrom(keyText) : randomBytes(32);
  if (!issuer) {
    const stray = ['OIDC_AUDIENCE', 'OIDC_SCOPES', 'OIDC_OPERATOR_GROUP', 'OIDC_REQUIRED_GROUPS', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_INTROSPECTION']
      .filter((name) => env[name]);
    if (stray.length || Object.keys(file).length) {
      throw new ConfigError(`${stray.length ? stray.join(', ') : 'the auth block of the sites file'} is set but no issuer is (OIDC_ISSUER): the broker would run without authentication`);
    }
    if (exchangeSites.length) throw new ConfigError(`site ${exchangeSites.join(', ')} acts for the user (tokenExchange), which needs an issuer (OIDC_ISSUER)`);
    return { tokenKey, tokenKeyGiven: Boolean(keyText), allowAnonymousRemote };
  }
  const audience = env.OIDC_AUDIENCE || file.audience;
  if (!audience) throw new ConfigError('OIDC_AUDIENCE must say which audience tokens for this broker carry');
  const clientId = env.OIDC_CLIENT_ID || file.clientId;
  const clientSecret = env.OIDC_CLIENT_SECRET || file.clientSecret;
  if (Boolean(clientId) !== Boolean(clientSecret)) throw new ConfigError('OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together');
  const introspection = flag(env, 'OIDC_INTROSPECTION', file.introspection ?? false);
  if (introspection && !clientId) throw new ConfigError('OIDC_INTROSPECTION needs the broker\'s client (OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)');
  if (exchangeSites.length && !clientId) throw new ConfigError(`site ${exchangeSites.join(', ')} exchanges tokens, which needs the broker's client (OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)`);
  if (exchangeSites.length && !keyText) throw new ConfigError(`site ${exchangeSites.join(', ')} keeps user tokens, which needs TOKEN_KEY (the same in every process)`);
  const operatorGroup = env.OIDC_OPERATOR_GROUP || file.operatorGroup || undefined;
  const requiredScopes = list(env.OIDC_SCOPES) ?? file.scopes ?? [];
  const login = clientId && flag(env, 'OIDC_LOGIN', true) ? {
    scope: (list(env.OIDC_LOGIN_SCOPES) ?? ['openid', 'offline_access', ...requiredScopes]).join(' '),
    ...(env.OIDC_REDIRECT_URL ? { redirectUrl: httpUrl(env.OIDC_REDIRECT_URL, 'OIDC_REDIRECT_URL') } : {}),
    ...(env.OIDC_POST_LOGOUT_REDIRECT_URL ? { postLogoutRedirectUrl: httpUrl(env.OIDC_POST_LOGOUT_REDIRECT_URL, 'OIDC_POST_LOGOUT_REDIRECT_URL') } : {}),
    maxAgeMs: seconds(env.OIDC_LOGIN_MAX_AGE, 'PT12H', 'OIDC_LOGIN_MAX_AGE') * 1000,
    refreshBeforeMs: seconds(env.OIDC_REFRESH_BEFORE, 'PT60S', 'OIDC_REFRESH_BEFORE') * 1000,
  } : undefined;
  if (login && !login.scope.split(' ').includes('openid')) throw new ConfigError('OIDC_LOGIN_SCOPES must include openid (the login needs an ID token)');
  return {
    ...(login ? { login } : {}),
    oidc: {
      issuer: checkIssuer(issuer),
      audience,
      requiredScopes,
      groupsClaim: env.OIDC_GROUPS_CLAIM || file.groupsClaim || 'groups',
      ...(operatorGroup ? { operatorGroup } : {}),
      requiredGroups: list(env.OIDC_REQUIRED_GROUPS) ?? file.requiredGroups ?? [],
      ...(clientId && clientSecret ? { client: { id: clientId, secret: clientSecret } } : {}),
      introspection,
      clockToleranceSeconds: seconds(env.OIDC_CLOCK_TOLERANCE || file.clockTolerance, 'PT5S', 'OIDC_CLOCK_TOLERANCE'),
      jwksCooldownMs: seconds(env.OIDC_JWKS_COOLDOWN || file.jwksCooldown, 'PT30S', 'OIDC_JWKS_COOLDOWN') * 1000,
    },
    tokenKey,
    tokenKeyGiven: Boolean(keyText),
    allowAnonymousRemote,
  };
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Why an API may not listen on `host` (anonymous mode beyond loopback), or undefined when it may. */
export function anonymousExposure(auth: AuthConfig, host: string): string | undefined {
  if (auth.oidc || LOOPBACK_HOST.test(host) || auth.allowAnonymousRemote) return undefined;
  return `HOST=${host} is beyond loopback and no issuer is configured (OIDC_ISSUER): anyone who reaches the broker could use it. `
    + 'Configure OIDC, listen on 127.0.0.1, or set ALLOW_ANONYMOUS_REMOTE=true to run without authentication anyway.';
}
