import fc from 'fast-check';
import { Redis } from 'ioredis';
import { InMemoryCapacityLedger } from '../../src/broker/in-memory-capacity-ledger.js';
import { BLOCK, SegmentTree } from '../../src/domain/capacity-calendar.js';
import { offerExpiredNote } from '../../src/domain/messages.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { auditLedger, scanKeys } from '../../src/store/audit-ledger.js';
import { migrateBinaryCalendars } from '../../src/store/migrate-calendars.js';
import { RedisBrokerStore } from '../../src/store/redis-broker-store.js';
import { brokerScripts } from '../../src/store/redis-scripts.js';
import { CALENDAR_KEY_PART } from '../../src/store/calendar-lua.js';
import { HOLDS_PER_SCRIPT, RedisCapacityLedger } from '../../src/store/redis-capacity-ledger.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { deleteKeys, demoSite, randomPrefix, redisUrl } from '../support/test-broker.js';

// A bucket in 2026, 150 minutes before a block boundary: operations straddle two blocks.
const BASE = BLOCK * 1801 - 150;

/** The Lua calendar in Redis must answer exactly as its in-memory twin, operation by operation. */
describe('the capacity calendar in Redis (Lua) against its in-memory model', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(redisUrl()); });
  afterAll(async () => { await redis.quit(); });

  const operation = fc.oneof(
    fc.record({
      op: fc.constant('hold' as const),
      cores: fc.integer({ min: 0, max: 10 }),
      memory: fc.integer({ min: 0, max: 20 }),
      gpus: fc.integer({ min: 0, max: 2 }),
      earliest: fc.integer({ min: 0, max: 200 }),
      span: fc.integer({ min: 0, max: 200 }),
      // Short holds, and long ones that cover whole nodes of the tree's upper levels (a node's
      // children span 1,024 and 32 buckets) and reach into the next block.
      length: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 900, max: 2_600 })),
    }),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
  );

  it('finds the same slots, holds and releases the same amounts', async () => {
    await fc.assert(fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), async (operations) => {
      const keys = redisKeys(randomPrefix());
      const site: SiteProfile = { ...demoSite({ cores: 12, memoryGiB: 24, gpus: { A100: 2 } }), name: 'lua' };
      const lua = new RedisCapacityLedger(redis, keys);
      const store = new RedisBrokerStore(redis, keys, { retentionMs: 60_000 });
      const model = new InMemoryCapacityLedger();
      const held: string[] = [];
      try {
        for (const [index, step] of operations.entries()) {
          if (step.op === 'release') {
            if (held.length === 0) continue;
            const id = held.splice(step.pick % held.length, 1)[0]!;
            model.release(id);
            await store.releaseHolds([id]);
            continue;
          }
          const ask = {
            id: `h${index}`,
            amounts: { cores: step.cores, memory: step.memory, ...(step.gpus ? { 'gpu:A100': step.gpus } : {}) },
            earliest: BASE + step.earliest,
            latest: BASE + step.earliest + step.span,
            length: step.length,
          };
          const [fromLua, fromModel] = [await lua.findAndHold(site, ask, 0, 1), await model.findAndHold(site, ask, 0, 1)];
          expect({ index, outcome: fromLua }).toEqual({ index, outcome: fromModel });
          if (fromLua.outcome === 'held') held.push(ask.id);
        }
        for (const bucket of [0, 1, 17, 59, 60, 120, 149, 150, 200, 259, 400, 461, 1173, 1174, 2000, 2900]) {
          for (const resource of ['cores', 'memory', 'gpu:A100']) {
            expect({ bucket, resource, used: await lua.usageAt('lua', resource, BASE + bucket) })
              .toEqual({ bucket, resource, used: await model.usageAt('lua', resource, BASE + bucket) });
          }
        }
        // The catalogue's outlook (one script): the amount now and the most in each step, across the block boundary.
        for (const [now, step, steps] of [[BASE + 3, 37, 8], [BASE + 140, 311, 9]] as const) {
          const outlook = await lua.outlook('lua', ['cores', 'memory', 'gpu:A100'], now, step, steps);
          for (const resource of ['cores', 'memory', 'gpu:A100']) {
            const peaks: number[] = [];
            for (let s = 0; s < steps; s++) {
              let most = 0;
              for (let b = now + s * step; b < now + (s + 1) * step; b++) most = Math.max(most, await model.usageAt('lua', resource, b));
              peaks.push(most);
            }
            expect({ resource, ...outlook[resource] }).toEqual({ resource, now: await model.usageAt('lua', resource, now), peaks });
          }
        }
      } finally {
        await deleteKeys(redis, keys.prefix);
      }
    }), { numRuns: 60 });
  });

  it('the audit finds overbookings, leaked and missing holds, and calendar residue', async () => {
    const keys = redisKeys(randomPrefix());
    const site = demoSite({ cores: 4, memoryGiB: 4 });
    const lua = new RedisCapacityLedger(redis, keys);
    try {
      expect(await auditLedger(redis, keys, [site], Date.now())).toEqual({ holds: 0, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });
      await lua.findAndHold(site, { id: 'ok', amounts: { cores: 2 }, earliest: BASE, latest: BASE, length: 3 }, 0, 1);
      await redis.hset(keys.session('ok'), { phase: 'REJECTED', expires: 0 });
      await redis.hset(keys.session('orphan'), { phase: 'WAITING', expires: 0 });
      await redis.hset(keys.hold('forged'), { site: site.name, from: BASE, to: BASE, 'r:cores': 3 });
      await brokerScripts(redis).ebCalendarAdd(keys.prefix, site.name, 'cores', BASE + 100, BASE + 100, 1);
      const audit = await auditLedger(redis, keys, [site], Date.now());
      expect(audit.overbookings).toEqual([`demo cores at bucket ${BASE}: 5 > 4`]);
      expect(audit.leakedHolds).toEqual(expect.arrayContaining(['ok (REJECTED)', 'forged (no session)']));
      expect(audit.missingHolds).toEqual(['orphan (WAITING)']);
      expect(audit.calendarMismatches.length).toBeGreaterThan(0);
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });

  it('answers a retried hold with the start it already has, and refuses a late one', async () => {
    const keys = redisKeys(randomPrefix());
    const site = demoSite({ cores: 4, memoryGiB: 4 });
    const lua = new RedisCapacityLedger(redis, keys);
    try {
      const ask = { id: 'again', amounts: { cores: 4, memory: 1 }, earliest: BASE, latest: BASE + 10, length: 5 };
      expect(await lua.findAndHold(site, ask, 0, 1)).toEqual({ outcome: 'held', start: BASE });
      expect(await lua.findAndHold(site, ask, 0, 1)).toEqual({ outcome: 'held', start: BASE });
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(4);
      expect(await lua.findAndHold(site, { ...ask, id: 'late' }, 2, 1)).toEqual({ outcome: 'late' });
      expect(await lua.findAndHold(site, { ...ask, id: 'next' }, 0, 1)).toEqual({ outcome: 'held', start: BASE + 5 });
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });

  it('enters each hold in the offer expiry sweep as it is made, and the sweep releases it at its expiry: no session needed, late holds refused, released holds gone from it', async () => {
    const keys = redisKeys(randomPrefix());
    const site = demoSite({ cores: 4, memoryGiB: 4 });
    const lua = new RedisCapacityLedger(redis, keys);
    const store = new RedisBrokerStore(redis, keys, { retentionMs: 60_000 });
    try {
      const ask = { amounts: { cores: 2, memory: 1 }, earliest: BASE, latest: BASE + 10, length: 5, expiresAt: 5_000 };
      // Two holds whose answers never reached anyone (no session stored), one dropped at once, one that never expires.
      expect(await lua.findAndHold(site, { ...ask, id: 'orphan' }, 1_000, 2_000)).toEqual({ outcome: 'held', start: BASE });
      expect(await lua.findAndHold(site, { ...ask, id: 'dropped' }, 1_000, 2_000)).toEqual({ outcome: 'held', start: BASE });
      expect(await lua.findAndHold(site, { ...ask, id: 'stays', expiresAt: undefined, earliest: BASE + 20, latest: BASE + 20 }, 1_000, 2_000)).toEqual({ outcome: 'held', start: BASE + 20 });
      expect(await redis.zrange(keys.offerExpiry, 0, -1, 'WITHSCORES')).toEqual(['dropped', '5000', 'orphan', '5000']);
      await store.releaseHolds(['dropped']);
      expect(await redis.zrange(keys.offerExpiry, 0, -1)).toEqual(['orphan']);
      // Before its expiry the sweep takes nothing, and the audit counts the orphan as awaiting it, not
      // leaked (a hold with neither a session nor an expiry is).
      expect(await store.expireDueOffers(4_999, offerExpiredNote(4_999), 10)).toEqual({ taken: 0, expired: 0 });
      expect((await auditLedger(redis, keys, [site], 4_999)).leakedHolds).toEqual(['stays (no session)']);
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(2);
      // At it: released, and closed to a site that holds for it later; the sweep's index is empty.
      expect(await store.expireDueOffers(5_000, offerExpiredNote(5_000), 10)).toEqual({ taken: 1, expired: 0 });
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(0);
      expect(await redis.exists(keys.hold('orphan'))).toBe(0);
      expect(await redis.zcard(keys.offerExpiry)).toBe(0);
      expect(await lua.findAndHold(site, { ...ask, id: 'orphan' }, 1_500, 2_000)).toEqual({ outcome: 'late' });
      // A hold asked for at or after its offer's expiry is refused, and holds nothing.
      expect(await lua.findAndHold(site, { ...ask, id: 'too-late' }, 5_000, 6_000)).toEqual({ outcome: 'late' });
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(0);
      expect(await lua.usageAt(site.name, 'cores', BASE + 20)).toBe(2);
      expect((await auditLedger(redis, keys, [site], 5_000)).leakedHolds).toEqual(['stays (no session)']);
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });

  it('sweeps in steps of its batch: every due hold is released, the offered sessions among them EXPIRED', async () => {
    const keys = redisKeys(randomPrefix());
    const site = demoSite({ cores: 64, memoryGiB: 64 });
    const lua = new RedisCapacityLedger(redis, keys);
    const store = new RedisBrokerStore(redis, keys, { retentionMs: 60_000 });
    try {
      const ids = Array.from({ length: 7 }, (_, i) => `offer-${i}`);
      for (const id of ids) {
        expect((await lua.findAndHold(site, { id, amounts: { cores: 1, memory: 1 }, earliest: BASE, latest: BASE, length: 5, expiresAt: 10 }, 0, 1)).outcome).toBe('held');
      }
      // Three of them were stored as offers.
      await store.saveOfferSet({ uuid: 'set', created: 0, family: 'v1', result: 'YES', messages: [], sessionUuids: ids.slice(0, 3), owner: 'anonymous' },
        ids.slice(0, 3).map((uuid) => ({ uuid, offerSetUuid: 'set', site: site.name, phase: 'OFFERED' as const, created: 0, modified: 0, expires: 10, family: 'v1' as const, owner: 'anonymous', document: {}, messages: [] })));
      const steps = [];
      for (;;) {
        const step = await store.expireDueOffers(10, offerExpiredNote(10), 3);
        steps.push(step);
        if (step.taken < 3) break;
      }
      expect(steps.reduce((sum, step) => sum + step.taken, 0)).toBe(7);
      expect(steps.reduce((sum, step) => sum + step.expired, 0)).toBe(3);
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(0);
      for (const uuid of ids.slice(0, 3)) expect((await store.getSession(uuid))?.phase).toBe('EXPIRED');
      expect((await auditLedger(redis, keys, [site], 10)).leakedHolds).toEqual([]);
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });

  it('refuses a hold for an id whose expiry timer has run already (a site held up past the deadline), and holds nothing', async () => {
    const keys = redisKeys(randomPrefix());
    const site = demoSite({ cores: 4, memoryGiB: 4 });
    const lua = new RedisCapacityLedger(redis, keys);
    const store = new RedisBrokerStore(redis, keys, { retentionMs: 60_000 });
    try {
      const ask = { id: 'slow-site', amounts: { cores: 4, memory: 1 }, earliest: BASE, latest: BASE + 10, length: 5 };
      // The timer for an offer set whose answer never came: no session, nothing held yet.
      expect(await store.expireOffers(['slow-site'], 0, offerExpiredNote(0))).toBe(0);
      // The site, by its own clock still in time, comes afterwards.
      expect(await lua.findAndHold(site, ask, 0, 1)).toEqual({ outcome: 'late' });
      expect(await lua.usageAt(site.name, 'cores', BASE)).toBe(0);
      expect(await redis.exists(keys.hold('slow-site'))).toBe(0);
      expect((await auditLedger(redis, keys, [site], 0)).leakedHolds).toEqual([]);
      // An API held up as long stores its offer after the timer: EXPIRED, never OFFERED with nothing held.
      await store.saveOfferSet({ uuid: 'set', created: 0, family: 'v1', result: 'YES', messages: [], sessionUuids: ['slow-site'], owner: 'anonymous' }, [{
        uuid: 'slow-site', offerSetUuid: 'set', site: site.name, phase: 'OFFERED', created: 0, modified: 0, expires: 1, family: 'v1', owner: 'anonymous', document: {}, messages: [],
      }]);
      expect((await store.getSession('slow-site'))?.phase).toBe('EXPIRED');
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });

  it('converts calendars kept in the binary layout (a field per node) to wide nodes, adding to what the new keys hold, and deletes the old keys', async () => {
    const ranges = fc.array(fc.record({ from: fc.integer({ min: 0, max: 3_000 }), length: fc.integer({ min: 1, max: 1_500 }), amount: fc.integer({ min: 1, max: 9 }) }), { minLength: 1, maxLength: 25 });
    await fc.assert(fc.asyncProperty(ranges, ranges, async (before, after) => {
      const keys = redisKeys(randomPrefix());
      const site: SiteProfile = { ...demoSite({ cores: 1_000, memoryGiB: 24 }), name: 'lua' };
      const lua = new RedisCapacityLedger(redis, keys);
      const model = new InMemoryCapacityLedger();
      try {
        // The earlier layout, as its Lua wrote it: the binary tree of the domain's twin (the same
        // node ids, add, max and min), each node a field of three doubles, the root padded.
        const trees = new Map<number, SegmentTree>();
        for (const { from, length, amount } of before) {
          const start = BASE + from;
          model.calendar('lua').reserve({ cores: amount }, start, start + length - 1);
          for (let b = Math.floor(start / BLOCK); b <= Math.floor((start + length - 1) / BLOCK); b++) {
            const tree = trees.get(b) ?? new SegmentTree();
            trees.set(b, tree);
            tree.add(Math.max(start, b * BLOCK) - b * BLOCK, Math.min(start + length - 1, b * BLOCK + BLOCK - 1) - b * BLOCK, amount);
          }
        }
        for (const [block, tree] of trees) {
          const nodes = (tree as unknown as { nodes: Map<number, { add: number; max: number; min: number }> }).nodes;
          const fields: Array<string | Buffer> = [];
          for (const [id, { add, max, min }] of nodes) {
            const packed = Buffer.alloc(24);
            [add, max, min].forEach((value, i) => packed.writeDoubleLE(value, 8 * i));
            fields.push(String(id), id === 1 ? Buffer.concat([packed, Buffer.alloc(72, ' ')]) : packed);
          }
          if (fields.length) await redis.hset(`${keys.prefix}:cal:lua:cores:${block}`, ...fields);
        }
        // Holds made in the new layout before the conversion (a process of this version started first).
        for (const [index, { from, length, amount }] of after.entries()) {
          const ask = { id: `n${index}`, amounts: { cores: amount }, earliest: BASE + from, latest: BASE + from, length };
          expect(await lua.findAndHold(site, ask, 0, 1)).toEqual(await model.findAndHold(site, ask, 0, 1));
        }
        const oldBlocks = (await scanKeys(redis, `${keys.prefix}:cal:*`)).length;
        expect(await migrateBinaryCalendars(redis, keys)).toBe(oldBlocks);
        expect(await scanKeys(redis, `${keys.prefix}:cal:*`)).toEqual([]);
        for (const bucket of [0, 1, 149, 150, 151, 700, 1173, 1174, 2000, 3100, 4000, 4600]) {
          expect({ bucket, used: await lua.usageAt('lua', 'cores', BASE + bucket) }).toEqual({ bucket, used: await model.usageAt('lua', 'cores', BASE + bucket) });
        }
        // A second start finds the prefix marked converted, and nothing left to convert.
        expect(await redis.get(`${keys.prefix}:calendar-layout`)).toBe('wide');
        expect(await migrateBinaryCalendars(redis, keys)).toBe(0);
        // And holding goes on from the converted calendar as from the model.
        const ask = { id: 'later', amounts: { cores: 990 }, earliest: BASE, latest: BASE + 5_000, length: 30 };
        expect(await lua.findAndHold(site, ask, 0, 1)).toEqual(await model.findAndHold(site, ask, 0, 1));
      } finally {
        await deleteKeys(redis, keys.prefix);
      }
    }), { numRuns: 25 });
  });

  it('makes the holds asked at once in one script, each whole before the next: the same answers as one by one', async () => {
    const ask = fc.record({ cores: fc.integer({ min: 1, max: 8 }), earliest: fc.integer({ min: 0, max: 100 }), span: fc.integer({ min: 0, max: 100 }), length: fc.integer({ min: 1, max: 90 }) });
    await fc.assert(fc.asyncProperty(fc.array(ask, { minLength: 2, maxLength: 150 }), async (asks) => {
      const keys = redisKeys(randomPrefix());
      const site: SiteProfile = { ...demoSite({ cores: 12, memoryGiB: 24 }), name: 'lua' };
      const lua = new RedisCapacityLedger(redis, keys);
      const model = new InMemoryCapacityLedger();
      // Both scripts loaded first (a script Redis does not know yet costs ioredis a second EVALSHA).
      const warm = { ...site, name: 'warm' };
      await Promise.all([lua.findAndHold(warm, { id: 'w1', amounts: { cores: 1 }, earliest: BASE, latest: BASE, length: 1 }, 0, 1), lua.findAndHold(warm, { id: 'w2', amounts: { cores: 1 }, earliest: BASE, latest: BASE, length: 1 }, 0, 1)]);
      await lua.findAndHold(warm, { id: 'w3', amounts: { cores: 1 }, earliest: BASE, latest: BASE, length: 1 }, 0, 1);
      // Counts the scripts sent (ioredis sends a defined command as EVALSHA).
      const send = redis.sendCommand.bind(redis);
      let scripts = 0;
      redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
        if (command.name === 'evalsha') scripts += 1;
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      }) as typeof redis.sendCommand;
      try {
        const holds = asks.map(({ cores, earliest, span, length }, index) => ({ id: `b${index}`, amounts: { cores, memory: 1 }, earliest: BASE + earliest, latest: BASE + earliest + span, length }));
        const together = await Promise.all(holds.map((hold) => lua.findAndHold(site, hold, 0, 1)));
        expect(scripts).toBe(Math.ceil(holds.length / HOLDS_PER_SCRIPT));
        const oneByOne = [];
        for (const hold of holds) oneByOne.push(await model.findAndHold(site, hold, 0, 1));
        expect(together).toEqual(oneByOne);
        for (const bucket of [0, 50, 100, 150, 200, 280]) expect(await lua.usageAt('lua', 'cores', BASE + bucket)).toBe(await model.usageAt('lua', 'cores', BASE + bucket));
      } finally {
        redis.sendCommand = send;
        await deleteKeys(redis, keys.prefix);
      }
    }), { numRuns: 25 });
  });
  it('fails only the hold that fails in a script of many: the others of the same script are made, and the failed one leaves nothing', async () => {
    const keys = redisKeys(randomPrefix());
    const healthy: SiteProfile = { ...demoSite({ cores: 12, memoryGiB: 24 }), name: 'healthy' };
    const broken: SiteProfile = { ...demoSite({ cores: 12, memoryGiB: 24 }), name: 'broken' };
    const lua = new RedisCapacityLedger(redis, keys);
    const calendarBlock = (site: string, resource: string) => `${keys.prefix}:${CALENDAR_KEY_PART}:${site}:${resource}:${Math.floor(BASE / BLOCK)}`;
    // The broken site's cores calendar for the block is a string, not a hash: reading it is a WRONGTYPE error.
    await redis.set(calendarBlock('broken', 'cores'), 'not a calendar');
    const hold = (id: string, cores: number) => ({ id, amounts: { cores, memory: 1 }, earliest: BASE, latest: BASE + 100, length: 30 });
    try {
      // Asked in one turn: one script, the broken site's hold between two healthy ones on the same calendar.
      const outcomes = await Promise.allSettled([
        lua.findAndHold(healthy, hold('first', 8), 0, 1),
        lua.findAndHold(broken, hold('middle', 2), 0, 1),
        lua.findAndHold(healthy, hold('last', 8), 0, 1),
      ]);
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { outcome: 'held', start: BASE } });
      expect(outcomes[1]?.status).toBe('rejected');
      expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/holding capacity failed: .*WRONGTYPE/);
      // The third was found after the first (12 cores: 8 + 8 do not fit side by side).
      expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { outcome: 'held', start: BASE + 30 } });
      expect(await lua.usageAt('healthy', 'cores', BASE)).toBe(8);
      expect(await lua.usageAt('healthy', 'cores', BASE + 30)).toBe(8);
      // Nothing of the failed hold: no record, no entry in the expiry sweep, the memory calendar untouched.
      expect(await redis.exists(keys.hold('middle'))).toBe(0);
      expect(await redis.zscore(keys.offerExpiry, 'middle')).toBeNull();
      expect(await redis.exists(calendarBlock('broken', 'memory'))).toBe(0);
    } finally {
      await deleteKeys(redis, keys.prefix);
    }
  });
});
