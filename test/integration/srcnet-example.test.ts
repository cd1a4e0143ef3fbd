import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { HOUR, send } from '../support/srcnet.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/srcnet/', import.meta.url));

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.once('error', fail);
    child.once('close', (code) => done({ code, out }));
  });
}

/**
 * examples/srcnet/ runs as written against the embedded default site, as `EB_CONTAINER_RUNTIME=none
 * npm start` serves it: the example's image is a stand-in the demo site runs as a shell script
 * without a container runtime (a docker or podman found here could not pull it).
 */
describe('examples/srcnet', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ env: { EB_CONTAINER_RUNTIME: 'none' } }); });
  afterAll(async () => { await broker.close(); });

  it('answers the prototype\'s example query 0 with its deadline ahead, and 2 with it past (as written) or too close', async () => {
    const query = JSON.parse(readFileSync(`${EXAMPLE}query.json`, 'utf8')) as Record<string, unknown>;
    expect((await send(broker.http, 'post', '/v1/query', query)).body.response_code).toBe(2);
    const deadline = (ms: number) => ({ ...query, deadline: new Date(Date.now() + ms).toISOString() });
    expect((await send(broker.http, 'post', '/v1/query', deadline(72 * HOUR))).body.response_code).toBe(2);
    expect((await send(broker.http, 'post', '/v1/query', deadline(10 * 24 * HOUR))).body).toEqual({ response_code: 0, response_text: 'OK' });
  });

  it('session.sh runs query, provision, submit and status to 0 with its output data', async () => {
    for (const tool of ['curl', 'jq']) expect({ tool, found: (await run('sh', ['-c', `command -v ${tool}`], {})).code }).toEqual({ tool, found: 0 });
    const { code, out } = await run('bash', [`${EXAMPLE}session.sh`], { BROKER_URL: broker.baseUrl });
    expect({ code, out }).toEqual({ code: 0, out: expect.stringContaining('Catalogue successfully created') });
    expect(out).toMatch(/^0 OK$/m);
    expect(out).toContain('Found 4 sources');
    // The last thing it prints is the catalogue, fetched from output_data: the sources of 5 mJy or more.
    expect(out.trimEnd().split('\n').slice(-5)).toEqual(['ra,dec,flux_mjy', '150.1191,2.2058,12.4', '149.9987,2.3011,8.7', '150.1575,2.2789,5.6', '149.9421,2.1967,21.3']);
    expect(await broker.heldNow('cores')).toBe(0);
  }, 90_000);
});
