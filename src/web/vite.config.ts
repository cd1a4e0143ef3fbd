// The web page's build: `npm run build` runs `vite build --config src/web/vite.config.ts` after the
// server's tsc, writing dist/web (index.html and hashed files under assets/), which the broker
// serves at `/`. Nothing is fetched at run time: no CDN, no web fonts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // One small bundle: no preload polyfill (an inline script the page's CSP would refuse anyway).
    modulePreload: { polyfill: false },
  },
});
