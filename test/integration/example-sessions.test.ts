import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { deleteKeys, freePort, randomPrefix, redisUrl } from '../support/test-broker.js';

const ALL_IN_ONE = fileURLToPath(new URL('../../dist/main/all-in-one.js', import.meta.url));
const SESSIONS = fileURLToPath(new URL('../../examples/sessions/', import.meta.url));


function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * The scripted sessions in examples/sessions/ (curl in JSON, XML and YAML, and the eb client), each
 * run as written against the broker as `npm start` runs it: the all-in-one process with its
 * built-in demo site.
 */
describe('examples/sessions against the all-in-one broker', () => {
  let broker: ChildProcess;
  let url: string;
  const prefix = randomPrefix();

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    broker = spawn(process.execPath, [ALL_IN_ONE], {
      env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl(), EB_KEY_PREFIX: prefix },
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${url}/availability`).then((res) => res.text(), () => '');
      if (up.includes('<available>true</available>')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the all-in-one broker did not become available');
  });
  afterAll(async () => {
    broker.kill('SIGTERM');
    await new Promise((r) => broker.once('exit', r));
    const redis = new Redis(redisUrl());
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('has the scripts this test runs', () => {
    expect(readdirSync(SESSIONS).sort()).toEqual(['cli.sh', 'curl-json.sh', 'curl-xml.sh', 'curl-yaml.sh']);
  });

  it.each([
    ['curl-json.sh', /offer set: YES\n(.|\n)*now ACCEPTED\n(.|\n)*phase: COMPLETED\nlog:\nhello from /],
    ['curl-xml.sh', /offer set: YES\nfirst offer: [0-9a-f-]{36}\nphase: OFFERED\naccepted, now: ACCEPTED\n(.|\n)*phase: COMPLETED\nlog:\nhello from /],
    ['curl-yaml.sh', /offer set: YES\n(.|\n)*accepted, now: ACCEPTED\nlog, as it comes:\n3\n2\n1\nlift-off\nphase: COMPLETED\n$/],
    ['cli.sh', /: COMPLETED\n(.|\n)*--- log ---\nhello from (.|\n)*offer set [0-9a-f-]{36}: YES\n(.|\n)*ACCEPTED\n(.|\n)*: COMPLETED\n(.|\n)*hello from /],
  ])('%s runs to COMPLETED', async (script, expected) => {
    const { code, output } = await run('bash', [`${SESSIONS}${script}`], { EB_URL: url });
    expect(output).toMatch(expected);
    expect(code).toBe(0);
  });
});
