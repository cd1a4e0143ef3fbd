import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { deleteKeys, freePort, dockerRequest, randomPrefix, redisUrl, V1 } from '../support/test-broker.js';

type Doc = Record<string, any>;
const ALL_IN_ONE = fileURLToPath(new URL('../../dist/main/all-in-one.js', import.meta.url));


interface Broker { child: ChildProcess; url: string; output: () => string; exited: Promise<number | null> }

async function startBroker(prefix: string, port: number): Promise<Broker> {
  const child = spawn(process.execPath, [ALL_IN_ONE], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl(), EB_KEY_PREFIX: prefix, SHUTDOWN_GRACE: 'PT5S' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  // Up to 30 s: on a loaded machine (two Jest workers and more) a whole broker takes a while to start.
  for (const by = Date.now() + 30_000; Date.now() < by;) {
    const up = await fetch(`${url}/availability`).then((res) => res.text(), () => '');
    if (up.includes('<available>true</available>')) return { child, url, output: () => output, exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the broker did not start: ${output}`);
}

const json = { 'Content-Type': 'application/json', Accept: 'application/json' };

/** One request on a given agent (so that it rides a connection the server has already accepted). */
function post(agent: Agent, url: string, body: string): Promise<{ status: number; body: Doc; at: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: json }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Doc, at: Date.now() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** SIGTERM drains HTTP, lets workers finish their step, closes the queues and exits 0; nothing is lost. */
describe('graceful shutdown', () => {
  const prefixes: string[] = [];
  const newPrefix = (): string => { const prefix = randomPrefix(); prefixes.push(prefix); return prefix; };
  afterAll(async () => {
    const redis = new Redis(redisUrl());
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('answers every request in flight at SIGTERM, exits 0, and a session running then completes after a restart', async () => {
    const prefix = newPrefix();
    const port = await freePort();
    const first = await startBroker(prefix, port);
    // Requests in flight when the signal comes, on connections the server holds: each must still
    // get its whole answer. (A connection still in the kernel's backlog is refused, as on any
    // server that stops listening: a load balancer stops sending first.)
    const agent = new Agent({ keepAlive: true, maxSockets: 30 });
    await Promise.all(Array.from({ length: 30 }, () => new Promise<void>((resolve, reject) => {
      httpRequest(`${first.url}/availability`, { agent }, (res) => { res.resume(); res.on('end', () => resolve()); }).on('error', reject).end();
    })));
    const sent = Array.from({ length: 30 }, () => post(agent, `${first.url}/requests`, JSON.stringify(dockerRequest())));
    const firstAnswer = await Promise.race(sent);
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    const answers = await Promise.all(sent);
    agent.destroy();
    expect(firstAnswer.status).toBe(303);
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(303));
    expect(answers.every((a) => a.body.result === 'YES')).toBe(true);
    expect(answers.filter((a) => a.at > signalledAt).length).toBeGreaterThan(0); // some were in flight
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/SIGTERM received, stopping[\s\S]*stopped/);

    // A session running when its worker is stopped goes on after a restart.
    const second = await startBroker(prefix, port);
    // What the first process answered is still there.
    expect((await fetch(`${second.url}/offersets/${answers[0]!.body.meta.uuid}`, { headers: json })).status).toBe(200);
    const request = {
      executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'echo started; sleep 3; echo finished'] },
      schedule: { requested: { duration: 'PT5M' } },
    };
    const offers = await (await fetch(`${second.url}/requests`, { method: 'POST', headers: json, body: JSON.stringify(request), redirect: 'manual' })).json() as Doc;
    const uuid = offers.offers[0].meta.uuid as string;
    const update = JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' });
    expect((await fetch(`${second.url}/sessions/${uuid}`, { method: 'POST', headers: json, body: update })).status).toBe(200);
    let phase = '';
    for (let i = 0; i < 200 && phase !== 'RUNNING'; i++) {
      phase = ((await (await fetch(`${second.url}/sessions/${uuid}`, { headers: json })).json()) as Doc).phase as string;
      if (phase !== 'RUNNING') await new Promise((r) => setTimeout(r, 100));
    }
    expect(phase).toBe('RUNNING');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const third = await startBroker(prefix, port);
    try {
      let session: Doc = {};
      for (let i = 0; i < 300 && !['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase); i++) {
        await new Promise((r) => setTimeout(r, 100));
        session = await (await fetch(`${third.url}/sessions/${uuid}`, { headers: json })).json() as Doc;
      }
      expect(session.phase).toBe('COMPLETED');
      expect(await (await fetch(`${third.url}/sessions/${uuid}/logs`)).text()).toBe('started\nfinished\n');
    } finally {
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);
    }
  }, 90_000);

  it('ends its event streams at once on SIGTERM rather than wait out the grace period', async () => {
    const broker = await startBroker(newPrefix(), await freePort());
    const streams = await Promise.all([1, 2].map(() => fetch(`${broker.url}/events`)));
    const reading = streams.map(async (response) => {
      expect(response.status).toBe(200);
      return response.text().catch(() => 'cut');
    });
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    broker.child.kill('SIGTERM');
    const texts = await Promise.all(reading);
    const took = Date.now() - signalledAt;
    expect(await broker.exited).toBe(0);
    for (const text of texts) expect(text).toContain('event: ready');
    expect(took).toBeLessThan(4000); // SHUTDOWN_GRACE is PT5S: the streams did not hold the drain
  }, 90_000);

  it('cuts a followed log at the end of the grace period rather than wait for it', async () => {
    const prefix = newPrefix();
    const port = await freePort();
    const broker = await startBroker(prefix, port);
    const request = {
      executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'echo long; sleep 60'] },
      schedule: { requested: { duration: 'PT5M' } },
    };
    const offers = await (await fetch(`${broker.url}/requests`, { method: 'POST', headers: json, body: JSON.stringify(request), redirect: 'manual' })).json() as Doc;
    const uuid = offers.offers[0].meta.uuid as string;
    await fetch(`${broker.url}/sessions/${uuid}`, { method: 'POST', headers: json, body: JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' }) });
    const follow = await fetch(`${broker.url}/sessions/${uuid}/logs?follow=true`);
    const reading = follow.text().catch(() => 'cut');
    await new Promise((r) => setTimeout(r, 500));
    const signalledAt = Date.now();
    broker.child.kill('SIGTERM');
    await reading;
    expect(await broker.exited).toBe(0);
    const took = Date.now() - signalledAt;
    expect(took).toBeGreaterThan(4000); // the grace (PT5S) was given
    expect(took).toBeLessThan(20_000);
    // Clean up the run the session started: a fresh process cancels it.
    const again = await startBroker(prefix, port);
    try {
      await fetch(`${again.url}/sessions/${uuid}`, { method: 'POST', headers: json, body: JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' }) });
      let phase = '';
      for (let i = 0; i < 100 && phase !== 'CANCELLED'; i++) {
        phase = ((await (await fetch(`${again.url}/sessions/${uuid}`, { headers: json })).json()) as Doc).phase as string;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(phase).toBe('CANCELLED');
      await new Promise((r) => setTimeout(r, 1000)); // the stop step ends the process group
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  }, 90_000);
});
