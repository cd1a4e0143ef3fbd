import type { TokenCipher } from '../auth/token-cipher.js';
import type { NotifyGate } from '../broker/request-offers.js';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { BrokerError } from '../domain/errors.js';
import { webhookRefusal } from './notify-targets.js';
import { newWebhookSecret } from './webhook-sender.js';

/** The context a webhook secret is sealed under: it opens for its own session only. */
export const secretContext = (sessionUuid: string): string => `webhook-secret:${sessionUuid}`;

/**
 * Subscriptions at request time: webhooks must pass the broker's egress policy (their host's
 * addresses as they resolve now), mail needs a configured SMTP server.
 */
export function notifyGate(options: { policy: EgressPolicy; mail: boolean; cipher: TokenCipher; expiringBeforeMs: number }): NotifyGate {
  return {
    expiringBeforeMs: options.expiringBeforeMs,
    async admit(subscriptions) {
      for (const subscription of subscriptions) {
        const reason = subscription.kind === 'mail'
          ? (options.mail ? undefined : 'this broker sends no mail (it has no SMTP server configured)')
          : await webhookRefusal(subscription.target, options.policy);
        if (reason) throw new BrokerError('notify-refused', { values: { target: subscription.target, reason } });
      }
    },
    newSecret: newWebhookSecret,
    seal: (secret, sessionUuid) => options.cipher.seal(secret, secretContext(sessionUuid)),
  };
}
