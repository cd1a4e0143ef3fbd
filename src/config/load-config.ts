import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { DataManagementSettings } from '../domain/data-management.js';
import { allowEntryProblem } from '../domain/egress-policy.js';
import { defaultFairShare } from '../domain/fair-share.js';
import { parseDuration } from '../domain/iso8601.js';
import { SecretToken } from '../domain/secret-token.js';
import { defaultSiteLimits, type ExecutorConfig, type S3EndpointCredential, type SiteLimits, type SiteProfile } from '../domain/site-profile.js';
import type { SiteCapabilitiesBinding } from '../domain/site-catalogue.js';
import { ajv, describeErrors } from '../protocol/validator.js';
import { loadNotifyConfig, type NotifyConfig } from './load-notify-config.js';
import { ConfigError } from './config-error.js';
import { SITES_FILE_SCHEMA } from './config-schema.js';
import { loadAuthConfig, type AuthConfig, type AuthFileBlock } from './load-auth-config.js';
import { processRunSettings, refuseUnisolated, type ProcessRunEntry } from './process-runs.js';
import { siteEconomics, type EconomicsEntry } from './site-economics-config.js';

export interface Config {
  port: number;
  host: string;
  redisUrl: string;
  /** False when REDIS_URL was not given: `npm start` may then start a private Redis. */
  redisUrlGiven: boolean;
  publicUrl?: string;
  keyPrefix: string;
  maxOffers: number;
  offerLifetimeMs: number;
  /** How long a provision (SRCNet) holds capacity for its executable to be submitted. */
  provisionLifetimeMs: number;
  negotiationTimeoutMs: number;
  /** How long a stopping process waits for open HTTP requests before cutting them. */
  shutdownGraceMs: number;
  /** How often each site's reconciler re-drives sessions whose next step a crash lost. */
  reconcileIntervalMs: number;
  /** The longest a Redis command on a request's path may take before the request answers 503. */
  redisCommandTimeoutMs: number;
  /** How long a client may take to send a request's headers, and the whole request, before a 408. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  retentionMs: number;
  bodyLimitBytes: number;
  sites: SiteProfile[];
  /** Bearer tokens (OIDC) or anonymous mode, and the key for user tokens at rest. */
  auth: AuthConfig;
  /** METRICS_TOKEN (or the file METRICS_TOKEN_FILE names): when set, /metrics wants it as a bearer token. */
  metricsToken?: string;
  /** Webhooks and mail on phase changes (load-notify-config.ts). */
  notify: NotifyConfig;
  /** SRCNet's Data Management API (the sites file's `dataManagement`), where SKAO data without replicas is located. */
  dataManagement?: DataManagementSettings;
  /** SRCNet's site capabilities API (SITE_CAPABILITIES_URL), when the broker's sites come from it. */
  siteCapabilities?: SiteCapabilitiesSettings;
}

export interface SiteCapabilitiesSettings {
  url: string;
  /** How often the catalogue is fetched again (SITE_CAPABILITIES_REFRESH, PT5M). */
  refreshMs: number;
  /** The audience (and scope) of the broker's own token for it (client credentials); none without the broker's client. */
  audience?: string;
  scope?: string;
}

export { ConfigError };

const validateSitesFile = ajv.compile(SITES_FILE_SCHEMA);

/** The program the demo site runs for the SRCNet example's image (examples/srcnet/). */
const SOURCE_FINDER = fileURLToPath(new URL('../../examples/srcnet/source-finder.sh', import.meta.url));

/** The repository's examples/ (its demo notebook, examples/notebooks/): the demo site reads file:// locations there. */
const EXAMPLES_DIR = fileURLToPath(new URL('../../examples', import.meta.url));

/**
 * The site `npm start` serves when no sites file is given: one useful demo site, with room for the
 * SRCNet prototype's example query (16 cores, 196 GB, 8000 GB of outputs, a K40, 72 h at democity).
 */
