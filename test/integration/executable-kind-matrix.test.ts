import { mkdtempSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS_THAT_RUN } from '../../src/domain/executable-abilities.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import type { HostTools } from '../../src/sites/detect-abilities.js';
import { podmanForTests, TEST_IMAGE } from '../support/podman.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const FAKE_APPTAINER = fileURLToPath(new URL('../support/fake-apptainer.mjs', import.meta.url));
const podmanReady = await podmanForTests('the podman column of the executable kind matrix');

/** A worker PATH with node and the fake apptainer (test/support/fake-apptainer.mjs), and nothing else. */
function fakeApptainerPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eb-matrix-tools-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(FAKE_APPTAINER, join(dir, 'apptainer'));
  return dir;
}

/**
 * Every executor the tests run here: plain processes on this host (its own PATH: Debian's Jupyter,
 * no apptainer), processes on a host with apptainer (the fake), apptainer containers (the fake),
 * and podman containers where podman works.
 */
const NOTEBOOKS_RUN = KINDS_THAT_RUN.includes('executable/jupyter-notebook');
const EXECUTORS: Array<{ name: string; executor: SiteProfile['executor']; tools?: HostTools; runs: string[] }> = [
  // Debian's Jupyter is on this host's PATH (.ci/run installs it): notebooks, once the broker runs them.
  { name: 'process', executor: { type: 'local', containerRuntime: 'none' }, runs: ['docker-container', ...(NOTEBOOKS_RUN ? ['jupyter-notebook'] : [])] },
  { name: 'process-apptainer', executor: { type: 'local', containerRuntime: 'none' }, tools: { path: fakeApptainerPath() }, runs: ['docker-container', 'singularity-container'] },
  { name: 'apptainer', executor: { type: 'local', containerRuntime: 'apptainer' }, tools: { path: fakeApptainerPath() }, runs: ['docker-container', 'singularity-container'] },
  ...(podmanReady ? [{ name: 'podman', executor: { type: 'local' as const, containerRuntime: 'podman' as const }, runs: ['docker-container'] }] : []),
];

const NOTEBOOK = JSON.stringify({
  nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [{ cell_type: 'code', id: 'c1', metadata: {}, execution_count: null, outputs: [], source: ['print(6 * 7)'] }],
});

/** One request per executable kind, each something every executor that offers it can run. */
function requests(notebookUrl: string): Record<string, Doc> {
  const rest = {
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT2M' } },
  };
  return {
    'docker-container': { ...rest, executable: { kind: `${V1}/executable/docker-container.yaml`, meta: { name: 'docker' }, image: { locations: [TEST_IMAGE] }, entrypoint: '/bin/sh', command: ['-c', 'echo ran; sleep 1'] } },
    'singularity-container': { ...rest, executable: { kind: `${V1}/executable/singularity-container.yaml`, meta: { name: 'sif' }, location: 'docker://busybox' } },
    'jupyter-notebook': { ...rest, executable: { kind: `${V1}/executable/jupyter-notebook.yaml`, meta: { name: 'nb' }, location: notebookUrl } },
  };
}

const update = (phase: string): string => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: phase });

async function phasesOf(broker: TestBroker, uuid: string, until: (phases: string[]) => boolean, timeoutMs: number): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  let phases: string[] = [];
  while (Date.now() < end) {
    phases = ((await broker.http.get(`/sessions/${uuid}/history`).expect(200)).body.history as Doc[]).map((change) => change.phase as string);
    if (until(phases)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return phases;
}

/**
 * The matrix of executable kinds and executors: what a site publishes it can run (GET /sites) is
 * what it offers; every YES, once accepted, reaches RUNNING; every NO says why. What is expected
 * comes from the abilities the site's worker published, so the matrix needs no edit when a kind
 * learns to run somewhere (notebooks on process sites with Jupyter, say).
 */
describe('every executable kind on every executor: no offer that cannot run', () => {
  let server: Server;
  let notebookUrl = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/demo.ipynb' ? 200 : 404, { 'Content-Type': 'application/x-ipynb+json' });
      res.end(req.url === '/demo.ipynb' ? NOTEBOOK : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    notebookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/demo.ipynb`;
  });
  afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

  for (const { name, executor, tools, runs } of EXECUTORS) {
    describe(`on a ${name} site`, () => {
      let broker: TestBroker;
      let listed: Doc;
      beforeAll(async () => {
        const site = demoSite({ name, cores: 8, memoryGiB: 16, preparationMs: 0, releasingMs: 0, egressAllow: ['127.0.0.1'], executor });
        broker = await startTestBroker({ config: { sites: [site] }, parts: { api: true, siteWorkers: true, timers: true, ...(tools ? { hostTools: tools } : {}) } });
        listed = (await broker.http.get('/sites').expect(200)).body.sites[0] as Doc;
      }, 60_000);
      afterAll(async () => { await broker.close(); });

      it(`publishes what a ${name} site here can run: ${runs.join(', ')}`, () => {
        expect(listed.executables).toEqual(runs);
      });

      for (const kind of ['docker-container', 'singularity-container', 'jupyter-notebook']) {
        it(`answers a ${kind} request as its published abilities say: YES reaches RUNNING, NO says why`, async () => {
          const runnable = (listed.executables as string[]).includes(kind);
          const unavailable = ((listed.unavailableExecutables ?? []) as Doc[]).find((entry) => entry.kind === kind);
          // Every kind the site lists is in exactly one of the two lists.
          expect(runnable).toBe(unavailable === undefined);
          const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(requests(notebookUrl)[kind])).expect(303)).body as Doc;
          if (!runnable) {
            expect(set.result).toBe('NO');
            const said = (set.meta.messages as Doc[]).map((message) => message.message as string);
            expect(said).toContain(`Site ${name} cannot run executables of kind [executable/${kind}]: ${unavailable!.reason as string}`);
            expect(await broker.heldNow('cores', name)).toBe(0);
            return;
          }
          expect(set.result).toBe('YES');
          const [first, ...others] = set.offers as Doc[];
          const uuid = first!.meta.uuid as string;
          await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
          const phases = await phasesOf(broker, uuid, (seen) => seen.includes('RUNNING') || seen.includes('FAILED'), 60_000);
          const session = (await broker.http.get(`/sessions/${uuid}`).expect(200)).body as Doc;
          expect({ phases, messages: phases.includes('RUNNING') ? [] : session.meta.messages }).toEqual({ phases: expect.arrayContaining(['RUNNING']), messages: [] });
          expect(phases).not.toContain('FAILED');
          expect(others.every((offer) => offer.meta.uuid !== uuid)).toBe(true);
          if (session.phase === 'RUNNING') await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
        }, 90_000);
      }
    });
  }
});
