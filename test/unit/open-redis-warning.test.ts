import { openRedisWarning } from '../../src/config/open-redis-warning.js';

describe('the start-up warning about a Redis that a site\'s runs can reach', () => {
  const site = { name: 'demo' };

  it('warns when the runs are on the host\'s network and Redis takes connections without a password', () => {
    expect(openRedisWarning(site, true, 'redis://127.0.0.1:6379')).toBe(
      'site demo: WARNING: its runs are on the host\'s network (plain processes, or apptainer\'s) and Redis at 127.0.0.1:6379 takes connections without a password: '
      + 'a run can read and change every record of the broker. Give Redis a password (requirepass, in REDIS_URL), or run the site\'s sessions sandboxed or in docker or podman containers');
    expect(openRedisWarning(site, true, 'rediss://user@redis.internal:6380/2')).toContain('Redis at redis.internal:6380');
  });

  it('says nothing when Redis has a password, or the runs have a network of their own (sandboxed, containers)', () => {
    expect(openRedisWarning(site, true, 'redis://:s3cret@127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site, true, 'redis://eb:s3cret@127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site, false, 'redis://127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site, true, 'not a url')).toBeUndefined();
  });
});