export const DEMO_SITE_FILE = {
  sites: [{
    name: 'demo',
    cores: 32,
    memoryGiB: 256,
    scratchGiB: 10_000,
    gpus: { K40: 1 },
    executables: ['docker-container', 'singularity-container', 'jupyter-notebook'],
    architectures: ['amd64'],
    operatingSystems: ['linux'],
    dataSchemes: ['http', 'https'],
    // file:// notebooks and data under the repository's examples/ only (README, "Your first notebook").
    fileRoots: [EXAMPLES_DIR],
    // The examples and tests serve their data from this machine (development only: see docs/operations.md).
    egressAllow: ['127.0.0.1'],
    maxDuration: 'P7D',
    horizon: 'P30D',
    preparation: 'PT5S',
    releasing: 'PT5S',
    locations: ['democity'],
    storageElements: [{ name: 'DEMOCITY-RSE', hosts: ['localhost', '127.0.0.1'], bandwidthMBps: 10_000, local: true }],
    defaultBandwidthMBps: 100,
    // Sandboxed where bubblewrap works, else plain processes, said loudly (development only);
    // with a network (egress: their own, behind slirp4netns), for notebooks' ports and programs that fetch.
    isolation: 'auto',
    network: 'egress',
    executor: {
      type: 'local',
      containerRuntime: 'auto',
      // Without a container runtime, the SRCNet example's image runs as a shell script (development only).
      developmentImages: { 'example.org/srcnet/source-finder:1.0': { entrypoint: '/bin/sh', command: [SOURCE_FINDER] } },
    },
  }],
};

type SiteEntry = Omit<(typeof DEMO_SITE_FILE)['sites'][number], 'storageElements' | 'executor'> & {
  scratchDir?: string;
  publicHost?: string;
  maxCoresPerSession?: number;
  maxMemoryGiBPerSession?: number;
  storageElements?: Array<{ name: string; hosts?: string[]; bandwidthMBps?: number; local?: boolean }>;
  executor?: ExecutorConfig;
  tokenExchange?: { audience: string; scope?: string; hosts?: string[] };
  s3?: S3Entry[];
  stagingStall?: string;
  siteCapabilities?: SiteCapabilitiesBinding;
  fairShare?: Partial<NonNullable<SiteProfile['fairShare']>>;
  // With ProcessRunEntry's limits.processesPerRun (process-runs.ts).
  limits?: { outputBytes?: number | string; logBytes?: number | string; servedLogBytes?: number | string; retention?: string };
} & ProcessRunEntry & EconomicsEntry;
type S3Entry = { endpoint: string; region?: string; accessKeyId?: string; secretAccessKey?: string; accessKeyIdFile?: string; secretAccessKeyFile?: string };

/** One key of an S3 credential: given inline or read from a file (trimmed), exactly one of the two. */
function s3Key(site: string, entry: S3Entry, key: 'accessKeyId' | 'secretAccessKey'): SecretToken {
  const inline = entry[key];
  const file = entry[`${key}File`];
  if ((inline === undefined) === (file === undefined)) throw new ConfigError(`site ${site}: s3 ${entry.endpoint}: give ${key} or ${key}File, one of the two`);
  if (inline !== undefined) return new SecretToken(inline);
  let text: string;
  try { text = readFileSync(file!, 'utf8').trim(); } catch (error) { throw new ConfigError(`site ${site}: s3 ${entry.endpoint}: cannot read ${key}File ${file}: ${(error as Error).message}`); }
  if (!text) throw new ConfigError(`site ${site}: s3 ${entry.endpoint}: ${key}File ${file} is empty`);
  return new SecretToken(text);
}

function s3Credentials(site: string, entries: S3Entry[] | undefined): { s3?: S3EndpointCredential[] } {
  if (!entries?.length) return {};
  return { s3: entries.map((entry) => ({
    endpoint: entry.endpoint.replace(/\/+$/, ''),
    ...(entry.region ? { region: entry.region } : {}),
    accessKeyId: s3Key(site, entry, 'accessKeyId'),
    secretAccessKey: s3Key(site, entry, 'secretAccessKey'),
  })) };
}

