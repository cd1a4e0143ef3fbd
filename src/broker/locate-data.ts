import { replicasOf, withLocatedCopies, type LocatedCopy } from '../domain/data-management.js';
import { makeMessage, type Message } from '../domain/messages.js';
import type { SecretToken } from '../domain/secret-token.js';
import type { OffersInput } from './request-offers.js';

/** SRCNet's Data Management API, as the broker asks it where data is. */
export interface DataLocator {
  /**
   * The copies of `namespace:name`, nearest first; `refused` when the answer is a lasting no (not
   * found, not allowed, the token exchange refused). Throws when the API cannot be asked.
   */
  locate(namespace: string, name: string, token?: SecretToken): Promise<LocatedCopy[] | { refused: string }>;
}

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Locates the request's SKAO data that lists no replicas, before any site plans it: the copies
 * found become the data's `replicas` (so the offers show them and the site stages from them) and
 * its places (so a site holding one plans no staging and ranks first). What cannot be located is
 * an ERROR message, saying why.
 */
export async function locateData(locator: DataLocator | undefined, input: OffersInput, token?: SecretToken): Promise<OffersInput> {
  const wanted = input.needs.data.filter((data) => data.locate);
  if (wanted.length === 0) return input;
  const messages: Message[] = [];
  const components = isDoc(input.components) ? { ...input.components } : {};
  const dataDocs = Array.isArray(components.data) ? [...(components.data as unknown[])] : [];
  const data = await Promise.all(input.needs.data.map(async (need) => {
    if (!need.locate) return need;
    const { namespace, name, index } = need.locate;
    const values = { data: need.name, did: `${namespace}:${name}` };
    if (!locator) {
      messages.push(makeMessage('urn:not-supported', 'ERROR', 'SKAO data [{data}] ({did}) lists no replicas, and no Data Management API is configured to locate it', values));
      return need;
    }
    let found: Awaited<ReturnType<DataLocator['locate']>>;
    try {
      found = await locator.locate(namespace, name, token);
    } catch (error) {
      messages.push(makeMessage('urn:service-unavailable', 'ERROR', 'SKAO data [{data}] ({did}) could not be located: {why}', { ...values, why: (error as Error).message }));
      return need;
    }
    if ('refused' in found) {
      messages.push(makeMessage('urn:resource-not-found', 'ERROR', 'SKAO data [{data}] ({did}) could not be located: {why}', { ...values, why: found.refused }));
      return need;
    }
    const replicas = replicasOf(found);
    if (replicas.length === 0) {
      messages.push(makeMessage('urn:resource-not-found', 'ERROR', 'SKAO data [{data}] ({did}) has no replica the Data Management API knows of', values));
      return need;
    }
    const doc = dataDocs[index];
    if (isDoc(doc) && isDoc(doc.skao)) dataDocs[index] = { ...doc, skao: { ...doc.skao, replicas } };
    return withLocatedCopies(need, replicas);
  }));
  return { ...input, needs: { ...input.needs, data }, components: { ...components, data: dataDocs }, messages: [...input.messages, ...messages] };
}
