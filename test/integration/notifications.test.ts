import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { TokenCipher } from '../../src/auth/token-cipher.js';
import { isBrokerError } from '../../src/domain/errors.js';
import { sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { notifyGate } from '../../src/sites/notify-gate.js';
import { demoSite, freePort, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { finalStatus, send, smallQuery } from '../support/srcnet.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

type Doc = Record<string, any>;
const WORKER = fileURLToPath(new URL('../../dist/main/worker.js', import.meta.url));
const EB = fileURLToPath(new URL('../../dist/cli/eb.js', import.meta.url));
const PUBLIC = 'https://broker.example.org';
const ALL_EVENTS = ['ACCEPTED', 'REJECTED', 'EXPIRED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED', 'FAILED', 'CANCELLED'];
/** Quick retries for the tests: 0.2 s, doubling to 1 s at most; an attempt times out after 1 s. */
const NOTIFY_ENV = { NOTIFY_EGRESS_ALLOW: '127.0.0.1', NOTIFY_RETRY_BASE: 'PT0.2S', NOTIFY_RETRY_MAX: 'PT1S', NOTIFY_TIMEOUT: 'PT1S', NOTIFY_POLL: 'PT0.1S', PUBLIC_URL: PUBLIC };

async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function request(shell: string, notify: unknown): Doc {
  return {
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT5M' } },
    'srcnet.notify': notify,
  };
}

/** A mail as the SMTP server received it: its subject and its text part (quoted-printable undone). */
interface Mail { to: string[]; subject: string; text: string; raw: string }
function readMail(raw: string, to: string[]): Mail {
  const subject = /^Subject: (.*)$/m.exec(raw)?.[1] ?? '';
  const part = /Content-Type: text\/plain[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(raw)?.[1] ?? '';
  const qp = /Content-Type: text\/plain[^\r\n]*\r\nContent-Transfer-Encoding: quoted-printable/i.test(raw);
  const text = qp ? part.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) : part;
  return { to, subject, text: text.replace(/\r\n/g, '\n'), raw };
}

/** An SMTP server (not yet listening) that reads every mail it receives into `mails`. */
function mailCatcher(mails: Mail[]): SMTPServer {
  return new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => { mails.push(readMail(Buffer.concat(chunks).toString('utf8'), session.envelope.rcptTo.map((r) => r.address))); done(); });
    },
  });
}

