import nodemailer from 'nodemailer';
import type { MailMessage } from '../domain/notify-messages.js';

export interface MailSettings {
  /** smtp://user:pass@host:port or smtps://... (SMTP_URL). */
  url: string;
  /** The From address (MAIL_FROM). */
  from: string;
  /** At most this many messages per minute (MAIL_RATE_PER_MINUTE); more wait their turn. */
  perMinute: number;
  /** How long one message may take, connecting included. */
  timeoutMs: number;
}

export interface MailSender {
  send(to: string, message: MailMessage): Promise<void>;
  close(): void;
}

/**
 * Mail through one SMTP server (nodemailer, pooled, rate-limited). A server that is down or slow
 * makes send() reject after the timeout, and the delivery job retries: it never holds a session.
 */
export function smtpMailSender(settings: MailSettings): MailSender {
  const transport = nodemailer.createTransport({
    url: settings.url,
    pool: true,
    maxConnections: 2,
    rateDelta: 60_000,
    rateLimit: settings.perMinute,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    async send(to, message) {
      await transport.sendMail({ from: settings.from, to, subject: message.subject, text: message.text, html: message.html });
    },
    close: () => transport.close(),
  };
}
