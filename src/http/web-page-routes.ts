import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { BrokerError } from '../domain/errors.js';

/**
 * The page's own origin runs only the page's files: no inline script, nothing from elsewhere; it
 * talks to this broker alone, and no other site may frame it.
 */
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SRCNet ExecutionBroker</title></head>
<body><h1>SRCNet ExecutionBroker</h1><p>The web page is not built: run <code>npm run build</code>.
The API is served here all the same (<a href="/docs">/docs</a>).</p></body></html>
`;

/**
 * The web page (src/web, built by `npm run build` into dist/web) at `/`: index.html never cached,
 * the hashed files under /assets/ cached for a year. Served without a token: the page holds no
 * data, and asks the API for everything with the viewer's own.
 */
export function webPageRoutes(root: string | undefined): Router {
  const router = express.Router();
  const index = root ? join(root, 'index.html') : undefined;
  router.get('/', (_req, res) => {
    res.set(PAGE_HEADERS);
    if (index && existsSync(index)) res.sendFile(index);
    else res.status(200).type('text/html').send(NOT_BUILT);
  });
  if (root) {
    router.use('/assets', express.static(join(root, 'assets'), {
      index: false,
      fallthrough: true,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => { res.set('X-Content-Type-Options', 'nosniff'); },
    }));
  }
  // A missing asset is not found, token or not (rather than a 401 for a stale page's file).
  router.use('/assets', (req, _res, next) => {
    next(new BrokerError('route-not-found', { values: { method: req.method, path: req.path.slice(0, 200) } }));
  });
  return router;
}
