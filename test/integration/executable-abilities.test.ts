import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { startBrokerRuntime } from '../../src/main/broker-runtime.js';
import { detectAbilities, findApptainer } from '../../src/sites/detect-abilities.js';
import { detectJupyter } from '../../src/sites/detect-jupyter.js';
import { demoSite, dockerRequest, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const FAKE_APPTAINER = fileURLToPath(new URL('../support/fake-apptainer.mjs', import.meta.url));

/** A directory to use as a worker's PATH: node (which the fake apptainer needs), and what else is asked. */
function toolDir(tools: { apptainer?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'eb-tools-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  if (tools.apptainer) symlinkSync(FAKE_APPTAINER, join(dir, 'apptainer'));
  return dir;
}

const singularityRequest = (): Doc => ({ ...dockerRequest(), executable: { kind: `${V1}/executable/singularity-container.yaml`, meta: { name: 'sif' }, location: 'docker://busybox' } });
const notebookRequest = (): Doc => ({ ...dockerRequest(), executable: { kind: `${V1}/executable/jupyter-notebook.yaml`, meta: { name: 'nb' }, location: 'https://example.org/demo.ipynb' } });

async function ask(broker: TestBroker, body: Doc): Promise<Doc> {
  const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
  return res.body as Doc;
}

const errors = (set: Doc): string[] => (set.meta.messages as Doc[]).filter((m) => m.level === 'ERROR' && m.kind === 'urn:not-supported').map((m) => m.message as string);

describe('the host\'s programs, as a worker finds them', () => {
  it('finds this machine\'s Jupyter on the PATH, and none on a PATH without it', async () => {
    // Debian's jupyter-notebook and nbconvert are installed where these tests run (.ci/run).
    expect(await detectJupyter()).toMatchObject({ available: true });
    expect(await detectJupyter({ PATH: toolDir() })).toMatchObject({ available: false, reason: expect.stringMatching(/^Jupyter is not installed on the site's host: no jupyter on /) });
  });

  it('finds apptainer only where it answers --version, and gives its path', async () => {
    const dir = toolDir({ apptainer: true });
    expect(await findApptainer({ path: dir })).toBe(join(dir, 'apptainer'));
    expect(await findApptainer({ path: toolDir() })).toBeUndefined();
    const withApptainer = await detectAbilities({ site: 's', family: 'process', apptainer: true }, { path: dir });
    expect(withApptainer.find((a) => a.kind === 'executable/jupyter-notebook')).toEqual({
      kind: 'executable/jupyter-notebook', runnable: false,
      reason: expect.stringMatching(/^site s: Jupyter is not installed on the site's host: no jupyter on /),
    });
  });
});

describe('a site offers only what its workers can run', () => {
  let bare: TestBroker;
  beforeAll(async () => {
    // The demo site's three kinds, on a host (a worker's PATH) with neither apptainer nor Jupyter.
    bare = await startTestBroker({
      config: { sites: [demoSite({ name: 'bare', preparationMs: 0, releasingMs: 0 })] },
      parts: { api: true, siteWorkers: true, timers: true, hostTools: { path: toolDir() } },
    });
  });
  afterAll(async () => { await bare.close(); });

  it('answers NO to a singularity request where apptainer is not installed, saying so, and holds nothing', async () => {
    const set = await ask(bare, singularityRequest());
    expect(set.result).toBe('NO');
    expect(errors(set)).toContain("Site bare cannot run executables of kind [executable/singularity-container]: apptainer (or singularity) is not installed on site bare's workers");
    expect(await bare.heldNow('cores', 'bare')).toBe(0);
  });

  it('answers NO to a notebook request where Jupyter is not installed, saying so', async () => {
    const set = await ask(bare, notebookRequest());
    expect(set.result).toBe('NO');
    expect(errors(set)).toContainEqual(expect.stringMatching(/^Site bare cannot run executables of kind \[executable\/jupyter-notebook\]: site bare: Jupyter is not installed on the site's host: no jupyter on /));
    expect(await bare.heldNow('cores', 'bare')).toBe(0);
  });

  it('still offers what it can run', async () => {
    const set = await ask(bare, dockerRequest());
    expect(set.result).toBe('YES');
    await Promise.all((set.offers as Doc[]).map((o) => bare.http.post(`/sessions/${o.meta.uuid}`).set('Content-Type', 'application/json')
      .send('{"kind":"uri:enum-value-update","path":"phase","value":"REJECTED"}').expect(200)));
  });

  it('lists the kinds it runs and, apart, those it cannot with the reason, in JSON, XML and YAML', async () => {
    const expected = {
      executables: ['docker-container'],
      unavailableExecutables: [
        { kind: 'singularity-container', reason: "apptainer (or singularity) is not installed on site bare's workers" },
        { kind: 'jupyter-notebook', reason: expect.stringMatching(/^site bare: Jupyter is not installed on the site's host: no jupyter on /) },
      ],
    };
    const json = (await bare.http.get('/sites').expect(200)).body as Doc;
    expect(json.sites[0]).toMatchObject({ name: 'bare', online: true, ...expected });
    const xml = await bare.http.get('/sites').set('Accept', 'application/xml').expect(200);
    expect(xml.text).toContain('<executables><executable>docker-container</executable></executables><unavailableExecutables><executable><kind>singularity-container</kind>');
    expect(xml.text).toMatch(/<reason>site bare: Jupyter is not installed on the site's host: no jupyter on [^<]+<\/reason>/);
    const yaml = await bare.http.get('/sites').set('Accept', 'application/yaml').expect(200);
    expect(parseYaml(yaml.text).sites[0]).toMatchObject(expected);
  });

  it('publishes the abilities in Redis, so that another API process lists them too', async () => {
    // A second API process on the same Redis and key prefix, with no worker of its own.
    const other = await startBrokerRuntime(bare.config, { api: true });
    try {
      const listed = (await request(other.app!).get('/sites').expect(200)).body.sites[0] as Doc;
      expect(listed.executables).toEqual(['docker-container']);
      expect(listed.unavailableExecutables.map((entry: Doc) => entry.kind)).toEqual(['singularity-container', 'jupyter-notebook']);
    } finally {
      await other.close();
    }
  });
});

describe('abilities and the sites file', () => {
  it('offers singularity where apptainer is present, and keeps the executables list an upper bound', async () => {
    const broker = await startTestBroker({
      config: { sites: [demoSite({ name: 'hpc', preparationMs: 0, releasingMs: 0, executableKinds: ['executable/docker-container', 'executable/singularity-container'] })] },
      parts: { api: true, siteWorkers: true, timers: true, hostTools: { path: toolDir({ apptainer: true }) } },
    });
    try {
      const set = await ask(broker, singularityRequest());
      expect(set.result).toBe('YES');
      await Promise.all((set.offers as Doc[]).map((o) => broker.http.post(`/sessions/${o.meta.uuid}`).set('Content-Type', 'application/json')
        .send('{"kind":"uri:enum-value-update","path":"phase","value":"REJECTED"}').expect(200)));
      // Switched off in the sites file: refused by the planner, whatever the host has.
      const notebook = await ask(broker, notebookRequest());
      expect(notebook.result).toBe('NO');
      expect(errors(notebook)).toContain('Site hpc cannot run executables of kind [executable/jupyter-notebook]');
      const listed = (await broker.http.get('/sites').expect(200)).body.sites[0] as Doc;
      expect(listed.executables).toEqual(['docker-container', 'singularity-container']);
      expect(listed.unavailableExecutables).toBeUndefined();
    } finally {
      await broker.close();
    }
  });

  it('lists nothing as runnable on a site with no live worker, saying why', async () => {
    const apiOnly = await startTestBroker({ config: { sites: [demoSite({ name: 'idle' })] }, parts: { api: true } });
    try {
      const listed = (await apiOnly.http.get('/sites').expect(200)).body.sites[0] as Doc;
      expect(listed).toMatchObject({ online: false, executables: [] });
      expect(listed.unavailableExecutables).toContainEqual({ kind: 'docker-container', reason: 'site idle has no running worker' });
    } finally {
      await apiOnly.close();
    }
  });
});
