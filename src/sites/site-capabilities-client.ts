import type { ScapiNode } from '../domain/site-catalogue.js';

/** The largest answer of `GET /nodes` read (the whole federation's catalogue is far smaller). */
const MAX_BYTES = 16 * 1024 * 1024;

/**
 * SRCNet's Site Capabilities API (SCAPI): `GET {base}/nodes?include_inactive=true` (every node with
 * its sites, compute, queues, storages and downtimes, disabled ones too, so that being disabled is
 * seen), with a bearer token when the broker has one for it, checked against SCAPI's schemas by
 * `check` (protocol/srcnet/site-capabilities-schema.ts's checkNodes, passed in by the composition
 * root). Throws, saying why, when the answer cannot be had or is not a catalogue.
 */
export class SiteCapabilitiesClient {
  constructor(
    private readonly baseUrl: string,
    private readonly options: { check: (nodes: unknown) => string[]; token?: () => Promise<string>; timeoutMs?: number },
  ) {}

  async nodes(): Promise<ScapiNode[]> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}/nodes?include_inactive=true`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.options.token) headers.Authorization = `Bearer ${await this.options.token()}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000), redirect: 'error' });
    } catch (error) {
      throw new Error(`the site capabilities API at ${this.baseUrl} cannot be reached: ${(error as Error).message}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`the site capabilities API at ${this.baseUrl} answered ${response.status} to GET /nodes`);
    }
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_BYTES) {
      await response.body?.cancel();
      throw new Error(`the site capabilities API's answer is larger than ${MAX_BYTES} bytes`);
    }
    let nodes: unknown;
    try {
      const text = await response.text();
      if (text.length > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes`);
      nodes = JSON.parse(text);
    } catch (error) {
      throw new Error(`the site capabilities API's answer to GET /nodes is not JSON: ${(error as Error).message}`);
    }
    const problems = this.options.check(nodes);
    if (problems.length) throw new Error(`the site capabilities API's answer to GET /nodes does not match its schemas: ${problems.join('; ')}`);
    return nodes as ScapiNode[];
  }
}
