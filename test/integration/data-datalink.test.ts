import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readDataLinkTable, thisLink } from '../../src/sites/datalink-table.js';
import { readDavListing } from '../../src/sites/webdav-listing.js';
import { acceptAndFollow, demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

/** A DataLink answer as IVOA services write it: a namespaced VOTable, the standard columns, rows of links. */
const votable = (rows: string[][], status = 'OK'): string => `<?xml version="1.0" encoding="UTF-8"?>
<vot:VOTABLE xmlns:vot="http://www.ivoa.net/xml/VOTable/v1.3" version="1.3">
  <vot:RESOURCE type="results">
    <vot:INFO name="QUERY_STATUS" value="${status}">${status === 'OK' ? '' : 'the identifier is unknown to this service'}</vot:INFO>
    <vot:TABLE>
      <vot:FIELD name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.main"/>
      <vot:FIELD name="access_url" datatype="char" arraysize="*" ucd="meta.ref.url"/>
      <vot:FIELD name="service_def" datatype="char" arraysize="*" ucd="meta.ref"/>
      <vot:FIELD name="error_message" datatype="char" arraysize="*" ucd="meta.code.error"/>
      <vot:FIELD name="semantics" datatype="char" arraysize="*" ucd="meta.code"/>
      <vot:FIELD name="content_type" datatype="char" arraysize="*" ucd="meta.code.mime"/>
      <vot:DATA><vot:TABLEDATA>
${rows.map((cells) => `        <vot:TR>${cells.map((cell) => `<vot:TD>${cell}</vot:TD>`).join('')}</vot:TR>`).join('\n')}
      </vot:TABLEDATA></vot:DATA>
    </vot:TABLE>
  </vot:RESOURCE>
</vot:VOTABLE>`;

/**
 * IVOA data resources: a DataLink service (by a `datalink` block, or ObsCore's access_format) is
 * asked for its links, the VOTable read with a real XML parser, and the `#this` link's access_url
 * is what is staged; an ivoid alone is refused, saying why.
 */
describe('staging IVOA data through DataLink', () => {
  let server: Server;
  let base = '';
  let broker: TestBroker;
  const seen: string[] = [];
  const cube = 'SIMPLE  =                    T\n';

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const url = new URL(req.url ?? '/', base);
      if (url.pathname === '/datalink/links') {
        const id = url.searchParams.get('ID') ?? '';
        if (id !== 'ivo://test.example/cubes?42') return void res.writeHead(200, { 'content-type': 'application/x-votable+xml' }).end(votable([], 'ERROR'));
        return void res.writeHead(200, { 'content-type': 'application/x-votable+xml;content=datalink' }).end(votable([
          [id, `${base}/preview/42.png`, '', '', '#preview', 'image/png'],
          [id, '', '', 'NotFoundFault: the calibrated copy is gone', '#this', ''],
          [id, `${base}/files/cube-42.fits`, '', '', '#this', 'application/fits'],
          [id, '', 'soda-sync', '', '#cutout', ''],
        ]));
      }
      if (url.pathname === '/files/cube-42.fits') return void res.end(cube);
      res.writeHead(404).end();
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, egressAllow: ['127.0.0.1'] })] } });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => server?.close(done));
  });

  const request = (ivoa: Doc): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'cat input/cube.fits'] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/cube.fits', mode: 'READONLY', resource: 'cube' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ kind: `${V1}/data/ivoa-data-resource.yaml`, meta: { name: 'cube' }, ivoa: { ivoid: 'ivo://test.example/cubes?42', ...ivoa } }],
  });

  async function run(body: Doc): Promise<{ set: Doc; session: Doc; log: string }> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    if (set.result !== 'YES') return { set, session: {}, log: '' };
    const uuid = set.offers[0].meta.uuid as string;
    return { set, ...(await acceptAndFollow(broker, uuid)) };
  }

  it('follows a datalink block\'s service to its #this link and stages that', async () => {
    const links = `${base}/datalink/links?ID=${encodeURIComponent('ivo://test.example/cubes?42')}`;
    const { session, log } = await run(request({ datalink: { access_url: links, semantics: '#datalink', content_type: 'application/x-votable+xml;content=datalink' } }));
    expect([session.phase, log]).toEqual(['COMPLETED', cube]);
    expect(seen.slice(-2)).toEqual([`/datalink/links?ID=${encodeURIComponent('ivo://test.example/cubes?42')}`, '/files/cube-42.fits']);
  });

  it('follows ObsCore\'s access_url when its access_format says it is a DataLink service', async () => {
    const links = `${base}/datalink/links?ID=${encodeURIComponent('ivo://test.example/cubes?42')}`;
    const { session, log } = await run(request({ obscore: { access_url: links, access_format: 'application/x-votable+xml;content=datalink' } }));
    expect([session.phase, log]).toEqual(['COMPLETED', cube]);
  });

  it('FAILS the session with the service\'s reason when the DataLink answer is an error', async () => {
    const { session } = await run(request({ datalink: { access_url: `${base}/datalink/links?ID=unknown`, semantics: '#datalink' } }));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: cube: ${base}/datalink/links?ID=unknown: the DataLink service answered an error: the identifier is unknown to this service`);
  });

  it('answers NO, saying why, to an ivoid alone (no registry resolver is configured)', async () => {
    const { set } = await run(request({}));
    expect(set.result).toBe('NO');
    expect(set.meta.messages.map((m: Doc) => m.message)).toContain('Site demo cannot fetch data [cube] from a [ivo] location');
  });
});

describe('the XML the stager reads', () => {
  it('reads a DataLink VOTable\'s rows by its FIELD names, whatever the prefix, and picks the #this link without an error', () => {
    const rows = readDataLinkTable(votable([['a', 'http://x/1', '', 'gone', '#this', ''], ['a', 'http://x/2', '', '', '#this', 'application/fits']]).replace(/vot:/g, ''));
    expect(rows).toEqual([
      { ID: 'a', access_url: 'http://x/1', service_def: '', error_message: 'gone', semantics: '#this', content_type: '' },
      { ID: 'a', access_url: 'http://x/2', service_def: '', error_message: '', semantics: '#this', content_type: 'application/fits' },
    ]);
    expect(thisLink(rows)?.access_url).toBe('http://x/2');
    expect(() => readDataLinkTable('<html><body>not a votable</body></html>')).toThrow('the DataLink answer is not a VOTable');
  });

  it('reads a WebDAV multistatus: members, collections and sizes', () => {
    const listing = readDavListing(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">
      <d:response><d:href>/set/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
      <d:response><d:href>/set/a.txt</d:href><d:propstat><d:prop><d:resourcetype/><d:getcontentlength>12</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
    </d:multistatus>`);
    expect(listing).toEqual([{ href: '/set/', collection: true }, { href: '/set/a.txt', collection: false, bytes: 12 }]);
    expect(() => readDavListing('<html/>')).toThrow('not a WebDAV multistatus');
  });
});
