import express, { type Router } from 'express';
import type { BrowserLogin } from '../auth/browser-login.js';
import { BrokerError } from '../domain/errors.js';
import { problemDocument } from '../protocol/problem-document.js';
import { checkSameOrigin, clearCookie, LOGIN, PENDING, readCookie, setCookie } from './login-cookie.js';
import { baseUrlOf } from './respond.js';

const PENDING_MS = 10 * 60_000;

/** As the page's own (web-page-routes.ts): nothing runs, nothing loads from elsewhere. */
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const failedPage = (detail: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Login failed – SRCNet ExecutionBroker</title></head>
<body><h1>The login did not complete</h1><p>${escapeHtml(detail)}</p><p><a href="/login">Log in again</a> · <a href="/">Back to the page</a></p></body></html>
`;

/**
 * The page's login (the broker as its OAuth client): GET /login sends the browser to the
 * provider, GET /login/callback takes the provider's answer and sets the login cookie, POST
 * /logout ends the login (answering where to send the browser: the provider's end-session
 * endpoint when it has one). Mounted before authentication.
 */
export function loginRoutes(login: BrowserLogin, publicUrl: string | undefined): Router {
  const router = express.Router();
  router.get('/login', async (req, res) => {
    const then = typeof req.query.then === 'string' ? req.query.then : undefined;
    const { url, pendingCookie } = await login.start(baseUrlOf(req, publicUrl), then);
    setCookie(res, req, publicUrl, PENDING, pendingCookie, { maxAgeMs: PENDING_MS, sameSite: 'lax' });
    res.set('Cache-Control', 'no-store').redirect(303, url);
  });
  router.get('/login/callback', async (req, res) => {
    const pending = readCookie(req, PENDING, publicUrl);
    clearCookie(res, req, publicUrl, PENDING);
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
    let done: { cookie: string; then: string };
    try {
      done = await login.complete(pending, query);
    } catch (error) {
      // A browser is shown why, with the way back in; any other client gets the problem document.
      if (!(error instanceof BrokerError) || error.code !== 'login-failed' || req.accepts(['json', 'html']) !== 'html') throw error;
      res.status(400).set({ ...PAGE_HEADERS, 'Cache-Control': 'no-store' }).type('html').send(failedPage(problemDocument(error).detail));
      return;
    }
    const { cookie, then } = done;
    setCookie(res, req, publicUrl, LOGIN, cookie, { maxAgeMs: login.settings.maxAgeMs, sameSite: 'strict' });
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }).redirect(303, `/${then}`);
  });
  router.post('/logout', async (req, res) => {
    checkSameOrigin(req, publicUrl);
    const location = await login.logout(readCookie(req, LOGIN, publicUrl), baseUrlOf(req, publicUrl));
    clearCookie(res, req, publicUrl, LOGIN);
    res.set('Cache-Control', 'no-store').status(200).json({ location });
  });
  return router;
}
