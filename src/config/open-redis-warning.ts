/**
 * Why a site's runs could read and change the broker's records, or undefined: its runs are on the
 * host's network (plain processes, apptainer's: `sharesHostNetwork`), whatever its `network` says,
 * and the broker reaches Redis without a password, so a run reaches it the same way. Said at
 * start-up. (Sandboxed runs have a network of their own, which never reaches the host's loopback;
 * containers have theirs.)
 */
export function openRedisWarning(site: { name: string }, sharesHostNetwork: boolean, redisUrl: string): string | undefined {
  if (!sharesHostNetwork) return undefined;
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    return undefined;
  }
  if (!/^rediss?:$/.test(url.protocol) || url.password) return undefined;
  return `site ${site.name}: WARNING: its runs are on the host's network (plain processes, or apptainer's) and Redis at ${url.host} takes connections without a password: `
    + 'a run can read and change every record of the broker. Give Redis a password (requirepass, in REDIS_URL), or run the site\'s sessions sandboxed or in docker or podman containers';
}
