import express, { type Request, type Response, type Router } from 'express';
import { BrokerError } from '../domain/errors.js';
import { isTerminal } from '../domain/phases.js';
import { droppedLogLine } from '../domain/messages.js';
import { offerOwner, type Principal } from '../domain/principal.js';
import { responseFormat } from '../protocol/media-types.js';
import { renderFailedSession, renderOfferSet, renderSession } from '../protocol/offer-documents.js';
import { readExecutionRequestBody, readPhaseUpdateBody } from '../protocol/read-request-body.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { requestPrincipal } from './request-principal.js';
import { baseUrlOf, sendDocument } from './respond.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidParam(req: Request): string {
  const uuid = String(req.params.uuid ?? '');
  if (!UUID.test(uuid)) throw new BrokerError('invalid-uuid', { values: { uuid: uuid.slice(0, 64) } });
  return uuid.toLowerCase();
}

const bodyOf = (req: Request): Uint8Array => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

const FOLLOW_POLL_MS = 250;

/**
 * The webhooks' signing secret, in the answer to the request that subscribed and nowhere else
 * (docs/notifications.md): a header, so that the documents stay as the schema has them.
 */
function giveSecret(res: Response, secret: string | undefined): void {
  if (secret) res.set({ 'Webhook-Secret': secret, 'Cache-Control': 'no-store' });
}

/** Whether a `Prefer` header asks for the created resource in the answer (RFC 7240 return=representation). */
function wantsRepresentation(prefer: string | undefined): boolean {
  return (prefer ?? '').split(',').some((part) => /^\s*return\s*=\s*"?representation"?\s*(;|$)/i.test(part));
}

function isFollow(value: unknown): boolean {
  if (value === undefined) return false;
  if (value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new BrokerError('invalid-query', { values: { name: 'follow' }, detail: 'follow must be true or false' });
}

/**
 * `GET /sessions/{uuid}/logs?follow=true`: the log so far, then what the site adds, as one
 * chunked text response that ends once the session has ended and its log is complete.
 */
async function followLog(api: BrokerApi, uuid: string, principal: Principal, res: Response): Promise<void> {
  const first = await api.readSessionLog(uuid, 0, principal); // a 404 before any byte is sent
  res.status(200).type('text/plain; charset=utf-8').set({ 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  let closed = false;
  res.on('close', () => { closed = true; });
  try {
    for (let chunk = first; !closed; chunk = await api.readSessionLog(uuid, chunk.next, principal)) {
      if (chunk.skipped > 0) res.write(droppedLogLine(chunk.skipped));
      if (chunk.bytes.length > 0) res.write(chunk.bytes);
      // The phase was read before the log: once it is terminal, nothing more will come.
      if (isTerminal(chunk.phase)) break;
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  } catch {
    // The headers are sent: the stream just ends early, and the client may follow again.
  }
  res.end();
}

/** The ExecutionBroker v1.0 resources. Each route decodes, calls one use case and encodes. */
export function executionBrokerRoutes(api: BrokerApi, options: AppOptions): Router {
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: options.bodyLimitBytes });

  const createOffers = async (req: Request, res: Response): Promise<void> => {
    responseFormat(req.get('accept')); // 406 before any capacity is held for an unreadable answer
    const incoming = readExecutionRequestBody(bodyOf(req), req.get('content-type'));
    const { offerSet, sessions, webhookSecret } = await api.requestOffers({ ...incoming, ...offerOwner(requestPrincipal(req)) });
    const base = baseUrlOf(req, options.publicUrl);
    giveSecret(res, webhookSecret);
    const location = `${base}/offersets/${offerSet.uuid}`;
    res.location(location);
    // A client that cannot see a 303's headers (a browser's fetch follows it, and drops them: the
    // Webhook-Secret) asks with `Prefer: return=representation` (RFC 7240) for a 201 instead.
    const created = wantsRepresentation(req.get('prefer'));
    if (created) res.set({ 'Preference-Applied': 'return=representation', Vary: 'Prefer' });
    sendDocument(req, res, created ? 201 : 303, renderOfferSet(offerSet, sessions, { baseUrl: base }), 'OfferSetResponse');
  };
  router.post('/requests', rawBody, createOffers);
  router.post('/offersets', rawBody, createOffers);

  const direct = async (req: Request, res: Response): Promise<void> => {
    responseFormat(req.get('accept'));
    const incoming = readExecutionRequestBody(bodyOf(req), req.get('content-type'));
    const result = await api.directExecution(incoming, requestPrincipal(req));
    const base = baseUrlOf(req, options.publicUrl);
    if (result.outcome === 'failed') {
      // No session exists, so no uuid, url or Location: a FAILED session holding the reasons.
      sendDocument(req, res, 400, renderFailedSession(result.offerSet), 'AbstractExecutionSession');
      return;
    }
    res.location(`${base}/sessions/${result.session.uuid}`);
    giveSecret(res, result.webhookSecret);
    sendDocument(req, res, 303, renderSession(result.session, { baseUrl: base }), 'AbstractExecutionSession');
  };
  router.post('/direct', rawBody, direct);
  router.post('/sessions', rawBody, direct);

  router.get('/offersets/:uuid', async (req, res) => {
    const { offerSet, sessions } = await api.getOfferSet(uuidParam(req), requestPrincipal(req));
    sendDocument(req, res, 200, renderOfferSet(offerSet, sessions, { baseUrl: baseUrlOf(req, options.publicUrl) }), 'OfferSetResponse');
  });

  // A notebook server's connector points at the broker's proxy, which adds the server's token
  // itself: no view of a session carries it.
  router.get('/sessions/:uuid', async (req, res) => {
    const session = await api.getSession(uuidParam(req), requestPrincipal(req));
    sendDocument(req, res, 200, renderSession(session, { baseUrl: baseUrlOf(req, options.publicUrl) }), 'AbstractExecutionSession');
  });

  router.get('/sessions/:uuid/logs', async (req, res) => {
    const uuid = uuidParam(req);
    const principal = requestPrincipal(req);
    if (!isFollow(req.query.follow)) {
      const text = await api.getSessionLog(uuid, principal);
      res.status(200).type('text/plain; charset=utf-8').send(text);
      return;
    }
    await followLog(api, uuid, principal, res);
  });

  router.post('/sessions/:uuid', rawBody, async (req, res) => {
    const uuid = uuidParam(req);
    responseFormat(req.get('accept'));
    const target = readPhaseUpdateBody(bodyOf(req), req.get('content-type'));
    const session = await api.updateSessionPhase(uuid, target, requestPrincipal(req));
    sendDocument(req, res, 200, renderSession(session, { baseUrl: baseUrlOf(req, options.publicUrl) }), 'AbstractExecutionSession');
  });
  return router;
}
