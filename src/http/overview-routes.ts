import express, { type Request, type Router } from 'express';
import { BrokerError } from '../domain/errors.js';
import { renderHistory, renderSessionList, renderSiteList, renderTimeline } from '../protocol/listing-documents.js';
import { readSessionQuery, readSiteQuery, readTimelineWindow } from '../protocol/listing-query.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { requestPrincipal } from './request-principal.js';
import { baseUrlOf, sendDocument } from './respond.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidParam(req: Request): string {
  const uuid = String(req.params.uuid ?? '');
  if (!UUID.test(uuid)) throw new BrokerError('invalid-uuid', { values: { uuid: uuid.slice(0, 64) } });
  return uuid.toLowerCase();
}

/**
 * What the web page (and any client) needs for an overview: the viewer's sessions, the sites, a
 * site's timeline and a session's phase history. JSON, XML or YAML by Accept, like the rest.
 */
export function overviewRoutes(api: BrokerApi, options: AppOptions): Router {
  const router = express.Router();

  router.get('/sessions', async (req, res) => {
    const query = readSessionQuery(req.query as Record<string, unknown>);
    const page = await api.listSessions(query, requestPrincipal(req));
    sendDocument(req, res, 200, renderSessionList(page, { baseUrl: baseUrlOf(req, options.publicUrl) }), 'SessionList');
  });

  router.get('/sessions/:uuid/history', async (req, res) => {
    const session = await api.getSession(uuidParam(req), requestPrincipal(req));
    sendDocument(req, res, 200, renderHistory(session), 'SessionHistory');
  });

  router.get('/sites', async (req, res) => {
    const query = readSiteQuery(req.query as Record<string, unknown>);
    sendDocument(req, res, 200, renderSiteList(await api.listSites(requestPrincipal(req), query)), 'SiteList');
  });

  router.get('/sites/:name/timeline', async (req, res) => {
    const window = readTimelineWindow(req.query as Record<string, unknown>);
    const timeline = await api.siteTimeline(String(req.params.name ?? ''), window, requestPrincipal(req));
    sendDocument(req, res, 200, renderTimeline(timeline, { baseUrl: baseUrlOf(req, options.publicUrl) }), 'SiteTimeline');
  });
  return router;
}
