import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { withRequestId } from '../observability/request-context.js';

/** What the HTTP layer reports about each answered request (the metrics adapter implements it). */
export interface RequestMetrics {
  requestFinished(method: string, route: string, status: number, seconds: number): void;
}

/** A client's own X-Request-Id is kept when it is a plain token; otherwise one is made. */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The matched route's pattern (`/sessions/:uuid`), never the raw path: labels stay few. */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

/**
 * Gives each request an id (answered in X-Request-Id, and carried by everything the request
 * causes: see observability/request-context.ts), and, once answered, logs it (method, route,
 * status, time; never headers or bodies) and counts it.
 */
export function observeRequests(options: { logger?: Logger; metrics?: RequestMetrics }): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && CLIENT_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req);
      options.metrics?.requestFinished(req.method, route, res.statusCode, seconds);
      options.logger?.info({ requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'request');
    });
    withRequestId(requestId, () => next());
  };
}
