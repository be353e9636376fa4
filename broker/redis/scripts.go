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

-- inc returns the decimal string s plus one, or nil past 2^64-1: no
-- arithmetic on Lua numbers (doubles), which lose precision past 2^53.
local function inc(s)
  local r
  local i = #s
  while i >= 1 and string.byte(s, i) == 57 do i = i - 1 end
  if i == 0 then
    r = '1' .. string.rep('0', #s)
  else
    r = string.sub(s, 1, i - 1) .. string.char(string.byte(s, i) + 1) .. string.rep('0', #s - i)
  end
  if num(r, '18446744073709551615') > 0 then return nil end
  return r
end

-- nextid returns the id after last at time ms (a decimal string): ms-0
-- when the clock moved past last, else last's sequence plus one, carried
-- into the millisecond at its maximum; nil past the greatest id.
local function nextid(last, ms)
  local lms, lseq = split(last)
  if num(ms, lms) > 0 then return ms .. '-0' end
  local s = inc(lseq)
  if s then return lms .. '-' .. s end
  local m = inc(lms)
  if m then return m .. '-0' end
  return nil
end

-- settle returns the greatest id given (key kl), raised to floor, the
-- greatest id the calling instance has seen: when Redis holds less, it
-- lost acknowledged events (a failover to a replica that lagged, a restore
-- from an older snapshot, a restart without persistence). The greatest id
-- lost is kept in key kx, so that a client behind it is told, and ids go
-- on above it, so none is given twice. The generation (key kg) names the
-- history Redis holds: nonce, a value unique to the calling script, becomes
-- it at every loss found and whenever there is none (a new Redis, or one
-- restarted empty), so that a script sent before (an append that go-redis
-- sends again) can tell.
local function settle(kl, kx, kg, floor, nonce)
  local last = redis.call('GET', kl) or '0-0'
  if floor ~= '' and cmp(floor, last) > 0 then
    local lost = redis.call('GET', kx)
    if not lost or cmp(floor, lost) > 0 then redis.call('SET', kx, floor) end
    redis.call('SET', kl, floor)
    redis.call('SET', kg, nonce)
    last = floor
  elseif redis.call('EXISTS', kg) == 0 then
    redis.call('SET', kg, nonce)
  end
  return last
end

-- runid returns the id of this Redis process: it changes at every restart,
-- and differs between a primary and the replica promoted in its place.
local function runid()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
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
// (or the given one, if greater), then trims the stream. It is idempotent
// per token: the broker sends a script again after a read timeout, and Redis
// may run both copies (the first one was only delayed); the second finds the
// token and returns the first one's id.
//
// The broker sends a copy again itself (go-redis does not: see noRetry), as
// a retry ("1"), carrying the generation and the Redis process (run id) its
// instance knew before the first copy. A retry that does not find its token
// where either changed since is refused ("ssekit: generation <generation>
// <run id>"): the first copy may have been appended and delivered, then lost
// with its token (a restart, a restore, a failover), so appending it now
// could deliver it twice. A first copy is never refused.
//
// KEYS: last id, epoch (first id ever), dropped hash, topic stream, lost,
// generation, token (absent without deduplication).
// ARGV: given id or "", maxlen, max age in ms (0: none), topic, body, close
// flag ("1" or "0"), floor (the greatest id the instance saw, or ""), token
// lifetime in ms, the generation the instance knows, a nonce (see settle),
// retry ("1" or "0"), the run id the instance knows.
var appendScript = goredis.NewScript(appendLua)

// appendLua is appendScript's source, sent with EVAL when Redis lacks it.
const appendLua = luaLib + `
if KEYS[7] then
  local done = redis.call('GET', KEYS[7])
  if done then return done end
end
local last = settle(KEYS[1], KEYS[5], KEYS[6], ARGV[7], ARGV[10])
if ARGV[11] == '1' then
  local gen = redis.call('GET', KEYS[6]) or ''
  local rid = runid()
  if gen ~= ARGV[9] or rid ~= ARGV[12] then
    return redis.error_reply('ssekit: generation ' .. gen .. ' ' .. rid)
  end
end
local now = nowms()
local id
if ARGV[1] ~= '' then
  if cmp(ARGV[1], last) <= 0 then
    return redis.error_reply('ssekit: id order: ' .. ARGV[1] .. ' is not after ' .. last)
  end
  id = ARGV[1]
else
  id = nextid(last, string.format('%.0f', now))
  if not id then
    return redis.error_reply('ssekit: id space: no id after ' .. last)
  end
end
redis.call('XADD', KEYS[4], id, 'b', ARGV[5], 'c', ARGV[6])
redis.call('SET', KEYS[1], id)
redis.call('SET', KEYS[2], id, 'NX')
if KEYS[7] then redis.call('SET', KEYS[7], id, 'PX', ARGV[8]) end
local maxage = tonumber(ARGV[3])
local minms = 0
if maxage > 0 then minms = now - maxage end
trim(KEYS[4], KEYS[3], ARGV[4], tonumber(ARGV[2]), minms)
return id
`

// readScript returns, as of one moment, the epoch, the greatest id given,
// the greatest id lost, the generation and, per topic, the greatest id dropped and the
// entries after an id; it first trims the streams by age, so that idle
// topics age too.
//
// KEYS: epoch, dropped hash, last id, lost, generation, then one stream per
// topic.
// ARGV: after (exclusive), max age in ms (0: none), floor (or ""), a nonce
// (see settle), unused, then the topics (ARGV[i] names KEYS[i]).
var readScript = goredis.NewScript(luaLib + `
local maxage = tonumber(ARGV[2])
local minms = 0
if maxage > 0 then minms = nowms() - maxage end
local last = settle(KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[4])
local out = { redis.call('GET', KEYS[1]) or '', last, redis.call('GET', KEYS[4]) or '0-0', redis.call('GET', KEYS[5]) or '' }
for i = 6, #KEYS do
  if minms > 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    trim(KEYS[i], KEYS[2], ARGV[i], 0, minms)
  end
  out[#out + 1] = redis.call('HGET', KEYS[2], ARGV[i]) or '0-0'
  out[#out + 1] = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1], '+')
end
return out
`)

// lastScript returns the greatest id given, settled as above (the reader
// starts from it), the generation and the run id.
//
// KEYS: last id, lost, generation. ARGV: floor (or ""), a nonce (see settle).
var lastScript = goredis.NewScript(luaLib + `
local last = settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
return { last, redis.call('GET', KEYS[3]) or '', runid() }
`)
