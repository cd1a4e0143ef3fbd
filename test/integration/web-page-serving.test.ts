import { gzipSync } from 'node:zlib';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

/** `/`: the page built into dist/web (npm test builds it first), its files cached for a year, itself never. */
describe('the web page as the broker serves it', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker(); });
  afterAll(async () => { await broker.close(); });

  it('serves the built page at /, never cached, with a policy that lets it load only its own files', async () => {
    const page = await broker.http.get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.text).toContain('<div id="app">');
    expect(page.text).not.toContain('not built');
    // No inline script, and nothing from elsewhere: every script and style is one of its own files.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const assets = [...page.text.matchAll(/<(?:script|link)[^>]*\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!).filter((url) => !url.startsWith('data:'));
    expect(assets.length).toBeGreaterThanOrEqual(2);
    let gzipped = 0;
    for (const asset of assets) {
      expect(asset).toMatch(/^\/assets\/[\w-]+\.(js|css)$/);
      const file = await broker.http.get(asset).buffer(true).parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      }).expect(200);
      expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(file.headers['content-type']).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      // No CDN, no web font: the only absolute URLs are XML namespaces (SVG, MathML) and kind URIs.
      const urls = [...String(file.body).matchAll(/https?:\/\/[a-z0-9.-]+/gi)].map((match) => match[0]);
      expect(urls.filter((url) => !/^http:\/\/www\.w3\.org$|^https:\/\/www\.purl\.org$/.test(url))).toEqual([]);
      gzipped += gzipSync(file.body as Buffer, { level: 9 }).length;
    }
    // The bundle stays small (measured: about 19 KB gzipped with its styles).
    expect(gzipped).toBeLessThan(60 * 1024);
  });

  it('answers a missing asset with 404, and other methods on / with 405', async () => {
    expect((await broker.http.get('/assets/no-such-file.js').expect(404)).body.code).toBe('route-not-found');
    expect((await broker.http.post('/').expect(405)).headers.allow).toBe('GET, HEAD');
  });
});