type SitesFile = { sites: SiteEntry[] } & {
  broker?: { maxOffers?: number; offerLifetime?: string; provisionLifetime?: string; negotiationTimeout?: string; retention?: string };
  auth?: AuthFileBlock;
  dataManagement?: { url: string; audience?: string; scope?: string; egressAllow?: string[] };
};

export function durationMs(text: string | undefined, fallback: string, what: string): number {
  const parsed = parseDuration(text ?? fallback);
  if (!parsed.ok) throw new ConfigError(`${what} must be an ISO 8601 duration in days, hours, minutes or seconds (e.g. PT5M), not "${text}"`);
  return parsed.ms;
}

function positive(ms: number, what: string): number {
  if (ms <= 0) throw new ConfigError(`${what} must be longer than zero`);
  return ms;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  return value;
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** A size from the sites file: bytes, or a number with a unit (the schema has checked its form). */
function bytes(value: number | string | undefined, fallback: number, min: number, what: string): number {
  if (value === undefined) return fallback;
  const [, number, unit] = /^([0-9.]+) ?([A-Za-z]*)$/.exec(String(value)) ?? [];
  const size = Math.floor(Number(number) * (UNITS[unit || 'B'] ?? Number.NaN));
  if (!Number.isFinite(size) || size < min) throw new ConfigError(`${what} must be a size of at least ${min} bytes (e.g. 512MiB, 10GiB), not "${value}"`);
  return size;
}

/** The site's limits: defaults, what the file sets, and no more outputs than the site's scratch. */
function siteLimits(site: { name: string; scratchGiB?: number; limits?: SiteEntry['limits'] }): SiteLimits {
  const defaults = defaultSiteLimits(site.scratchGiB ?? 0);
  const set = site.limits ?? {};
  const logBytes = bytes(set.logBytes, defaults.logBytes, 8192, `site ${site.name}: limits.logBytes`);
  const outputBytes = bytes(set.outputBytes, defaults.outputBytes, 0, `site ${site.name}: limits.outputBytes`);
  return {
    outputBytes: site.scratchGiB ? Math.min(outputBytes, site.scratchGiB * 2 ** 30) : outputBytes,
    logBytes,
    servedLogBytes: Math.min(logBytes, bytes(set.servedLogBytes, defaults.servedLogBytes, 1024, `site ${site.name}: limits.servedLogBytes`)),
    retentionMs: durationMs(set.retention, 'P1D', `site ${site.name}: limits.retention`),
  };
}

function toSite(raw: SiteEntry): SiteProfile {
  const site = raw as Partial<SiteEntry> & { name: string; cores: number; memoryGiB: number };
  const profile = toProfile(site);
  return { ...profile, fairShare: { ...defaultFairShare(profile), ...(site.fairShare ?? {}) } };
}

function toProfile(site: Partial<SiteEntry> & { name: string; cores: number; memoryGiB: number }): SiteProfile {
  return {
    name: site.name,
    cores: site.cores,
    memoryGiB: site.memoryGiB,
    scratchGiB: site.scratchGiB ?? 0,
    gpus: { ...(site.gpus ?? {}) },
    maxCoresPerSession: site.maxCoresPerSession ?? site.cores,
    maxMemoryGiBPerSession: site.maxMemoryGiBPerSession ?? site.memoryGiB,
    executableKinds: (site.executables ?? ['docker-container']).map((kind) => `executable/${kind}`),
    architectures: site.architectures ?? ['amd64'],
    operatingSystems: site.operatingSystems ?? ['linux'],
    dataSchemes: site.dataSchemes ?? ['http', 'https'],
    fileRoots: site.fileRoots ?? [],
    egressAllow: site.egressAllow ?? [],
    maxDurationMs: durationMs(site.maxDuration, 'P1D', `site ${site.name}: maxDuration`),
    horizonMs: durationMs(site.horizon, 'P30D', `site ${site.name}: horizon`),
    preparationMs: durationMs(site.preparation, 'PT0S', `site ${site.name}: preparation`),
    releasingMs: durationMs(site.releasing, 'PT0S', `site ${site.name}: releasing`),
    locations: site.locations ?? [],
    storageElements: (site.storageElements ?? []).map((element) => ({
      name: element.name,
      hosts: (element.hosts ?? []).map((host) => host.toLowerCase()),
      bandwidthMBps: element.bandwidthMBps ?? site.defaultBandwidthMBps ?? 100,
      local: element.local ?? false,
    })),
    defaultBandwidthMBps: site.defaultBandwidthMBps ?? 100,
    executor: site.executor ?? { type: 'local', containerRuntime: 'auto' },
    // The exchanged token goes to the hosts named, or else to the site's own storage elements.
    ...(site.tokenExchange ? { tokenExchange: {
      audience: site.tokenExchange.audience,
      ...(site.tokenExchange.scope ? { scope: site.tokenExchange.scope } : {}),
      hosts: (site.tokenExchange.hosts ?? (site.storageElements ?? []).flatMap((element) => element.hosts ?? [])).map((host) => host.toLowerCase()),
    } } : {}),
    ...s3Credentials(site.name, site.s3),
    stagingStallMs: durationMs(site.stagingStall, 'PT1M', `site ${site.name}: stagingStall`),
    ...(site.siteCapabilities ? { siteCapabilities: { ...site.siteCapabilities } } : {}),
    scratchDir: site.scratchDir ?? join(tmpdir(), 'srcnet-eb', site.name),
    publicHost: site.publicHost ?? '127.0.0.1',
    processRuns: processRunSettings(site),
    limits: siteLimits(site),
    economics: siteEconomics(site.name, site, site.defaultBandwidthMBps ?? 100),
  };
}

const RUNTIMES = ['docker', 'podman', 'apptainer', 'none'] as const;

/**
 * EB_CONTAINER_RUNTIME says what `containerRuntime: auto` stands for on this machine, instead of
 * probing (`none` where a docker or podman answers but cannot be used, such as a CI machine that
 * reaches no image registry). Sites that name their runtime keep it.
 */
function withAutoRuntime(site: SiteProfile, runtime: string | undefined): SiteProfile {
  if (runtime === undefined || runtime === '') return site;
  if (!(RUNTIMES as readonly string[]).includes(runtime)) throw new ConfigError(`EB_CONTAINER_RUNTIME must be one of ${RUNTIMES.join(', ')}, not "${runtime}"`);
  if (site.executor.type !== 'local' || (site.executor.containerRuntime ?? 'auto') !== 'auto') return site;
  return { ...site, executor: { ...site.executor, containerRuntime: runtime as (typeof RUNTIMES)[number] } };
}

function readSitesFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`BROKER_CONFIG names ${path}, which cannot be read: ${(error as Error).message}`);
  }
  try {
    return /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text, { version: '1.2' });
  } catch (error) {
    throw new ConfigError(`${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

/** Environment and sites file -> defaults -> one checked Config. Throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = (env.BROKER_CONFIG ? readSitesFile(env.BROKER_CONFIG) : DEMO_SITE_FILE) as SitesFile;
  if (!validateSitesFile(file)) {
    const problems = describeErrors(validateSitesFile.errors ?? []).map((v) => `${v.pointer} ${v.message}`);
    throw new ConfigError(`${env.BROKER_CONFIG} is not a valid sites file: ${problems.join('; ')}`);
  }
  const names = new Set<string>();
  for (const site of file.sites) {
    if (names.has(site.name)) throw new ConfigError(`site name ${site.name} is used twice`);
    names.add(site.name);
    const devices = site.executor?.type === 'local' ? site.executor.gpuDevices ?? {} : {};
    for (const entry of site.egressAllow ?? []) {
      const problem = allowEntryProblem(entry);
      if (problem) throw new ConfigError(`site ${site.name}: egressAllow: ${problem}`);
    }
    for (const [model, list] of Object.entries(devices)) {
      const counted = (site.gpus as Record<string, number> | undefined)?.[model] ?? 0;
      if (list.length !== counted) {
        throw new ConfigError(`site ${site.name}: executor.gpuDevices.${model} names ${list.length} device${list.length === 1 ? '' : 's'}, but gpus.${model} counts ${counted}`);
      }
    }
  }
  const publicUrl = env.PUBLIC_URL || undefined;
  if (publicUrl && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(publicUrl)) throw new ConfigError(`PUBLIC_URL must be an http(s) URL, not "${publicUrl}"`);
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, not "${redactedUrl(redisUrl)}"`);
  const keyPrefix = env.EB_KEY_PREFIX || 'eb';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(keyPrefix)) throw new ConfigError(`EB_KEY_PREFIX may hold letters, digits, '_', '.', '-' only, not "${keyPrefix}"`);
  const broker = file.broker ?? {};
  const loaded = file.sites.map(toSite).map((site) => withAutoRuntime(site, env.EB_CONTAINER_RUNTIME));
  const auth = loadAuthConfig(env, file.auth ?? {}, loaded);
  // The demo site falls back to plain processes only for a broker of one user.
  const sites = env.BROKER_CONFIG ? loaded : loaded.map((site) => (auth.oidc || auth.allowAnonymousRemote ? { ...site, processRuns: { ...site.processRuns, isolation: 'sandbox' as const } } : site));
  refuseUnisolated(sites, auth);
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    redisUrl,
    redisUrlGiven: Boolean(env.REDIS_URL),
    publicUrl,
    keyPrefix,
    maxOffers: integer(env, 'MAX_OFFERS', broker.maxOffers ?? 4, 1, 16),
    offerLifetimeMs: durationMs(env.OFFER_LIFETIME || broker.offerLifetime, 'PT5M', 'OFFER_LIFETIME'),
    provisionLifetimeMs: positive(durationMs(env.PROVISION_LIFETIME || broker.provisionLifetime, 'PT10M', 'PROVISION_LIFETIME'), 'PROVISION_LIFETIME'),
    negotiationTimeoutMs: durationMs(env.NEGOTIATION_TIMEOUT || broker.negotiationTimeout, 'PT3S', 'NEGOTIATION_TIMEOUT'),
    retentionMs: durationMs(broker.retention, 'P7D', 'retention'),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    shutdownGraceMs: durationMs(env.SHUTDOWN_GRACE || undefined, 'PT20S', 'SHUTDOWN_GRACE'),
    reconcileIntervalMs: positive(durationMs(env.RECONCILE_INTERVAL || undefined, 'PT5S', 'RECONCILE_INTERVAL'), 'RECONCILE_INTERVAL'),
    redisCommandTimeoutMs: positive(durationMs(env.REDIS_COMMAND_TIMEOUT || undefined, 'PT1S', 'REDIS_COMMAND_TIMEOUT'), 'REDIS_COMMAND_TIMEOUT'),
    ...clientTimeouts(env),
    sites,
    auth,
    ...metricsToken(env),
    notify: loadNotifyConfig(env),
    ...dataManagement(file.dataManagement),
    ...siteCapabilities(env, sites),
  };
}

