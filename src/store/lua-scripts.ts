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
 * - records the change in the session's `history` field ("PHASE ms,PHASE ms,...");
 * - publishes a notice (uuid, owner, site, phase, time: nothing else) on
 *   `<prefix>:session-events`, which each API process fans out to its event streams.
 * indexed() puts a new session in the indexes that list it: `<prefix>:sessions-by-time` and
 * `<prefix>:sessions-of:<owner>` (sorted sets of "<created, 15 digits>:<uuid>" at score 0, read
 * newest first by lex range), and `<prefix>:reservations:<site>` (uuids scored by the start of their
 * hold; `<prefix>:reservation-spans` keeps each site's longest hold, which bounds an overlap query);
 * finish() takes an ended session off its site's reservations. Entries of sessions past their
 * retention are dropped when a reader meets them, and a few of the oldest on every insert.
 */
export const PHASE_HELPERS = `
local function notify(prefix, id, phase, now)
  local about = redis.call('HMGET', prefix .. ':session:' .. id, 'owner', 'site')
  redis.call('PUBLISH', prefix .. ':session-events',
    cjson.encode({ uuid = id, owner = about[1] or '', site = about[2] or '', phase = phase, at = tonumber(now) }))
end
local function moved(prefix, id, from, to, now)
  local stats = prefix .. ':stats'
  if from then redis.call('HINCRBY', stats, 'phase:' .. from, -1) end
  redis.call('HINCRBY', stats, 'phase:' .. to, 1)
  local key = prefix .. ':session:' .. id
  local history = redis.call('HGET', key, 'history')
  redis.call('HSET', key, 'history', (history and (history .. ',') or '') .. to .. ' ' .. now)
  notify(prefix, id, to, now)
end
local TERMINAL = { REJECTED = true, EXPIRED = true, COMPLETED = true, FAILED = true, CANCELLED = true }
-- Drops the oldest entries of an index while their session is gone (or, dropEnded, has ended).
local function trimOldest(prefix, index, uuidAt, dropEnded)
  for _, member in ipairs(redis.call('ZRANGE', index, 0, 1)) do
    local phase = redis.call('HGET', prefix .. ':session:' .. string.sub(member, uuidAt), 'phase')
    if phase and not (dropEnded and TERMINAL[phase]) then return end
    redis.call('ZREM', index, member)
  end
end
local function indexed(prefix, id)
  local f = redis.call('HMGET', prefix .. ':session:' .. id, 'created', 'owner', 'site', 'holdstart', 'holdend', 'phase')
  local created = f[1] or '0'
  local entry = string.rep('0', 15 - #created) .. created .. ':' .. id
  for _, index in ipairs({ prefix .. ':sessions-by-time', prefix .. ':sessions-of:' .. (f[2] or '') }) do
    redis.call('ZADD', index, 0, entry)
    trimOldest(prefix, index, 17, false)
  end
  if f[4] and f[5] and not TERMINAL[f[6]] then
    local reservations = prefix .. ':reservations:' .. (f[3] or '')
    redis.call('ZADD', reservations, f[4], id)
    trimOldest(prefix, reservations, 1, true)
    local spans, span = prefix .. ':reservation-spans', tonumber(f[5]) - tonumber(f[4])
    if span > tonumber(redis.call('HGET', spans, f[3] or '') or '0') then redis.call('HSET', spans, f[3] or '', span) end
  end
end
`;

/**
 * Shared helpers: release a hold (calendar-lua.ts), end a session in a terminal phase. Ending a
 * session also deletes the user's sealed token (kept for sites that act for the user): every
 * terminal phase change goes through finish(), so no token outlives its session.
 */
const HELPERS = `${CALENDAR_HELPERS}${PHASE_HELPERS}
local prefix = ARGV[1]
local function finish(id, phase, now, note, retention)
  local key = prefix .. ':session:' .. id
  moved(prefix, id, redis.call('HGET', key, 'phase'), phase, now)
  redis.call('HSET', key, 'phase', phase, 'modified', now)
  redis.call('ZREM', prefix .. ':reservations:' .. (redis.call('HGET', key, 'site') or ''), id)
  redis.call('RPUSH', key .. ':messages', note)
  release(prefix, id)
  redis.call('DEL', key .. ':token')
  redis.call('PEXPIRE', key, retention)
  redis.call('PEXPIRE', key .. ':messages', retention)
end
`;

/**
 * KEYS: none. ARGV: prefix, id, target, from (",A,B,"), now, note, retention, expiredNote, siblingNote,
 * and for an accept that waits for its executable: bindBy, the provision (JSON).
 * Returns the outcome: done, not-found, expired or not-allowed.
 */
export const TRANSITION = `${HELPERS}
local id, target, from, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local note, retention, expiredNote, siblingNote = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = prefix .. ':session:' .. id
local state = redis.call('HMGET', key, 'phase', 'expires', 'offerset')
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
moved(prefix, id, phase, 'ACCEPTED', now)
redis.call('HINCRBY', prefix .. ':stats', 'accepted', 1)
redis.call('HSET', key, 'phase', 'ACCEPTED', 'modified', now)
if ARGV[10] and ARGV[10] ~= '' then redis.call('HSET', key, 'bindby', ARGV[10], 'provision', ARGV[11]) end
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
`;

/**
 * Offer expiry (the timer). ARGV: prefix, now, note, retention, id... For each id: an OFFERED
 * session becomes EXPIRED and lets go of its capacity; a hold whose session was never stored (the
 * API gave up waiting) is released. Accepted sessions are left alone. Returns how many expired.
 */
export const EXPIRE = `${HELPERS}
local now, note, retention = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local expired = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local phase = redis.call('HGET', prefix .. ':session:' .. id, 'phase')
  if phase == 'OFFERED' then
    finish(id, 'EXPIRED', now, note, retention)
    expired = expired + 1
  elseif not phase then
    release(prefix, id)
  end
end
return expired
`;

/** Releases holds by id. ARGV: prefix, id... */
export const RELEASE = `${HELPERS}
for i = 2, #ARGV do release(prefix, ARGV[i]) end
return 1
`;

/** A service-driven phase change. ARGV: prefix, id, from, to, now, note. Returns 1 when it moved. */
export const ADVANCE = `${PHASE_HELPERS}
local prefix, id, from, to, now, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = prefix .. ':session:' .. id
if redis.call('HGET', key, 'phase') ~= from then return 0 end
moved(prefix, id, from, to, now)
redis.call('HSET', key, 'phase', to, 'modified', now)
redis.call('RPUSH', key .. ':messages', note)
return 1
`;

/**
 * Stores an offer set and its sessions in one command (one write instead of a MULTI of many).
 * ARGV: prefix, retention, offer set uuid, then field/value pairs of the offer set up to the
 * marker '--', then for each session: uuid, count of field/value pairs, the pairs.
 */
export const SAVE_OFFER_SET = `${PHASE_HELPERS}
local prefix, retention = ARGV[1], ARGV[2]
local key = prefix .. ':offerset:' .. ARGV[3]
local i = 4
local fields = {}
while ARGV[i] ~= '--' do
  fields[#fields + 1] = ARGV[i]
  i = i + 1
end
redis.call('HSET', key, unpack(fields))
redis.call('PEXPIRE', key, retention)
i = i + 1
while i <= #ARGV do
  local id = ARGV[i]
  local session = prefix .. ':session:' .. id
  local count = tonumber(ARGV[i + 1])
  local before = redis.call('HGET', session, 'phase')
  redis.call('HSET', session, unpack(ARGV, i + 2, i + 1 + 2 * count))
  redis.call('PEXPIRE', session, retention)
  local after = redis.call('HGET', session, 'phase')
  if after and after ~= before then
    moved(prefix, id, before, after, redis.call('HGET', session, 'created') or '0')
    if not before then
      redis.call('HINCRBY', prefix .. ':stats', 'offers', 1)
      indexed(prefix, id)
    end
  end
  i = i + 2 + 2 * count
end
return 1
`;

/**
 * A service-driven end of a session: from one of `from` (",A,B,") to a terminal phase, releasing
 * its capacity in the same step. ARGV: prefix, id, from, to, now, note, retention. Returns 1 when it moved.
 */
export const FINISH = `${HELPERS}
local id, from, to, now, note, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local phase = redis.call('HGET', prefix .. ':session:' .. id, 'phase')
if not phase or not string.find(from, ',' .. phase .. ',', 1, true) then return 0 end
finish(id, to, now, note, retention)
return 1
`;

/**
 * Appends to a session's log and keeps only its last maxBytes, counting every byte ever written
 * (in `<log>:written`) so that a reader following the log can ask for "what came after byte N"
 * even once the head has been dropped. ARGV: log key, text, maxBytes, retention ms.
 */
export const APPEND_LOG = `
local key, written = ARGV[1], ARGV[1] .. ':written'
local length = redis.call('APPEND', key, ARGV[2])
redis.call('INCRBY', written, #ARGV[2])
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
 * retention, expiredNote, slot (the bound document's schedule and size, JSON, or ''). A session
 * past its bindBy expires here, capacity released, as the timer would. Returns done, not-found,
 * not-provision, bound (a job was bound already), expired or ended.
 */
export const BIND = `${HELPERS}
local id, now, doc, note, retention, expiredNote = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = prefix .. ':session:' .. id
local state = redis.call('HMGET', key, 'phase', 'bindby', 'bound')
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
notify(prefix, id, phase, now)
return 'done'
`;

/**
 * The binding timer. ARGV: prefix, id, now, note, retention. A session still waiting for its
 * executable expires and releases its capacity; one bound or ended is left alone. Returns 1 when it expired.
 */
export const EXPIRE_UNBOUND = `${HELPERS}
local id, now, note, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local state = redis.call('HMGET', prefix .. ':session:' .. id, 'phase', 'bindby', 'bound')
if state[1] ~= 'ACCEPTED' or not state[2] or state[3] then return 0 end
finish(id, 'EXPIRED', now, note, retention)
return 1
`;

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
