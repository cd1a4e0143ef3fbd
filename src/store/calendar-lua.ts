import { BLOCK, MAX_SEARCH_STEPS } from '../domain/capacity-calendar.js';

/**
 * The capacity calendar in Lua: the same sparse segment trees as domain/capacity-calendar.ts (its
 * tested twin), one Redis hash per site, resource and block of minutes
 * (`<prefix>:cal:<site>:<resource>:<block>`), a field per touched node holding add, max and min. Searching for the earliest fit and holding it happen in
 * one script, so no two holds can take the same capacity, and every operation visits O(log N)
 * nodes whatever the number of reservations.
 *
 * A hold is a hash `<prefix>:hold:<id>`: site, from, to (buckets) and one `r:<resource>` field
 * per amount; releasing it subtracts the amounts over the same buckets and deletes it.
 */
export const CALENDAR_HELPERS = `
local SIZE = ${BLOCK}
local MAX_STEPS = ${MAX_SEARCH_STEPS}
-- Nodes are read through a per-script cache of decoded values: prefetch() reads the nodes an
-- operation will need in one HMGET, writes stay in the cache until flush() writes each calendar
-- in one HSET. A node is packed as three doubles (add, max, min) with Redis's struct library.
local cache, dirty = {}, {}
local max, min, call, spack, sunpack = math.max, math.min, redis.call, struct.pack, struct.unpack
-- The root's value is padded past Redis's hash-max-listpack-value (64 bytes by default), so
-- that a calendar hash is a real hash table from its first write: a small hash is otherwise a
-- listpack, where every field lookup is a linear scan (measured: 3 us per HGET at 120 nodes,
-- 1 us in a hash table).
local ROOT_PAD = string.rep(' ', 72)
local function decode(v)
  if not v then return false end
  local a, mx, mn = sunpack('ddd', v)
  return {a, mx, mn}
end
local function nodes_of(key)
  local nodes = cache[key]
  if not nodes then nodes = {}; cache[key] = nodes end
  return nodes
end
local function getnode(key, id)
  local nodes = nodes_of(key)
  local v = nodes[id]
  if v == nil then
    v = decode(call('HGET', key, id))
    nodes[id] = v
  end
  if not v then return nil end
  return v[1], v[2], v[3]
end
local function setnode(key, id, a, mx, mn)
  local nodes = nodes_of(key)
  if a == 0 and mx == 0 and mn == 0 then nodes[id] = false else nodes[id] = {a, mx, mn} end
  local d = dirty[key]
  if not d then d = {}; dirty[key] = d end
  d[id] = true
end
local function flush()
  for key, ids in pairs(dirty) do
    local sets, dels = {}, {}
    local nodes = cache[key]
    for id in pairs(ids) do
      local v = nodes[id]
      if v then
        sets[#sets + 1] = id
        sets[#sets + 1] = id == 1 and spack('ddd', v[1], v[2], v[3]) .. ROOT_PAD or spack('ddd', v[1], v[2], v[3])
      else
        dels[#dels + 1] = id
      end
    end
    if #sets > 0 then call('HSET', key, unpack(sets)) end
    if #dels > 0 then call('HDEL', key, unpack(dels)) end
  end
  dirty = {}
end
-- The nodes on the paths from the root to the leaves from and to, and their children. A range
-- already fetched in this script (the search, then the hold over the same buckets) is not walked again.
local fetched = {}
local function prefetch(key, from, to)
  local range = key .. '|' .. from .. '|' .. to
  if fetched[range] then return end
  fetched[range] = true
  local nodes = nodes_of(key)
  local ids, n = {}, 0
  for pass = 1, 2 do
    local leaf = pass == 1 and from or to
    local id, lo, hi = 1, 0, SIZE - 1
    while lo < hi do
      if nodes[id] == nil then n = n + 1; ids[n] = id; nodes[id] = false end
      local left, right = 2 * id, 2 * id + 1
      if nodes[left] == nil then n = n + 1; ids[n] = left; nodes[left] = false end
      if nodes[right] == nil then n = n + 1; ids[n] = right; nodes[right] = false end
      local mid = (lo + hi - 1) / 2
      if leaf <= mid then id, hi = left, mid else id, lo = right, mid + 1 end
    end
  end
  if n == 0 then return end
  local values = call('HMGET', key, unpack(ids))
  for i = 1, n do nodes[ids[i]] = decode(values[i]) end
end
-- Returns the node's max and min after the change, so that a parent reads no child twice.
local function cal_add(key, id, lo, hi, from, to, amount)
  local a, mx, mn = getnode(key, id)
  a, mx, mn = a or 0, mx or 0, mn or 0
  if to < lo or from > hi then return mx, mn end
  if from <= lo and hi <= to then
    setnode(key, id, a + amount, mx + amount, mn + amount)
    return mx + amount, mn + amount
  end
  local mid = (lo + hi - 1) / 2
  local lmx, lmn = cal_add(key, 2 * id, lo, mid, from, to, amount)
  local rmx, rmn = cal_add(key, 2 * id + 1, mid + 1, hi, from, to, amount)
  mx, mn = a + max(lmx, rmx), a + min(lmn, rmn)
  setnode(key, id, a, mx, mn)
  return mx, mn
end
local function first_above(key, id, lo, hi, from, to, threshold, above)
  if to < lo or from > hi then return nil end
  local a, mx = getnode(key, id)
  if not a then
    if above > threshold then return max(lo, from) end
    return nil
  end
  if above + mx <= threshold then return nil end
  if lo == hi then return lo end
  local mid = (lo + hi - 1) / 2
  local found = first_above(key, 2 * id, lo, mid, from, to, threshold, above + a)
  if found then return found end
  return first_above(key, 2 * id + 1, mid + 1, hi, from, to, threshold, above + a)
end
local function first_at_or_below(key, id, lo, hi, from, threshold, above)
  if hi < from then return nil end
  local a, _, mn = getnode(key, id)
  if not a then
    if above <= threshold then return max(lo, from) end
    return nil
  end
  if above + mn > threshold then return nil end
  if lo == hi then return lo end
  local mid = (lo + hi - 1) / 2
  local found = first_at_or_below(key, 2 * id, lo, mid, from, threshold, above + a)
  if found then return found end
  return first_at_or_below(key, 2 * id + 1, mid + 1, hi, from, threshold, above + a)
end
local function cal_at(key, bucket)
  local id, lo, hi, sum = 1, 0, SIZE - 1, 0
  while true do
    local a = getnode(key, id)
    if not a then return sum end
    sum = sum + a
    if lo == hi then return sum end
    local mid = (lo + hi - 1) / 2
    if bucket <= mid then id, hi = 2 * id, mid else id, lo = 2 * id + 1, mid + 1 end
  end
end
-- A calendar (one resource of one site) is a tree per block of SIZE minutes, key <base>:<block>.
-- Every tree covers an aligned power-of-two range of buckets, so a midpoint is (lo + hi - 1) / 2.
local function range_add(base, from, to, amount)
  for b = math.floor(from / SIZE), math.floor(to / SIZE) do
    local lo = b * SIZE
    local key = base .. ':' .. b
    local f, t = math.max(from, lo) - lo, math.min(to, lo + SIZE - 1) - lo
    prefetch(key, f, t)
    cal_add(key, 1, 0, SIZE - 1, f, t, amount)
  end
end
local function range_first_above(base, from, to, threshold)
  for b = math.floor(from / SIZE), math.floor(to / SIZE) do
    local lo = b * SIZE
    local key = base .. ':' .. b
    local f, t = math.max(from, lo) - lo, math.min(to, lo + SIZE - 1) - lo
    prefetch(key, f, t)
    local found = first_above(key, 1, 0, SIZE - 1, f, t, threshold, 0)
    if found then return found + lo end
  end
  return nil
end
-- Ends: a block nobody used is all zero, and thresholds are never negative.
local function range_first_at_or_below(base, from, threshold)
  if threshold < 0 then return nil end
  local b = math.floor(from / SIZE)
  while true do
    local lo = b * SIZE
    local found = first_at_or_below(base .. ':' .. b, 1, 0, SIZE - 1, math.max(from, lo) - lo, threshold, 0)
    if found then return found + lo end
    b = b + 1
  end
end
-- The most in use in each of the steps (each of step buckets, from bucket from), into out[1..steps]: one
-- walk of each block's tree, level by level (one HMGET per level for the nodes not read yet). A
-- node inside one step gives its max; an absent node, a span all at the sum above it; any other
-- node is split. So the work is about the steps times the tree's depth, whatever it holds.
local function steps_max(base, from, step, steps, out)
  local last = from + step * steps - 1
  local function put(s, value)
    local i = s + 1
    if i >= 1 and i <= steps and (out[i] == nil or value > out[i]) then out[i] = value end
  end
  for b = math.floor(from / SIZE), math.floor(last / SIZE) do
    local lo0 = b * SIZE
    local key = base .. ':' .. b
    local nodes = nodes_of(key)
    local f, t = math.max(from, lo0) - lo0, math.min(last, lo0 + SIZE - 1) - lo0
    local off = from - lo0
    local frontier = { { 1, 0, SIZE - 1, 0 } }
    while #frontier > 0 do
      local ids, n = {}, 0
      for _, node in ipairs(frontier) do
        if nodes[node[1]] == nil then n = n + 1; ids[n] = node[1]; nodes[node[1]] = false end
      end
      if n > 0 then
        local values = call('HMGET', key, unpack(ids))
        for i = 1, n do nodes[ids[i]] = decode(values[i]) end
      end
      local nextf = {}
      for _, node in ipairs(frontier) do
        local id, lo, hi, above = node[1], node[2], node[3], node[4]
        local v = nodes[id]
        local s1 = math.floor((math.max(lo, f) - off) / step)
        local s2 = math.floor((math.min(hi, t) - off) / step)
        if not v then
          for s = s1, s2 do put(s, above) end
        elseif lo == hi or (s1 == s2 and lo >= f and hi <= t) then
          put(s1, above + v[2])
        else
          local mid = (lo + hi - 1) / 2
          if f <= mid then nextf[#nextf + 1] = { 2 * id, lo, mid, above + v[1] } end
          if t > mid then nextf[#nextf + 1] = { 2 * id + 1, mid + 1, hi, above + v[1] } end
        end
      end
      frontier = nextf
    end
  end
end
local function range_at(base, bucket)
  local b = math.floor(bucket / SIZE)
  return cal_at(base .. ':' .. b, bucket - b * SIZE)
end
-- Fair share: <prefix>:share:<site>:<owner> sums the owner's holds on the site (cb: core-buckets,
-- gb: GPU-buckets) and counts their offer sets with offers still open (sets; os:<offer set>: the
-- open holds of each). A hold of a capped user carries owner, cb, gb and, while only offered, set.
local function share_unoffer(prefix, h, hold)
  if not hold['set'] then return end
  local key = prefix .. ':share:' .. hold['site'] .. ':' .. hold['owner']
  if redis.call('HINCRBY', key, 'os:' .. hold['set'], -1) <= 0 then
    redis.call('HDEL', key, 'os:' .. hold['set'])
    redis.call('HINCRBY', key, 'sets', -1)
  end
  redis.call('HDEL', h, 'set')
end
local function share_release(prefix, h, hold)
  if not hold['owner'] then return end
  share_unoffer(prefix, h, hold)
  local key = prefix .. ':share:' .. hold['site'] .. ':' .. hold['owner']
  local cb = redis.call('HINCRBYFLOAT', key, 'cb', -tonumber(hold['cb']))
  local gb = redis.call('HINCRBYFLOAT', key, 'gb', -tonumber(hold['gb']))
  if tonumber(cb) <= 0 and tonumber(gb) <= 0 and tonumber(redis.call('HGET', key, 'sets') or '0') <= 0 then redis.call('DEL', key) end
end
-- An accepted offer's hold stays (and counts in cb, gb) but no longer keeps its offer set open.
local function share_accepted(prefix, id)
  local h = prefix .. ':hold:' .. id
  local f = redis.call('HMGET', h, 'site', 'owner', 'set')
  if f[2] and f[3] then share_unoffer(prefix, h, { site = f[1], owner = f[2], set = f[3] }) end
end
local function release(prefix, id)
  local h = prefix .. ':hold:' .. id
  local fields = redis.call('HGETALL', h)
  if #fields == 0 then return end
  local hold = {}
  for i = 1, #fields, 2 do hold[fields[i]] = fields[i + 1] end
  share_release(prefix, h, hold)
  local from, to = tonumber(hold['from']), tonumber(hold['to'])
  for field, amount in pairs(hold) do
    local resource = string.match(field, '^r:(.+)$')
    if resource then
      range_add(prefix .. ':cal:' .. hold['site'] .. ':' .. resource, from, to, -tonumber(amount))
    end
  end
  flush()
  redis.call('DEL', h)
  -- Released: nothing is left for the offer expiry sweep (lua-scripts.ts EXPIRE_DUE).
  redis.call('ZREM', prefix .. ':offer-expiry', id)
end
`;

