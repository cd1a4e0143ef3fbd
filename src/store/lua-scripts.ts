import { CALENDAR_HELPERS } from './calendar-lua.js';

/**
 * The Lua scripts that change phases and capacity together. Redis runs each script atomically, so
 * no other client ever sees a session moved without its capacity following, and two scripts never
 * interleave: that is what makes "exactly one accept wins" and "no capacity held twice" hold across
 * any number of API processes and site workers. Keys are built inside the scripts from the prefix,
 * which a single Redis (or Sentinel) allows; see docs/operations.md on Redis Cluster.
 */

/**
 * What every phase change does besides the change itself, in the same step (so that none of it
 * can be missed or seen half done):
 * - counts sessions by phase for /metrics: `<prefix>:stats` holds `phase:<PHASE>` (sessions in
 *   that phase now; for terminal phases, sessions that ever ended there, since ended sessions are
 *   deleted after their retention), `offers` (offers ever made) and `accepted` (offers ever accepted);
 * - records the change in the session's `history` field ("PHASE ms,PHASE ms,..."), written by the
 *   caller's own HSET of the phase (moved() returns it);
 * - publishes a notice (uuid, owner, site, phase, time: nothing else) on
 *   `<prefix>:session-events`, which each API process fans out to its event streams: one
 *   PUBLISH per script (a JSON array of its notices), made by announcing() however the script
 *   returns, so that an accept and its rejected siblings, or an offer set's offers, are one message.
 * The session's phase, owner, site and history are read once, by about(). SAVE_OFFER_SET puts new
 * sessions in the indexes that list them: `<prefix>:sessions-by-time` and
 * `<prefix>:sessions-of:<owner>` (sorted sets of "<created, 15 digits>:<uuid>" at score 0, read
 * newest first by lex range), and `<prefix>:reservations:<site>` (uuids scored by the start of their
 * hold; `<prefix>:reservation-spans` keeps each site's longest hold, which bounds an overlap query),
 * one ZADD per index for all of them; finish() takes an ended session off its site's reservations.
 * Entries of sessions past their retention are dropped when a reader meets them, and by trimmed()
 * at the oldest end of each index an insert touches. (Kept to few calls: each costs about a
 * microsecond, on the path of every offer.)
 *
 * The outbox: a phase change also records the step that must follow it, so that a process killed
 * between the change and the job that carries it out leaves the step to be found. due() keeps the
 * session's next step in its `next` field ("activate", "poll 7": a step and its job's seq) and
 * the time it is due in `<prefix>:due:<site>` (a sorted set of uuids), which each site's
 * reconciler reads (broker/reconcile-sessions.ts); no step clears both.
 *
 * The notification outbox: a session with subscribers (its `notify` field, written with the
 * session or its binding) has each phase change recorded, in the same step, as an event
 * {seq, phase, at} appended to `<prefix>:notify-events:<uuid>` (kept 8 days), and the session
 * entered in `<prefix>:notify-due`. The notify worker (queue/notify-worker.ts) turns each event
 * into a delivery job per subscriber, in order (woken at once by the uuids published on
 * `<prefix>:notify-wake`, a hint: it also reads notify-due every few hundred ms), and takes the session out of notify-due once
 * every subscriber has had every event: a process killed between a phase change and a job loses
 * nothing. (An OFFERED session has no subscribers yet when it is written: offers are not told.)
 */