describe('notifications of phase changes', () => {
  const receiver = new WebhookReceiver();
  const mails: Mail[] = [];
  let smtp: SMTPServer;
  let broker: TestBroker;

  beforeAll(async () => {
    await receiver.start();
    smtp = mailCatcher(mails);
    await new Promise<void>((ready) => smtp.listen(0, '127.0.0.1', ready));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    broker = await startTestBroker({
      parts: { api: true, siteWorkers: true, timers: true, notify: true },
      env: { ...NOTIFY_ENV, SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAIL_FROM: 'broker@example.org' },
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, egressAllow: ['127.0.0.1'], executor: { type: 'local', containerRuntime: 'none', developmentImages: {
        'test.example/echo:1': { entrypoint: '/bin/sh', command: ['-c', 'echo done > "$EB_OUTPUTS/out.txt"', 'echo'] },
      } } })] },
    });
  });
  afterAll(async () => {
    await broker.close();
    await receiver.close();
    await new Promise<void>((done) => smtp.close(() => done()));
  });

  /** Requests, keeps the secret the answer gives, accepts the first offer; returns its uuid. */
  async function acceptedSession(shell: string, notify: unknown): Promise<string> {
    const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request(shell, notify)));
    expect(answer.status).toBe(303);
    const secret = answer.headers['webhook-secret'] as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(answer.headers['cache-control']).toBe('no-store');
    const set = answer.body as Doc;
    for (const offer of set.offers as Doc[]) receiver.secrets.set(offer.meta.uuid as string, secret);
    // The secret is given once: reading the offer set again shows it nowhere.
    const again = await broker.http.get(`/offersets/${set.meta.uuid}`).expect(200);
    expect(again.headers['webhook-secret']).toBeUndefined();
    expect(again.text).not.toContain(secret);
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
    return uuid;
  }
  const historyOf = async (uuid: string): Promise<string[]> =>
    ((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'history')) ?? '').split(',').map((item) => item.split(' ')[0] as string);

  it('tells each phase change of a session, in order, signed as Standard Webhooks says, with its uuid, phase, time and URL', async () => {
    receiver.answer = () => 'ok';
    const uuid = await acceptedSession('echo hello', [{ target: receiver.url, events: ALL_EVENTS }]);
    const arrived = await waitFor(() => { const list = receiver.delivered(uuid); return list.at(-1)?.payload.data.phase === 'COMPLETED' && list; }, 30_000, 'COMPLETED');
    const phases = (await historyOf(uuid)).filter((phase) => phase !== 'OFFERED');
    expect(arrived.map((a) => a.payload.data.phase)).toEqual(phases);
    expect(phases).toEqual(expect.arrayContaining(['ACCEPTED', 'PREPARING', 'AVAILABLE', 'RUNNING', 'COMPLETED']));
    expect(arrived.every((a) => a.verified)).toBe(true);
    expect(new Set(arrived.map((a) => a.id)).size).toBe(arrived.length);
    for (const a of arrived) {
      expect(a.payload).toEqual({ type: `session.${a.payload.data.phase.toLowerCase()}`, timestamp: a.payload.data.time, data: expect.objectContaining({ session: uuid, url: `${PUBLIC}/sessions/${uuid}`, site: 'demo' }) });
      expect(Date.parse(a.payload.data.time)).toBeLessThanOrEqual(a.at);
      expect(a.body).not.toMatch(/token|whsec_/i);
    }
    expect(arrived.at(-1)?.payload.data.outputs).toBe(`${PUBLIC}/sessions/${uuid}/outputs`);
    // Once every event is delivered, the session leaves the outbox, and its events go.
    await waitFor(async () => (await broker.redis.zscore(`${broker.config.keyPrefix}:notify-due`, uuid)) === null, 5_000, 'the outbox to settle');
    expect(await broker.redis.exists(`${broker.config.keyPrefix}:notify-events:${uuid}`)).toBe(0);
    // The deliveries' queue is counted for /metrics.
    expect((await broker.http.get('/metrics').expect(200)).text).toContain('eb_queue_jobs{queue="notify",state="failed"} 0');
  }, 60_000);

  it('retries a receiver that answers 500, times out or closes the connection, with the same webhook-id, and keeps the order', async () => {
    // Every event's first three attempts fail, each its own way; the fourth is answered.
    receiver.answer = (_arrival, attempt) => (['500', 'hang', 'close'] as const)[attempt - 1] ?? 'ok';
    const uuid = await acceptedSession('echo retried', receiver.url);
    const arrived = await waitFor(() => { const list = receiver.delivered(uuid); return list.at(-1)?.payload.data.phase === 'COMPLETED' && list; }, 60_000, 'COMPLETED');
    expect(arrived.map((a) => a.payload.data.phase)).toEqual(['AVAILABLE', 'RUNNING', 'COMPLETED']);
    for (const event of arrived) {
      const attempts = receiver.arrivals.filter((a) => a.id === event.id);
      expect(attempts.map((a) => a.answer)).toEqual(['500', 'hang', 'close', 'ok']);
      expect(attempts.every((a) => a.verified && a.body === event.body)).toBe(true);
    }
    // In order: no attempt of an event came before the previous event was delivered.
    const first = (id: string): number => receiver.arrivals.findIndex((a) => a.id === id);
    const delivered = (id: string): number => receiver.arrivals.findIndex((a) => a.id === id && a.answer === 'ok');
    expect(first(arrived[1]!.id)).toBeGreaterThan(delivered(arrived[0]!.id));
    expect(first(arrived[2]!.id)).toBeGreaterThan(delivered(arrived[1]!.id));
  }, 90_000);

  it('refuses at request time a webhook at an address the egress policy refuses, saying why, and holds nothing', async () => {
    const held = await broker.heldNow();
    for (const [target, reason] of [
      ['http://10.1.2.3/hook', 'a private address'],
      ['http://169.254.169.254/latest/meta-data', 'a link-local address'],
      ['http://[::1]:9/hook', 'a loopback address'],
      ['ftp://example.org/hook', 'a target is an http(s) URL or a mailto: address'],
    ]) {
      const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('true', [target])));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ type: 'urn:srcnet:execution-broker:error:notify-refused', messages: [{ values: { target, reason: expect.stringContaining(reason as string) } }] });
      expect(answer.body.detail).toContain(`The subscription to [${target}] is refused: `);
      expect(answer.headers['webhook-secret']).toBeUndefined();
    }
    expect(await broker.heldNow()).toBe(held);
  });

  it('subscribes from the command line: `eb request --notify URL` prints the secret once, and the webhooks verify with it', async () => {
    receiver.answer = () => 'ok';
    const file = join(mkdtempSync(join(tmpdir(), 'eb-notify-cli-')), 'request.yaml');
    writeFileSync(file, `executable:\n  kind: ${V1}/executable/docker-container.yaml\n  image: { locations: [busybox] }\n  entrypoint: /bin/sh\n  command: [-c, 'echo from the cli']\ncompute:\n  kind: ${V1}/compute/simple-compute-resource.yaml\n  cores: { min: 1, max: 1 }\n`);
    const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((done) => {
      const child = spawn(process.execPath, [EB, '--url', broker.baseUrl, '--output', 'json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
      child.on('close', (code) => done({ code, out, err }));
    });
    const refused = await run(['request', file, '--notify', 'http://192.168.1.1/hook']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('192.168.1.1 is a private address');
    const answered = await run(['request', file, '--notify', receiver.url]);
    expect(answered.code).toBe(0);
    const secret = /webhook signing secret \(shown once[^)]*\): (whsec_\S+)/.exec(answered.err)?.[1];
    expect(secret).toBeDefined();
    expect(answered.out).not.toContain(secret);
    const uuid = (JSON.parse(answered.out) as Doc).offers[0].meta.uuid as string;
    receiver.secrets.set(uuid, secret!);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
    const arrived = await waitFor(() => { const list = receiver.delivered(uuid); return list.at(-1)?.payload.data.phase === 'COMPLETED' && list; }, 30_000, 'COMPLETED');
    expect(arrived.map((a) => a.payload.data.phase)).toEqual(['AVAILABLE', 'RUNNING', 'COMPLETED']);
    expect(arrived.every((a) => a.verified)).toBe(true);
  }, 60_000);

  it('refuses a mail subscription on a broker with no SMTP server', async () => {
    const gate = notifyGate({ policy: { allow: [] }, mail: false, cipher: new TokenCipher(Buffer.alloc(32)), expiringBeforeMs: 60_000 });
    const refused = await gate.admit([{ kind: 'mail', target: 'mailto:astro@example.org', events: ['COMPLETED'] }]).catch((error: unknown) => error);
    expect(isBrokerError(refused) && refused.code === 'notify-refused' && refused.values.reason).toBe('this broker sends no mail (it has no SMTP server configured)');
  });

  it('mails the contact_email of an SRCNet job when it is available and when it completes, through a real SMTP server', async () => {
    mails.length = 0;
    const provisioned = await send(broker.http, 'put', '/v1/provision', smallQuery()).expect(200);
    const id = provisioned.body.provision_id as string;
    const uuid = sessionOfProvision(id)!;
    await send(broker.http, 'put', `/v1/provision/${id}/submit`, { container: 'test.example/echo:1', dataset: `${receiver.url.replace('/hook', '')}/data.csv`, contact_email: 'astro@example.org' }).expect(200);
    expect(await finalStatus(broker.http, id)).toMatchObject({ response_code: 0 });
    const both = await waitFor(() => mails.length >= 2 && mails, 15_000, 'two mails');
    expect(both.map((m) => m.subject)).toEqual([`Session ${uuid.slice(0, 8)} is available`, `Session ${uuid.slice(0, 8)} completed`]);
    expect(both.every((m) => m.to.join() === 'astro@example.org' && /^From: broker@example\.org$/m.test(m.raw))).toBe(true);
    expect(both[0]!.text).toContain(`Your session ${uuid} on site demo is available since`);
    expect(both[1]!.text).toContain(`Your session ${uuid} on site demo completed at`);
    expect(both[1]!.text).toContain(`Outputs: ${PUBLIC}/sessions/${uuid}/outputs`);
    expect(both[1]!.raw).toContain('Content-Type: text/html');
  }, 60_000);

  it("subscribes from the Global Execution API's submit: notify (a webhook, signed with the secret the answer gives) and contact_email (mail)", async () => {
    receiver.answer = () => 'ok';
    mails.length = 0;
    const submit = (body: unknown) => broker.http.post('/global-execution-api/v1/job/submit').set('Content-Type', 'application/json').send(JSON.stringify(body));
    const job = { container_image: 'test.example/echo:1', script: 'echo done > "$EB_OUTPUTS/out.txt"' };
    const submitted = await submit({ ...job, notify: [{ url: receiver.url, events: ['ACCEPTED', 'COMPLETED'] }], contact_email: 'astro@example.org' }).expect(200);
    const uuid = submitted.body.job_id as string;
    expect(submitted.body.webhook_secret).toMatch(/^whsec_/);
    expect(submitted.headers['webhook-secret']).toBe(submitted.body.webhook_secret);
    expect(submitted.headers['cache-control']).toBe('no-store');
    receiver.secrets.set(uuid, submitted.body.webhook_secret as string);
    const arrived = await waitFor(() => { const list = receiver.delivered(uuid); return list.at(-1)?.payload.data.phase === 'COMPLETED' && list; }, 30_000, 'COMPLETED');
    expect(arrived.map((a) => [a.payload.type, a.verified])).toEqual([['session.accepted', true], ['session.completed', true]]);
    const both = await waitFor(() => mails.filter((m) => m.subject.startsWith(`Session ${uuid.slice(0, 8)}`)).length >= 2 && mails, 15_000, 'two mails');
    expect(both.map((m) => [m.subject, m.to.join()])).toEqual([[`Session ${uuid.slice(0, 8)} is available`, 'astro@example.org'], [`Session ${uuid.slice(0, 8)} completed`, 'astro@example.org']]);
    // A target the broker will not tell is refused at submit, saying why, in the API's shape; a notify that is no list is a 422.
    const refused = await submit({ ...job, notify: [{ url: 'http://10.0.0.1/hook' }] }).expect(400);
    expect(refused.body).toEqual({ code: 'notify-refused', detail: expect.stringContaining('The subscription to [http://10.0.0.1/hook] is refused: ') });
    expect(refused.body.detail).toContain('a private address');
    expect((await submit({ ...job, notify: 'https://example.org/' }).expect(422)).body.detail[0]).toMatchObject({ type: 'list_type', loc: ['body', 'notify'] });
    expect((await submit({ ...job, contact_email: 'not an address' }).expect(400)).body.code).toBe('notify-refused');
  }, 60_000);
});

