import { BLOCK, MAX_SEARCH_STEPS } from '../domain/capacity-calendar.js';

/**
 * How many children a calendar node has, level by level from the root: the tree of a block of
 * BLOCK buckets (2^14) has three levels of wide nodes instead of fourteen of binary ones. Lua in
 * Redis pays about half a microsecond each time it reads or writes a node, so a hold over a few
 * buckets, which touched some forty binary nodes per resource (a path and its siblings, twice),
 * now touches four or five, each a field read and written whole.
 */
export const FANOUTS = [16, 32, 32] as const;
if (FANOUTS.reduce((a, b) => a * b, 1) !== BLOCK) throw new Error('the calendar fan-outs must cover a block exactly');

/** The part of a calendar's key after the prefix: `<prefix>:<CALENDAR_KEY_PART>:<site>:<resource>:<block>`. */
export const CALENDAR_KEY_PART = 'calendar';
/** The key part of the binary-tree layout before it (a field per node), converted at start (migrate-calendars.ts). */
export const BINARY_CALENDAR_KEY_PART = 'cal';

const widths = FANOUTS.map((_, level) => FANOUTS.slice(level + 1).reduce((a, b) => a * b, 1));
const firstIds = FANOUTS.map((_, level) => FANOUTS.slice(0, level).reduce((sum, __, i) => sum + FANOUTS.slice(0, i).reduce((a, b) => a * b, 1), 0));

/**
 * The capacity calendar in Lua: the same answers as domain/capacity-calendar.ts (its tested twin,
 * a binary segment tree), from segment trees of wide nodes, one Redis hash per site, resource and
 * block of minutes (`<prefix>:calendar:<site>:<resource>:<block>`).
 *
 * A node covers a span split among its children (FANOUTS). Its field (the node's id: 0 for the
 * root, then each level's nodes in order) holds, packed as doubles, for each child: the amount
 * added to the child's whole span (its lazy add), then for each child the most in use over its
 * span, then the least (both with the child's own add, and relative to the adds above this
 * node). A node of the last level has buckets for children, and holds only the amount at each.
 * A node with every value zero is not kept, and an absent node reads as all zero. Searching for
 * the earliest fit and holding it happen in one script, so no two holds can take the same
 * capacity, and every operation visits a few nodes per level whatever the number of reservations.
 *
 * A hold is a hash `<prefix>:hold:<id>`: site, from, to (buckets) and one `r:<resource>` field
 * per amount; releasing it subtracts the amounts over the same buckets and deletes it.
 */
