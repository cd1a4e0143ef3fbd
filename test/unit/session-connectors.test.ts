import type { SessionRecord } from '../../src/broker/ports.js';
import type { SessionPhase } from '../../src/domain/phases.js';
import { renderSession } from '../../src/protocol/offer-documents.js';
import { proxyTarget } from '../../src/protocol/session-connectors.js';

const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';
const BASE = 'https://broker.example';
const UUID = '6f1c7a52-1111-4222-8333-944445555666';

function session(phase: SessionPhase, run?: SessionRecord['run']): SessionRecord {
  return {
    uuid: UUID, offerSetUuid: 'x', site: 'demo', phase, created: 0, modified: 0, expires: 0, family: 'v1.0', messages: [], owner: 'anonymous',
    document: {
      kind: `${V1}/session/scheduled-execution-session.yaml`,
      meta: { uuid: UUID },
      executable: {
        kind: `${V1}/executable/docker-container.yaml`,
        network: {
          ports: [
            { access: true, internal: { port: 8888 }, protocol: 'HTTP', path: '/lab' },
            { access: true, internal: { port: 5000 } },
            { access: false, internal: { port: 9000 }, protocol: 'TCP' },
          ],
        },
      },
    },
    ...(run ? { run } : {}),
  };
}

const published = {
  ports: [
    { internal: 8888, external: 40001, protocol: 'HTTP', host: 'node1.example' },
    { internal: 5000, external: 40002, protocol: 'TCP', host: 'node1.example' },
    { internal: 9000, external: 40003, protocol: 'TCP', host: 'node1.example' },
  ],
  outputs: '/scratch/x/outputs',
};
type Doc = Record<string, any>;
const render = (record: SessionRecord): Doc => renderSession(record, { baseUrl: BASE }) as Doc;

describe('session connectors', () => {
  it('lists nothing while only offered', () => {
    expect(render(session('OFFERED')).connectors).toBeUndefined();
  });

  it('lists each port with access: true as PREPARING, with no location, from the accept until it runs', () => {
    for (const phase of ['ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE'] as const) {
      expect(render(session(phase)).connectors).toEqual([
        { kind: 'urn:srcnet:connector:port', status: 'PREPARING', protocol: 'HTTP' },
        { kind: 'urn:srcnet:connector:port', status: 'PREPARING', protocol: 'TCP' },
      ]);
    }
  });

  it('gives each port its URL while RUNNING, and fills in external for every published port', () => {
    const doc = render(session('RUNNING', published));
    expect(doc.connectors).toEqual([
      { kind: 'urn:srcnet:connector:logs', status: 'AVAILABLE', protocol: 'HTTP', location: `${BASE}/sessions/${UUID}/logs` },
      { kind: 'urn:srcnet:connector:port', status: 'AVAILABLE', protocol: 'HTTP', location: `${BASE}/sessions/${UUID}/connect/lab` },
      { kind: 'urn:srcnet:connector:port', status: 'AVAILABLE', protocol: 'TCP', location: 'tcp://node1.example:40002' },
    ]);
    expect(doc.executable.network.ports.map((p: Doc) => p.external)).toEqual([
      { port: 40001, addresses: ['node1.example'] }, { port: 40002, addresses: ['node1.example'] }, { port: 40003, addresses: ['node1.example'] },
    ]);
  });

  it('marks the ports FINISHED after the run, and lists the outputs once COMPLETED', () => {
    expect(render(session('COMPLETED', published)).connectors).toEqual([
      { kind: 'urn:srcnet:connector:logs', status: 'FINISHED', protocol: 'HTTP', location: `${BASE}/sessions/${UUID}/logs` },
      { kind: 'urn:srcnet:connector:port', status: 'FINISHED', protocol: 'HTTP', location: `${BASE}/sessions/${UUID}/connect/lab` },
      { kind: 'urn:srcnet:connector:port', status: 'FINISHED', protocol: 'TCP', location: 'tcp://node1.example:40002' },
      { kind: 'urn:srcnet:connector:outputs', status: 'AVAILABLE', protocol: 'HTTP', location: `${BASE}/sessions/${UUID}/outputs` },
    ]);
    expect(render(session('FAILED', published)).connectors.map((c: Doc) => c.kind)).not.toContain('urn:srcnet:connector:outputs');
  });

  it('lets the proxy reach the first HTTP port alone, and only while RUNNING', () => {
    expect(proxyTarget(session('RUNNING', published))).toEqual({ host: 'node1.example', port: 40001, keepPrefix: false });
    for (const phase of ['WAITING', 'RELEASING', 'COMPLETED', 'CANCELLED'] as const) expect(proxyTarget(session(phase, published))).toBeUndefined();
    expect(proxyTarget(session('RUNNING'))).toBeUndefined();
  });

  it('leaves the stored document as it was', () => {
    const record = session('RUNNING', published);
    const before = JSON.stringify(record.document);
    render(record);
    expect(JSON.stringify(record.document)).toBe(before);
  });
});

