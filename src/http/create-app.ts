import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import { BrokerError } from '../domain/errors.js';
import { apiDocsRoutes } from './api-docs-routes.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { authenticate } from './authenticate.js';
import { connectProxyRoute, connectProxyUpgrade } from './connect-proxy.js';
import { loginRoutes } from './login-routes.js';
import { ownOrigin } from './login-cookie.js';
import { availabilityRoute } from './availability-route.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { capabilitiesRoute } from './capabilities-route.js';
import { errorHandler } from './error-handler.js';
import { executionBrokerRoutes } from './execution-broker-routes.js';
import { observeRequests } from './request-observer.js';
import { outputsRoutes } from './outputs-routes.js';
import { eventsRoute } from './events-route.js';
import { overviewRoutes } from './overview-routes.js';
import { srcnetRoutes } from './srcnet-routes.js';
import { globalExecutionRoutes } from './global-execution-routes.js';
import { webPageRoutes } from './web-page-routes.js';

/** Which methods each path serves, for 405 answers with an Allow header. */
const ALLOWED: ReadonlyArray<[RegExp, string]> = [
  [/^\/$/, 'GET, HEAD'],
  [/^\/sessions\/?$/, 'GET, HEAD, POST'],
  [/^\/(requests|offersets|direct)\/?$/, 'POST'],
  [/^\/offersets\/[^/]+\/?$/, 'GET, HEAD'],
  [/^\/sessions\/[^/]+\/?$/, 'GET, HEAD, POST'],
  [/^\/sessions\/[^/]+\/(logs|history)\/?$/, 'GET, HEAD'],
  [/^\/sites(\/[^/]+\/timeline)?\/?$/, 'GET, HEAD'],
  [/^\/events\/?$/, 'GET, HEAD'],
  [/^\/sessions\/[^/]+\/outputs(\/.*)?$/, 'GET, HEAD'],
  [/^\/availability\/?$/, 'GET, HEAD'],
  [/^\/capabilities\/?$/, 'GET, HEAD'],
  [/^\/metrics\/?$/, 'GET, HEAD'],
  [/^\/(openapi\.yaml|openapi\.json|docs)\/?$/, 'GET, HEAD'],
];

/** The login's paths, where the page's login is on. */
const LOGIN_ALLOWED: ReadonlyArray<[RegExp, string]> = [
  [/^\/login(\/callback)?\/?$/, 'GET, HEAD'],
  [/^\/logout\/?$/, 'POST'],
];

const notServed = (allowedPaths: ReadonlyArray<[RegExp, string]>): RequestHandler => (req, _res, next) => {
  const allowed = allowedPaths.find(([pattern]) => pattern.test(req.path))?.[1];
  next(allowed
    ? new BrokerError('method-not-allowed', { values: { method: req.method, path: req.path, allowed } })
    : new BrokerError('route-not-found', { values: { method: req.method, path: req.path.slice(0, 200) } }));
};

/** The app, and what its HTTP server hands it for an upgrade (WebSockets through the connect proxy). */
export type BrokerApp = Express & { handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void };

/** Builds the broker's Express app. It never listens: entry points and tests do that. */
export function createApp(api: BrokerApi, options: AppOptions): BrokerApp {
  const app = express() as BrokerApp;
  const cookies = options.login ? { login: options.login, publicUrl: options.publicUrl } : undefined;
  const origin = (req: IncomingMessage): string => ownOrigin(req, options.publicUrl);
  app.handleUpgrade = connectProxyUpgrade(api, options.authenticator, cookies, origin, options.shutdown);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(observeRequests({ ...(options.logger ? { logger: options.logger } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) }));
  // Readable without a token: metrics, the VOSI resources, the API's description and SRCNet's
  // ping and health. Everything mounted after authenticate() needs one (unless anonymous).
  if (options.metrics) {
    const metrics = options.metrics;
    const allowed = scraperCheck(options.metricsToken);
    app.get('/metrics', async (req, res) => {
      allowed(req.get('authorization'));
      const { contentType, body } = await metrics.render();
      res.status(200).type(contentType).send(body);
    });
  }
  app.use(availabilityRoute(api));
  app.use(capabilitiesRoute({ publicUrl: options.publicUrl, authenticated: options.authenticator.required, cookie: Boolean(options.login) }));
  app.use(apiDocsRoutes());
  app.use(webPageRoutes(options.webRoot));
  const srcnet = srcnetRoutes(api, options);
  app.use(srcnet.probes);
  const globalExecution = globalExecutionRoutes(api, options);
  app.use(globalExecution.probes);
  if (options.login) app.use(loginRoutes(options.login, options.publicUrl));
  if (options.extraRoutes) app.use(options.extraRoutes);
  app.use(authenticate(options.authenticator, cookies));
  app.use(connectProxyRoute(api, origin));
  app.use(executionBrokerRoutes(api, options));
  app.use(overviewRoutes(api, options));
  app.use(eventsRoute(api, options));
  app.use(outputsRoutes(api, options));
  app.use(srcnet.api);
  app.use(globalExecution.api);
  app.use(notServed(options.login ? [...ALLOWED, ...LOGIN_ALLOWED] : ALLOWED));
  app.use(errorHandler(options));
  return app;
}

/**
 * Whether a request may read /metrics: anyone without a metrics token configured; with one, only a
 * request that bears it (compared in constant time; 401 with a Bearer challenge otherwise).
 */
function scraperCheck(token: string | undefined): (authorization: string | undefined) => void {
  if (!token) return () => undefined;
  const expected = createHash('sha256').update(token).digest();
  return (authorization) => {
    const given = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
    if (given === undefined) throw new BrokerError('authentication-required', { detail: '/metrics needs the metrics token as a bearer token' });
    if (!timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
      throw new BrokerError('invalid-token', { values: { reason: 'it is not the metrics token' } });
    }
  };
}
