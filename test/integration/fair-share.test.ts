import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { auditLedger } from '../../src/store/audit-ledger.js';
import { redisKeys } from '../../src/store/redis-keys.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/**
 * One user may hold only so much of a site at once (its fairShare): core-hours of offered and
 * accepted sessions, and offer sets with open offers. Over a cap the site says NO naming it, while
 * others still get offers; operators are exempt; the check and the hold are one step.
 */
describe('fair share of a site', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    idp = await startIdentityProvider();
    broker = await startTestBroker({
      env: oidcEnv(idp.issuer),
      config: { sites: [demoSite({ cores: 4, memoryGiB: 16, maxCoresPerSession: 4, fairShare: { coreHours: 10, gpuHours: 0, offerSets: 3 } })] },
    });
    for (const user of ['alice', 'bob', 'olga']) tokens[user] = await idp.tokenFor(user, { ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await broker?.close();
    await idp?.close();
  });

  /** Four cores for two hours: about 8.2 core-hours held (preparation and releasing included). */
  const big = JSON.stringify({ ...dockerRequest({ min: 4, max: 4 }), schedule: { requested: { duration: 'PT2H' } } });
  const small = JSON.stringify(dockerRequest());
  const ask = async (user: string, body = big): Promise<Doc> =>
    (await broker.http.post('/requests').set('Authorization', `Bearer ${tokens[user]}`).set('Content-Type', 'application/json').send(body).expect(303)).body as Doc;
  const answer = async (user: string, uuid: string, phase: string): Promise<void> => {
    await broker.http.post(`/sessions/${uuid}`).set('Authorization', `Bearer ${tokens[user]}`).set('Content-Type', 'application/json').send(update(phase)).expect(200);
  };
  const said = (set: Doc): string => (set.meta.messages ?? []).map((m: Doc) => m.message).join(' | ');
  const audit = () => auditLedger(broker.redis, redisKeys(broker.config.keyPrefix), broker.config.sites, Date.now());

  it('answers NO, naming the cap, to a user at it, while another user still gets offers; asking again does not help', async () => {
    const first = await ask('alice');
    expect(first.result).toBe('YES');
    const second = await ask('alice');
    expect(second.result).toBe('NO');
    expect(said(second)).toMatch(/^Site demo: one user may hold at most 10 core-hours at once \(offered or accepted sessions\); you hold 8\.\d+ and this asks 8\.\d+/);
    expect(second.meta.messages[0].kind).toBe('urn:resource-limit');
    const bob = await ask('bob');
    expect(bob.result).toBe('YES');
    expect((await ask('alice')).result).toBe('NO');
    // Accepted, the hold still counts.
    await answer('alice', first.offers[0].meta.uuid, 'ACCEPTED');
    expect((await ask('alice')).result).toBe('NO');
    expect((await audit()).shareMismatches).toEqual([]);
    // Ended, it no longer does.
    await answer('alice', first.offers[0].meta.uuid, 'CANCELLED');
    await answer('bob', bob.offers[0].meta.uuid, 'REJECTED');
    const again = await ask('alice');
    expect(again.result).toBe('YES');
    await answer('alice', again.offers[0].meta.uuid, 'REJECTED');
  });

  it('exempts operators', async () => {
    const sets = [await ask('olga'), await ask('olga')];
    expect(sets.map((set) => set.result)).toEqual(['YES', 'YES']);
    for (const set of sets) await answer('olga', set.offers[0].meta.uuid, 'REJECTED');
  });

  it('counts offer sets with open offers, not accepted ones', async () => {
    const open = [await ask('bob', small), await ask('bob', small), await ask('bob', small)];
    expect(open.map((set) => set.result)).toEqual(['YES', 'YES', 'YES']);
    const fourth = await ask('bob', small);
    expect(fourth.result).toBe('NO');
    expect(said(fourth)).toBe('Site demo: you have offers open in 3 offer sets, the most one user may have there at once (3); accept or reject some, or let them expire');
    await answer('bob', open[0]!.offers[0].meta.uuid, 'ACCEPTED');
    const fifth = await ask('bob', small);
    expect(fifth.result).toBe('YES');
    expect((await audit()).shareMismatches).toEqual([]);
    for (const set of [...open.slice(1), fifth]) await answer('bob', set.offers[0].meta.uuid, 'REJECTED');
    await answer('bob', open[0]!.offers[0].meta.uuid, 'CANCELLED');
  });

  it('lets only one of many concurrent requests of one user through its cap', async () => {
    const sets = await Promise.all(Array.from({ length: 8 }, () => ask('alice')));
    expect(sets.filter((set) => set.result === 'YES')).toHaveLength(1);
    expect(sets.filter((set) => /one user may hold at most 10 core-hours/.test(said(set)))).toHaveLength(7);
    const report = await audit();
    expect({ ...report, holds: undefined }).toEqual({ holds: undefined, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });
    const yes = sets.find((set) => set.result === 'YES')!;
    await answer('alice', yes.offers[0].meta.uuid, 'REJECTED');
    // Nothing held: no record is left behind.
    expect(await broker.redis.keys(`${broker.config.keyPrefix}:share:*`)).toEqual([]);
  });
});
