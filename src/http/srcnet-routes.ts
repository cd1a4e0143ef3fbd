import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import { readSrcnetJob, readSrcnetQuery, type ValidationDetail } from '../protocol/srcnet/read-srcnet-body.js';
import { failureAnswer, OK_ANSWER, statusAnswer, submitAnswer, unavailableAnswer, validityText } from '../protocol/srcnet/srcnet-answers.js';
import { jobId, provisionId, sessionOfProvision } from '../protocol/srcnet/srcnet-ids.js';
import { translateJob, translateQuery } from '../protocol/srcnet/srcnet-translation.js';
import { isBrokerError } from '../domain/errors.js';
import { DEFAULT_MAIL_EVENTS, isMailAddress, type Subscription } from '../domain/subscriptions.js';
import { ERROR_CATALOGUE } from '../protocol/error-catalogue.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { normaliseError } from './error-handler.js';
import { offerOwner } from '../domain/principal.js';
import { catalogueHealth } from './catalogue-health.js';
import { requestPrincipal } from './request-principal.js';
import { baseUrlOf } from './respond.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** SRCNet's contact_email: mail on AVAILABLE, COMPLETED, FAILED and CANCELLED (docs/notifications.md). */
const contactSubscription = (email: string | undefined): { subscriptions?: Subscription[] } =>
  (email && isMailAddress(email) ? { subscriptions: [{ kind: 'mail', target: `mailto:${email}`, events: [...DEFAULT_MAIL_EVENTS] }] } : {});

const bodyOf = (req: Request): Uint8Array => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
const unprocessable = (res: Response, detail: ValidationDetail[]): void => { res.status(422).json({ detail }); };

/**
 * SRCNet's compute API (its prototype's paths under /v1, written out in full so that the OpenAPI
 * description's test sees them), served by the ExecutionBroker engine.
 * Each route reads the body as the prototype did, translates it, calls one use case and writes the
 * outcome as a response code in a 200 body; only a body it cannot read is an HTTP error (422).
 * Two routers: `probes` (ping, health) are mounted before authentication, `api` after it, so that
 * each request acts for its principal and owns what it provisions.
 */
