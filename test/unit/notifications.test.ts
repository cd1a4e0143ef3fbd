import { createHmac } from 'node:crypto';
import { loadNotifyConfig } from '../../src/config/load-notify-config.js';
import { readExecutionRequestBody } from '../../src/protocol/read-request-body.js';
import { eventId, mailFor, webhookPayload, type NotifyFacts } from '../../src/domain/notify-messages.js';
import { awaitsAccept, expiringNoticeAt, readSubscriptions } from '../../src/domain/subscriptions.js';
import { webhookSignature } from '../../src/sites/webhook-sender.js';

const UUID = '0f6c2a52-7d1e-4a53-9b0e-2f4b9c1d8e77';
const facts = (overrides: Partial<NotifyFacts> = {}): NotifyFacts => ({
  id: eventId(UUID, 3), uuid: UUID, phase: 'AVAILABLE', at: Date.UTC(2026, 11, 2, 10, 0, 0), url: `https://broker.example.org/sessions/${UUID}`, site: 'demo', ...overrides,
});

describe('subscriptions read from a request', () => {
  it('takes URLs and mail addresses with the default events, and objects with their own', () => {
    expect(readSubscriptions(['https://hooks.example.org/eb', 'mailto:astro@example.org', { target: 'http://h.example.org/x', events: ['RUNNING', 'ACCEPTED'] }])).toEqual({
      subscriptions: [
        { kind: 'webhook', target: 'https://hooks.example.org/eb', events: ['REJECTED', 'EXPIRED', 'AVAILABLE', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] },
        { kind: 'mail', target: 'mailto:astro@example.org', events: ['AVAILABLE', 'COMPLETED', 'FAILED', 'CANCELLED'] },
        { kind: 'webhook', target: 'http://h.example.org/x', events: ['ACCEPTED', 'RUNNING'] },
      ],
    });
  });

  it.each([
    [['ftp://x.example.org/'], 'a target is an http(s) URL or a mailto: address'],
    [['mailto:a@example.org?cc=b@example.org'], 'a mailto: target names one mail address, with no query'],
    [['https://user:pw@example.org/'], 'a webhook URL may not carry a user name or password'],
    [[{ target: 'mailto:a@example.org', events: ['RUNNING'] }], 'RUNNING is not an event a mail subscription can ask for'],
    [[{ target: 'https://example.org/', events: ['OFFERED'] }], 'OFFERED is not an event a webhook subscription can ask for'],
    [[{ target: 'https://example.org/', events: [] }], 'events is a non-empty list of phase names'],
    [[42], 'each subscription is a URL, a mailto: address, or {target, events}'],
    [['https://a.example.org/', 'https://b.example.org/', 'https://c.example.org/', 'https://d.example.org/', 'https://e.example.org/'], 'at most 4 subscriptions'],
  ])('refuses %j, saying why', (value, reason) => {
    const read = readSubscriptions(value);
    expect('problem' in read && read.problem.reason).toContain(reason);
  });
});

describe('what a subscriber is told', () => {
  it('signs "id.timestamp.body" with HMAC-SHA256 keyed by the secret\'s base64 bytes (Standard Webhooks)', () => {
    // The specification's own example: secret, id, timestamp, body and the signature it gives.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(webhookSignature(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    expect(webhookSignature(secret, 'a', 1, 'b')).toBe(`v1,${createHmac('sha256', key).update('a.1.b').digest('base64')}`);
  });

  it('writes the payload with the uuid, phase, time and URL, and cuts any query (a token) from URLs', () => {
    expect(webhookPayload(facts({ url: `https://broker.example.org/sessions/${UUID}?x=1`, connectors: ['http://node7:8888/lab?token=secret'] }))).toEqual({
      type: 'session.available',
      timestamp: '2026-12-02T10:00:00.000Z',
      data: { session: UUID, phase: 'AVAILABLE', time: '2026-12-02T10:00:00.000Z', url: `https://broker.example.org/sessions/${UUID}`, site: 'demo', connectors: ['http://node7:8888/lab'] },
    });
  });

  it('mails AVAILABLE with the connectors (no token), COMPLETED with the outputs, FAILED with the reason, CANCELLED; nothing else', () => {
    const available = mailFor(facts({ connectors: ['http://node7:8888/lab?token=secret'] }));
    expect(available?.subject).toBe('Session 0f6c2a52 is available');
    expect(available?.text).toContain('Connect: http://node7:8888/lab\n');
    expect(`${available?.text}${available?.html}`).not.toContain('secret');
    expect(mailFor(facts({ phase: 'COMPLETED', outputsUrl: `https://broker.example.org/sessions/${UUID}/outputs` }))?.text).toContain(`Outputs: https://broker.example.org/sessions/${UUID}/outputs`);
    const failed = mailFor(facts({ phase: 'FAILED', reason: 'The executable exited with status 3 <oops>' }));
    expect(failed?.subject).toBe('Session 0f6c2a52 failed');
    expect(failed?.text).toContain('Reason: The executable exited with status 3 <oops>');
    expect(failed?.html).toContain('status 3 &#60;oops&#62;');
    expect(mailFor(facts({ phase: 'CANCELLED' }))?.subject).toBe('Session 0f6c2a52 was cancelled');
    expect(mailFor(facts({ phase: 'RUNNING' }))).toBeUndefined();
  });

  it('tells EXPIRING as offerset.expiring with the offer set, its expiry and its open offers, and mails it', () => {
    const set = '11111111-2222-4333-8444-555555555555';
    const expiring = facts({
      phase: 'EXPIRING', url: `https://broker.example.org/offersets/${set}`, offerSet: set, expires: Date.UTC(2026, 11, 2, 10, 5, 0),
      offers: [{ session: UUID, url: `https://broker.example.org/sessions/${UUID}` }],
    });
    expect(webhookPayload(expiring)).toEqual({
      type: 'offerset.expiring',
      timestamp: '2026-12-02T10:00:00.000Z',
      data: { offerset: set, url: `https://broker.example.org/offersets/${set}`, expires: '2026-12-02T10:05:00.000Z', offers: [{ session: UUID, url: `https://broker.example.org/sessions/${UUID}` }] },
    });
    const mail = mailFor(expiring);
    expect(mail?.subject).toBe('Offers 11111111 expire at 10:05 UTC');
    expect(mail?.text).toContain(`Offer: https://broker.example.org/sessions/${UUID}\n`);
  });

  it('asks for EXPIRING only when told to, and says when it is due and whether it is still to be told', () => {
    expect(readSubscriptions([{ target: 'mailto:a@example.org', events: ['EXPIRING', 'COMPLETED'] }])).toEqual({ subscriptions: [{ kind: 'mail', target: 'mailto:a@example.org', events: ['EXPIRING', 'COMPLETED'] }] });
    expect(expiringNoticeAt(1_000, 301_000, 60_000)).toBe(241_000);
    expect(expiringNoticeAt(1_000, 31_000, 60_000)).toBe(1_000);
    expect(awaitsAccept([{ phase: 'OFFERED', expires: 10 }, { phase: 'REJECTED', expires: 10 }], 5)).toBe(true);
    expect(awaitsAccept([{ phase: 'OFFERED', expires: 10 }], 10)).toBe(false);
    expect(awaitsAccept([{ phase: 'ACCEPTED', expires: 10 }, { phase: 'REJECTED', expires: 10 }], 5)).toBe(false);
    expect(awaitsAccept([{ phase: 'EXPIRED', expires: 10 }], 5)).toBe(false);
  });
});

