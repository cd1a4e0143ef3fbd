import { MAX_SEARCH_STEPS, TREE_BITS } from '../domain/capacity-calendar.js';

/**
 * The capacity calendar in Lua: the same sparse segment tree as domain/capacity-calendar.ts (its
 * tested twin), one Redis hash per site and resource (`<prefix>:cal:<site>:<resource>`), a field
 * per touched node holding "add max min". Searching for the earliest fit and holding it happen in
 * one script, so no two holds can take the same capacity, and every operation visits O(log N)
 * nodes whatever the number of reservations.
 *
 * A hold is a hash `<prefix>:hold:<id>`: site, from, to (buckets) and one `r:<resource>` field
 * per amount; releasing it subtracts the amounts over the same buckets and deletes it.
 */
export const CALENDAR_HELPERS = `
local SIZE = ${2 ** TREE_BITS}
local MAX_STEPS = ${MAX_SEARCH_STEPS}
local function getnode(key, id)
  local v = redis.call('HGET', key, id)
  if not v then return nil end
  local a, mx, mn = string.match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
  return tonumber(a), tonumber(mx), tonumber(mn)
end
local function setnode(key, id, a, mx, mn)
  if a == 0 and mx == 0 and mn == 0 then redis.call('HDEL', key, id)
  else redis.call('HSET', key, id, a .. ' ' .. mx .. ' ' .. mn) end
end
local function cal_add(key, id, lo, hi, from, to, amount)
  if to < lo or from > hi then return end
  local a, mx, mn = getnode(key, id)
  a, mx, mn = a or 0, mx or 0, mn or 0
  if from <= lo and hi <= to then
    setnode(key, id, a + amount, mx + amount, mn + amount)
    return
  end
  local mid = math.floor((lo + hi) / 2)
  cal_add(key, 2 * id, lo, mid, from, to, amount)
  cal_add(key, 2 * id + 1, mid + 1, hi, from, to, amount)
  local _, lmx, lmn = getnode(key, 2 * id)
  local _, rmx, rmn = getnode(key, 2 * id + 1)
  setnode(key, id, a, a + math.max(lmx or 0, rmx or 0), a + math.min(lmn or 0, rmn or 0))
end
local function first_above(key, id, lo, hi, from, to, threshold, above)
  if to < lo or from > hi then return nil end
  local a, mx = getnode(key, id)
  if not a then
    if above > threshold then return math.max(lo, from) end
    return nil
  end
  if above + mx <= threshold then return nil end
  if lo == hi then return lo end
  local mid = math.floor((lo + hi) / 2)
  local found = first_above(key, 2 * id, lo, mid, from, to, threshold, above + a)
  if found then return found end
  return first_above(key, 2 * id + 1, mid + 1, hi, from, to, threshold, above + a)
end
local function first_at_or_below(key, id, lo, hi, from, threshold, above)
  if hi < from then return nil end
  local a, _, mn = getnode(key, id)
  if not a then
    if above <= threshold then return math.max(lo, from) end
    return nil
  end
  if above + mn > threshold then return nil end
  if lo == hi then return lo end
  local mid = math.floor((lo + hi) / 2)
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
    local mid = math.floor((lo + hi) / 2)
    if bucket <= mid then id, hi = 2 * id, mid else id, lo = 2 * id + 1, mid + 1 end
  end
end
local function release(prefix, id)
  local h = prefix .. ':hold:' .. id
  local fields = redis.call('HGETALL', h)
  if #fields == 0 then return end
  local hold = {}
  for i = 1, #fields, 2 do hold[fields[i]] = fields[i + 1] end
  local from, to = tonumber(hold['from']), tonumber(hold['to'])
  for field, amount in pairs(hold) do
    local resource = string.match(field, '^r:(.+)$')
    if resource then
      cal_add(prefix .. ':cal:' .. hold['site'] .. ':' .. resource, 1, 0, SIZE - 1, from, to, -tonumber(amount))
    end
  end
  redis.call('DEL', h)
end
`;

/**
 * Finds the earliest fit and holds it. ARGV: prefix, site, hold id, now, answerBy, earliest,
 * latest, length, then resource, amount, capacity for each resource. Returns {held, start},
 * {none}, {gave-up} or {late}; a hold that already exists (a retried job) answers {held, start}.
 */
export const FIND_AND_HOLD = `${CALENDAR_HELPERS}
local prefix, site, id = ARGV[1], ARGV[2], ARGV[3]
if tonumber(ARGV[4]) > tonumber(ARGV[5]) then return {'late'} end
local existing = redis.call('HGET', prefix .. ':hold:' .. id, 'from')
if existing then return {'held', tonumber(existing)} end
local earliest, latest, length = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local resources = {}
for i = 9, #ARGV, 3 do
  local amount, capacity = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if amount > capacity then return {'none'} end
  if amount > 0 then resources[#resources + 1] = { key = prefix .. ':cal:' .. site .. ':' .. ARGV[i], name = ARGV[i], amount = amount, threshold = capacity - amount } end
end
local start = earliest
for step = 1, MAX_STEPS do
  if start > latest then return {'none'} end
  local blocked = nil
  for _, r in ipairs(resources) do
    local blocker = first_above(r.key, 1, 0, SIZE - 1, start, start + length - 1, r.threshold, 0)
    if blocker then
      local nextFree = first_at_or_below(r.key, 1, 0, SIZE - 1, blocker + 1, r.threshold, 0)
      if not nextFree then return {'none'} end
      if not blocked or nextFree > blocked then blocked = nextFree end
    end
  end
  if not blocked then
    local h = prefix .. ':hold:' .. id
    redis.call('HSET', h, 'site', site, 'from', start, 'to', start + length - 1)
    for _, r in ipairs(resources) do
      cal_add(r.key, 1, 0, SIZE - 1, start, start + length - 1, r.amount)
      redis.call('HSET', h, 'r:' .. r.name, r.amount)
    end
    return {'held', start}
  end
  start = blocked
end
return {'gave-up'}
`;

/** The amount of one resource in use at a bucket. ARGV: prefix, site, resource, bucket. */
export const USAGE_AT = `${CALENDAR_HELPERS}
return cal_at(ARGV[1] .. ':cal:' .. ARGV[2] .. ':' .. ARGV[3], tonumber(ARGV[4]))
`;

/** Adds an amount over buckets, outside any hold (tests and audits). ARGV: prefix, site, resource, from, to, amount. */
export const CALENDAR_ADD = `${CALENDAR_HELPERS}
cal_add(ARGV[1] .. ':cal:' .. ARGV[2] .. ':' .. ARGV[3], 1, 0, SIZE - 1, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
return 1
`;