export function srcnetRoutes(api: BrokerApi, options: AppOptions): { probes: Router; api: Router } {
  const probes = express.Router();
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: options.bodyLimitBytes });
  const started = Date.now();
  let managed = 0;
  probes.use('/v1', (_req, _res, next) => { managed++; next(); });

  /** Whatever fails inside is a response code too (3 or 255), with the route's other fields empty. */
  const answering = (empty: Record<string, null | string>, handle: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    async (req, res) => {
      try {
        await handle(req, res);
      } catch (error) {
        const failure = normaliseError(error, options.bodyLimitBytes);
        const answer = failureAnswer(failure);
        if (answer.response_code === 255) options.logError(error, { method: req.method, path: req.path });
        const retryAfter = ERROR_CATALOGUE[failure.code].retryAfterSeconds;
        if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
        res.status(200).json({ ...answer, ...empty });
      }
    };

  probes.get('/v1/ping', (_req, res) => { res.json({ status: 'UP', version: VERSION }); });

  // The prototype's HealthResponse: uptime, number_of_managed_requests and
  // dependent_services['permissions-api'] (here: the OpenID issuer, UP when there is none), all
  // required; 500 when any dependency is down.
  probes.get('/v1/health', async (_req, res) => {
    const [state, issuer] = await Promise.all([
      api.availability().catch(() => ({ available: false, note: 'The broker cannot reach its store' })),
      options.authenticator.issuerReachable?.() ?? Promise.resolve(true),
    ]);
    const store = state.available || !/store/.test(state.note) ? 'UP' : 'DOWN';
    const status = (up: boolean): { status: 'UP' | 'DOWN' } => ({ status: up ? 'UP' : 'DOWN' });
    res.status(state.available && issuer ? 200 : 500).json({
      uptime: Math.round((Date.now() - started) / 1000),
      number_of_managed_requests: managed,
      dependent_services: { 'permissions-api': status(issuer), redis: { status: store }, 'site-workers': status(state.available), ...(await catalogueHealth(api)) },
    });
  });

  const query = answering({}, async (req, res) => {
    const read = readSrcnetQuery(bodyOf(req));
    if (!read.ok) return unprocessable(res, read.detail);
    const { available, offerSet } = await api.queryProvision({ ...translateQuery(read.value, Date.now(), 'srcnet-query'), ...offerOwner(requestPrincipal(req)) });
    res.json(available ? OK_ANSWER : unavailableAnswer(offerSet));
  });
  router.post('/v1/query', rawBody, query);

  const provision = answering({ provision_id: null, provision_validity: null }, async (req, res) => {
    const read = readSrcnetQuery(bodyOf(req));
    if (!read.ok) return unprocessable(res, read.detail);
    const outcome = await api.provision({ ...translateQuery(read.value, Date.now(), 'srcnet-provision'), ...offerOwner(requestPrincipal(req)) });
    if (outcome.outcome === 'none') {
      res.json({ ...unavailableAnswer(outcome.offerSet), provision_id: null, provision_validity: null });
      return;
    }
    res.json({ ...OK_ANSWER, provision_id: provisionId(outcome.session.uuid), provision_validity: validityText(outcome.bindBy) });
  });
  router.put('/v1/provision', rawBody, provision);
  router.post('/v1/provision', rawBody, provision);

  const submit = answering({ job_id: null }, async (req, res) => {
    const read = readSrcnetJob(bodyOf(req));
    if (!read.ok) return unprocessable(res, read.detail);
    const uuid = sessionOfProvision(String(req.params.provision_id ?? ''));
    if (!uuid) {
      res.json(submitAnswer({ outcome: 'not-found' }, ''));
      return;
    }
    const outcome = await api.bindExecutable(uuid, requestPrincipal(req), { ...translateJob(read.value), ...contactSubscription(read.value.contact_email) });
    res.json(submitAnswer(outcome, jobId(uuid)));
  });
  // The prototype's own client leaves out the `provision/` segment: both forms are served.
  for (const path of ['/v1/provision/:provision_id/submit', '/v1/:provision_id/submit']) {
    router.put(path, rawBody, submit);
    router.post(path, rawBody, submit);
  }

  const status = answering({ logging: '', output_data: null }, async (req, res) => {
    const uuid = sessionOfProvision(String(req.params.provision_id ?? ''));
    const principal = requestPrincipal(req);
    // Someone else's provision is answered as one that does not exist (no existence oracle).
    const session = uuid ? await api.getSession(uuid, principal).catch((error: unknown) => {
      if (isBrokerError(error) && error.code === 'not-found') return undefined;
      throw error;
    }) : undefined;
    if (!session) {
      res.json({ response_code: 2, response_text: 'Invalid job: job does not exist', logging: '', output_data: null });
      return;
    }
    const log = await api.getSessionLog(session.uuid, principal);
    res.json(statusAnswer(session, log, `${baseUrlOf(req, options.publicUrl)}/sessions/${session.uuid}/outputs`));
  });
  for (const path of ['/v1/provision/:provision_id/status', '/v1/:provision_id/status']) router.get(path, status);

  router.use('/v1', notServed);
  router.use('/v1', failed(options));
  return { probes, api: router };
}

/** FastAPI's answers for a path it does not serve, and for a method a path does not take (paths below /v1). */
const SERVED: ReadonlyArray<[RegExp, string]> = [
  [/^\/(ping|health)\/?$/, 'GET'],
  [/^\/query\/?$/, 'POST'],
  [/^\/provision\/?$/, 'PUT, POST'],
  [/^\/(provision\/)?[^/]+\/submit\/?$/, 'PUT, POST'],
  [/^\/(provision\/)?[^/]+\/status\/?$/, 'GET'],
];

const notServed: RequestHandler = (req, res) => {
  const allowed = SERVED.find(([pattern]) => pattern.test(req.path))?.[1];
  if (allowed) res.status(405).set('Allow', allowed).json({ detail: 'Method Not Allowed' });
  else res.status(404).json({ detail: 'Not Found' });
};

function failed(options: AppOptions): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) { next(error); return; }
    const failure = error as { type?: string; status?: number };
    if (failure.type === 'entity.too.large') {
      res.status(413).json({ detail: `Request body larger than ${options.bodyLimitBytes} bytes` });
      return;
    }
    if (typeof failure.status === 'number' && failure.status >= 400 && failure.status < 500) {
      res.status(failure.status).json({ detail: 'The request body could not be read' });
      return;
    }
    options.logError(error, { method: req.method, path: req.path });
    res.status(500).json({ detail: 'Internal Server Error' });
  };
}
