import { spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { redisUrl, randomPrefix, startTestBroker, type TestBroker } from '../support/test-broker.js';

const API = fileURLToPath(new URL('../../dist/main/api.js', import.meta.url));

/** Writes raw bytes to the server and waits for what it answers and for it to close the connection. */
function rawExchange(baseUrl: string, bytes: string): Promise<{ answer: string; ms: number }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => { answer += chunk.toString(); });
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, ms: performance.now() - started }));
    setTimeout(() => { socket.destroy(); reject(new Error(`no answer after 20 s: ${answer}`)); }, 20_000).unref();
  });
}

describe('slow clients', () => {
  let broker: TestBroker;
  // Short time-outs for the test; the defaults are 30 s.
  beforeAll(async () => { broker = await startTestBroker({ parts: { api: true }, config: { headersTimeoutMs: 800, requestTimeoutMs: 1_500 } }); });
  afterAll(async () => { await broker.close(); });

  it('answers 408 and closes when a body announced larger than sent does not arrive within the request time-out', async () => {
    const { answer, ms } = await rawExchange(broker.baseUrl, 'POST /requests HTTP/1.1\r\nHost: x\r\nAccept: application/xml\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"executable":');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // In the client's format (its Accept), as every error of the broker.
    expect(answer).toMatch(/\r\nContent-Type: application\/problem\+xml; charset=utf-8\r\n/);
    expect(answer).toContain('<code>request-timeout</code>');
    expect(answer).toContain('The request did not arrive within 1.5 s (the body had not all arrived)');
    expect(ms).toBeGreaterThan(1_400);
    expect(ms).toBeLessThan(1_500 + 1_000);
  });

  it('answers 408 and closes when the headers do not arrive within the headers time-out', async () => {
    const { answer, ms } = await rawExchange(broker.baseUrl, 'GET /availability HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(problem).toMatchObject({ status: 408, code: 'request-timeout', detail: 'The request did not arrive within 0.8 s (the headers had not all arrived)' });
    expect(ms).toBeLessThan(800 + 1_000);
  });

  it('answers headers too large and bytes that are not HTTP with a problem document, and closes', async () => {
    const large = await rawExchange(broker.baseUrl, `GET /availability HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(large.answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(large.answer.slice(large.answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431, code: 'headers-too-large' });
    const garbage = await rawExchange(broker.baseUrl, 'HELLO THERE\r\n\r\n');
    expect(garbage.answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.answer.slice(garbage.answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, code: 'malformed-request' });
  });

  it('still serves a client that sends its request in time', async () => {
    await broker.http.get('/availability').expect(200);
  });
});

describe('start-up', () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => { await new Promise((done) => taken.close(done)); });

  it('exits non-zero at once, naming the port and what to change, when the port is taken', async () => {
    const child = spawn(process.execPath, [API], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl(), EB_KEY_PREFIX: randomPrefix() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let firstLine = 0;
    const heard = (chunk: Buffer): void => { firstLine ||= performance.now(); output += chunk.toString(); };
    child.stdout.on('data', heard);
    child.stderr.on('data', heard);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const sinceStarted = performance.now() - firstLine;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(output).toContain(`port ${port} is already in use`);
    expect(output).toContain('set PORT to a free port');
    // From its first word (Node itself may take seconds to start on a busy machine) to its exit.
    expect(sinceStarted).toBeLessThan(5_000);
  }, 60_000);
});
