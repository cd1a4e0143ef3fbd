import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type Router } from 'express';
import { openApiDocument } from '../protocol/openapi-document.js';

/** swagger-ui-dist's files, served from the package itself: the page needs no CDN. */
const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>SRCNet ExecutionBroker API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="api"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;
const INIT = "window.ui = SwaggerUIBundle({ url: '/openapi.yaml', dom_id: '#api', deepLinking: true });\n";

/** The OpenAPI description (/openapi.yaml, /openapi.json) and a page that renders it (/docs). */
export function apiDocsRoutes(): Router {
  const router = express.Router();
  router.get('/openapi.yaml', (_req, res) => { res.status(200).type('application/yaml').send(openApiDocument().yaml); });
  router.get('/openapi.json', (_req, res) => { res.status(200).type('application/json').send(openApiDocument().json); });
  router.get('/docs', (_req, res) => { res.status(200).type('text/html').send(PAGE); });
  router.get('/docs/init.js', (_req, res) => { res.status(200).type('text/javascript').send(INIT); });
  router.use('/docs', express.static(SWAGGER_UI, { index: false, fallthrough: true }));
  return router;
}