export const PHASE_HELPERS = `
local function about(prefix, id)
  local f = redis.call('HMGET', prefix .. ':session:' .. id, 'phase', 'owner', 'site', 'history')
  return { phase = f[1], owner = f[2], site = f[3], history = f[4] }
end
local NOTICES = {}
local WAKE = {}
local function publish(prefix, id, owner, site, phase, now)
  NOTICES[#NOTICES + 1] = { uuid = id, owner = owner or '', site = site or '', phase = phase, at = tonumber(now) }
end
local function notified(prefix, id, to, now)
  local key = prefix .. ':session:' .. id
  if redis.call('HEXISTS', key, 'notify') == 0 then return end
  local seq = redis.call('HINCRBY', key, 'notifyseq', 1)
  local events = prefix .. ':notify-events:' .. id
  redis.call('RPUSH', events, cjson.encode({ seq = seq, phase = to, at = tonumber(now) }))
  redis.call('PEXPIRE', events, 691200000)
  redis.call('ZADD', prefix .. ':notify-due', 'NX', now, id)
  WAKE[#WAKE + 1] = id
end
local function moved(prefix, id, session, to, now)
  local stats = prefix .. ':stats'
  if session.phase then redis.call('HINCRBY', stats, 'phase:' .. session.phase, -1) end
  redis.call('HINCRBY', stats, 'phase:' .. to, 1)
  publish(prefix, id, session.owner, session.site, to, now)
  notified(prefix, id, to, now)
  return (session.history and (session.history .. ',') or '') .. to .. ' ' .. now
end
local TERMINAL = { REJECTED = true, EXPIRED = true, COMPLETED = true, FAILED = true, CANCELLED = true }
local function due(prefix, id, site, step, at)
  if step and step ~= '' then
    redis.call('ZADD', prefix .. ':due:' .. (site or ''), at, id)
    redis.call('HSET', prefix .. ':session:' .. id, 'next', step)
  else
    redis.call('ZREM', prefix .. ':due:' .. (site or ''), id)
    redis.call('HDEL', prefix .. ':session:' .. id, 'next')
  end
end
-- Drops up to count of the oldest entries of an index while their session is gone (or, with
-- dropEnded, has ended); the uuid starts at uuidAt in an entry.
local function trimmed(prefix, index, count, uuidAt, dropEnded)
  for _, member in ipairs(redis.call('ZRANGE', index, 0, count - 1)) do
    local phase = redis.call('HGET', prefix .. ':session:' .. string.sub(member, uuidAt), 'phase')
    if phase and not (dropEnded and TERMINAL[phase]) then return end
    redis.call('ZREM', index, member)
  end
end
`;

/**
 * A script whose steps change phases: its body runs as a function, and the notices they collected
 * go out in one PUBLISH whichever way it returns.
 */
function announcing(helpers: string, body: string): string {
  return `${helpers}
local function main()
${body}
end
local result = main()
if #NOTICES > 0 then redis.call('PUBLISH', ARGV[1] .. ':session-events', cjson.encode(NOTICES)) end
if #WAKE > 0 then redis.call('PUBLISH', ARGV[1] .. ':notify-wake', cjson.encode(WAKE)) end
return result
`;
}

/**
 * Shared helpers: release a hold (calendar-lua.ts), end a session in a terminal phase. Ending a
 * session also deletes the user's sealed token (kept for sites that act for the user) and its
 * notebook server's sealed token: every terminal phase change goes through finish(), so no token
 * outlives its session.
 */
/**
 * charged(): what an ending session used, from the tariff written with it (domain/quote-offer.ts
 * chargeOf(), which this mirrors): the hold from its start to now (never past its end) at the
 * money per hour, watts and carbon of the tariff, energy and carbon scaled down by the run's
 * measured CPU time (`cpuSeconds` in its run handle) where its executor measured it. Written on the session (`actuals`) and added to
 * `<prefix>:usage` (`site:<site>:<type>`, `owner:<owner>:<type>`, and the sessions counted), in
 * the step that ends it. An offer never accepted used nothing and is not counted.
 */
