import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { JOB, jobId, siteQueueName } from '../../src/queue/queue-names.js';
import { LocalProcessExecutor } from '../../src/sites/local-process-executor.js';
import { stageItem } from '../../src/sites/stage-files.js';
import { auditLedger } from '../../src/store/audit-ledger.js';
import { RedisBrokerStore } from '../../src/store/redis-broker-store.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** Accepted sessions run for real on the demo site's local executor (plain processes here). */
describe('sessions that run', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0 })] } });
  });
  afterAll(async () => { await broker.close(); });

  const script = (shell: string, duration = 'PT10M') => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell], environment: { GREETING: 'hi' } },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 2, max: 2 } },
    schedule: { requested: { duration } },
  });

  async function runUntilEnd(body: Doc, cancelWhenRunning = false): Promise<Doc> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let session: Doc = {};
    for (let i = 0; i < 300; i++) {
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase)) break;
      // Cancelled once the run has written its first line (RUNNING comes as the process starts, before it prints).
      if (cancelWhenRunning && session.phase === 'RUNNING' && (await broker.http.get(`/sessions/${uuid}/logs`)).text !== '') {
        const run = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'run')) ?? '{}') as Doc;
        expect(() => process.kill(-Number(run.id), 0)).not.toThrow();
        await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
        await new Promise((r) => setTimeout(r, 500));
        expect(() => process.kill(-Number(run.id), 0)).toThrow(); // the process group is gone
        cancelWhenRunning = false;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return session;
  }

  it('runs from accept to COMPLETED, with the log read back and the capacity released', async () => {
    const session = await runUntilEnd(script('echo "$GREETING from the session"; echo result > "$EB_OUTPUTS/out.txt"'));
    expect(session.phase).toBe('COMPLETED');
    expect(session.executable.phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('hi from the session\n');
    expect(session.meta.messages.at(-1).message).toMatch(/exited with status 0; outputs are in .+\/outputs on site demo/);
    expect(session.meta.options).toBeUndefined();
    const outputs = `${broker.baseUrl}/sessions/${session.meta.uuid}/outputs`;
    expect(session.connectors).toEqual([
      { kind: 'urn:srcnet:connector:logs', status: 'FINISHED', protocol: 'HTTP', location: `${broker.baseUrl}/sessions/${session.meta.uuid}/logs` },
      { kind: 'urn:srcnet:connector:outputs', status: 'AVAILABLE', protocol: 'HTTP', location: outputs },
    ]);
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/outputs`)).body).toEqual({
      session: session.meta.uuid, files: [{ path: 'out.txt', size: 7, url: `${outputs}/out.txt` }],
    });
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/outputs/out.txt`)).text).toBe('result\n');
    expect(await broker.heldNow()).toBe(0);
    // The operators' audit reads sessions that have logs (keys below the session's own) as it reads any.
    expect(await auditLedger(broker.redis, redisKeys(broker.config.keyPrefix), broker.config.sites, Date.now()))
      .toEqual({ holds: 0, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });
  });

  it('runs an image the site stands in for with a local program (development images), the request\'s command appended', async () => {
    const images = await startTestBroker({ config: { sites: [demoSite({
      preparationMs: 0, releasingMs: 0,
      executor: { type: 'local', containerRuntime: 'none', developmentImages: { 'example.org/echo:1': { entrypoint: '/bin/sh', command: ['-c', 'echo "image ran with $*"', 'echo'] } } },
    })] } });
    try {
      const body = script('unused');
      delete (body.executable as Doc).entrypoint;
      body.executable.image = { locations: ['example.org/echo:1'] };
      body.executable.command = ['--threshold', '5'];
      const set = (await images.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
      const uuid = set.offers[0].meta.uuid as string;
      await images.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      let session: Doc = {};
      for (let i = 0; i < 200 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
        await new Promise((r) => setTimeout(r, 50));
        session = (await images.http.get(`/sessions/${uuid}`)).body as Doc;
      }
      expect(session.phase).toBe('COMPLETED');
      expect((await images.http.get(`/sessions/${uuid}/logs`)).text).toBe('image ran with --threshold 5\n');
    } finally {
      await images.close();
    }
  });

  it('ends FAILED with the exit status in a message when the executable fails', async () => {
    const session = await runUntilEnd(script('echo oops >&2; exit 42'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1)).toMatchObject({ level: 'ERROR', message: 'The executable exited with status 42' });
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('oops\n');
    expect(await broker.heldNow()).toBe(0);
  });

  it('says which signal ended an executable, and that SIGKILL is also how running out of memory ends', async () => {
    const killed = await runUntilEnd(script('kill -KILL $$'));
    expect(killed.phase).toBe('FAILED');
    expect(killed.meta.messages.at(-1).message).toBe('The executable exited with status 137: killed by SIGKILL, which is also how running out of memory ends (1 GiB offered)');
    const segfault = await runUntilEnd(script('kill -SEGV $$'));
    expect(segfault.meta.messages.at(-1).message).toBe('The executable exited with status 139: killed by SIGSEGV');
  });

  it('stops a session when its offered duration ends', async () => {
    const session = await runUntilEnd(script('echo started; sleep 30', 'PT1S'));
    expect(session.phase).toBe('COMPLETED');
    expect(session.meta.messages.at(-1).message).toMatch(/offered duration ended/);
  });

  it('kills the process and releases the capacity when a running session is cancelled', async () => {
    const session = await runUntilEnd(script('echo waiting; sleep 60'), true);
    expect(session.phase).toBe('CANCELLED');
    expect(await broker.heldNow()).toBe(0);
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('waiting\n');
  });

  it('fails a session whose run was cancelled on the site (not by the client), saying so', async () => {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(script('sleep 30')))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let session: Doc = {};
    for (let i = 0; i < 200 && session.phase !== 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
    }
    const run = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'run')) ?? '{}') as Doc;
    // An operator on the site cancels it with the executor's own means.
    await new LocalProcessExecutor(join(String(run.dir), '..')).cancel(run as never);
    for (let i = 0; i < 200 && session.phase === 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
    }
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe('The run was cancelled on site demo');
    expect(await broker.heldNow()).toBe(0);
  });

  it('fails a session it cannot run, saying why, instead of leaving it stuck', async () => {
    const body = script('true');
    delete (body.executable as Doc).entrypoint;
    const session = await runUntilEnd(body);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe('Site demo cannot run this executable: without a container runtime the executable needs an entrypoint, and image busybox is not one');
  });

  it('fails a session whose start keeps failing on the site, after its retries, instead of leaving it stuck', async () => {
    // A scratch "directory" that is a file: the executor cannot create the session's directory.
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'eb-scratch-')), 'file');
    writeFileSync(notADirectory, 'x');
    const broken = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, scratchDir: notADirectory })] } });
    try {
      const set = (await broken.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(script('true')))).body as Doc;
      const uuid = set.offers[0].meta.uuid as string;
      await broken.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      let session: Doc = {};
      for (let i = 0; i < 200 && session.phase !== 'FAILED'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        session = (await broken.http.get(`/sessions/${uuid}`)).body as Doc;
      }
      expect(session.phase).toBe('FAILED');
      expect(session.meta.messages.at(-1).message).toMatch(/^Site demo could not start the session: .*(ENOTDIR|EEXIST)/);
      expect(await broken.heldNow()).toBe(0);
    } finally {
      await broken.close();
    }
  });

  describe('with data', () => {
    // A real HTTP server on loopback, serving the data the sessions ask for.
    const content = 'ra,dec\n10.5,-30.1\n';
    let server: Server;
    let base = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/catalogue.csv') res.writeHead(200, { 'Content-Type': 'text/csv' }).end(content);
        else if (req.url === '/big') res.writeHead(200).end('x'.repeat(4096));
        else res.writeHead(404).end();
      });
      await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => { await new Promise((done) => server.close(done)); });

    const withData = (location: string, checksum?: Doc): Doc => ({
      ...script('echo "lines: $(wc -l < input/catalogue.csv)"; cat input/catalogue.csv'),
      compute: {
        kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
        volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/catalogue.csv', mode: 'READONLY', resource: 'catalogue' }],
      },
      data: checksum
        ? [{ kind: `${V1}/data/skao-data-resource.yaml`, meta: { name: 'catalogue' }, ivoa: { ivoid: 'ivo://test/cat' }, skao: { namespace: 'test', objectname: 'cat', checksum, replicas: [{ rsename: 'LOCAL', dataurl: location }] } }]
        : [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'catalogue' }, location }],
    });

    it('stages http data while PREPARING and mounts it where the executable reads it', async () => {
      const session = await runUntilEnd(withData(`${base}/catalogue.csv`));
      expect(session.phase).toBe('COMPLETED');
      expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe(`lines: 2\n${content}`);
    });

    it('stages file:// data only from under the site\'s roots, links resolved', async () => {
      const root = mkdtempSync(join(tmpdir(), 'eb-lake-'));
      const outside = mkdtempSync(join(tmpdir(), 'eb-outside-'));
      writeFileSync(join(root, 'catalogue.csv'), content);
      writeFileSync(join(outside, 'secret.csv'), 'not yours\n');
      symlinkSync(join(outside, 'secret.csv'), join(root, 'escape.csv'));
      const lake = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, dataSchemes: ['http', 'https', 'file'], fileRoots: [root] })] } });
      try {
        const run = async (location: string): Promise<Doc> => {
          const set = (await lake.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(withData(location)))).body as Doc;
          const uuid = set.offers[0].meta.uuid as string;
          await lake.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
          let session: Doc = {};
          for (let i = 0; i < 200 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
            await new Promise((r) => setTimeout(r, 50));
            session = (await lake.http.get(`/sessions/${uuid}`)).body as Doc;
          }
          return session;
        };
        const good = await run(`file://${join(root, 'catalogue.csv')}`);
        expect(good.phase).toBe('COMPLETED');
        expect((await lake.http.get(`/sessions/${good.meta.uuid}/logs`)).text).toBe(`lines: 2\n${content}`);
        // Outside the roots: no offer at all, saying why.
        const outsideSet = (await lake.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(withData(`file://${join(outside, 'secret.csv')}`)))).body as Doc;
        expect(outsideSet.result).toBe('NO');
        expect(JSON.stringify(outsideSet.meta.messages)).toContain(outside);
        // A link inside a root that leads out of it: found out when staging, where links are resolved.
        const escaped = await run(`file://${join(root, 'escape.csv')}`);
        expect(escaped.phase).toBe('FAILED');
        expect(escaped.meta.messages.at(-1).message).toMatch(/escape\.csv is not under a directory this site may read from$/);
      } finally {
        await lake.close();
      }
    });

    it('checks the checksum the request gives', async () => {
      const md5 = createHash('md5').update(content).digest('hex');
      expect((await runUntilEnd(withData(`${base}/catalogue.csv`, { type: 'md5', value: md5 }))).phase).toBe('COMPLETED');
      const wrong = await runUntilEnd(withData(`${base}/catalogue.csv`, { type: 'md5', value: '0'.repeat(32) }));
      expect(wrong.phase).toBe('FAILED');
      expect(wrong.meta.messages.at(-1).message).toMatch(/^Staging the data failed: catalogue: md5 checksum [0-9a-f]{32} differs from the 0{32} expected$/);
    });

    it('refuses more bytes than the site allows for one data resource', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'eb-stage-')), 'big');
      await expect(stageItem({ name: 'big', url: `${base}/big`, path, maxBytes: 1000, egress: { allow: ['127.0.0.1'] } })).rejects.toThrow(/^big: (4096 bytes is )?more than the 1000/);
    });

    it('fails, saying why, when the data cannot be fetched', async () => {
      const missing = await runUntilEnd(withData(`${base}/nothing-here.csv`));
      expect(missing.phase).toBe('FAILED');
      expect(missing.meta.messages.at(-1).message).toMatch(/answered 404/);
      expect(await broker.heldNow()).toBe(0);
    });

    it('retries a prepare step that failed after the session moved to PREPARING, from where it stopped', async () => {
      // A file where the session's scratch directory goes: the staging cannot start until it is gone.
      const scratchDir = mkdtempSync(join(tmpdir(), 'eb-retry-'));
      const site = demoSite({ name: 'retrying', preparationMs: 0, releasingMs: 0, scratchDir });
      const retrying = await startTestBroker({ config: { sites: [site] } });
      const queue = new Queue(siteQueueName(site.name), { connection: retrying.redis, prefix: redisKeys(retrying.config.keyPrefix).bullPrefix });
      try {
        const set = (await retrying.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(withData(`${base}/catalogue.csv`)))).body as Doc;
        const uuid = set.offers[0].meta.uuid as string;
        writeFileSync(join(scratchDir, uuid), 'in the way');
        await retrying.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
        // The prepare step moved the session to PREPARING, then failed to start the staging.
        let failedAttempts = 0;
        for (let i = 0; i < 200 && failedAttempts === 0; i++) {
          await new Promise((r) => setTimeout(r, 10));
          failedAttempts = (await queue.getJob(jobId.lifecycle(JOB.prepare, uuid)))?.attemptsMade ?? 0;
        }
        expect(failedAttempts).toBeGreaterThan(0);
        expect(((await retrying.http.get(`/sessions/${uuid}`)).body as Doc).phase).toBe('PREPARING');
        rmSync(join(scratchDir, uuid));
        // A later attempt finds PREPARING and carries on from there, to the end.
        let session: Doc = {};
        for (let i = 0; i < 200 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
          await new Promise((r) => setTimeout(r, 50));
          session = (await retrying.http.get(`/sessions/${uuid}`)).body as Doc;
        }
        expect(session.phase).toBe('COMPLETED');
        expect((await retrying.http.get(`/sessions/${uuid}/logs`)).text).toBe(`lines: 2\n${content}`);
      } finally {
        await queue.close();
        await retrying.close();
      }
    });
  });

  it('streams the log while the session runs (?follow=true) and ends the stream when the session ends', async () => {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(script('echo one; sleep 1.5; echo two')))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    const chunks: Array<{ at: number; text: string }> = [];
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpGet(`${broker.baseUrl}/sessions/${uuid}/logs?follow=true`, (res) => {
        res.setEncoding('utf8');
        res.on('data', (text: string) => chunks.push({ at: Date.now(), text }));
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      request.on('error', reject);
    });
    expect(status).toBe(200);
    expect(chunks.map((c) => c.text).join('')).toBe('one\ntwo\n');
    // "one" arrived while the run was still sleeping, a good while before "two".
    const one = chunks.find((c) => c.text.includes('one'))!;
    const two = chunks.find((c) => c.text.includes('two'))!;
    expect(two.at - one.at).toBeGreaterThan(700);
    expect(((await broker.http.get(`/sessions/${uuid}`)).body as Doc).phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${uuid}/logs?follow=maybe`)).status).toBe(400);
  });

  it('keeps the tail of a long log and says how much of it a follower missed', async () => {
    const keys = redisKeys(broker.config.keyPrefix);
    const store = new RedisBrokerStore(broker.redis, keys, { retentionMs: 60_000 });
    await store.appendLog('tail-test', 'abc', 4);
    await store.appendLog('tail-test', 'déf', 4);
    expect((await store.readLog('tail-test', 0)).bytes.toString()).toBe('déf');
    const all = await store.readLog('tail-test', 0);
    expect(all).toEqual({ bytes: Buffer.from('abcdéf').subarray(-4), next: 7, skipped: 3 });
    expect((await store.readLog('tail-test', 5)).bytes).toEqual(Buffer.from('éf').subarray(-2));
    expect(await store.readLog('tail-test', 7)).toEqual({ bytes: Buffer.alloc(0), next: 7, skipped: 0 });
    // Bytes the site left out: what Redis kept before them is no longer next to the new text, and goes.
    await store.appendLog('tail-test', 'xyz', 4, 5);
    expect(await store.readLog('tail-test', 0)).toEqual({ bytes: Buffer.from('xyz'), next: 15, skipped: 12 });
    // A head cut inside a character drops what is left of it.
    await store.appendLog('cut-test', 'aé', 1);
    expect(await store.readLog('cut-test', 0)).toEqual({ bytes: Buffer.alloc(0), next: 3, skipped: 3 });
  });

  it('answers 404 for the log of an unknown session', async () => {
    expect((await broker.http.get('/sessions/00000000-0000-0000-0000-000000000000/logs')).status).toBe(404);
  });
});