/** SITE_CAPABILITIES_URL and its companions; sites bound to SCAPI need it, and it needs bound sites. */
function siteCapabilities(env: NodeJS.ProcessEnv, sites: readonly SiteProfile[]): { siteCapabilities?: SiteCapabilitiesSettings } {
  const url = env.SITE_CAPABILITIES_URL || undefined;
  const bound = sites.filter((site) => site.siteCapabilities).map((site) => site.name);
  if (!url) {
    const stray = ['SITE_CAPABILITIES_REFRESH', 'SITE_CAPABILITIES_AUDIENCE', 'SITE_CAPABILITIES_SCOPE'].filter((name) => env[name]);
    if (stray.length) throw new ConfigError(`${stray.join(', ')} set without SITE_CAPABILITIES_URL`);
    if (bound.length) throw new ConfigError(`site ${bound.join(', ')} names a siteCapabilities compute, which needs SITE_CAPABILITIES_URL`);
    return {};
  }
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(url)) throw new ConfigError(`SITE_CAPABILITIES_URL must be an http(s) URL, not "${url}"`);
  if (!bound.length) throw new ConfigError('SITE_CAPABILITIES_URL is set, but no site names its siteCapabilities compute');
  return { siteCapabilities: {
    url,
    refreshMs: positive(durationMs(env.SITE_CAPABILITIES_REFRESH || undefined, 'PT5M', 'SITE_CAPABILITIES_REFRESH'), 'SITE_CAPABILITIES_REFRESH'),
    ...(env.SITE_CAPABILITIES_AUDIENCE ? { audience: env.SITE_CAPABILITIES_AUDIENCE } : {}),
    ...(env.SITE_CAPABILITIES_SCOPE ? { scope: env.SITE_CAPABILITIES_SCOPE } : {}),
  } };
}