export const CHARGE_HELPER = `
local function charged(prefix, key, session, now)
  if not session.phase or session.phase == 'OFFERED' then return end
  local text = redis.call('HGET', key, 'tariff')
  if not text then return end
  local t = cjson.decode(text)
  local stop = math.min(math.max(tonumber(now), t.start), t['end'])
  local hours = (stop - t.start) / 3600000
  local grams = 0
  local c = t.carbon
  for i = 2, #c do
    local a, b = c[i - 1], c[i]
    if stop <= b[1] then
      grams = a[2] + (b[2] - a[2]) * (stop - a[1]) / math.max(1, b[1] - a[1])
      break
    end
    grams = b[2]
  end
  -- The run's CPU time, where its executor measured it (kept with the run): energy and carbon at the
  -- power that use of the cores drew, between idle and full (powerShare() in quote-offer.ts).
  local share = 1
  local runText = redis.call('HGET', key, 'run')
  local cpu = runText and cjson.decode(runText).cpuSeconds
  local coreSeconds = (t.cores or 0) * hours * 3600
  if type(cpu) == 'number' and t.idleWatts and coreSeconds > 0 and t.watts > 0 then
    local use = math.min(1, math.max(0, cpu / coreSeconds))
    share = math.min(1, (t.idleWatts + (t.watts - t.idleWatts) * use) / t.watts)
  end
  local function near(x) return math.floor(x * 1e6 + 0.5) / 1e6 end
  local used = { monetary = near(t.moneyPerHour * hours), energy = near(t.watts * share * hours / 1000), carbon = near(grams * share) }
  redis.call('HSET', key, 'actuals', cjson.encode({ monetary = used.monetary, energy = used.energy, carbon = used.carbon, ['until'] = stop }))
  local usage = prefix .. ':usage'
  for _, who in ipairs({ 'site:' .. (session.site or ''), 'owner:' .. (session.owner or '') }) do
    redis.call('HINCRBY', usage, who .. ':sessions', 1)
    for _, kind in ipairs({ 'monetary', 'energy', 'carbon' }) do
      redis.call('HINCRBYFLOAT', usage, who .. ':' .. kind, string.format('%.6f', used[kind]))
    end
  end
end
`;

const HELPERS = `${CALENDAR_HELPERS}${PHASE_HELPERS}${CHARGE_HELPER}
local prefix = ARGV[1]
local function finish(id, phase, now, note, retention)
  local key = prefix .. ':session:' .. id
  local session = about(prefix, id)
  charged(prefix, key, session, now)
  redis.call('HSET', key, 'phase', phase, 'modified', now, 'history', moved(prefix, id, session, phase, now))
  redis.call('ZREM', prefix .. ':reservations:' .. (session.site or ''), id)
  redis.call('RPUSH', key .. ':messages', note)
  release(prefix, id)
  -- A run may exist from AVAILABLE (being started) on; one that has ended (RELEASING) needs no stop.
  local running = session.phase == 'AVAILABLE' or session.phase == 'RUNNING'
  due(prefix, id, session.site, running and (phase == 'CANCELLED' or phase == 'FAILED') and 'stop 1' or nil, now)
  redis.call('DEL', key .. ':token', key .. ':notebook')
  redis.call('PEXPIRE', key, retention)
  redis.call('PEXPIRE', key .. ':messages', retention)
end
`;

/**
 * KEYS: none. ARGV: prefix, id, target, from (",A,B,"), now, note, retention, expiredNote, siblingNote,
 * and for an accept that waits for its executable: bindBy, the provision (JSON).
 * Returns the outcome: done, not-found, expired or not-allowed.
 */
export const TRANSITION = announcing(HELPERS, `
local id, target, from, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local note, retention, expiredNote, siblingNote = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = prefix .. ':session:' .. id
local state = redis.call('HMGET', key, 'phase', 'expires', 'offerset', 'owner', 'site', 'history')
local phase = state[1]
if not phase then return 'not-found' end
if phase == 'OFFERED' and (now >= tonumber(state[2]) or redis.call('EXISTS', prefix .. ':hold:' .. id) == 0) then
  finish(id, 'EXPIRED', now, expiredNote, retention)
  return 'expired'
end
if not string.find(from, ',' .. phase .. ',', 1, true) then return 'not-allowed' end
if target ~= 'ACCEPTED' then
  finish(id, target, now, note, retention)
  return 'done'
end
local history = moved(prefix, id, { phase = phase, owner = state[4], site = state[5], history = state[6] }, 'ACCEPTED', now)
redis.call('HINCRBY', prefix .. ':stats', 'accepted', 1)
share_accepted(prefix, id)
redis.call('HSET', key, 'phase', 'ACCEPTED', 'modified', now, 'history', history)
if ARGV[10] and ARGV[10] ~= '' then
  redis.call('HSET', key, 'bindby', ARGV[10], 'provision', ARGV[11])
  due(prefix, id, state[5], 'unbound', tonumber(ARGV[10]))
else
  due(prefix, id, state[5], 'activate', now)
end
redis.call('RPUSH', key .. ':messages', note)
redis.call('PERSIST', key)
redis.call('PERSIST', key .. ':messages')
local siblings = redis.call('HGET', prefix .. ':offerset:' .. state[3], 'sessions')
if siblings then
  for _, sibling in ipairs(cjson.decode(siblings)) do
    if sibling ~= id and redis.call('HGET', prefix .. ':session:' .. sibling, 'phase') == 'OFFERED' then
      finish(sibling, 'REJECTED', now, siblingNote, retention)
    end
  end
end
return 'done'
`);