describe('the connector of an interactive notebook', () => {
  const notebook = (phase: SessionPhase, run?: SessionRecord['run'], extension?: Doc): SessionRecord => ({
    ...session(phase, run),
    document: {
      kind: `${V1}/session/scheduled-execution-session.yaml`,
      meta: { uuid: UUID },
      executable: { kind: `${V1}/executable/jupyter-notebook.yaml`, location: 'https://notebooks.example/work/My%20analysis.ipynb', ...(extension ? { 'srcnet.notebook': extension } : {}) },
    },
  });
  const started = { ports: [{ internal: 8888, external: 40100, protocol: 'HTTP', host: 'node1.example' }], outputs: '/scratch/x/outputs' };
  const server = { ...started, answering: true };
  const connector = (record: SessionRecord): Doc | undefined =>
    ((renderSession(record, { baseUrl: BASE }) as Doc).connectors as Doc[] | undefined)?.find((c) => c.kind === 'urn:srcnet:connector:notebook');
  const proxied = `${BASE}/sessions/${UUID}/connect/notebooks/My%20analysis.ipynb`;

  it('is PREPARING from the accept, with no location until the server has answered', () => {
    expect(connector(notebook('WAITING'))).toEqual({ kind: 'urn:srcnet:connector:notebook', status: 'PREPARING', protocol: 'HTTP' });
    expect(connector(notebook('AVAILABLE', server))).toEqual({ kind: 'urn:srcnet:connector:notebook', status: 'PREPARING', protocol: 'HTTP' });
    expect(connector(notebook('RUNNING', started))).toEqual({ kind: 'urn:srcnet:connector:notebook', status: 'PREPARING', protocol: 'HTTP' });
  });

  it('opens the notebook through the broker\'s proxy while RUNNING, which reaches the server under its base URL', () => {
    expect(connector(notebook('RUNNING', server))).toEqual({ kind: 'urn:srcnet:connector:notebook', status: 'AVAILABLE', protocol: 'HTTP', location: proxied });
    expect(proxyTarget(notebook('RUNNING', server))).toEqual({ host: 'node1.example', port: 40100, keepPrefix: true });
    expect(proxyTarget(notebook('RUNNING', started))).toBeUndefined();
  });

  it('is FINISHED once the run has ended, and the proxy reaches it no more', () => {
    expect(connector(notebook('CANCELLED', server))).toEqual({ kind: 'urn:srcnet:connector:notebook', status: 'FINISHED', protocol: 'HTTP', location: proxied });
    expect(proxyTarget(notebook('CANCELLED', server))).toBeUndefined();
  });

  it('is not there for a headless notebook, nor before an accept', () => {
    expect(connector(notebook('RUNNING', server, { mode: 'headless' }))).toBeUndefined();
    expect(connector(notebook('OFFERED'))).toBeUndefined();
  });
});
