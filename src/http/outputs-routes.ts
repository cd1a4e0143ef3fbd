import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { BrokerError } from '../domain/errors.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { requestPrincipal } from './request-principal.js';
import { baseUrlOf } from './respond.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidParam(req: Request): string {
  const uuid = String(req.params.uuid ?? '');
  if (!UUID.test(uuid)) throw new BrokerError('invalid-uuid', { values: { uuid: uuid.slice(0, 64) } });
  return uuid.toLowerCase();
}

/** Output files are the run's, not ours: never let one act as a page of the broker's origin. */
const FILE_HEADERS = { 'Content-Security-Policy': "sandbox; default-src 'none'", 'X-Content-Type-Options': 'nosniff' };

/**
 * A COMPLETED session's outputs: `GET /sessions/{uuid}/outputs` lists the files (JSON, each with
 * its URL), `GET /sessions/{uuid}/outputs/<path>` sends one. Served when this process can read the
 * site's scratch directory; otherwise a 404 that says where the outputs are.
 */
export function outputsRoutes(api: BrokerApi, options: AppOptions): Router {
  const router = express.Router();

  router.get('/sessions/:uuid/outputs', async (req, res) => {
    const uuid = uuidParam(req);
    const { files, truncated } = await api.listSessionOutputs(uuid, requestPrincipal(req));
    const base = `${baseUrlOf(req, options.publicUrl)}/sessions/${uuid}/outputs`;
    res.status(200).json({
      session: uuid,
      files: files.map((file) => ({ ...file, url: `${base}/${file.path.split('/').map(encodeURIComponent).join('/')}` })),
      ...(truncated ? { truncated: true } : {}),
    });
  });

  router.get('/sessions/:uuid/outputs/*path', async (req: Request, res: Response, next: NextFunction) => {
    const segments = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []);
    const file = await api.sessionOutputFile(uuidParam(req), segments, requestPrincipal(req));
    res.sendFile(file.path, { dotfiles: 'allow', headers: FILE_HEADERS }, (error) => {
      if (error && !res.headersSent) next(new BrokerError('not-found', { values: { what: 'output', uuid: req.params.uuid as string }, cause: error }));
    });
  });
  return router;
}
