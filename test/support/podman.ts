import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A tiny image built here from a static busybox (no registry is needed, or reachable on CI). */
export const TEST_IMAGE = 'localhost/eb-test-busybox:1';
const APPLETS = ['sh', 'echo', 'cat', 'ls', 'sleep', 'httpd', 'env', 'pwd', 'id', 'true', 'false', 'wc', 'mkdir', 'rm', 'kill', 'touch', 'test'];

export const podman = (args: string[], timeout = 60_000): Promise<{ code: number; out: string; err: string }> =>
  new Promise((done) => {
    execFile('podman', args, { timeout }, (error, out, err) => done({ code: error ? Number((error as { code?: unknown }).code) || 1 : 0, out: String(out), err: String(err) }));
  });

async function buildImage(): Promise<string | undefined> {
  if ((await podman(['image', 'exists', TEST_IMAGE])).code === 0) return undefined;
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((path) => existsSync(path));
  if (!busybox) return 'no busybox to build the test image from (apt-get install busybox-static)';
  const dir = mkdtempSync(join(tmpdir(), 'eb-image-'));
  try {
    mkdirSync(join(dir, 'root', 'bin'), { recursive: true });
    mkdirSync(join(dir, 'root', 'tmp'));
    copyFileSync(busybox, join(dir, 'root', 'bin', 'busybox'));
    for (const applet of APPLETS) symlinkSync('busybox', join(dir, 'root', 'bin', applet));
    const tar = await new Promise<string | undefined>((done) => {
      execFile('tar', ['-C', join(dir, 'root'), '-cf', join(dir, 'root.tar'), '.'], (error) => done(error ? String(error) : undefined));
    });
    if (tar) return `tar failed: ${tar}`;
    const imported = await podman(['import', '--change', 'CMD ["/bin/sh"]', join(dir, 'root.tar'), TEST_IMAGE]);
    return imported.code === 0 ? undefined : `podman import failed: ${imported.err.trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether podman can run containers here (building the test image when missing). When it cannot,
 * the podman tests are skipped with a loud message, unless EB_REQUIRE_PODMAN=1 (CI), which makes
 * it a failure.
 */
export async function podmanForTests(what: string): Promise<boolean> {
  let why: string | undefined;
  if ((await podman(['--version'])).code !== 0) why = 'podman is not installed (apt-get install podman)';
  why ??= await buildImage();
  if (!why) {
    const probe = await podman(['run', '--rm', TEST_IMAGE, '/bin/sh', '-c', 'echo ok']);
    if (probe.code !== 0 || probe.out.trim() !== 'ok') why = `podman cannot run a container here: ${probe.err.trim()} (docs/operations.md, "Choosing a container runtime")`;
  }
  if (!why) return true;
  if (process.env.EB_REQUIRE_PODMAN === '1') throw new Error(`EB_REQUIRE_PODMAN=1 but ${why}`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPED: ${what}\n!! because ${why}.\n!! Set EB_REQUIRE_PODMAN=1 to make this a failure.\n${'!'.repeat(78)}\n`);
  return false;
}

/** The containers of these sessions that still exist (running or not). */
export async function containersOf(sessionUuids: readonly string[]): Promise<string[]> {
  const listed = await podman(['ps', '--all', '--format', '{{.Names}}']);
  const names = new Set(sessionUuids.map((uuid) => `eb-${uuid}`));
  return listed.out.split('\n').map((line) => line.trim()).filter((name) => names.has(name));
}

/** Removes whatever containers of these sessions a failing test left behind. */
export async function removeContainers(sessionUuids: readonly string[]): Promise<void> {
  const left = await containersOf(sessionUuids);
  if (left.length) await podman(['rm', '--force', ...left]);
}
