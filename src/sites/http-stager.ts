import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EgressPolicy } from '../domain/egress-policy.js';
import type { S3EndpointCredential } from '../domain/site-profile.js';
import type { Stager, StagingCredentials, StagingItem, StagingStatus } from '../broker/executor.js';

/** The downloader script: beside this file once built (tests run the sources, so look in dist/). */
const SCRIPT = fileURLToPath(import.meta.url.endsWith('.ts')
  ? new URL('../../dist/sites/stage-files.js', import.meta.url)
  : new URL('./stage-files.js', import.meta.url));

export interface HttpStagerOptions {
  /** Where `file://` data may come from (the site's fileRoots; none refuses it). */
  fileRoots?: readonly string[];
  /** Where data may come from (checked by the downloader on every connection). */
  egress?: EgressPolicy;
  /** Storage element (RSE) names in the order this site prefers a replica from (preferredRses). */
  prefer?: readonly string[];
  /** The site's S3 credentials, which reach the downloader on its stdin only. */
  s3?: readonly S3EndpointCredential[];
  /** How long without a byte before a running staging reports itself stalled (default one minute). */
  stallMs?: number;
}

/**
 * Stages http(s) data (and file:// data under the site's roots) into `<scratch>/<session>/data/<name>` with a detached downloader process
 * (sites/stage-files.ts), which checks sizes and checksums and writes its state to a file. The
 * site worker polls that file with short jobs; a worker that restarts reads the same file. A
 * token for the data goes to the downloader on its stdin, never into the plan, its arguments or
 * its environment, so it is on no disk and in no process listing.
 */
export class HttpStager implements Stager {
  private readonly fileRoots: readonly string[];
  private readonly egress: EgressPolicy;
  private readonly prefer: readonly string[];
  private readonly s3: readonly S3EndpointCredential[];
  private readonly stallMs: number;

  constructor(private readonly scratchRoot: string, options: HttpStagerOptions = {}, private readonly now: () => number = Date.now) {
    this.fileRoots = options.fileRoots ?? [];
    this.egress = options.egress ?? { allow: [] };
    this.prefer = options.prefer ?? [];
    this.s3 = options.s3 ?? [];
    this.stallMs = options.stallMs ?? 60_000;
  }

  private dir(sessionUuid: string): string {
    return join(this.scratchRoot, sessionUuid);
  }

  async start(sessionUuid: string, items: readonly StagingItem[], credentials?: StagingCredentials): Promise<Record<string, string>> {
    const dir = this.dir(sessionUuid);
    const paths = Object.fromEntries(items.map((item) => [item.name, join(dir, 'data', item.name.replace(/[^A-Za-z0-9._-]/g, '_'))]));
    const staging = join(dir, 'staging');
    if (existsSync(join(staging, 'staging.json'))) return paths;
    await mkdir(staging, { recursive: true });
    const plan = join(staging, 'plan.json');
    await writeFile(plan, JSON.stringify(items.map((item) => ({ ...item, path: paths[item.name], fileRoots: this.fileRoots, egress: this.egress, prefer: this.prefer }))));
    await writeFile(join(staging, 'staging.json'), JSON.stringify({ state: 'running' }));
    const child = spawn(process.execPath, [SCRIPT, plan], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
    const secrets = {
      ...(credentials ? { bearer: credentials.token.reveal(), hosts: credentials.hosts } : {}),
      ...(this.s3.length ? { s3: this.s3.map((c) => ({ endpoint: c.endpoint, ...(c.region ? { region: c.region } : {}), accessKeyId: c.accessKeyId.reveal(), secretAccessKey: c.secretAccessKey.reveal() })) } : {}),
    };
    const stdin = child.stdin;
    if (!stdin) throw new Error('the downloader has no stdin');
    await new Promise<void>((resolve, reject) => {
      stdin.on('error', reject); // a downloader that dies at once: EPIPE, reported as a failed start
      stdin.end(JSON.stringify(secrets), resolve);
    });
    await writeFile(join(staging, 'pid'), String(child.pid));
    child.unref();
    return paths;
  }

  async status(sessionUuid: string): Promise<StagingStatus> {
    const staging = join(this.dir(sessionUuid), 'staging');
    const text = await readFile(join(staging, 'staging.json'), 'utf8').catch(() => undefined);
    if (!text) return { state: 'failed', reason: 'staging never started' };
    const state = JSON.parse(text) as DownloaderState;
    if (state.state === 'done') return { state: 'done' };
    if (state.state === 'failed') return { state: 'failed', reason: state.reason ?? 'staging failed' };
    const pid = Number(readText(join(staging, 'pid')));
    if (!pid || !alive(pid)) {
      // Read again: it may have finished between the two looks.
      const last = JSON.parse(await readFile(join(staging, 'staging.json'), 'utf8')) as DownloaderState;
      if (last.state === 'done') return { state: 'done' };
      return { state: 'failed', reason: last.reason ?? 'the downloader stopped before it finished' };
    }
    const lastByte = state.progressAt;
    const stalled = lastByte !== undefined && this.now() - lastByte >= this.stallMs;
    return {
      state: 'running',
      ...(state.bytesDone !== undefined ? { bytesDone: state.bytesDone } : {}),
      ...(state.bytesExpected !== undefined ? { bytesExpected: state.bytesExpected } : {}),
      ...(stalled ? { stalledSince: lastByte } : {}),
    };
  }

  /** Ends the downloader's process (a stalled staging); its state file says why it stopped. */
  async stop(sessionUuid: string): Promise<void> {
    const staging = join(this.dir(sessionUuid), 'staging');
    const pid = Number(readText(join(staging, 'pid')));
    if (pid && alive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    }
  }
}

/** What the downloader writes to its state file (sites/stage-files.ts, StagingState). */
interface DownloaderState { state: string; reason?: string; bytesDone?: number; bytesExpected?: number; progressAt?: number }

/** A site's storage elements in the order it fetches replicas from them: its own, then the fastest. */
export function preferredRses(elements: ReadonlyArray<{ name: string; local: boolean; bandwidthMBps: number }>): string[] {
  return [...elements].sort((a, b) => Number(b.local) - Number(a.local) || b.bandwidthMBps - a.bandwidthMBps).map((element) => element.name);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}