describe('a notify worker killed with SIGKILL mid-delivery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-notify-crash-'));
  chmodSync(dir, 0o711);
  const sitesFile = join(dir, 'sites.yaml');
  writeFileSync(sitesFile, `sites:\n  - { name: demo, cores: 8, memoryGiB: 16, preparation: PT0S, releasing: PT0S, scratchDir: ${join(dir, 'scratch')}, executor: { type: local, containerRuntime: none } }\n`);
  const receiver = new WebhookReceiver();
  const workers: ChildProcess[] = [];
  let broker: TestBroker;
  const startWorker = (): ChildProcess => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, ...NOTIFY_ENV, REDIS_URL: broker.config.redisUrl, EB_KEY_PREFIX: broker.config.keyPrefix, BROKER_CONFIG: sitesFile },
      stdio: process.env.DEBUG_WORKER ? 'inherit' : 'ignore',
    });
    workers.push(child);
    return child;
  };

  beforeAll(async () => {
    await receiver.start();
    // The API, the site's worker and the timers run here; notifications only in the worker processes.
    broker = await startTestBroker({ parts: { api: true, siteWorkers: true, timers: true }, env: { ...NOTIFY_ENV, BROKER_CONFIG: sitesFile, OFFER_LIFETIME: 'PT12S', NOTIFY_EXPIRING_BEFORE: 'PT8S' } });
  });
  afterAll(async () => {
    for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
    await broker.close();
    await receiver.close();
  });

  it('loses no EXPIRING notice: due while no notify worker runs, it waits in Redis and is told once one starts', async () => {
    receiver.answer = () => 'ok';
    const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('true', { target: receiver.url, events: ['EXPIRING'] })));
    expect(answer.status).toBe(303);
    const id = (answer.body as Doc).meta.uuid as string;
    receiver.secrets.set(id, answer.headers['webhook-secret'] as string);
    const due = Number(await broker.redis.zscore(`${broker.config.keyPrefix}:notify-expiring`, id));
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 300));
    // Due, and no process has it: the entry is still in Redis.
    expect(await broker.redis.zscore(`${broker.config.keyPrefix}:notify-expiring`, id)).not.toBeNull();
    expect(receiver.delivered(id)).toHaveLength(0);
    const worker = startWorker();
    try {
      const [notice] = await waitFor(() => { const list = receiver.delivered(id); return list.length > 0 && list; }, 8_000, 'the EXPIRING notice');
      expect(notice!.payload.type).toBe('offerset.expiring');
      expect(notice!.verified).toBe(true);
      expect(notice!.at).toBeLessThan(Date.parse(notice!.payload.data.expires as string));
    } finally {
      worker.kill('SIGKILL');
      await new Promise((r) => (worker.exitCode === null ? worker.once('exit', r) : r(undefined)));
    }
  }, 40_000);

  it('loses no event: what it was delivering, and what happened while none ran, arrive once another starts, with the same ids', async () => {
    let first: ChildProcess | undefined = startWorker();
    // The worker holds the first event's delivery open when it is killed.
    let killed = '';
    receiver.answer = (arrival) => {
      if (first) {
        killed = arrival.id;
        first.kill('SIGKILL');
        first = undefined;
        return 'hang';
      }
      return 'ok';
    };
    const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('echo hello', { target: receiver.url, events: ALL_EVENTS })));
    expect(answer.status).toBe(303);
    const uuid = (answer.body as Doc).offers[0].meta.uuid as string;
    receiver.secrets.set(uuid, answer.headers['webhook-secret'] as string);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
    await waitFor(() => killed !== '', 20_000, 'the first delivery');
    // The session goes on to its end while no notify worker runs: its events wait in the outbox.
    await waitFor(async () => (await broker.http.get(`/sessions/${uuid}`)).body.phase === 'COMPLETED', 30_000, 'COMPLETED');
    startWorker();
    const arrived = await waitFor(() => { const list = receiver.delivered(uuid); return list.at(-1)?.payload.data.phase === 'COMPLETED' && list; }, 40_000, 'every event');
    const history = ((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'history')) ?? '').split(',').map((item) => item.split(' ')[0]);
    expect(arrived.map((a) => a.payload.data.phase)).toEqual(history.filter((phase) => phase !== 'OFFERED'));
    expect(arrived[0]!.id).toBe(killed);
    expect(receiver.arrivals.filter((a) => a.id === killed).map((a) => a.answer)).toEqual(['hang', 'ok']);
    expect(arrived.every((a) => a.verified)).toBe(true);
  }, 120_000);
});