/**
 * Finds the earliest fit and holds it. ARGV: prefix, site, hold id, now, answerBy, earliest,
 * latest, length, owner ('' for none capped), offer set, the owner's caps in core-buckets,
 * GPU-buckets and open offer sets, the offer's expiry (ms; 0: a hold that does not expire), then
 * resource, amount, capacity for each resource. Returns {held, start}, {none}, {gave-up}, {late}
 * (past answerBy or the expiry, or the id's expiry has run) or {cap, cores|gpus|sets, used, limit}
 * (the owner's fair share is used up); a hold that already exists (a retried job) answers {held, start}.
 * A hold with an expiry enters `<prefix>:offer-expiry` in the same step (lua-scripts.ts EXPIRE_DUE):
 * released at its expiry whatever becomes of the request that asked for it.
 */
export const FIND_AND_HOLD = `${CALENDAR_HELPERS}
local prefix, site, id = ARGV[1], ARGV[2], ARGV[3]
local expires = tonumber(ARGV[14])
if tonumber(ARGV[4]) > tonumber(ARGV[5]) or (expires > 0 and tonumber(ARGV[4]) >= expires) then return {'late'} end
-- The expiry sweep has been for this id already (the worker was held up): too late to hold.
if redis.call('EXISTS', prefix .. ':hold-closed:' .. id) == 1 then return {'late'} end
local existing = redis.call('HGET', prefix .. ':hold:' .. id, 'from')
if existing then return {'held', tonumber(existing)} end
local earliest, latest, length = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local owner, set = ARGV[9], ARGV[10]
local resources, cb, gb = {}, 0, 0
for i = 15, #ARGV, 3 do
  local amount, capacity = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if amount > capacity then return {'none'} end
  if amount > 0 then resources[#resources + 1] = { key = prefix .. ':cal:' .. site .. ':' .. ARGV[i], name = ARGV[i], amount = amount, threshold = capacity - amount } end
  if ARGV[i] == 'cores' then cb = cb + amount * length elseif string.sub(ARGV[i], 1, 4) == 'gpu:' then gb = gb + amount * length end
end
local share = owner ~= '' and (prefix .. ':share:' .. site .. ':' .. owner) or nil
if share then
  local used = redis.call('HMGET', share, 'cb', 'gb', 'sets', 'os:' .. set)
  local ucb, ugb, usets = tonumber(used[1] or '0'), tonumber(used[2] or '0'), tonumber(used[3] or '0')
  if ucb + cb > tonumber(ARGV[11]) then return {'cap', 'cores', tostring(ucb), ARGV[11]} end
  if gb > 0 and ugb + gb > tonumber(ARGV[12]) then return {'cap', 'gpus', tostring(ugb), ARGV[12]} end
  if not used[4] and usets + 1 > tonumber(ARGV[13]) then return {'cap', 'sets', tostring(usets), ARGV[13]} end
end
local start = earliest
for step = 1, MAX_STEPS do
  if start > latest then return {'none'} end
  local blocked = nil
  for _, r in ipairs(resources) do
    local blocker = range_first_above(r.key, start, start + length - 1, r.threshold)
    if blocker then
      local nextFree = range_first_at_or_below(r.key, blocker + 1, r.threshold)
      if not nextFree then return {'none'} end
      if not blocked or nextFree > blocked then blocked = nextFree end
    end
  end
  if not blocked then
    -- The hold in one HSET, and each calendar in one (flush).
    local fields = {'site', site, 'from', start, 'to', start + length - 1}
    for _, r in ipairs(resources) do
      range_add(r.key, start, start + length - 1, r.amount)
      fields[#fields + 1] = 'r:' .. r.name
      fields[#fields + 1] = r.amount
    end
    flush()
    if share then
      fields[#fields + 1] = 'owner'; fields[#fields + 1] = owner
      fields[#fields + 1] = 'set'; fields[#fields + 1] = set
      fields[#fields + 1] = 'cb'; fields[#fields + 1] = cb
      fields[#fields + 1] = 'gb'; fields[#fields + 1] = gb
    end
    redis.call('HSET', prefix .. ':hold:' .. id, unpack(fields))
    if expires > 0 then redis.call('ZADD', prefix .. ':offer-expiry', expires, id) end
    if share then
      redis.call('HINCRBYFLOAT', share, 'cb', cb)
      redis.call('HINCRBYFLOAT', share, 'gb', gb)
      if redis.call('HINCRBY', share, 'os:' .. set, 1) == 1 then redis.call('HINCRBY', share, 'sets', 1) end
    end
    return {'held', start}
  end
  start = blocked
end
return {'gave-up'}
`;

