import type { KindAbility } from '../domain/executable-abilities.js';
import type { SecretToken } from '../domain/secret-token.js';

/**
 * How a site runs a session's executable, behind one interface (local processes and containers,
 * Slurm, ...). A handle is plain data kept in Redis, so that a worker that restarts can go on
 * polling, reading logs or cancelling what an earlier worker started.
 */
export interface RunSpec {
  sessionUuid: string;
  /** The executable's kind (`executable/docker-container`, ...); docker-container when absent. */
  kind?: string;
  /** The container image asked for (its first location; a singularity-container's location), when the executable names one. */
  image?: string;
  /** The program to run; for containers, overrides the image's entrypoint. */
  entrypoint?: string;
  /** Its arguments. */
  command: string[];
  environment: Record<string, string>;
  /** Relative to the session's work directory (absolute paths are refused). */
  workingDirectory?: string;
  timeLimitMs: number;
  /** Volume mounts: a path the executable reads, and the staged file or directory behind it. */
  mounts?: Array<{ path: string; source: string }>;
  /** The compute offered, for executors that ask a scheduler for it (Slurm); others may ignore it. */
  cores?: number;
  memoryMiB?: number;
  gpus?: { count: number; model?: string };
  /** Network ports the executable listens on, to be published on the site's host. */
  ports?: Array<{ internal: number; protocol: string }>;
  /** The executable asks to run privileged (no executor here allows it). */
  privileged?: boolean;
  /**
   * A Jupyter notebook to run instead of a program: its staged copy (`source`), the file name it
   * gets in the work directory and the outputs, and how: `interactive` (a notebook server, on
   * `ports`' one port, protected by `token`) or `headless` (run top to bottom with `parameters`).
   */
  notebook?: {
    source: string;
    name: string;
    mode: 'interactive' | 'headless';
    parameters?: Record<string, string>;
    token?: SecretToken;
    /** The path the server serves under (the broker's proxy path for the session, ending in `/`). */
    baseUrl?: string;
  };
}

/** A port of the run reachable from outside: `host`:`external` leads to the executable's `internal`. */
export interface PublishedPort {
  internal: number;
  external: number;
  protocol: string;
  host: string;
}

export interface RunHandle {
  executor: string;
  /** The session's directory on the site: work directory, logs, outputs. */
  dir: string;
  /** Executor-specific identity of the run (a process group, a job id). */
  id: string;
  /** The ports published for the run, known from submit on. */
  ports?: PublishedPort[];
  /** Its server has answered (a notebook server): its connector is AVAILABLE from then on. */
  answering?: boolean;
}

export type RunStatus =
  /** `answering`: the run's server answers requests (a notebook server), where the executor looks. */
  | { state: 'running'; answering?: boolean }
  /** `detail`: what the run itself said of its failure (a headless notebook's failing cell). */
  // cpuSeconds: the run's CPU time, where the executor measures it (what it charges: quote-offer.ts).
  | { state: 'exited'; exitCode: number; timedOut: boolean; oomKilled?: boolean; detail?: string; cpuSeconds?: number }
  | { state: 'cancelled' }
  | { state: 'lost'; reason: string }
  /** Stopped by the site for passing one of its limits (outputs), saying which. */
  | { state: 'stopped'; reason: string };

export interface Executor {
  /**
   * What this executor can really run on this host, per executable kind, each kind it cannot with
   * the reason (sites/detect-abilities.ts). Found once, at the worker's start; negotiation answers
   * NO for a kind not runnable. Absent: the kinds the broker runs (KINDS_THAT_RUN), all of them.
   */
  abilities?(): Promise<readonly KindAbility[]>;
  /**
   * What makes the runs, by name, for the catalogue (`GET /sites` executors): `processes`,
   * `docker`, `podman`, `apptainer`, `slurm`; never settings or paths.
   */
  readonly names?: readonly string[];
  /** Whether its runs are on the host's own network, and so reach what listens on its loopback (Redis, say). */
  readonly sharesHostNetwork?: boolean;
  /** Why this executor cannot run the spec (checked before submit); undefined when it can. */
  unsupported?(spec: RunSpec): string | undefined | Promise<string | undefined>;
  /**
   * Whether a run can be given GPUs of this model; asked when negotiating, so that no offer is made
   * that the run could not use. Absent: yes (the batch scheduler, or the host, decides).
   */
  givesGpus?(model: string): boolean;
  /**
   * Why its runs could not serve ports of these protocols (`TCP`, `UDP`, `HTTP`, `HTTPS`), or
   * undefined when they can; asked when negotiating, so that no offer is made for a server no
   * client could reach. Absent: they can.
   */
  refusesPorts?(protocols: readonly string[], kind: string): string | undefined;
  /**
   * Makes the run. For a session it has made a run for already (a start step retried after the
   * worker died between making the run and storing its handle), gives back that run's handle
   * rather than make a second one.
   */
  submit(spec: RunSpec): Promise<RunHandle>;
  poll(handle: RunHandle): Promise<RunStatus>;
  /** Stops the run and everything it started; resolves once it is gone. */
  cancel(handle: RunHandle): Promise<void>;
  /**
   * Log text from a byte offset, at most `limit` bytes (the last ones, when more are there), the
   * offset to read on from, and how many bytes after `offset` were left out (dropped on the site,
   * or passed over to give the end).
   */
  logs(handle: RunHandle, offset?: number, limit?: number): Promise<{ text: string; next: number; skipped?: number }>;
  /** Where the run's output files are. */
  outputs(handle: RunHandle): string;
}

/** One data resource to bring to the site before the run. */
export interface StagingItem {
  name: string;
  /** What is fetched (http(s), dav(s), file), or read to find it (`via`). */
  url: string;
  maxBytes: number;
  checksum?: { type: string; value: string };
  /** `url` is Rucio's REST endpoint listing the replicas of `rucio`, a DataLink service to follow, or an S3 endpoint. */
  via?: 'rucio' | 'datalink' | 's3';
  /** For `via: s3`: the bucket, and the object (none: the whole bucket, as a directory). */
  s3?: { bucket: string; object?: string };
  rucio?: { scope: string; name: string; type?: string };
  /** SKAO replicas by RSE: the one at the site's most preferred storage element is fetched, else `url`. */
  replicas?: Array<{ rse: string; url: string }>;
  /** The size the request announces (SKAO `datasize`), for progress. */
  expectedBytes?: number;
}

/** Staging's progress while it runs: bytes written, bytes announced, and since when none arrived when it has stalled. */
export interface StagingProgress { bytesDone: number; bytesExpected?: number; stalledSince?: number }

export type StagingStatus = ({ state: 'running' } & Partial<StagingProgress>) | { state: 'done' } | { state: 'failed'; reason: string };

/** A token sent with data requests to some hosts (and to no other), for a site acting for the user. */
export interface StagingCredentials {
  token: SecretToken;
  hosts: readonly string[];
}

/** Brings data to a session's directory without holding a job open: start, then poll. */
export interface Stager {
  /** Starts staging (doing nothing when it has started already); returns where each item will be. */
  start(sessionUuid: string, items: readonly StagingItem[], credentials?: StagingCredentials): Promise<Record<string, string>>;
  status(sessionUuid: string): Promise<StagingStatus>;
  /** Stops a staging still running (a stalled one); does nothing when none is. */
  stop?(sessionUuid: string): Promise<void>;
}