describe('a mail server that is down', () => {
  let broker: TestBroker;
  let smtp: SMTPServer | undefined;
  let smtpPort = 0;
  const mails: Mail[] = [];

  beforeAll(async () => {
    smtpPort = await freePort();
    broker = await startTestBroker({
      parts: { api: true, siteWorkers: true, timers: true, notify: true },
      env: { ...NOTIFY_ENV, SMTP_URL: `smtp://127.0.0.1:${smtpPort}` },
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] },
    });
  });
  afterAll(async () => {
    await broker.close();
    if (smtp) await new Promise<void>((done) => smtp?.close(() => done()));
  });

  it('never holds a session: it ends while no mail can be sent, and the mail arrives once the server is up', async () => {
    const answer = await broker.http.post('/direct').set('Content-Type', 'application/json').send(JSON.stringify(request('echo quick', ['mailto:astro@example.org'])));
    expect(answer.status).toBe(303);
    const uuid = (answer.body as Doc).meta.uuid as string;
    await waitFor(async () => (await broker.http.get(`/sessions/${uuid}`)).body.phase === 'COMPLETED', 30_000, 'COMPLETED');
    expect(mails).toHaveLength(0);
    smtp = mailCatcher(mails);
    await new Promise<void>((ready) => smtp?.listen(smtpPort, '127.0.0.1', ready));
    const arrived = await waitFor(() => mails.length >= 2 && mails, 20_000, 'the mails');
    expect(arrived.map((m) => m.subject)).toEqual([`Session ${uuid.slice(0, 8)} is available`, `Session ${uuid.slice(0, 8)} completed`]);
  }, 60_000);
});