describe('notification settings', () => {
  it('defaults to a 24 h retry window and no mail, and refuses what it cannot use', () => {
    expect(loadNotifyConfig({})).toEqual({ egressAllow: [], retryWindowMs: 86_400_000, retryBaseMs: 1_000, retryMaxMs: 3_600_000, timeoutMs: 10_000, pollMs: 200, expiringBeforeMs: 60_000 });
    expect(loadNotifyConfig({ SMTP_URL: 'smtp://mail.example.org:2525' }).mail).toEqual({ url: 'smtp://mail.example.org:2525', from: 'execution-broker@localhost', perMinute: 60, timeoutMs: 10_000 });
    expect(() => loadNotifyConfig({ SMTP_URL: 'http://mail.example.org' })).toThrow('SMTP_URL must be');
    expect(() => loadNotifyConfig({ SMTP_URL: 'smtp://m', MAIL_FROM: 'nobody' })).toThrow('MAIL_FROM must be a mail address');
    expect(() => loadNotifyConfig({ NOTIFY_EGRESS_ALLOW: '10.0.0.0/99' })).toThrow('NOTIFY_EGRESS_ALLOW');
    expect(() => loadNotifyConfig({ NOTIFY_RETRY_WINDOW: 'PT0S' })).toThrow('NOTIFY_RETRY_WINDOW must be longer than zero');
  });
});

describe('the srcnet.notify extension in each format', () => {
  const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';
  it('is read from XML (one element per target) and YAML, and a bad one is a 400 notify-refused', () => {
    const xml = `<offers-request><executable><kind>${V1}/executable/docker-container.yaml</kind><image><locations>busybox</locations></image></executable><srcnet.notify>https://hooks.example.org/a</srcnet.notify><srcnet.notify>mailto:a@example.org</srcnet.notify></offers-request>`;
    expect(readExecutionRequestBody(Buffer.from(xml), 'application/xml').subscriptions?.map((s) => s.target)).toEqual(['https://hooks.example.org/a', 'mailto:a@example.org']);
    // One target only is still a list; a target with its events, one <events> each (one alone is still a list).
    const one = `<offers-request><executable><kind>${V1}/executable/docker-container.yaml</kind><image><locations>busybox</locations></image></executable><srcnet.notify><target>https://hooks.example.org/c</target><events>EXPIRING</events></srcnet.notify><srcnet.notify>mailto:b@example.org</srcnet.notify></offers-request>`;
    expect(readExecutionRequestBody(Buffer.from(one), 'application/xml').subscriptions).toEqual([
      { kind: 'webhook', target: 'https://hooks.example.org/c', events: ['EXPIRING'] },
      { kind: 'mail', target: 'mailto:b@example.org', events: ['AVAILABLE', 'COMPLETED', 'FAILED', 'CANCELLED'] },
    ]);
    const yaml = `executable:\n  kind: ${V1}/executable/docker-container.yaml\n  image: { locations: [busybox] }\nsrcnet.notify:\n  - target: https://hooks.example.org/b\n    events: [RUNNING]\n`;
    expect(readExecutionRequestBody(Buffer.from(yaml), 'application/yaml').subscriptions).toEqual([{ kind: 'webhook', target: 'https://hooks.example.org/b', events: ['RUNNING'] }]);
    const bad = `executable:\n  kind: ${V1}/executable/docker-container.yaml\n  image: { locations: [busybox] }\nsrcnet.notify: [gopher://x]\n`;
    let thrown: unknown;
    try { readExecutionRequestBody(Buffer.from(bad), 'application/yaml'); } catch (error) { thrown = error; }
    expect(thrown).toMatchObject({ code: 'notify-refused', values: { target: 'gopher://x' } });
  });
});