/**
 * Holds amounts over exactly [from, to], whatever else is held there: a site's declared downtime
 * (domain/downtime-holds.ts), which takes the site's whole capacity. ARGV: prefix, site, hold id,
 * from, to, then resource and amount for each resource. The hold is marked `kind downtime` (the
 * audit knows it has no session). Holding the same again changes nothing; the same id over other
 * buckets or amounts is released and held anew. Returns 1 when it changed the calendar.
 */
export const HOLD_FIXED = `${CALENDAR_HELPERS}
local prefix, site, id = ARGV[1], ARGV[2], ARGV[3]
local from, to = tonumber(ARGV[4]), tonumber(ARGV[5])
local h = prefix .. ':hold:' .. id
local sig = table.concat(ARGV, ',', 2)
if redis.call('HGET', h, 'sig') == sig then return 0 end
release(prefix, id)
redis.call('HSET', h, 'site', site, 'from', from, 'to', to, 'sig', sig, 'kind', 'downtime')
for i = 6, #ARGV, 2 do
  local amount = tonumber(ARGV[i + 1])
  if amount > 0 then
    range_add(prefix .. ':cal:' .. site .. ':' .. ARGV[i], from, to, amount)
    redis.call('HSET', h, 'r:' .. ARGV[i], amount)
  end
end
flush()
return 1
`;

