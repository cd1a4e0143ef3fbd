// Gives the tests a real Redis: REDIS_URL when set (.ci/run sets it), else the one on the default
// port, else a private redis-server started here on a free port (stopped in global-teardown).
// And a real Slurm when slurm-wlm is installed: the first Slurm test file starts a private one
// (test/support/slurm-cluster.mjs), shared by the run and stopped in global-teardown.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slurmMissing } from './slurm-cluster.mjs';

function answers(port) {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok) => { socket.destroy(); done(ok); };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

function freePort() {
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => done(port)); });
  });
}

function prepareSlurm() {
  const missing = slurmMissing();
  if (!missing) {
    process.env.EB_SLURM_RUN = mkdtempSync(join(tmpdir(), 'eb-test-slurm-run-'));
    process.env.EB_SLURM_OWNER = String(process.pid);
  } else if (process.env.EB_REQUIRE_SLURM === '1') {
    console.error(`\nEB_REQUIRE_SLURM=1 but there is no Slurm to test against: ${missing}. The Slurm tests will fail.\n`);
  } else {
    console.warn(`\n${'!'.repeat(78)}\n! The Slurm tests are SKIPPED: ${missing}.\n! They need Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge) and root;\n! EB_REQUIRE_SLURM=1 (as in .ci/run) makes them fail instead.\n${'!'.repeat(78)}\n`);
  }
}

/** The web page's browser tests (test/e2e/) need Debian's chromium; say loudly when they will be skipped. */
function checkChromium() {
  const chromium = process.env.EB_CHROMIUM ?? '/usr/bin/chromium';
  try {
    accessSync(chromium, constants.X_OK);
  } catch {
    if (process.env.EB_REQUIRE_CHROMIUM === '1') console.error(`\nEB_REQUIRE_CHROMIUM=1 but there is no chromium at ${chromium}. The browser tests will fail.\n`);
    else console.warn(`\n${'!'.repeat(78)}\n! The web page's browser tests are SKIPPED: no chromium at ${chromium}.\n! Install Debian's chromium (apt-get install -y chromium); EB_REQUIRE_CHROMIUM=1 (as in\n! .ci/run) makes them fail instead.\n${'!'.repeat(78)}\n`);
  }
}

/** The WebDAV staging tests (test/support/webdav-server.ts) start Debian's apache2 with mod_dav; say loudly when they will be skipped. */
function checkApache() {
  const missing = ['/usr/sbin/apache2', '/usr/lib/apache2/modules/mod_dav_fs.so'].find((path) => { try { accessSync(path, constants.R_OK); return false; } catch { return true; } });
  if (!missing) return;
  if (process.env.EB_REQUIRE_WEBDAV === '1') console.error(`\nEB_REQUIRE_WEBDAV=1 but ${missing} is missing. The WebDAV and Rucio staging tests will fail.\n`);
  else console.warn(`\n${'!'.repeat(78)}\n! The WebDAV and Rucio staging tests are SKIPPED: ${missing} is missing.\n! Install Debian's apache2 (apt-get install -y apache2); EB_REQUIRE_WEBDAV=1 (as in\n! .ci/run) makes them fail instead.\n${'!'.repeat(78)}\n`);
}

export default async function globalSetup() {
  prepareSlurm();
  checkChromium();
  checkApache();
  // Brokers the tests start as processes (npm start's demo site, containerRuntime: auto) run
  // sessions without a container: a podman found here could not pull the tests' images. The
  // container tests name their runtime.
  process.env.EB_CONTAINER_RUNTIME ??= 'none';
  if (process.env.REDIS_URL) return;
  if (await answers(6379)) { process.env.REDIS_URL = 'redis://127.0.0.1:6379'; return; }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('The tests need Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server (apt-get install redis-server).');
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eb-test-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore', detached: false });
  for (let i = 0; i < 50 && !(await answers(port)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await answers(port))) throw new Error('redis-server did not start for the tests');
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  globalThis.__EB_TEST_REDIS__ = child;
}
