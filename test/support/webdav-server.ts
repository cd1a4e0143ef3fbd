import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './test-broker.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** Why a real WebDAV server cannot be started here, or undefined when it can. */
export function webDavMissing(): string | undefined {
  if (!existsSync(APACHE)) return `${APACHE} is missing (apt-get install -y apache2)`;
  for (const module of ['mod_dav.so', 'mod_dav_fs.so', 'mod_mpm_prefork.so', 'mod_authz_core.so']) {
    if (!existsSync(join(MODULES, module))) return `${join(MODULES, module)} is missing (apt-get install -y apache2)`;
  }
  return undefined;
}

export interface WebDavServer {
  /** The directory served at `/`. */
  root: string;
  port: number;
  /** `dav://127.0.0.1:<port>` */
  base: string;
  /** The server's error log (for a failing test's message). */
  errorLog: () => string;
  stop: () => Promise<void>;
}

/**
 * Debian's apache2 with mod_dav_fs serving `root` over WebDAV on 127.0.0.1 and a free port: its own
 * ServerRoot, PidFile and configuration in a temporary directory, one process in the foreground
 * (`-X`), so that stopping it is killing that child.
 */
export async function startWebDav(): Promise<WebDavServer> {
  const dir = mkdtempSync(join(tmpdir(), 'eb-webdav-'));
  const root = join(dir, 'root');
  spawnSync('mkdir', ['-p', root]);
  const port = await freePort();
  const config = join(dir, 'httpd.conf');
  writeFileSync(config, [
    `ServerRoot ${dir}`, `PidFile ${join(dir, 'httpd.pid')}`, `Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1',
    `LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so`,
    `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
    `LoadModule dav_module ${MODULES}/mod_dav.so`,
    `LoadModule dav_fs_module ${MODULES}/mod_dav_fs.so`,
    `ErrorLog ${join(dir, 'error.log')}`, 'LogLevel warn',
    `DocumentRoot ${root}`, `DavLockDB ${join(dir, 'davlock')}`,
    `<Directory ${root}>`, '  Dav On', '  Require all granted', '</Directory>', '',
  ].join('\n'));
  const child: ChildProcess = spawn(APACHE, ['-X', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const errorLog = (): string => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
  // Ready once it answers an OPTIONS with its DAV header.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`apache2 exited at once: ${stderr}${errorLog()}`);
    const answer = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS' }).catch(() => undefined);
    if (answer?.headers.get('dav')) break;
    if (i > 100) throw new Error(`apache2 did not answer on port ${port}: ${stderr}${errorLog()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    root, port, base: `dav://127.0.0.1:${port}`, errorLog,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A describe block run against a real WebDAV server (apache2); skipped, saying why in its name,
 * where apache2 is missing, unless EB_REQUIRE_WEBDAV=1 (as in CI), where it fails saying so.
 */
export function describeWithWebDav(name: string, body: (server: () => WebDavServer) => void): void {
  const missing = webDavMissing();
  let server: WebDavServer | undefined;
  const current = (): WebDavServer => {
    if (!server) throw new Error('the WebDAV server has not started');
    return server;
  };
  if (!missing) {
    describe(name, () => {
      beforeAll(async () => { server = await startWebDav(); }, 30_000);
      afterAll(async () => { await server?.stop(); });
      body(current);
    });
  } else if (process.env.EB_REQUIRE_WEBDAV === '1') {
    describe(name, () => {
      it('has a real WebDAV server to run against (EB_REQUIRE_WEBDAV=1)', () => { throw new Error(missing); });
    });
  } else {
    describe.skip(`${name} (SKIPPED: ${missing})`, () => body(current));
  }
}
