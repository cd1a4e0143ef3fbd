import { Redis } from 'ioredis';
import { ChannelSubscription, SUBSCRIBER_OPTIONS } from '../store/channel-subscription.js';
import type { TokenCipher } from '../auth/token-cipher.js';
import type { BrokerStore } from '../broker/ports.js';
import type { Config } from '../config/load-config.js';
import { mailFor, webhookPayload } from '../domain/notify-messages.js';
import { awaitsAccept } from '../domain/subscriptions.js';
import type { Logger } from '../observability/logger.js';
import { notifyFacts } from '../protocol/notify-facts.js';
import { startNotifyWorker, type RunningNotifyWorker } from '../queue/notify-worker.js';
import { machineEgressPolicy } from '../sites/egress-guard.js';
import { smtpMailSender } from '../sites/mail-sender.js';
import { secretContext } from '../sites/notify-gate.js';
import { postWebhook } from '../sites/webhook-sender.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { RedisNotifyOutbox } from '../store/redis-notify-outbox.js';

/** The broker's URL as subscribers are told it. */
export const notifyBaseUrl = (config: Config): string =>
  (config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`).replace(/\/$/, '');

/** The notify worker with its real senders: webhooks under the broker's egress policy, mail through SMTP_URL. */
export async function startNotifyRuntime(options: {
  config: Config; connection: Redis; producer: Redis; store: Redis; keys: RedisKeys; brokerStore: BrokerStore; cipher: TokenCipher; now: () => number; logger: Logger;
}): Promise<RunningNotifyWorker> {
  const { config, cipher, logger } = options;
  const settings = config.notify;
  const policy = machineEgressPolicy(settings.egressAllow, config);
  const mailer = settings.mail ? smtpMailSender(settings.mail) : undefined;
  const baseUrl = notifyBaseUrl(config);
  let wake: (uuid: string) => void = () => undefined;
  const channel = new ChannelSubscription(new Redis(config.redisUrl, { ...SUBSCRIBER_OPTIONS, connectionName: `eb-notify-wake-${config.keyPrefix}` }), options.keys.notifyWake, {
    message: (text) => {
      try {
        for (const uuid of JSON.parse(text) as unknown[]) if (typeof uuid === 'string') wake(uuid);
      } catch {
        // Only a hint: the outbox is read every NOTIFY_POLL anyway.
      }
    },
  });
  const running = await startNotifyWorker({
    connection: options.connection,
    producer: options.producer,
    keys: options.keys,
    outbox: new RedisNotifyOutbox(options.store, options.keys),
    getSession: (uuid) => options.brokerStore.getSession(uuid),
    offerSetOpen: async (uuid) => {
      const sessions = (await options.brokerStore.getOfferSet(uuid))?.sessions ?? [];
      return awaitsAccept(sessions, options.now());
    },
    facts: (event, session) => notifyFacts(event, session, baseUrl),
    settings,
    now: options.now,
    logger,
    wakeUps: {
      // Not waited for long: without it deliveries only wait for the next poll.
      start: async (listener) => { wake = listener; await channel.start(2_000).catch(() => undefined); },
      close: () => channel.close(),
    },
    delivery: {
      async webhook(target, facts, sealedSecret) {
        const secret = sealedSecret ? cipher.open(sealedSecret, secretContext(facts.uuid)) : undefined;
        if (!secret) {
          // Retrying cannot help (another broker key, or none kept): said once, and passed over.
          logger.error({ session: facts.uuid, event: facts.id }, 'webhook not sent: its signing secret cannot be opened with this broker\'s key (is TOKEN_KEY the same in every process?)');
          return false;
        }
        await postWebhook(target, { id: facts.id, body: JSON.stringify(webhookPayload(facts)), secret }, policy, settings.timeoutMs, options.now);
        return true;
      },
      ...(mailer ? {
        mail: async (to: string, facts: Parameters<typeof mailFor>[0]) => {
          const message = mailFor(facts);
          if (message) await mailer.send(to, message);
          return message !== undefined;
        },
      } : {}),
    },
  });
  return { jobCounts: () => running.jobCounts(), close: async () => { await running.close(); mailer?.close(); } };
}