describe('the notice that an offer set is about to expire (EXPIRING)', () => {
  const receiver = new WebhookReceiver();
  const mails: Mail[] = [];
  let smtp: SMTPServer;
  let broker: TestBroker;
  const LIFETIME_MS = 6_000;
  const BEFORE_MS = 4_000;

  beforeAll(async () => {
    await receiver.start();
    smtp = mailCatcher(mails);
    await new Promise<void>((ready) => smtp.listen(0, '127.0.0.1', ready));
    broker = await startTestBroker({
      parts: { api: true, siteWorkers: true, timers: true, notify: true },
      env: { ...NOTIFY_ENV, SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`, OFFER_LIFETIME: `PT${LIFETIME_MS / 1000}S`, NOTIFY_EXPIRING_BEFORE: `PT${BEFORE_MS / 1000}S` },
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] },
    });
  });
  afterAll(async () => {
    await broker.close();
    await receiver.close();
    await new Promise<void>((done) => smtp.close(() => done()));
  });

  async function offerSet(notify: unknown): Promise<{ set: Doc; secret: string; at: number }> {
    const at = Date.now();
    const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('true', notify)));
    expect(answer.status).toBe(303);
    const set = answer.body as Doc;
    const secret = answer.headers['webhook-secret'] as string;
    receiver.secrets.set(set.meta.uuid as string, secret);
    return { set, secret, at };
  }

  it('tells a webhook and a mail subscriber once, before the offers expire, with the open offers; the entry is saved with the offer set', async () => {
    receiver.answer = () => 'ok';
    mails.length = 0;
    const { set, at } = await offerSet([{ target: receiver.url, events: ['EXPIRING', 'EXPIRED'] }, { target: 'mailto:astro@example.org', events: ['EXPIRING'] }]);
    const id = set.meta.uuid as string;
    const offers = (set.offers as Doc[]).map((offer) => offer.meta.uuid as string);
    // Written in the same step as the offer set: due at its expiry less NOTIFY_EXPIRING_BEFORE.
    const expires = Number(await broker.redis.hget(`${broker.config.keyPrefix}:session:${offers[0]}`, 'expires'));
    expect(Number(await broker.redis.zscore(`${broker.config.keyPrefix}:notify-expiring`, id))).toBe(expires - BEFORE_MS);
    const [notice] = await waitFor(() => { const list = receiver.delivered(id); return list.length > 0 && list; }, LIFETIME_MS + 5_000, 'the EXPIRING notice');
    expect(notice!.verified).toBe(true);
    expect(notice!.at).toBeGreaterThanOrEqual(at + LIFETIME_MS - BEFORE_MS - 50);
    expect(notice!.at).toBeLessThan(expires);
    expect(notice!.payload).toEqual({
      type: 'offerset.expiring', timestamp: expect.any(String),
      data: { offerset: id, url: `${PUBLIC}/offersets/${id}`, expires: new Date(expires).toISOString(), offers: offers.map((uuid) => ({ session: uuid, url: `${PUBLIC}/sessions/${uuid}` })) },
    });
    const mail = await waitFor(() => mails.find((m) => m.subject.startsWith(`Offers ${id.slice(0, 8)} expire at`)), 5_000, 'the EXPIRING mail');
    expect(mail.to).toEqual(['astro@example.org']);
    expect(mail.subject).toBe(`Offers ${id.slice(0, 8)} expire at ${new Date(expires).toISOString().slice(11, 16)} UTC`);
    expect(mail.text).toContain(`expire at ${new Date(expires).toISOString()}; none is accepted yet.`);
    expect(mail.text).toContain(`Offer: ${PUBLIC}/sessions/${offers[0]}`);
    // Then the offers expire (EXPIRED, asked for too), and the notice was told once only.
    await waitFor(() => receiver.arrivals.filter((a) => a.payload.type === 'session.expired' && offers.includes(a.payload.data.session)).length === offers.length, 10_000, 'EXPIRED');
    expect(receiver.arrivals.filter((a) => a.payload.type === 'offerset.expiring' && a.payload.data.offerset === id)).toHaveLength(1);
    expect(mails.filter((m) => m.subject.startsWith(`Offers ${id.slice(0, 8)}`))).toHaveLength(1);
    expect(await broker.redis.zscore(`${broker.config.keyPrefix}:notify-expiring`, id)).toBeNull();
  }, 30_000);

  it('tells nothing when an offer was accepted, or every offer rejected, before the notice was due, nor to a subscriber who did not ask for it', async () => {
    receiver.answer = () => 'ok';
    const accepted = await offerSet([{ target: receiver.url, events: ['EXPIRING', 'ACCEPTED'] }]);
    const rejected = await offerSet([{ target: receiver.url, events: ['EXPIRING'] }]);
    for (const offer of rejected.set.offers as Doc[]) {
      await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'REJECTED' })).expect(200);
    }
    await offerSet([receiver.url]);
    const uuid = accepted.set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
    receiver.secrets.set(uuid, accepted.secret);
    await waitFor(() => receiver.delivered(uuid).length > 0, 10_000, 'ACCEPTED');
    // Past both notices' time and the offers' expiry: the entries were taken, and neither told.
    await new Promise((r) => setTimeout(r, LIFETIME_MS + 500 - (Date.now() - accepted.at)));
    await waitFor(async () => (await broker.redis.zcard(`${broker.config.keyPrefix}:notify-expiring`)) === 0, 5_000, 'the entries to be taken');
    expect(receiver.arrivals.filter((a) => a.payload.type === 'offerset.expiring').map((a) => a.payload.data.offerset)).toEqual([expect.not.stringMatching(`${accepted.set.meta.uuid}|${rejected.set.meta.uuid}`)]); // the first test's only
  }, 30_000);

  it('refuses EXPIRING for a subscriber who asks for an event it cannot have, saying which can be asked for', async () => {
    const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('true', [{ target: 'mailto:astro@example.org', events: ['EXPIRING', 'RUNNING'] }])));
    expect(answer.status).toBe(400);
    expect(answer.body.messages[0].values.reason).toBe('RUNNING is not an event a mail subscription can ask for (EXPIRING, AVAILABLE, COMPLETED, FAILED, CANCELLED)');
  });
});
