import type { DataLocator } from '../broker/locate-data.js';
import type { SiteToken } from '../broker/ports.js';
import type { DataManagementSettings, LocatedCopy } from '../domain/data-management.js';
import type { SecretToken } from '../domain/secret-token.js';
import { EgressRefused, guardedGet, machineEgressPolicy } from './egress-guard.js';

const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * SRCNet's Data Management API asked where data is: `GET {url}/data/locate/{namespace}/{name}
 * ?sort=nearest_by_ip`, with the user's token exchanged for the API's audience (`exchange`, RFC
 * 8693) when one is configured. The request goes through the egress guard like every fetch (the
 * operator lists the API's address in `dataManagement.egressAllow` when it is a private one).
 */
export class DataManagementLocator implements DataLocator {
  constructor(
    private readonly settings: DataManagementSettings,
    private readonly exchange: ((token: SecretToken, target: { audience: string; scope?: string }) => Promise<SiteToken>) | undefined,
    private readonly listen: { host: string; port: number },
    private readonly timeoutMs = 10_000,
  ) {}

  async locate(namespace: string, name: string, token?: SecretToken): Promise<LocatedCopy[] | { refused: string }> {
    let bearer: SecretToken | undefined;
    if (this.settings.audience) {
      if (!token) return { refused: 'the request carries no token to exchange for the Data Management API' };
      if (!this.exchange) return { refused: 'the broker has no issuer to exchange the token at' };
      const exchanged = await this.exchange(token, { audience: this.settings.audience, ...(this.settings.scope ? { scope: this.settings.scope } : {}) });
      if ('refused' in exchanged) return { refused: exchanged.refused };
      bearer = exchanged.token;
    }
    const url = `${this.settings.url.replace(/\/+$/, '')}/data/locate/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}?sort=nearest_by_ip`;
    const policy = machineEgressPolicy(this.settings.egressAllow, this.listen);
    const response = await withTimeout(guardedGet(url, policy, () => ({
      accept: 'application/json', ...(bearer ? { authorization: `Bearer ${bearer.reveal()}` } : {}),
    })), this.timeoutMs, `the Data Management API did not answer within ${this.timeoutMs} ms`).catch((error: Error) => {
      throw error instanceof EgressRefused ? new Error(`the Data Management API at ${this.settings.url} is refused by the egress policy: ${error.message}`) : error;
    });
    const status = response.statusCode ?? 0;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) { response.destroy(); throw new Error(`the Data Management API answered more than ${MAX_ANSWER_BYTES} bytes`); }
      chunks.push(chunk as Buffer);
    }
    if (status === 404) return { refused: 'the Data Management API does not know it' };
    if (status === 401 || status === 403) return { refused: `the Data Management API refused the user (${status})` };
    if (status < 200 || status > 299) throw new Error(`the Data Management API answered ${status}`);
    return readLocated(Buffer.concat(chunks).toString('utf8'));
  }
}

/** The API's answer: a list of {identifier, replicas[]} (other fields ignored); anything else is an error. */
export function readLocated(text: string): LocatedCopy[] {
  let answer: unknown;
  try { answer = JSON.parse(text); } catch { throw new Error('the Data Management API answered something that is not JSON'); }
  if (!Array.isArray(answer)) throw new Error('the Data Management API answered something that is not a list of storage areas');
  return answer.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { identifier, replicas } = entry as { identifier?: unknown; replicas?: unknown };
    if (typeof identifier !== 'string' || !Array.isArray(replicas)) return [];
    return [{ identifier, replicas: replicas.filter((r): r is string => typeof r === 'string') }];
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(why)), ms); })])
    .finally(() => clearTimeout(timer));
}
