import type { Interval } from './iso8601.js';

/** A requested min/max pair as the client wrote it: either side may be missing or out of range. */
export interface RangeRequest {
  min?: number;
  max?: number;
  /** The `units` the client wrote, if any; only GiB is understood for sizes. */
  units?: string;
}

export interface Range { min: number; max: number }

export interface PortNeed {
  internal?: number;
  protocol: string;
  /** The client tried to choose the external port, which only the service may set. */
  setsExternal: boolean;
}

/** What the executable asks of a site, in terms the planner understands. */
export interface ExecutableNeeds {
  /** Canonical kind, `<folder>/<name>` (e.g. `executable/docker-container`). */
  kind: string;
  name?: string;
  architecture?: string;
  os?: string;
  privileged: boolean;
  ports: PortNeed[];
  /** The command's items and the environment, as text: what reaches the process. */
  command?: string[];
  environment?: Array<[name: string, value: string]>;
}

export interface DataNeeds {
  name: string;
  kind: string;
  /** URL scheme of the location the data comes from, lower case, when there is one. */
  scheme?: string;
  location?: string;
  /** Size in GiB when the request says (SKAO `datasize`); unknown otherwise. */
  sizeGiB?: number;
  /** Where copies are: storage element (RSE) names and URL hosts. */
  places: string[];
  /**
   * An SKAO data resource that lists no replicas: located through SRCNet's Data Management API
   * before planning (broker/locate-data.ts); `index` is its place among the request's data.
   */
  locate?: { namespace: string; name: string; index: number };
}

/**
 * An execution request reduced to what decides whether, where and when it can run. Produced by
 * protocol/read-execution-request.ts from the wire document; checked by checkNeeds().
 */
/** GPUs asked for through our extension (`srcnet.gpu` on the compute resource). */
export interface GpuNeeds {
  count: number;
  /** A model name the site knows (`A100`, `K40`, ...); absent means any model. */
  model?: string;
}

/**
 * A request's `costs` and `metrics` as limits (items combine with AND): the most each known cost
 * type may come to, the least each known metric must give. Types are domain/quote-offer.ts's URIs.
 */
export interface UseLimits {
  costs: Array<{ type: string; max: number }>;
  metrics: Array<{ type: string; min: number }>;
}

/** How the offers are ordered (the `srcnet.rank` extension): earliest start (default), lowest price, lowest carbon. */
export type Ranking = 'earliest' | 'cheapest' | 'greenest';

export interface ExecutionNeeds {
  executable?: ExecutableNeeds;
  cores: RangeRequest;
  gpu?: GpuNeeds;
  memory: RangeRequest;
  storage: { name: string; size: RangeRequest }[];
  data: DataNeeds[];
  /** The window in which execution may start; absent means "from now, as soon as possible". */
  window?: Interval;
  durationMs?: number;
  /** When the run must have finished (SRCNet's `deadline`); v1.0 requests have none. */
  deadline?: number;
  /**
   * How long after the offered start the execution may still begin: the hold covers a start
   * anywhere in it (a provision that waits for its executable). None for v1.0 requests.
   */
  startSlackMs?: number;
  limits?: UseLimits;
  rank?: Ranking;
}

/** The needs after defaults are applied and every range checked. */
export interface ResolvedNeeds {
  executable: ExecutableNeeds;
  cores: Range;
  gpu?: GpuNeeds;
  memory: Range;
  storageGiB: Range[];
  data: DataNeeds[];
  window: { start: number; end?: number };
  durationMs: number;
  deadline?: number;
  startSlackMs?: number;
  limits?: UseLimits;
  rank?: Ranking;
}
