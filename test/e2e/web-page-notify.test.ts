import type { Page } from 'playwright-core';
import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Subscribing from the web page, in headless chromium against a broker that notifies: a webhook
 * URL and the events picked in the form; the signing secret shown once with the offers (the
 * page asks for a 201, since fetch follows a 303 and drops its headers); the subscription shown
 * on the session's page; every webhook verified with the secret the page showed. A refused
 * target is refused with the broker's reason, on the page.
 */
describeWithChromium('the web page subscribes to notifications', () => {
  const receiver = new WebhookReceiver();
  let broker: TestBroker;
  let browser: TestBrowser;
  beforeAll(async () => {
    await receiver.start();
    broker = await startTestBroker({
      parts: { api: true, siteWorkers: true, timers: true, notify: true },
      env: { NOTIFY_EGRESS_ALLOW: '127.0.0.1', NOTIFY_POLL: 'PT0.1S' },
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] },
    });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await receiver.close();
  });

  const open = async (): Promise<Page> => {
    const { page } = await browser.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    return page;
  };

  it('asks for a webhook on the chosen events, shows its secret once and the subscription on the session, and the webhooks verify', async () => {
    const page = await open();
    await page.getByLabel('Name', { exact: true }).fill('e2e-notify');
    await page.getByLabel(/^Command/).fill('echo told');
    await page.getByLabel('Webhook URL or mail address').fill(receiver.url);
    // The defaults (expiring, available, completed, failed, cancelled), and accepted too; not available.
    await page.getByLabel('accepted', { exact: true }).check();
    await page.getByLabel('available', { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    const shown = page.locator('p.webhook-secret code');
    await shown.waitFor();
    const secret = (await shown.textContent()) ?? '';
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const offer = page.locator('li.offer').first();
    const uuid = (await offer.getAttribute('data-uuid')) ?? '';
    receiver.secrets.set(uuid, secret);
    await page.getByRole('button', { name: 'Accept offer 1' }).click();
    await page.waitForURL(`**/#/sessions/${uuid}`);
    await page.locator('article.session-page[data-phase="COMPLETED"]').waitFor({ timeout: 30_000 });
    const told = page.locator(`ul.subscriptions li[data-target="${receiver.url}"]`);
    await told.waitFor();
    expect(await told.textContent()).toBe(`${receiver.url}: expiring, accepted, completed, failed, cancelled`);
    await screenshot(page, 'session-page-notify', { selector: 'article.session-page' });
    const end = Date.now() + 15_000;
    while (receiver.delivered(uuid).at(-1)?.payload.data.phase !== 'COMPLETED' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const arrived = receiver.delivered(uuid);
    expect(arrived.map((a) => [a.payload.type, a.verified])).toEqual([['session.accepted', true], ['session.completed', true]]);
    // The secret is not shown again: the offers are gone, and so is it.
    expect(await page.locator('p.webhook-secret').count()).toBe(0);
  }, 90_000);

  it('says why a target is refused, in the broker\'s words, and checks the form first', async () => {
    const page = await open();
    await page.getByLabel('Webhook URL or mail address').fill('not a target');
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByText('A webhook\'s http(s) URL or a mail address').waitFor();
    await page.getByLabel('Webhook URL or mail address').fill('http://10.1.2.3/hook');
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByRole('alert').filter({ hasText: 'The subscription to [http://10.1.2.3/hook] is refused' }).filter({ hasText: 'a private address' }).waitFor();
    // A mail address: only the events a mail can tell can be picked (and this broker has no mail server).
    await page.getByLabel('Webhook URL or mail address').fill('astro@example.org');
    const running = page.locator('input[name="notifyEvents"][value="RUNNING"]');
    await page.getByText('running (not by mail)').waitFor();
    expect(await running.isDisabled()).toBe(true);
    expect(await page.locator('input[name="notifyEvents"][value="COMPLETED"]').isDisabled()).toBe(false);
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByRole('alert').filter({ hasText: 'this broker sends no mail' }).waitFor();
  }, 60_000);
});
