import { RedisMonitor } from '../support/redis-monitor.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

/**
 * One worker process serving five sites answers an offer set in one job: it holds only the four
 * offers the offer set keeps (outranked-holds.ts), where it used to hold five and have the API
 * release one. Watched with Redis's MONITOR: the hold records the scripts write and delete.
 */
describe('a worker serving several sites holds only the offers the offer set keeps', () => {
  let broker: TestBroker;
  let monitor: RedisMonitor | undefined;
  const names = ['east', 'north', 'south', 'west', 'zenith'];
  // A broker each, so that one test's offers hold nothing in the next.
  beforeEach(async () => {
    broker = await startTestBroker({ config: { sites: names.map((name) => demoSite({ name, cores: 4, memoryGiB: 8, maxCoresPerSession: 4, maxMemoryGiBPerSession: 8 })) } });
  });
  afterEach(async () => {
    monitor?.close();
    await broker.close();
  });

  /** The hold records written and deleted (by the scripts) while `during` runs, read off MONITOR. */
  async function watchHolds(during: () => Promise<void>): Promise<{ written: Set<string>; deleted: Set<string> }> {
    const holdKey = `${broker.config.keyPrefix}:hold:`;
    const written = new Set<string>();
    const deleted = new Set<string>();
    monitor = await RedisMonitor.start(broker.config.redisUrl, (line) => {
      // <time> [<db> <client>] "<command>" "<key>" ...
      const match = /^[\d.]+ \[[^\]]*\] "([a-zA-Z]+)" "([^"]*)"/.exec(line);
      if (!match || !match[2]!.startsWith(holdKey)) return;
      const command = match[1]!.toLowerCase();
      if (command === 'hset') written.add(match[2]!.slice(holdKey.length));
      if (command === 'del') deleted.add(match[2]!.slice(holdKey.length));
    });
    try {
      await during();
      // MONITOR's lines come after the commands ran: a moment for the last of them to arrive.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      monitor.close();
      monitor = undefined;
    }
    return { written, deleted };
  }

  const post = async (body: Doc): Promise<Doc> => {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body));
    expect(res.status).toBe(303);
    return res.body as Doc;
  };
  const siteOf = (offer: Doc): string => String(offer.meta.description).replace('Offered by site ', '');

  it('makes four holds for four offers of five equal sites, and releases none', async () => {
    let set: Doc = {};
    const { written, deleted } = await watchHolds(async () => { set = await post(dockerRequest()); });
    expect(set.result).toBe('YES');
    const offered = (set.offers as Doc[]).map((offer) => String(offer.meta.uuid));
    // Equal offers in the order of the sites' names: the last site's would have been dropped.
    expect((set.offers as Doc[]).map(siteOf)).toEqual(['east', 'north', 'south', 'west']);
    expect([...written].sort()).toEqual([...offered].sort());
    expect(deleted.size).toBe(0);
  });

  it('holds an offer a busier site makes later only when it could still be kept', async () => {
    // A whole site for an hour, offered by the first four sites (the fifth's hold is outranked, so
    // not made): the fifth, free now, is the earliest next, and the other four come after it.
    const whole = await post({ ...dockerRequest({ min: 4, max: 4 }, { min: 8, max: 8 }), schedule: { requested: { duration: 'PT1H' } } });
    expect((whole.offers as Doc[]).map(siteOf)).toEqual(['east', 'north', 'south', 'west']);
    let set: Doc = {};
    const { written, deleted } = await watchHolds(async () => { set = await post(dockerRequest()); });
    expect(set.result).toBe('YES');
    expect(siteOf((set.offers as Doc[])[0]!)).toBe('zenith');
    expect(set.offers).toHaveLength(4);
    expect((set.offers as Doc[]).map(siteOf)).toEqual(['zenith', 'east', 'north', 'south']);
    // The four busy sites' holds were made later than their best, so the fifth's could still come
    // first: all five were made, and the offer set let the last of them go.
    expect(written.size).toBe(5);
    expect(deleted.size).toBe(1);
  });
});