/**
 * Offer expiry. Every hold made for an offer enters `<prefix>:offer-expiry` (a sorted set of hold
 * ids scored by the offer's expiry) in the step that makes it (calendar-lua.ts FIND_AND_HOLD), so
 * no hold can exist without its expiry, whatever process dies next; release() takes it out again.
 * expire_offer(): an OFFERED session becomes EXPIRED and lets go of its capacity; a hold whose
 * session was never stored (the API gave up waiting, or died) is released, and its id closed for
 * an hour to holds that come later. Accepted and ended sessions are left alone.
 */
const EXPIRE_HELPER = `
local function expire_offer(id, now, note, retention)
  local phase = redis.call('HGET', prefix .. ':session:' .. id, 'phase')
  if phase == 'OFFERED' then
    finish(id, 'EXPIRED', now, note, retention)
    return 1
  elseif not phase then
    release(prefix, id)
    -- Closed to what comes later: a site held up past the deadline (a loaded host) that still
    -- tries to hold for this id finds it closed (FIND_AND_HOLD), instead of holding for ever, and
    -- an offer stored later (SAVE_OFFER_SET) is stored EXPIRED.
    redis.call('SET', prefix .. ':hold-closed:' .. id, '1', 'PX', 3600000)
  end
  return 0
end
`;

/** Expires these offers now (expire_offer()). ARGV: prefix, now, note, retention, id... Returns how many expired. */
export const EXPIRE = announcing(`${HELPERS}${EXPIRE_HELPER}`, `
local now, note, retention = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local expired = 0
for i = 5, #ARGV do
  expired = expired + expire_offer(ARGV[i], now, note, retention)
  redis.call('ZREM', prefix .. ':offer-expiry', ARGV[i])
end
return expired
`);

/**
 * The expiry sweep (queue/timer-worker.ts, every OFFER_EXPIRY_SWEEP_MS): takes up to `max` holds
 * whose offer expired at or before now out of `<prefix>:offer-expiry` and expires them, in one
 * step. ARGV: prefix, now, note, retention, max. Returns {taken, expired}: a full `taken` means
 * more may be due.
 */
export const EXPIRE_DUE = announcing(`${HELPERS}${EXPIRE_HELPER}`, `
local now, note, retention = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local index = prefix .. ':offer-expiry'
local due = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
if #due == 0 then return {0, 0} end
local expired = 0
for _, id in ipairs(due) do expired = expired + expire_offer(id, now, note, retention) end
redis.call('ZREM', index, unpack(due))
return {#due, expired}
`);

/** Releases holds by id. ARGV: prefix, id... */
export const RELEASE = `${HELPERS}
for i = 2, #ARGV do release(prefix, ARGV[i]) end
return 1
`;

/**
 * A service-driven phase change. ARGV: prefix, id, from, to, now, note, and the step that follows
 * and when it is due (PHASE_HELPERS due()). Returns 1 when it moved.
 */
export const ADVANCE = announcing(PHASE_HELPERS, `
local prefix, id, from, to, now, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = prefix .. ':session:' .. id
local session = about(prefix, id)
if session.phase ~= from then return 0 end
redis.call('HSET', key, 'phase', to, 'modified', now, 'history', moved(prefix, id, session, to, now))
due(prefix, id, session.site, ARGV[7], tonumber(ARGV[8]))
redis.call('RPUSH', key .. ':messages', note)
return 1
`);

