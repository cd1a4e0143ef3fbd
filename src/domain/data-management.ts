import type { DataNeeds } from './execution-needs.js';

/** SRCNet's Data Management API, where SKAO data without replicas is located (the sites file's `dataManagement`). */
export interface DataManagementSettings {
  /** Its base URL, e.g. `https://data-management.srcnet.skao.int/api/v1`. */
  url: string;
  /** The audience the user's token is exchanged for (RFC 8693); without one, no token is sent. */
  audience?: string;
  scope?: string;
  /** Hosts, addresses or CIDR blocks the API may be at although refused by default (as a site's egressAllow). */
  egressAllow: string[];
}

/** One entry of `GET /data/locate/{namespace}/{name}`: a storage area (RSE) and its replicas' URLs. */
export interface LocatedCopy { identifier: string; replicas: string[] }

/** A replica as an SKAO data resource writes it. */
export interface SkaoReplica { rsename: string; dataurl: string }

/** The located copies as SKAO `replicas`, in the API's order (nearest first when it sorted them). */
export const replicasOf = (copies: readonly LocatedCopy[]): SkaoReplica[] =>
  copies.flatMap((copy) => copy.replicas.map((dataurl) => ({ rsename: copy.identifier, dataurl })));

const hostOf = (url: string): string | undefined => /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:?#]+)/.exec(url)?.[1]?.toLowerCase();

/**
 * An SKAO data need with its copies found: their RSE names and hosts are where it is (the planner's
 * data locality), the first replica its location (and so its scheme, and the egress check).
 */
export function withLocatedCopies(data: DataNeeds, replicas: readonly SkaoReplica[]): DataNeeds {
  const first = replicas[0]?.dataurl;
  const places = [...new Set(replicas.flatMap((replica) => [replica.rsename, hostOf(replica.dataurl)]).filter((p): p is string => Boolean(p)))];
  const { locate: _done, ...rest } = data;
  return { ...rest, places, ...(first ? { location: first, scheme: /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(first)?.[1]?.toLowerCase() } : {}) };
}
