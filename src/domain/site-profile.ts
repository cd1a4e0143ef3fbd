import type { SecretToken } from './secret-token.js';
import type { TokenExchangeSettings } from './auth-settings.js';
import type { CatalogueSite, SiteCapabilitiesBinding } from './site-catalogue.js';
import type { SiteEconomics } from './site-economics.js';

/** What a site offers and the rules it applies; built by config/ from the sites file. */
export interface SiteProfile {
  name: string;
  cores: number;
  memoryGiB: number;
  scratchGiB: number;
  /** GPUs by model name, e.g. { A100: 4, K40: 1 }. */
  gpus: Record<string, number>;
  /** The largest single request the site takes (defaults to all it has). */
  maxCoresPerSession: number;
  maxMemoryGiBPerSession: number;
  /** The most scratch one session may have (a SCAPI queue's `max_scratch_gb`); absent: all of it. */
  maxScratchGiBPerSession?: number;
  /** Which SRCNet Site Capabilities compute (and queue) the site is (the sites file's `siteCapabilities`). */
  siteCapabilities?: SiteCapabilitiesBinding;
  /** What the catalogue says the compute has (`gpu`, `high-mem`, `large-scratch`, `fast-scratch`). */
  hardwareCapabilities?: string[];
  /** Why the site is not offered now (the catalogue force-disables it, or does not have it). */
  disabled?: string;
  /**
   * What the site capabilities catalogue last said of the site (where it is in SCAPI, its local
   * services, storage areas and declared downtimes), for listings; absent without a catalogue.
   */
  catalogued?: CatalogueSite;
  /** Canonical executable kinds the site can run (`executable/docker-container`, ...). */
  executableKinds: string[];
  architectures: string[];
  operatingSystems: string[];
  /** URL schemes the site can fetch data from (`https`, `http`, `file`, `s3`, ...). */
  dataSchemes: string[];
  /** Directories under which `file://` data may be read; empty refuses `file://`. */
  fileRoots: string[];
  /**
   * Hosts, addresses or CIDR blocks data may be fetched from although their addresses are
   * refused by default (loopback, private, link-local, ...; domain/egress-policy.ts).
   */
  egressAllow?: string[];
  maxDurationMs: number;
  /** How far ahead the site takes bookings. */
  horizonMs: number;
  /** Base time to prepare any session (pulling images, setting up), before staging data. */
  preparationMs: number;
  releasingMs: number;
  /** SRCNet location names the site serves (e.g. `democity`). */
  locations: string[];
  /** Storage elements the site holds or reaches, matched by name (RSE) or URL host. */
  storageElements: StorageElement[];
  /** Bandwidth to data anywhere else, MB/s. */
  defaultBandwidthMBps: number;
  executor: ExecutorConfig;
  /** Set when the site acts for the user (fetching data) with a token exchanged for its audience. */
  tokenExchange?: TokenExchangeSettings;
  /**
   * What one user (a token's subject) may hold here at once: core-hours and GPU-hours of offered
   * and accepted sessions that have not ended, and offer sets with offers open. Operators and
   * anonymous mode are exempt. Absent: no caps.
   */
  fairShare?: { coreHours: number; gpuHours: number; offerSets: number };
  /**
   * The site's credentials for S3 endpoints (the sites file's `s3`): given to its downloader on
   * stdin only, and printed as `[redacted token]` everywhere else.
   */
  s3?: S3EndpointCredential[];
  /**
   * How long staging may go without a byte arriving before it counts as stalled: a session still
   * PREPARING past its planned preparation then fails, saying so (the sites file's stagingStall).
   */
  stagingStallMs?: number;
  /** Where the site's sessions get their directories (work, logs, outputs). */
  scratchDir: string;
  /** The host name clients reach the sessions' published ports on (default 127.0.0.1). */
  publicHost?: string;
  /** How a run that is a process of the worker's host (no container runtime) is contained. */
  processRuns: ProcessRunSettings;
  /** What one session may leave on the site, and for how long (the sites file's `limits`). */
  limits: SiteLimits;
  /** Prices, power, carbon intensity and performance (domain/site-economics.ts); absent: the defaults. */
  economics?: SiteEconomics;
}

/**
 * `isolation`: `sandbox` (bubblewrap; the site does not run without it), `none` (plain processes,
 * development only) or `auto` (a sandbox where bubblewrap works, else none: the demo site's).
 * `network`: `none` (the run reaches no network) or `egress` (the host's). `runUid`: the uid runs
 * get when the worker is root. `processesPerRun`: how many processes a run may have at once.
 */
export interface ProcessRunSettings {
  isolation: 'sandbox' | 'none' | 'auto';
  network: 'egress' | 'none';
  runUid: number;
  processesPerRun: number;
}

/** Limits the operator sets per site (see docs/operations.md, "Limits per site"). */
export interface SiteLimits {
  /** The most a session's outputs may take; a run past it is stopped and FAILED. */
  outputBytes: number;
  /** The most of a run's log kept on the site's disk (its end). */
  logBytes: number;
  /** The most of a run's log kept in Redis and served (its end); at most logBytes. */
  servedLogBytes: number;
  /** How long a session's directory (outputs, log) is kept once the session has ended. */
  retentionMs: number;
}

const GiB = 1024 ** 3;

/** The limits of a site that sets none: 10 GiB of outputs (at most its scratch), 16 MiB of log on disk, 1 MiB served, a day. */
export function defaultSiteLimits(scratchGiB: number): SiteLimits {
  return {
    outputBytes: scratchGiB > 0 ? Math.min(10 * GiB, scratchGiB * GiB) : 10 * GiB,
    logBytes: 16 * 1024 * 1024,
    servedLogBytes: 1024 * 1024,
    retentionMs: 24 * 3600_000,
  };
}

/** Access to one S3 endpoint: the key pair kept as SecretTokens so that no log or document shows them. */
export interface S3EndpointCredential {
  endpoint: string;
  region?: string;
  accessKeyId: SecretToken;
  secretAccessKey: SecretToken;
}

export interface StorageElement {
  name: string;
  hosts: string[];
  bandwidthMBps: number;
  /** Held at the site itself: data there counts as local. */
  local: boolean;
}

export type ExecutorConfig =
  | {
    type: 'local';
    containerRuntime?: 'docker' | 'podman' | 'apptainer' | 'none' | 'auto';
    /**
     * The container image Jupyter notebooks run in, on a site that runs containers (docker, podman,
     * apptainer); without one such a site does not offer notebooks. Process sites use the host's Jupyter.
     */
    jupyterImage?: string;
    /** Without a container runtime: images run as a local program instead (development only). */
    developmentImages?: Record<string, { entrypoint: string; command?: string[] }>;
    /**
     * The host's GPU devices by model, as the runtime names them (`0`, `1`, or `GPU-<uuid>`): a
     * session gets its own (CUDA_VISIBLE_DEVICES; docker `--gpus device=`; podman CDI
     * `nvidia.com/gpu=`). As many per model as `gpus` counts. Containers get GPUs only from here.
     */
    gpuDevices?: Record<string, string[]>;
  }
  | {
    type: 'slurm';
    partition?: string;
    account?: string;
    /** Paths of the Slurm clients, where they are not on PATH. */
    commands?: { sbatch?: string; squeue?: string; sacct?: string; scancel?: string };
    /** The slurm.conf the clients read (SLURM_CONF), where it is not Slurm's default. */
    slurmConf?: string;
  };