/** The amount of one resource in use at a bucket. ARGV: prefix, site, resource, bucket. */
export const USAGE_AT = `${CALENDAR_HELPERS}
return range_at(ARGV[1] .. ':cal:' .. ARGV[2] .. ':' .. ARGV[3], tonumber(ARGV[4]))
`;

/**
 * What a site's calendar holds now and over the coming steps, for the catalogue (`GET /sites`):
 * read only, one call per site. ARGV: prefix, site, now (bucket), step (buckets), steps, then the
 * resources. Returns, per resource, a list: the amount in use at `now`, then the largest amount in
 * use in each step [now + i * step, now + (i + 1) * step - 1] (the least that stays free all step
 * long is the capacity less it). Amounts are strings (memory may be fractional).
 */
export const CALENDAR_OUTLOOK = `${CALENDAR_HELPERS}
local base = ARGV[1] .. ':cal:' .. ARGV[2] .. ':'
local now, step, steps = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV do
  local key = base .. ARGV[i]
  local row = { tostring(range_at(key, now)) }
  if steps > 0 then
    local most = {}
    steps_max(key, now, step, steps, most)
    for s = 1, steps do row[#row + 1] = tostring(most[s] or 0) end
  end
  out[#out + 1] = row
end
return out
`;

/** Adds an amount over buckets, outside any hold (tests and audits). ARGV: prefix, site, resource, from, to, amount. */
export const CALENDAR_ADD = `${CALENDAR_HELPERS}
range_add(ARGV[1] .. ':cal:' .. ARGV[2] .. ':' .. ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
flush()
return 1
`;

/** The largest and smallest amount in one block of a calendar (its root). ARGV: the block's key. */
export const CALENDAR_EXTREMES = `${CALENDAR_HELPERS}
local _, mx, mn = getnode(ARGV[1], 1)
return {tostring(mx or 0), tostring(mn or 0)}
`;
