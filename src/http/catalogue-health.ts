import type { BrokerApi } from './broker-api.js';

/**
 * The site capabilities catalogue as a dependent service of the health answers: UP when its last
 * refresh worked, DOWN when it failed (the broker goes on with the last good catalogue, which
 * `catalogue_fetched_at` dates, and `error` says why). Nothing when the broker reads no catalogue.
 * It does not make the broker unhealthy: sites go on being offered as last catalogued.
 */
export async function catalogueHealth(api: BrokerApi): Promise<Record<string, Record<string, string>>> {
  if (!api.siteCatalogueStatus) return {};
  const status = await api.siteCatalogueStatus().catch(() => ({ lastError: 'the broker cannot reach its Redis store', lastAttempt: undefined, fetchedAt: undefined }));
  const at = (ms: number | undefined, name: string): Record<string, string> => (ms === undefined ? {} : { [name]: new Date(ms).toISOString() });
  const up = status.lastAttempt !== undefined && !status.lastError;
  return { 'site-capabilities': {
    status: up ? 'UP' : 'DOWN',
    ...at(status.fetchedAt, 'catalogue_fetched_at'),
    ...at(status.lastAttempt, 'last_attempt'),
    ...(status.lastError ? { error: status.lastError } : status.lastAttempt === undefined ? { error: 'not fetched yet' } : {}),
  } };
}
