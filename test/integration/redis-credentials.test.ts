import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, redactedUrl } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { openEventStream } from '../support/event-stream.js';
import { demoSite, dockerRequest, freePort, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

const dist = (file: string): string => fileURLToPath(new URL(`../../dist/main/${file}`, import.meta.url));
type Doc = Record<string, any>;

const PASSWORD = 'default-pw-9f3b2c41e7d8';
const USER_PASSWORD = 'acl-user-pw-51c0a6d2b3e4';

/**
 * The broker against a Redis that wants a password (`requirepass`) and has an ACL user: the API,
 * the site workers and BullMQ, the events subscriber, the audit and spawned processes all work
 * from REDIS_URL's credentials, and no log line or error message shows a password.
 */
describe('a Redis with a password and an ACL user', () => {
  let server: ChildProcess;
  let port = 0;
  const url = (user: string, password: string): string => `redis://${user}:${password}@127.0.0.1:${port}`;

  beforeAll(async () => {
    port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'eb-redis-auth-'));
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--requirepass', PASSWORD, '--user', 'eb', 'on', `>${USER_PASSWORD}`, '~*', '&*', '+@all'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if (spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', PASSWORD, 'ping']).stdout?.toString().includes('PONG')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('redis-server with requirepass did not start');
  });
  afterAll(() => { server?.kill('SIGTERM'); });

  it('refuses clients without the password (so the rest of this file means something)', async () => {
    const replies = await new Promise<string>((done, fail) => {
      let text = '';
      const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('GET anything\r\nAUTH eb not-it\r\n'));
      socket.on('data', (data) => { text += String(data); if (text.split('\r\n').length > 2) { socket.destroy(); done(text); } });
      socket.once('error', fail);
    });
    expect(replies).toMatch(/^-NOAUTH Authentication required.*\r\n-WRONGPASS/);
  });

  describe('with an ACL user in REDIS_URL', () => {
    let broker: TestBroker;
    const logs: string[] = [];
    beforeAll(async () => {
      broker = await startTestBroker({
        env: { REDIS_URL: url('eb', USER_PASSWORD) },
        config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] },
        logger: createLogger('test', { level: 'debug', destination: new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done(); } }) }),
      });
    });
    afterAll(async () => { await broker?.close(); });

    it('runs a session from offer to COMPLETED, with its notices on the event stream', async () => {
      const stream = await openEventStream(`${broker.baseUrl}/events`);
      try {
        await stream.waitFor((event) => event.event === 'ready');
        const body = { ...dockerRequest(), executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'echo with credentials'] } };
        const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303)).body as Doc;
        const uuid = set.offers[0].meta.uuid as string;
        await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
        await stream.waitFor((event) => event.event === 'session' && (JSON.parse(event.data) as Doc).uuid === uuid && (JSON.parse(event.data) as Doc).phase === 'COMPLETED', 20_000);
        expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).toBe('with credentials\n');
      } finally {
        stream.close();
      }
    });

    it('audits the ledger from a process of its own', () => {
      const audit = spawnSync(process.execPath, [dist('audit.js')], { env: { PATH: process.env.PATH, REDIS_URL: url('eb', USER_PASSWORD), EB_KEY_PREFIX: broker.config.keyPrefix }, encoding: 'utf8' });
      expect(audit.status).toBe(0);
      expect(JSON.parse(audit.stdout)).toMatchObject({ overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });
      expect(audit.stdout + audit.stderr).not.toContain(USER_PASSWORD);
    });

    it('writes no password into its logs', () => {
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.join('')).not.toContain(USER_PASSWORD);
    });
  });

  it('starts the all-in-one process from a password-only URL, and says a wrong one without showing it', async () => {
    const run = (redisUrl: string, httpPort: number): { child: ChildProcess; output: () => string } => {
      let output = '';
      const child = spawn(process.execPath, [dist('all-in-one.js')], {
        env: { ...process.env, PORT: String(httpPort), REDIS_URL: redisUrl, EB_KEY_PREFIX: `test-auth-${httpPort}`, EB_CONTAINER_RUNTIME: 'none' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk) => { output += String(chunk); });
      child.stderr?.on('data', (chunk) => { output += String(chunk); });
      return { child, output: () => output };
    };
    const httpPort = await freePort();
    const good = run(`redis://:${PASSWORD}@127.0.0.1:${port}`, httpPort);
    try {
      let available = '';
      for (let i = 0; i < 450 && !available.includes('<available>true</available>'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        available = await fetch(`http://127.0.0.1:${httpPort}/availability`).then((res) => res.text(), () => '');
      }
      expect(available).toContain('<available>true</available>');
    } finally {
      good.child.kill('SIGTERM');
      await new Promise((done) => good.child.once('exit', done));
    }
    expect(good.output()).not.toContain(PASSWORD);

    const bad = run(url('eb', 'the-wrong-password-77'), await freePort());
    const code = await new Promise((done) => bad.child.once('exit', done));
    expect(code).toBe(1);
    expect(bad.output()).toMatch(/Cannot start: .*WRONGPASS.*\(Redis at redis:\/\/eb:\*\*\*@127\.0\.0\.1:\d+\)/);
    expect(bad.output()).not.toContain('the-wrong-password-77');
  }, 90_000);

  it('shows no password in a refused REDIS_URL, nor where one is printed', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://eb:s3cret@redis:6379' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_URL: 'http://eb:s3cret@redis:6379' })).toThrow('REDIS_URL must start with redis:// or rediss://, not "http://eb:***@redis:6379"');
    expect(redactedUrl('redis://:p@ss:word@redis:6379/0')).toBe('redis://:***@redis:6379/0');
    expect(redactedUrl('rediss://eb:pw@redis')).toBe('rediss://eb:***@redis');
    expect(redactedUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});
