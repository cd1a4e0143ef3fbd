import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomPrefix, redisUrl } from '../support/test-broker.js';

const API = fileURLToPath(new URL('../../dist/main/api.js', import.meta.url));

/** Runs the API entry point as `npm start` would, until it says `until` (then SIGTERM) or exits. */
function runApi(env: NodeJS.ProcessEnv, until: RegExp): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [API], {
      env: { PATH: process.env.PATH, REDIS_URL: redisUrl(), EB_KEY_PREFIX: randomPrefix(), PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      if (until.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => done({ code, output }));
  });
}

/** Without an issuer the broker runs anonymously, on loopback only unless told otherwise. */
describe('anonymous mode', () => {
  it('starts on loopback and says it runs without authentication', async () => {
    const { code, output } = await runApi({}, /listening on/);
    expect(output).toMatch(/Running WITHOUT authentication/);
    expect(output).toMatch(/ExecutionBroker listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(code).toBe(0);
  });

  it('refuses to listen beyond loopback, exiting 2 with what to change', async () => {
    const { code, output } = await runApi({ HOST: '0.0.0.0' }, /listening on/);
    expect(code).toBe(2);
    expect(output).toMatch(/Configuration refused: HOST=0\.0\.0\.0 is beyond loopback and no issuer is configured/);
    expect(output).not.toMatch(/listening on/);
  });

  it('listens beyond loopback when ALLOW_ANONYMOUS_REMOTE=true, still saying it runs without authentication', async () => {
    const { code, output } = await runApi({ HOST: '0.0.0.0', ALLOW_ANONYMOUS_REMOTE: 'true' }, /listening on/);
    expect(output).toMatch(/Running WITHOUT authentication/);
    expect(output).toMatch(/Listening on 0\.0\.0\.0, beyond loopback/);
    expect(code).toBe(0);
  });
});
