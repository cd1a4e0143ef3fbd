import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import { demoSite, redisUrl, startTestBroker, type TestBroker } from '../support/test-broker.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const TYPES: Record<string, string> = { json: 'application/json', xml: 'application/xml', yaml: 'application/yaml' };

/** The files the README points at must keep working. */
describe('examples/', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ config: { sites: [demoSite({ cores: 1000, memoryGiB: 1000 })] } }); });
  afterAll(async () => { await broker.close(); });

  // Offers where the demo site's worker can run the example's kind (a notebook only once notebooks
  // run, and where Jupyter is); elsewhere a NO that gives the site's reason.
  it.each(readdirSync(`${EXAMPLES}requests`))('requests/%s gets offers where its kind runs, else says why', async (file) => {
    const type = TYPES[file.split('.').pop() ?? ''];
    const text = readFileSync(`${EXAMPLES}requests/${file}`, 'utf8');
    const kind = /executable\/([a-z-]+)\.yaml/.exec(text)?.[1] ?? 'docker-container';
    const site = (await broker.http.get('/sites').expect(200)).body.sites[0] as Record<string, any>;
    const res = await broker.http.post('/requests').set('Content-Type', type ?? '').send(text);
    expect(res.status).toBe(303);
    if ((site.executables as string[]).includes(kind)) {
      expect(res.body.result).toBe('YES');
    } else {
      const why = (site.unavailableExecutables as Array<{ kind: string; reason: string }>).find((entry) => entry.kind === kind)!.reason;
      expect(res.body.result).toBe('NO');
      expect(res.body.meta.messages.map((m: { message: string }) => m.message)).toContain(`Site demo cannot run executables of kind [executable/${kind}]: ${why}`);
    }
  });

  it('sites-oidc.yaml is a valid sites file for a broker behind an OpenID provider', () => {
    const config = loadConfig({ REDIS_URL: redisUrl(), BROKER_CONFIG: `${EXAMPLES}sites-oidc.yaml`, OIDC_CLIENT_SECRET: 'from-the-environment', TOKEN_KEY: 'a'.repeat(64) });
    expect(config.auth.oidc).toMatchObject({ issuer: 'https://ska-iam.stfc.ac.uk/', groupsClaim: 'wlcg.groups', client: { id: 'execution-broker', secret: 'from-the-environment' } });
    expect(config.sites[0]?.tokenExchange).toEqual({ audience: 'https://datalake.north.example', scope: 'data:read', hosts: ['datalake.north.example'] });
    expect(config.sites[0]?.processRuns).toMatchObject({ isolation: 'sandbox', network: 'none' });
    expect(() => loadConfig({ REDIS_URL: redisUrl(), BROKER_CONFIG: `${EXAMPLES}sites-oidc.yaml`, OIDC_CLIENT_SECRET: 's' })).toThrow(/needs TOKEN_KEY/);
  });

  it('sites.yaml is a valid sites file', () => {
    const config = loadConfig({ REDIS_URL: redisUrl(), BROKER_CONFIG: `${EXAMPLES}sites.yaml` });
    expect(config.sites.map((site) => site.name)).toEqual(['demo', 'hpc-north']);
    expect(config.sites[1]).toMatchObject({ cores: 512, fileRoots: ['/srv/datalake'], maxDurationMs: 2 * 86_400_000 });
    expect(config.sites[1]?.executor).toMatchObject({ type: 'slurm', partition: 'broker', commands: { sbatch: '/usr/bin/sbatch' } });
  });
});
