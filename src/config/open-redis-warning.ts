/**
 * Why a site's runs could read and change the broker's records, or undefined: its runs are on the
 * host's network (plain processes, apptainer's) with `network: egress`, and the broker reaches
 * Redis without a password, so a run reaches it the same way. Said at start-up. (Sandboxed runs
 * with egress have a network of their own, which does not reach the host's loopback.)
 */
export function openRedisWarning(site: { name: string; processRuns: { network: string } }, runsProcesses: boolean, redisUrl: string): string | undefined {
  if (!runsProcesses || site.processRuns.network !== 'egress') return undefined;
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    return undefined;
  }
  if (!/^rediss?:$/.test(url.protocol) || url.password) return undefined;
  return `site ${site.name}: WARNING: its runs have the host's network (network: egress) and Redis at ${url.host} takes connections without a password: `
    + 'a run can read and change every record of the broker. Give Redis a password (requirepass, in REDIS_URL), or the site network: none';
}
