import type { SiteCredentials, SiteToken, TokenVault } from '../broker/ports.js';
import type { TokenExchangeSettings } from '../domain/auth-settings.js';
import type { TokenExchangeClient } from './token-exchange-client.js';

/** A site's token for a session: the user's kept token exchanged for the site's audience. */
export class ExchangingSiteCredentials implements SiteCredentials {
  constructor(
    private readonly vault: TokenVault,
    private readonly client: TokenExchangeClient,
    private readonly target: TokenExchangeSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async forSession(sessionUuid: string): Promise<SiteToken> {
    const token = await this.vault.open(sessionUuid);
    if (!token || (token.expiresAt !== undefined && token.expiresAt <= this.now())) {
      return { refused: 'the user\'s token is no longer kept: it expired before the site needed it (or the session ended)' };
    }
    return this.client.exchange(token, { audience: this.target.audience, ...(this.target.scope ? { scope: this.target.scope } : {}) });
  }
}