export const CALENDAR_HELPERS = `
local SIZE = ${BLOCK}
local MAX_STEPS = ${MAX_SEARCH_STEPS}
local max, min, call, spack, sunpack, floor = math.max, math.min, redis.call, struct.pack, struct.unpack, math.floor
-- Per level (1 is the root): children, the span of each child, the id of the level's first node.
local FAN = { ${FANOUTS.join(', ')} }
local WIDTH = { ${widths.join(', ')} }
local FIRST = { ${firstIds.join(', ')} }
local LAST = #FAN
local VALUES, FORMAT = {}, {}
for level = 1, LAST do
  VALUES[level] = level == LAST and FAN[level] or 3 * FAN[level]
  FORMAT[level] = string.rep('d', VALUES[level])
end
local function calendar_key(prefix, site, resource) return prefix .. ':${CALENDAR_KEY_PART}:' .. site .. ':' .. resource end
-- Nodes are read through a per-script cache (key -> id -> the node's values as one flat array:
-- adds, then maxima, then minima; or false for a node not kept): prefetch() reads the nodes an
-- operation will need in one HMGET; writes stay in the cache until flush() writes each calendar
-- in one HSET.
local cache, dirty, levels = {}, {}, {} -- levels: prefetch()'s scratch list
local function nodes_of(key)
  local nodes = cache[key]
  if not nodes then nodes = {}; cache[key] = nodes end
  return nodes
end
local function decode(v, level)
  if not v then return false end
  local r = { sunpack(FORMAT[level], v) }
  r[VALUES[level] + 1] = nil -- struct.unpack's next position
  return r
end
local function node(key, id, level)
  local nodes = nodes_of(key)
  local r = nodes[id]
  if r == nil then
    r = decode(call('HGET', key, id), level)
    nodes[id] = r
  end
  return r
end
-- The node to change: read if not yet, made (all zero) if absent, and marked to be written.
local function changing(key, id, level)
  local r = node(key, id, level)
  if not r then
    r = {}
    for i = 1, VALUES[level] do r[i] = 0 end
    cache[key][id] = r
  end
  local d = dirty[key]
  if not d then d = {}; dirty[key] = d end
  d[id] = level
  return r
end
local function flush()
  for key, ids in pairs(dirty) do
    local sets, dels = {}, {}
    local nodes = cache[key]
    for id, level in pairs(ids) do
      local r = nodes[id]
      local kept = false
      for i = 1, VALUES[level] do
        if r[i] ~= 0 then kept = true; break end
      end
      if kept then
        sets[#sets + 1] = id
        sets[#sets + 1] = spack(FORMAT[level], unpack(r))
      else
        nodes[id] = false
        dels[#dels + 1] = id
      end
    end
    if #sets > 0 then call('HSET', key, unpack(sets)) end
    if #dels > 0 then call('HDEL', key, unpack(dels)) end
  end
  dirty = {}
end
-- The id of the node at level covering bucket b of the block.
local function id_at(level, b) return FIRST[level] + floor(b / (WIDTH[level] * FAN[level])) end
-- Reads, in one HMGET, the nodes on the paths to buckets from and to that are not read yet.
local function prefetch(key, from, to)
  local nodes = nodes_of(key)
  local ids, n = {}, 0
  for level = 1, LAST do
    for pass = 1, 2 do
      local id = id_at(level, pass == 1 and from or to)
      if nodes[id] == nil then n = n + 1; ids[n] = id; nodes[id] = false; levels[n] = level end
    end
  end
  if n == 0 then return end
  local values = call('HMGET', key, unpack(ids))
  for i = 1, n do nodes[ids[i]] = decode(values[i], levels[i]) end
end
-- Extremes of a node's children (relative to the adds above the node): what its parent keeps for it.
local function extremes(r, level)
  local k = FAN[level]
  local xo, no = 0, 0
  if level < LAST then xo, no = k, 2 * k end
  local mx, mn = r[xo + 1], r[no + 1]
  for c = 2, k do
    local x, m = r[xo + c], r[no + c]
    if x > mx then mx = x end
    if m < mn then mn = m end
  end
  return mx, mn
end
-- Adds amount over [from, to] (buckets of the block) under the node at level, id, first bucket lo;
-- returns the node's extremes after it.
local function cal_add(key, level, id, lo, from, to, amount)
  local r = changing(key, id, level)
  local w, k = WIDTH[level], FAN[level]
  local c1 = floor((max(from, lo) - lo) / w) + 1
  local c2 = floor((min(to, lo + w * k - 1) - lo) / w) + 1
  if level == LAST then
    for c = c1, c2 do r[c] = r[c] + amount end
  else
    for c = c1, c2 do
      local clo = lo + (c - 1) * w
      if from <= clo and clo + w - 1 <= to then
        r[c], r[k + c], r[2 * k + c] = r[c] + amount, r[k + c] + amount, r[2 * k + c] + amount
      else
        local mx, mn = cal_add(key, level + 1, FIRST[level + 1] + floor(clo / w), clo, from, to, amount)
        r[k + c], r[2 * k + c] = r[c] + mx, r[c] + mn
      end
    end
  end
  return extremes(r, level)
end
-- The first bucket in [from, to] where more than threshold is in use (above: the adds above the node).
local function first_above(key, level, id, lo, from, to, threshold, above)
  local r = node(key, id, level)
  if not r then
    if above > threshold then return max(lo, from) end
    return nil
  end
  local w, k = WIDTH[level], FAN[level]
  local c1 = floor((max(from, lo) - lo) / w) + 1
  local c2 = floor((min(to, lo + w * k - 1) - lo) / w) + 1
  local xo = level == LAST and 0 or k
  for c = c1, c2 do
    if above + r[xo + c] > threshold then
      local clo = lo + (c - 1) * w
      if level == LAST then return clo end
      local found = first_above(key, level + 1, FIRST[level + 1] + floor(clo / w), clo, from, to, threshold, above + r[c])
      if found then return found end
    end
  end
  return nil
end
-- The first bucket from on (within the node) where at most threshold is in use.
local function first_at_or_below(key, level, id, lo, from, threshold, above)
  local r = node(key, id, level)
  if not r then
    if above <= threshold then return max(lo, from) end
    return nil
  end
  local w, k = WIDTH[level], FAN[level]
  local no = level == LAST and 0 or 2 * k
  for c = floor((max(from, lo) - lo) / w) + 1, k do
    if above + r[no + c] <= threshold then
      local clo = lo + (c - 1) * w
      if level == LAST then return clo end
      local found = first_at_or_below(key, level + 1, FIRST[level + 1] + floor(clo / w), clo, from, threshold, above + r[c])
      if found then return found end
    end
  end
  return nil
end
-- The most in use over [from, to] within the node.
local function range_max(key, level, id, lo, from, to, above)
  local r = node(key, id, level)
  if not r then return above end
  local w, k = WIDTH[level], FAN[level]
  local c1 = floor((max(from, lo) - lo) / w) + 1
  local c2 = floor((min(to, lo + w * k - 1) - lo) / w) + 1
  local most = nil
  for c = c1, c2 do
    local clo = lo + (c - 1) * w
    local value
    if level == LAST then
      value = above + r[c]
    elseif from <= clo and clo + w - 1 <= to then
      value = above + r[k + c]
    else
      value = range_max(key, level + 1, FIRST[level + 1] + floor(clo / w), clo, from, to, above + r[c])
    end
    if most == nil or value > most then most = value end
  end
  return most
end
local function cal_at(key, bucket)
  local sum, id = 0, 0
  for level = 1, LAST do
    local r = node(key, id, level)
    if not r then return sum end
    local c = floor(bucket / WIDTH[level]) % FAN[level] + 1
    sum = sum + r[c]
    if level < LAST then id = id_at(level + 1, bucket) end
  end
  return sum
end
-- A calendar (one resource of one site) is a tree per block of SIZE minutes, key <base>:<block>.
local function range_add(base, from, to, amount)
  for b = floor(from / SIZE), floor(to / SIZE) do
    local lo = b * SIZE
    local key = base .. ':' .. b
    local f, t = max(from, lo) - lo, min(to, lo + SIZE - 1) - lo
    prefetch(key, f, t)
    cal_add(key, 1, 0, 0, f, t, amount)
  end
end
local function range_first_above(base, from, to, threshold)
  for b = floor(from / SIZE), floor(to / SIZE) do
    local lo = b * SIZE
    local key = base .. ':' .. b
    local f, t = max(from, lo) - lo, min(to, lo + SIZE - 1) - lo
    prefetch(key, f, t)
    local found = first_above(key, 1, 0, 0, f, t, threshold, 0)
    if found then return found + lo end
  end
  return nil
end
-- Ends: a block nobody used is all zero, and thresholds are never negative.
local function range_first_at_or_below(base, from, threshold)
  if threshold < 0 then return nil end
  local b = floor(from / SIZE)
  while true do
    local lo = b * SIZE
    local found = first_at_or_below(base .. ':' .. b, 1, 0, 0, max(from, lo) - lo, threshold, 0)
    if found then return found + lo end
    b = b + 1
  end
end
-- The most in use in each of the steps (each of step buckets, from bucket from), into out[1..steps].
local function steps_max(base, from, step, steps, out)
  for s = 1, steps do
    local first, last = from + (s - 1) * step, from + s * step - 1
    for b = floor(first / SIZE), floor(last / SIZE) do
      local lo = b * SIZE
      local most = range_max(base .. ':' .. b, 1, 0, 0, max(first, lo) - lo, min(last, lo + SIZE - 1) - lo, 0)
      if out[s] == nil or most > out[s] then out[s] = most end
    end
  end
end
local function range_at(base, bucket)
  local b = floor(bucket / SIZE)
  return cal_at(base .. ':' .. b, bucket - b * SIZE)
end
-- The extremes of one block (its root's children), for the audit.
local function block_extremes(key)
  local r = node(key, 0, 1)
  if not r then return 0, 0 end
  return extremes(r, 1)
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
      range_add(calendar_key(prefix, hold['site'], resource), from, to, -tonumber(amount))
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
const FIND_AND_HOLD_STEP = `
-- One hold; its arguments (ARGV of FIND_AND_HOLD) in the table ARGV.
local function find_and_hold(ARGV)
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
    if amount > 0 then resources[#resources + 1] = { key = calendar_key(prefix, site, ARGV[i]), name = ARGV[i], amount = amount, threshold = capacity - amount } end
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
end
`;

export const FIND_AND_HOLD = `${CALENDAR_HELPERS}${FIND_AND_HOLD_STEP}
return find_and_hold(ARGV)
`;

/**
 * Several holds in one script, one after the other, as if each were a FIND_AND_HOLD of its own (each
 * written whole before the next is tried), sharing the nodes read: the holds a worker asks for at
 * once, on the same sites' calendars, read each node once. ARGV: for each hold, the number of its
 * arguments, then FIND_AND_HOLD's arguments. Returns the answers, in order; a hold that fails (a
 * calendar key of the wrong type, say) answers {'error', message} and the others go on, as they
 * would have as scripts of their own. Errors come from reading the calendars (the search reads
 * every node the hold then writes), before anything of the hold is written, so a failed hold
 * leaves nothing; the node cache is dropped all the same, so that nothing half-read or unwritten
 * of it reaches the next hold's flush().
 */
export const FIND_AND_HOLD_MANY = `${CALENDAR_HELPERS}${FIND_AND_HOLD_STEP}
local answers, i = {}, 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local args = {}
  for j = 1, n do args[j] = ARGV[i + j] end
  local ok, answer = pcall(find_and_hold, args)
  if not ok then
    cache, dirty = {}, {}
    answer = {'error', type(answer) == 'table' and tostring(answer.err) or tostring(answer)}
  end
  answers[#answers + 1] = answer
  i = i + n + 1
end
return answers
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
    range_add(calendar_key(prefix, site, ARGV[i]), from, to, amount)
    redis.call('HSET', h, 'r:' .. ARGV[i], amount)
  end
end
flush()
return 1
`;

/** The amount of one resource in use at a bucket. ARGV: prefix, site, resource, bucket. */
export const USAGE_AT = `${CALENDAR_HELPERS}
return range_at(calendar_key(ARGV[1], ARGV[2], ARGV[3]), tonumber(ARGV[4]))
`;

/**
 * What a site's calendar holds now and over the coming steps, for the catalogue (`GET /sites`):
 * read only, one call per site. ARGV: prefix, site, now (bucket), step (buckets), steps, then the
 * resources. Returns, per resource, a list: the amount in use at `now`, then the largest amount in
 * use in each step [now + i * step, now + (i + 1) * step - 1] (the least that stays free all step
 * long is the capacity less it). Amounts are strings (memory may be fractional).
 */
export const CALENDAR_OUTLOOK = `${CALENDAR_HELPERS}
local now, step, steps = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV do
  local key = calendar_key(ARGV[1], ARGV[2], ARGV[i])
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
range_add(calendar_key(ARGV[1], ARGV[2], ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
flush()
return 1
`;

/** The largest and smallest amount in one block of a calendar (its root). ARGV: the block's key. */
export const CALENDAR_EXTREMES = `${CALENDAR_HELPERS}
local mx, mn = block_extremes(ARGV[1])
return {tostring(mx), tostring(mn)}
`;

/**
 * Converts one block's calendar from the binary layout before this one (a field per node, keyed
 * `<prefix>:cal:...`: the node's id in a binary heap, its add, max and min packed as three
 * doubles) to wide nodes: each node's add is added over the node's span, into whatever the new
 * key holds already (adding is what both layouts are made of, so nothing held is lost even if a
 * process wrote to the new key first), and the old key is deleted, in one step. ARGV: old key,
 * new key. Returns the number of binary nodes read.
 */
export const MIGRATE_BINARY_CALENDAR = `${CALENDAR_HELPERS}
local fields = call('HGETALL', ARGV[1])
for i = 1, #fields, 2 do
  local id = tonumber(fields[i])
  local a = sunpack('d', fields[i + 1])
  if a ~= 0 then
    local _, e = math.frexp(id)
    local width = SIZE / 2 ^ (e - 1)
    local lo = (id - 2 ^ (e - 1)) * width
    cal_add(ARGV[2], 1, 0, 0, lo, lo + width - 1, a)
  end
end
flush()
call('DEL', ARGV[1])
return #fields / 2
`;
