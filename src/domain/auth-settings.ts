/** How the broker checks bearer tokens (config/ builds it from the environment and the sites file). */
export interface OidcSettings {
  /** The issuer's URL, as it appears in tokens' `iss` (discovery at `/.well-known/openid-configuration`). */
  issuer: string;
  /** The `aud` a token must carry to be used here. */
  audience: string;
  /** Scopes every token must carry (all of them). */
  requiredScopes: string[];
  /** The claim that lists a subject's groups (`groups`, `wlcg.groups`, ...). */
  groupsClaim: string;
  /** Members may read and cancel everything. */
  operatorGroup?: string;
  /** When not empty, a subject must be in one of these (or the operator group). */
  requiredGroups: string[];
  /** The broker's own client at the issuer: token exchange and introspection. */
  client?: { id: string; secret: string };
  /** Opaque (non-JWT) tokens are checked at the issuer's introspection endpoint. */
  introspection: boolean;
  clockToleranceSeconds: number;
  /** The least time between two JWKS fetches caused by unknown key ids (a rate limit). */
  jwksCooldownMs: number;
}

/** A site that acts for the user with a token meant for it, got by RFC 8693 token exchange. */
export interface TokenExchangeSettings {
  audience: string;
  scope?: string;
  /** Hosts that get the exchanged token with data requests (never any other host). */
  hosts: string[];
}