/**
 * Records the next step of a session still in a phase (a repeated step: stage, poll), so that a
 * late step cannot overwrite what a phase change recorded after it. ARGV: prefix, id, phase, step,
 * at. Returns 1 when recorded.
 */
export const PLAN_NEXT = `${PHASE_HELPERS}
local prefix, id = ARGV[1], ARGV[2]
local state = redis.call('HMGET', prefix .. ':session:' .. id, 'phase', 'site')
if state[1] ~= ARGV[3] then return 0 end
due(prefix, id, state[2], ARGV[4], tonumber(ARGV[5]))
return 1
`;

/**
 * Forgets a session's next step once nothing follows: when it is still `step` (a prefix of it), or
 * whatever it is when `step` is ''. ARGV: prefix, id, site, step.
 */
export const SETTLE_DUE = `${PHASE_HELPERS}
local prefix, id, site, step = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = prefix .. ':session:' .. id
local next = redis.call('HGET', key, 'next')
if next and step ~= '' and string.sub(next, 1, #step) ~= step then return 0 end
redis.call('ZREM', prefix .. ':due:' .. site, id)
if next then redis.call('HDEL', key, 'next') end
return 1
`;

/**
 * Stores an offer set and its sessions in one command (one write instead of a MULTI of many), and
 * releases the holds of the offers it does not keep. ARGV: prefix, retention, offer set uuid, then
 * field/value pairs of the offer set up to the marker '--', then the hold ids to release up to a
 * second '--', then for each session: uuid, count of field/value pairs, the pairs. New sessions
 * enter the indexes (PHASE_HELPERS), with their first history entry.
 */
export const SAVE_OFFER_SET = announcing(HELPERS, `
local retention = ARGV[2]
local key = prefix .. ':offerset:' .. ARGV[3]
local i = 4
local fields = {}
while ARGV[i] ~= '--' do
  fields[#fields + 1] = ARGV[i]
  i = i + 1
end
redis.call('HSET', key, unpack(fields))
redis.call('PEXPIRE', key, retention)
-- The notify outbox's entry for "its offers expire soon", in the same step as the offer set (redis-notify-outbox.ts claimExpiring()).
local expiring = redis.call('HGET', key, 'expiring')
if expiring then redis.call('ZADD', prefix .. ':notify-expiring', 'NX', expiring, ARGV[3]) end
i = i + 1
-- Offers made but not kept (beyond the set's limit): their capacity goes back in the same step.
while ARGV[i] ~= '--' do
  release(prefix, ARGV[i])
  i = i + 1
end
i = i + 1
local everyone, owners, sites, added = {}, {}, {}, 0
while i <= #ARGV do
  local id = ARGV[i]
  local session = prefix .. ':session:' .. id
  local count = tonumber(ARGV[i + 1])
  local f, values = {}, {}
  for j = i + 2, i + 1 + 2 * count, 2 do
    f[ARGV[j]] = ARGV[j + 1]
    values[#values + 1] = ARGV[j]
    values[#values + 1] = ARGV[j + 1]
  end
  -- An offer whose expiry sweep has run already (this API was held up past its expires): it is stored EXPIRED, holding nothing.
  if f.phase == 'OFFERED' and redis.call('EXISTS', prefix .. ':hold-closed:' .. id) == 1 then
    f.phase = 'EXPIRED'
    for k = 1, #values, 2 do
      if values[k] == 'phase' then values[k + 1] = 'EXPIRED' end
    end
  end
  local before = redis.call('HGET', session, 'phase')
  local changed = f.phase and f.phase ~= before
  if changed then
    local history = moved(prefix, id, { phase = before, owner = f.owner, site = f.site, history = before and redis.call('HGET', session, 'history') }, f.phase, f.created or '0')
    values[#values + 1] = 'history'
    values[#values + 1] = history
  end
  redis.call('HSET', session, unpack(values))
  redis.call('PEXPIRE', session, retention)
  if changed and not before then
    redis.call('HINCRBY', prefix .. ':stats', 'offers', 1)
    added = added + 1
    local created = f.created or '0'
    local entry = string.rep('0', 15 - #created) .. created .. ':' .. id
    everyone[#everyone + 1] = 0
    everyone[#everyone + 1] = entry
    local owner = f.owner or ''
    owners[owner] = owners[owner] or {}
    table.insert(owners[owner], 0)
    table.insert(owners[owner], entry)
    if f.holdstart and f.holdend and not TERMINAL[f.phase] then
      local site = f.site or ''
      sites[site] = sites[site] or { span = 0, due = {} }
      -- The outbox (due()): an offer's next step is its expiry, in the same ZADD for the site's offers.
      table.insert(sites[site].due, f.expires or '0')
      table.insert(sites[site].due, id)
      table.insert(sites[site], f.holdstart)
      table.insert(sites[site], id)
      sites[site].span = math.max(sites[site].span, tonumber(f.holdend) - tonumber(f.holdstart))
    end
  end
  i = i + 2 + 2 * count
end
if added > 0 then
  local index = prefix .. ':sessions-by-time'
  redis.call('ZADD', index, unpack(everyone))
  trimmed(prefix, index, added + 1, 17, false)
  for owner, entries in pairs(owners) do
    index = prefix .. ':sessions-of:' .. owner
    redis.call('ZADD', index, unpack(entries))
    trimmed(prefix, index, added + 1, 17, false)
  end
  for site, entries in pairs(sites) do
    redis.call('ZADD', prefix .. ':due:' .. site, unpack(entries.due))
    entries.due = nil
    index = prefix .. ':reservations:' .. site
    redis.call('ZADD', index, unpack(entries))
    trimmed(prefix, index, added + 1, 1, true)
    local spans = prefix .. ':reservation-spans'
    if entries.span > tonumber(redis.call('HGET', spans, site) or '0') then redis.call('HSET', spans, site, entries.span) end
  end
end
return 1
`);