function dataManagement(block: SitesFile['dataManagement']): { dataManagement?: DataManagementSettings } {
  if (!block) return {};
  for (const entry of block.egressAllow ?? []) {
    const problem = allowEntryProblem(entry);
    if (problem) throw new ConfigError(`dataManagement.egressAllow: ${problem}`);
  }
  return { dataManagement: { url: block.url, ...(block.audience ? { audience: block.audience } : {}), ...(block.scope ? { scope: block.scope } : {}), egressAllow: block.egressAllow ?? [] } };
}

/**
 * A URL fit to print: its password (REDIS_URL's `redis://user:password@host`) replaced by `***`.
 * Everything up to the last `@` before the host goes, so a password holding `@` is hidden too.
 */
export function redactedUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/, (_all, scheme: string, userinfo: string) => {
    const user = userinfo.includes(':') ? userinfo.slice(0, userinfo.indexOf(':')) : '';
    return `${scheme}${user}${userinfo.includes(':') || user === '' ? ':***' : ''}@`;
  });
}

/** Slow clients: Node's own 300 s would let a client hold a connection open for minutes. */
function clientTimeouts(env: NodeJS.ProcessEnv): { headersTimeoutMs: number; requestTimeoutMs: number } {
  const headersTimeoutMs = positive(durationMs(env.HEADERS_TIMEOUT || undefined, 'PT30S', 'HEADERS_TIMEOUT'), 'HEADERS_TIMEOUT');
  const requestTimeoutMs = positive(durationMs(env.REQUEST_TIMEOUT || undefined, 'PT30S', 'REQUEST_TIMEOUT'), 'REQUEST_TIMEOUT');
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError(`HEADERS_TIMEOUT (${env.HEADERS_TIMEOUT ?? 'PT30S'}) must not be longer than REQUEST_TIMEOUT (${env.REQUEST_TIMEOUT ?? 'PT30S'})`);
  return { headersTimeoutMs, requestTimeoutMs };
}

/** The scrapers' token for /metrics: from METRICS_TOKEN, or read from METRICS_TOKEN_FILE (a secret mounted as a file). */
function metricsToken(env: NodeJS.ProcessEnv): { metricsToken?: string } {
  if (env.METRICS_TOKEN && env.METRICS_TOKEN_FILE) throw new ConfigError('set METRICS_TOKEN or METRICS_TOKEN_FILE, not both');
  let token = env.METRICS_TOKEN;
  if (env.METRICS_TOKEN_FILE) {
    try {
      token = readFileSync(env.METRICS_TOKEN_FILE, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`METRICS_TOKEN_FILE ${env.METRICS_TOKEN_FILE} cannot be read: ${(error as Error).message}`);
    }
  }
  if (token === undefined || token === '') return {};
  // Said without the value: a configuration error is printed, and this is a secret.
  if (!/^[!-~]{16,512}$/.test(token)) throw new ConfigError('the metrics token must be 16 to 512 printable characters, without spaces (e.g. `openssl rand -hex 32`)');
  return { metricsToken: token };
}
