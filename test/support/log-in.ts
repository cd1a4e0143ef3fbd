import type { Page } from 'playwright-core';

/**
 * Logs a user in as a person would: the page's "Log in", the provider's login form (the test
 * provider's development form: any password), its consent page, and back on the page.
 */
export async function logIn(page: Page, brokerUrl: string, issuer: string, user: string): Promise<void> {
  await page.goto(brokerUrl);
  await page.getByRole('heading', { name: 'Log in to use this broker' }).waitFor();
  await page.locator('section.login-needed').getByRole('link', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.href.startsWith(brokerUrl));
  await page.getByText(`Signed in as ${user}`).waitFor();
}