/**
 * A service-driven end of a session: from one of `from` (",A,B,") to a terminal phase, releasing
 * its capacity in the same step. ARGV: prefix, id, from, to, now, note, retention. Returns 1 when it moved.
 */
export const FINISH = announcing(HELPERS, `
local id, from, to, now, note, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local phase = redis.call('HGET', prefix .. ':session:' .. id, 'phase')
if not phase or not string.find(from, ',' .. phase .. ',', 1, true) then return 0 end
finish(id, to, now, note, retention)
return 1
`);

/**
 * Appends to a session's log and keeps only its last maxBytes, counting every byte ever written
 * (in `<log>:written`) so that a reader following the log can ask for "what came after byte N"
 * even once the head has been dropped. ARGV: log key, text, maxBytes, retention ms, skipped (bytes
 * the site left out before the text: what was kept is no longer next to it, and goes).
 */
export const APPEND_LOG = `
local key, written = ARGV[1], ARGV[1] .. ':written'
local skipped = tonumber(ARGV[5] or '0')
local length
if skipped > 0 then
  redis.call('SET', key, ARGV[2])
  length = #ARGV[2]
else
  length = redis.call('APPEND', key, ARGV[2])
end
redis.call('INCRBY', written, #ARGV[2] + skipped)
local limit = tonumber(ARGV[3])
if length > limit then redis.call('SET', key, redis.call('GETRANGE', key, length - limit, -1)) end
redis.call('PEXPIRE', key, ARGV[4])
redis.call('PEXPIRE', written, ARGV[4])
return length
`;

/**
 * A session's log after byte `from` (of all bytes ever written). ARGV: log key, from. Returns
 * {text, next, skipped}: skipped counts the bytes after `from` that were dropped from the head.
 */
export const READ_LOG = `
local key = ARGV[1]
local written = tonumber(redis.call('GET', key .. ':written') or '0')
local kept = redis.call('STRLEN', key)
local first = written - kept
local from = math.max(tonumber(ARGV[2]), 0)
local skipped = 0
if from < first then skipped = first - from; from = first end
if from >= written then return {'', written, skipped} end
return {redis.call('GETRANGE', key, from - first, -1), written, skipped}
`;

