/**
 * How the session page shows a connector. A service's URL (a notebook server's) may carry its
 * owner's secret in the query (`?token=`) or fragment: the page links to it as it is, but shows it
 * without either, so that the secret is neither on screen nor in a screenshot.
 */
type Doc = Record<string, unknown>;

/** The broker's own resources behind a connector (read with the viewer's bearer token, not opened as is). */
export const BROKER_CONNECTORS: Readonly<Record<string, string>> = {
  'urn:srcnet:connector:logs': 'Log',
  'urn:srcnet:connector:outputs': 'Outputs',
};

/** A URL as it may be shown: no user info, query or fragment; undefined when it is no URL at all. */
export function shownUrl(location: string): string | undefined {
  let url: URL;
  try { url = new URL(location); } catch { return undefined; }
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.href;
}

/** The URL to open in a new tab: an AVAILABLE HTTP(S) connector with an http(s) location, else undefined. */
export function openableUrl(connector: Doc): string | undefined {
  const location = connector.location;
  if (typeof location !== 'string' || connector.status !== 'AVAILABLE') return undefined;
  if (!/^HTTPS?$/i.test(String(connector.protocol ?? ''))) return undefined;
  try {
    const url = new URL(location);
    return url.protocol === 'http:' || url.protocol === 'https:' ? location : undefined;
  } catch {
    return undefined;
  }
}
