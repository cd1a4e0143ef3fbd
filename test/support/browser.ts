import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); playwright-core drives it and never downloads a browser. */
export const CHROMIUM = process.env.EB_CHROMIUM ?? '/usr/bin/chromium';

/** Where the end-to-end tests write their screenshots and measurements (git-ignored). */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
export const SCREENSHOTS_DIR = join(RESULTS_DIR, 'screenshots');

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return `no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium), or name one in EB_CHROMIUM`;
  }
}

/**
 * A describe block of browser tests. Without chromium they are skipped, saying so in their name,
 * unless EB_REQUIRE_CHROMIUM=1 (as in CI), where a test fails saying what is missing.
 */
export function describeWithChromium(name: string, body: () => void): void {
  const missing = chromiumMissing();
  if (!missing) {
    describe(name, body);
  } else if (process.env.EB_REQUIRE_CHROMIUM === '1') {
    describe(name, () => {
      it('has chromium to run in (EB_REQUIRE_CHROMIUM=1)', () => { throw new Error(missing); });
    });
  } else {
    describe.skip(`${name} (SKIPPED: ${missing})`, body);
  }
}

export interface TestBrowser {
  context: BrowserContext;
  /** A new page that records console errors, page errors and the URL of every request it makes. */
  newPage(): Promise<{ page: Page; problems: string[]; requests: string[] }>;
  close(): Promise<void>;
}

/**
 * Headless chromium with a fresh profile in a temporary directory, nothing from the network but
 * the broker on loopback (no sync, no component updates, no QUIC, no first-run pages).
 */
export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'eb-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('request', (request) => requests.push(request.url()));
      return { page, problems, requests };
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A screenshot under test/results/screenshots/. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean; selector?: string } = {}): Promise<string> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const path = join(SCREENSHOTS_DIR, `${name}.png`);
  if (options.selector) await page.locator(options.selector).first().screenshot({ path });
  else await page.screenshot({ path, fullPage: options.fullPage ?? true });
  return path;
}
