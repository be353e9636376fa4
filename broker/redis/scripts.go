package redisbroker

import goredis "github.com/redis/go-redis/v9"

// luaLib holds the helpers both scripts share. Ids are compared as decimal
// strings (length first), so 64-bit parts never lose precision in Lua.
const luaLib = `
local function num(a, b)
  if #a ~= #b then
    if #a < #b then return -1 end
    return 1
  end
  if a == b then return 0 end
  if a < b then return -1 end
  return 1
end

local function split(id)
  return string.match(id, '^(%d+)-(%d+)$')
end

local function cmp(a, b)
  local ams, aseq = split(a)
  local bms, bseq = split(b)
  local c = num(ams, bms)
  if c ~= 0 then return c end
  return num(aseq, bseq)
end

local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- trim drops the entries of stream k beyond maxlen (0: no bound) and those
-- older than minms (0: no bound), and records the greatest id dropped in
-- field f of hash h: a client behind it has lost events.
local function trim(k, h, f, maxlen, minms)
  local dropped = nil
  if maxlen > 0 then
    local n = redis.call('XLEN', k) - maxlen
    if n > 0 then
      local r = redis.call('XRANGE', k, '-', '+', 'COUNT', n)
      dropped = r[#r][1]
      redis.call('XTRIM', k, 'MAXLEN', maxlen)
    end
  end
  if minms > 0 then
    local m = string.format('%.0f', minms) .. '-0'
    local r = redis.call('XREVRANGE', k, '(' .. m, '-', 'COUNT', 1)
    if #r > 0 then
      if dropped == nil or cmp(r[1][1], dropped) > 0 then dropped = r[1][1] end
      redis.call('XTRIM', k, 'MINID', m)
    end
  end
  if dropped then
    local old = redis.call('HGET', h, f)
    if not old or cmp(dropped, old) > 0 then redis.call('HSET', h, f, dropped) end
  end
end
`

// appendScript adds one event to a topic's stream with the next global id
// (or the given one, if greater), then trims the stream.
//
// KEYS: last id, epoch (first id ever), dropped hash, topic stream.
// ARGV: given id or "", maxlen, max age in ms (0: none), topic, body, close
// flag ("1" or "0").
var appendScript = goredis.NewScript(luaLib + `
local last = redis.call('GET', KEYS[1]) or '0-0'
local now = nowms()
local id
if ARGV[1] ~= '' then
  if cmp(ARGV[1], last) <= 0 then
    return redis.error_reply('ssekit: id order: ' .. ARGV[1] .. ' is not after ' .. last)
  end
  id = ARGV[1]
else
  local lms, lseq = split(last)
  local ms = string.format('%.0f', now)
  if num(ms, lms) > 0 then
    id = ms .. '-0'
  else
    id = lms .. '-' .. string.format('%.0f', tonumber(lseq) + 1)
  end
end
redis.call('XADD', KEYS[4], id, 'b', ARGV[5], 'c', ARGV[6])
redis.call('SET', KEYS[1], id)
redis.call('SET', KEYS[2], id, 'NX')
local maxage = tonumber(ARGV[3])
local minms = 0
if maxage > 0 then minms = now - maxage end
trim(KEYS[4], KEYS[3], ARGV[4], tonumber(ARGV[2]), minms)
return id
`)

// readScript returns, as of one moment, the epoch and, per topic, the
// greatest id dropped and the entries after an id; it first trims the
// streams by age, so that idle topics age too.
//
// KEYS: epoch, dropped hash, then one stream per topic.
// ARGV: after (exclusive), max age in ms (0: none), then the topics.
var readScript = goredis.NewScript(luaLib + `
local maxage = tonumber(ARGV[2])
local minms = 0
if maxage > 0 then minms = nowms() - maxage end
local out = { redis.call('GET', KEYS[1]) or '' }
for i = 3, #KEYS do
  if minms > 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    trim(KEYS[i], KEYS[2], ARGV[i], 0, minms)
  end
  out[#out + 1] = redis.call('HGET', KEYS[2], ARGV[i]) or '0-0'
  out[#out + 1] = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1], '+')
end
return out
`)
