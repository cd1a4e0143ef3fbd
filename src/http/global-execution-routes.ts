import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import { isBrokerError } from '../domain/errors.js';
import { ERROR_CATALOGUE } from '../protocol/error-catalogue.js';
import { problemDocument } from '../protocol/problem-document.js';
import { jobStatusAnswer, noJobError, translateGlobalJob, UNKNOWN_JOB, type JobError, type OutputLink } from '../protocol/srcnet/global-execution.js';
import { readGlobalJob } from '../protocol/srcnet/read-global-job.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { normaliseError } from './error-handler.js';
import { catalogueHealth } from './catalogue-health.js';
import { requestPrincipal } from './request-principal.js';
import { baseUrlOf } from './respond.js';

/** Where SRCNet's Global Execution API is served (its clients' `{api}`). */
export const GLOBAL_EXECUTION_PREFIX = '/global-execution-api/v1';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bodyOf = (req: Request): Uint8Array => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
const sendError = (res: Response, error: JobError): void => { res.status(error.status).json(error.body); };

/**
 * SRCNet's Global Execution API (docs/srcnet-api.md): submit a job, read its status, ping and
 * health. Each route reads, calls one use case (the one `/direct` calls) and writes; every
 * failure is an HTTP status with `{detail, code}` (a body it cannot read: FastAPI's 422 list).
 * `probes` are mounted before authentication, `api` after it.
 */
export function globalExecutionRoutes(api: BrokerApi, options: AppOptions): { probes: Router; api: Router } {
  const probes = express.Router();
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: options.bodyLimitBytes });
  const started = Date.now();
  const P = GLOBAL_EXECUTION_PREFIX;

  const answering = (handle: (req: Request, res: Response) => Promise<void>): RequestHandler => async (req, res) => {
    try {
      await handle(req, res);
    } catch (error) {
      const failure = normaliseError(error, options.bodyLimitBytes);
      const entry = ERROR_CATALOGUE[failure.code];
      if (entry.status >= 500 && failure.code === 'internal-error') options.logError(error, { method: req.method, path: req.path });
      if (entry.retryAfterSeconds !== undefined) res.set('Retry-After', String(entry.retryAfterSeconds));
      sendError(res, { status: entry.status, body: { detail: problemDocument(failure).detail, code: failure.code } });
    }
  };

  probes.get(`${P}/ping`, (_req, res) => { res.json({ status: 'UP', version: VERSION }); });
  probes.get(`${P}/health`, answering(async (_req, res) => {
    const [state, issuer] = await Promise.all([
      api.availability().catch(() => ({ available: false, note: 'The broker cannot reach its Redis store' })),
      options.authenticator.issuerReachable?.() ?? Promise.resolve(true),
    ]);
    const up = state.available && issuer;
    const status = (ok: boolean): { status: 'UP' | 'DOWN' } => ({ status: ok ? 'UP' : 'DOWN' });
    res.status(up ? 200 : 503).json({
      status: up ? 'UP' : 'DOWN',
      version: VERSION,
      uptime: Math.round((Date.now() - started) / 1000),
      note: state.note,
      dependent_services: { 'permissions-api': status(issuer), redis: status(!/store/.test(state.note)), 'site-workers': status(state.available), ...(await catalogueHealth(api)) },
    });
  }));

  router.post(`${P}/job/submit`, rawBody, answering(async (req, res) => {
    const read = readGlobalJob(bodyOf(req));
    if (!read.ok) { res.status(422).json({ detail: read.detail }); return; }
    const principal = requestPrincipal(req);
    const result = await api.directExecution(translateGlobalJob(read.value), principal);
    if (result.outcome === 'failed') { sendError(res, noJobError(result.offerSet)); return; }
    const base = baseUrlOf(req, options.publicUrl);
    res.location(`${base}${P}/job/${result.session.uuid}/status`);
    // A webhook's signing secret is given once, here (as /direct gives it), and never shown again.
    if (result.webhookSecret) res.set({ 'Webhook-Secret': result.webhookSecret, 'Cache-Control': 'no-store' });
    res.json({
      job_id: result.session.uuid,
      status: 'PENDING',
      response_text: `Submitted to site ${result.session.site}`,
      site: result.session.site,
      status_url: `${base}${P}/job/${result.session.uuid}/status`,
      session_url: `${base}/sessions/${result.session.uuid}`,
      ...(result.webhookSecret ? { webhook_secret: result.webhookSecret } : {}),
    });
  }));

  router.get(`${P}/job/:job_id/status`, answering(async (req, res) => {
    const id = String(req.params.job_id ?? '').toLowerCase();
    const principal = requestPrincipal(req);
    // Someone else's job is answered exactly as one that does not exist (no existence oracle).
    const session = UUID.test(id) ? await api.getSession(id, principal).catch((error: unknown) => {
      if (isBrokerError(error) && error.code === 'not-found') return undefined;
      throw error;
    }) : undefined;
    if (!session) { sendError(res, UNKNOWN_JOB); return; }
    const base = baseUrlOf(req, options.publicUrl);
    const log = await api.getSessionLog(session.uuid, principal);
    let outputs: OutputLink[] | null = null;
    if (session.phase === 'COMPLETED') {
      // An API process that cannot read the site's scratch directory lists none (outputs_url says where).
      outputs = await api.listSessionOutputs(session.uuid, principal)
        .then(({ files }) => files.map((file) => ({ ...file, url: `${base}/sessions/${session.uuid}/outputs/${file.path.split('/').map(encodeURIComponent).join('/')}` })))
        .catch((error: unknown) => {
          if (isBrokerError(error) && (error.code === 'not-found' || error.code === 'outputs-removed')) return null;
          throw error;
        });
    }
    res.json(jobStatusAnswer(session, log, outputs, base));
  }));

  router.use(P, notServed);
  router.use(P, failed(options));
  return { probes, api: router };
}

const SERVED: ReadonlyArray<[RegExp, string]> = [
  [/^\/(ping|health)\/?$/, 'GET'],
  [/^\/job\/submit\/?$/, 'POST'],
  [/^\/job\/[^/]+\/status\/?$/, 'GET'],
];

const notServed: RequestHandler = (req, res) => {
  const allowed = SERVED.find(([pattern]) => pattern.test(req.path))?.[1];
  if (allowed) res.status(405).set('Allow', allowed).json({ detail: 'Method Not Allowed', code: 'method-not-allowed' });
  else res.status(404).json({ detail: 'Not Found', code: 'route-not-found' });
};

/** What the body parser refuses (too large, unreadable), in the API's shape. */
function failed(options: AppOptions): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) { next(error); return; }
    const failure = normaliseError(error, options.bodyLimitBytes);
    const entry = ERROR_CATALOGUE[failure.code];
    if (failure.code === 'internal-error') options.logError(error, { method: req.method, path: req.path });
    res.status(entry.status).json({ detail: problemDocument(failure).detail, code: failure.code });
  };
}
