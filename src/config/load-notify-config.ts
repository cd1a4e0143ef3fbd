import { allowEntryProblem } from '../domain/egress-policy.js';
import { ConfigError } from './config-error.js';
import { durationMs } from './load-config.js';

export interface NotifyConfig {
  /** Hosts, addresses or CIDR blocks webhooks may reach although the egress policy refuses them (NOTIFY_EGRESS_ALLOW). */
  egressAllow: string[];
  /** How long an event is retried before it is given up (NOTIFY_RETRY_WINDOW, 24 h). */
  retryWindowMs: number;
  /** The first back-off (NOTIFY_RETRY_BASE, 1 s); each retry waits twice as long, up to NOTIFY_RETRY_MAX (1 h). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a receiver (or the SMTP server) may take to answer one attempt (NOTIFY_TIMEOUT, 10 s). */
  timeoutMs: number;
  /** How often the outbox is read for events not yet handed to a delivery job (NOTIFY_POLL, 0.2 s). */
  pollMs: number;
  /** How long before an offer set expires its EXPIRING subscribers are told (NOTIFY_EXPIRING_BEFORE, 1 min). */
  expiringBeforeMs: number;
  /** Mail, when SMTP_URL is set. */
  mail?: { url: string; from: string; perMinute: number; timeoutMs: number };
}

const positive = (ms: number, what: string): number => {
  if (ms <= 0) throw new ConfigError(`${what} must be longer than zero`);
  return ms;
};

/** The notification settings from the environment (docs/notifications.md). */
export function loadNotifyConfig(env: NodeJS.ProcessEnv): NotifyConfig {
  const egressAllow = (env.NOTIFY_EGRESS_ALLOW ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of egressAllow) {
    const problem = allowEntryProblem(entry);
    if (problem) throw new ConfigError(`NOTIFY_EGRESS_ALLOW: ${problem}`);
  }
  const timeoutMs = positive(durationMs(env.NOTIFY_TIMEOUT || undefined, 'PT10S', 'NOTIFY_TIMEOUT'), 'NOTIFY_TIMEOUT');
  const config: NotifyConfig = {
    egressAllow,
    retryWindowMs: positive(durationMs(env.NOTIFY_RETRY_WINDOW || undefined, 'PT24H', 'NOTIFY_RETRY_WINDOW'), 'NOTIFY_RETRY_WINDOW'),
    retryBaseMs: positive(durationMs(env.NOTIFY_RETRY_BASE || undefined, 'PT1S', 'NOTIFY_RETRY_BASE'), 'NOTIFY_RETRY_BASE'),
    retryMaxMs: positive(durationMs(env.NOTIFY_RETRY_MAX || undefined, 'PT1H', 'NOTIFY_RETRY_MAX'), 'NOTIFY_RETRY_MAX'),
    timeoutMs,
    expiringBeforeMs: positive(durationMs(env.NOTIFY_EXPIRING_BEFORE || undefined, 'PT1M', 'NOTIFY_EXPIRING_BEFORE'), 'NOTIFY_EXPIRING_BEFORE'),
    pollMs: positive(durationMs(env.NOTIFY_POLL || undefined, 'PT0.2S', 'NOTIFY_POLL'), 'NOTIFY_POLL'),
  };
  const url = env.SMTP_URL;
  if (!url) return config;
  if (!/^smtps?:\/\/[^/\s]+\/?$/.test(url)) throw new ConfigError('SMTP_URL must be smtp://[user:password@]host[:port] or smtps://...');
  const from = env.MAIL_FROM || 'execution-broker@localhost';
  if (!/^[^\s@<>"]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(from)) throw new ConfigError(`MAIL_FROM must be a mail address (name@host), not "${from}"`);
  const rate = env.MAIL_RATE_PER_MINUTE ? Number(env.MAIL_RATE_PER_MINUTE) : 60;
  if (!Number.isInteger(rate) || rate < 1 || rate > 100_000) throw new ConfigError('MAIL_RATE_PER_MINUTE must be a whole number from 1 to 100000');
  return { ...config, mail: { url, from, perMinute: rate, timeoutMs } };
}