/**
 * Binds an executable to a session accepted to wait for one. ARGV: prefix, id, now, doc, note,
 * retention, expiredNote, slot (the bound document's schedule and size, JSON, or ''), and the
 * subscriptions (JSON, or '') with their sealed secret that come with the binding. A session
 * past its bindBy expires here, capacity released, as the timer would. Returns done, not-found,
 * not-provision, bound (a job was bound already), expired or ended.
 */
export const BIND = announcing(HELPERS, `
local id, now, doc, note, retention, expiredNote = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = prefix .. ':session:' .. id
local state = redis.call('HMGET', key, 'phase', 'bindby', 'bound', 'owner', 'site')
local phase, bindby = state[1], state[2]
if not phase then return 'not-found' end
if not bindby then return 'not-provision' end
if state[3] then return 'bound' end
if phase == 'EXPIRED' then return 'expired' end
if phase ~= 'ACCEPTED' then return 'ended' end
if now >= tonumber(bindby) then
  finish(id, 'EXPIRED', now, expiredNote, retention)
  return 'expired'
end
redis.call('RPUSH', key .. ':messages', note)
redis.call('HSET', key, 'doc', doc, 'bound', now, 'modified', now)
if ARGV[8] and ARGV[8] ~= '' then redis.call('HSET', key, 'slot', ARGV[8]) end
if ARGV[9] and ARGV[9] ~= '' then redis.call('HSET', key, 'notify', ARGV[9], 'notifykey', ARGV[10] or '') end
due(prefix, id, state[5], 'activate', now)
publish(prefix, id, state[4], state[5], phase, now)
return 'done'
`);

/**
 * The binding timer. ARGV: prefix, id, now, note, retention. A session still waiting for its
 * executable expires and releases its capacity; one bound or ended is left alone. Returns 1 when it expired.
 */
export const EXPIRE_UNBOUND = announcing(HELPERS, `
local id, now, note, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local state = redis.call('HMGET', prefix .. ':session:' .. id, 'phase', 'bindby', 'bound')
if state[1] ~= 'ACCEPTED' or not state[2] or state[3] then return 0 end
finish(id, 'EXPIRED', now, note, retention)
return 1
`);

/**
 * Keeps a sealed user token for a session that has not ended (an ended one has had its token
 * deleted already, and must not get one back). ARGV: prefix, id, sealed, expiresAt (ms). Returns 1 when kept.
 */
export const KEEP_TOKEN = `
local prefix, id, sealed, expiresAt = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = prefix .. ':session:' .. id
local phase = redis.call('HGET', key, 'phase')
if not phase or phase == 'REJECTED' or phase == 'EXPIRED' or phase == 'COMPLETED' or phase == 'FAILED' or phase == 'CANCELLED' then return 0 end
redis.call('SET', key .. ':token', sealed, 'PXAT', expiresAt)
return 1
`;

/** Staging's progress on a session still PREPARING (a late poll must not write to an ended or deleted one). ARGV: session key, progress JSON. */
export const SET_STAGING = `
local phase = redis.call('HGET', ARGV[1], 'phase')
if phase ~= 'PREPARING' then return 0 end
redis.call('HSET', ARGV[1], 'staging', ARGV[2])
return 1
`;

/**
 * The sealed token of a session's notebook server: kept the first time (SET NX), the same one
 * after (a start step done twice gives the server the token the owner sees), and never for a
 * session that has ended. ARGV: prefix, id, sealed, expiresAt (ms). Returns the sealed token kept,
 * or false.
 */
export const KEEP_NOTEBOOK_TOKEN = `
local prefix, id, sealed, expiresAt = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = prefix .. ':session:' .. id
local phase = redis.call('HGET', key, 'phase')
if not phase or phase == 'REJECTED' or phase == 'EXPIRED' or phase == 'COMPLETED' or phase == 'FAILED' or phase == 'CANCELLED' then return false end
redis.call('SET', key .. ':notebook', sealed, 'NX', 'PXAT', expiresAt)
return redis.call('GET', key .. ':notebook')
`;
