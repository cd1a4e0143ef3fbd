import { openRedisWarning } from '../../src/config/open-redis-warning.js';

describe('the start-up warning about a Redis that a site\'s runs can reach', () => {
  const site = (network: string) => ({ name: 'demo', processRuns: { network } });

  it('warns when process runs have the host\'s network and Redis takes connections without a password', () => {
    expect(openRedisWarning(site('egress'), true, 'redis://127.0.0.1:6379')).toBe(
      'site demo: WARNING: its runs have the host\'s network (network: egress) and Redis at 127.0.0.1:6379 takes connections without a password: '
      + 'a run can read and change every record of the broker. Give Redis a password (requirepass, in REDIS_URL), or the site network: none');
    expect(openRedisWarning(site('egress'), true, 'rediss://user@redis.internal:6380/2')).toContain('Redis at redis.internal:6380');
  });

  it('says nothing when Redis has a password, the runs have no network, or the site runs no processes', () => {
    expect(openRedisWarning(site('egress'), true, 'redis://:s3cret@127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site('egress'), true, 'redis://eb:s3cret@127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site('none'), true, 'redis://127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site('egress'), false, 'redis://127.0.0.1:6379')).toBeUndefined();
    expect(openRedisWarning(site('egress'), true, 'not a url')).toBeUndefined();
  });
});
