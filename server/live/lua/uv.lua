--[[
  txUv: adds visitors to a unique-visitor HyperLogLog and to the exact SET beside it. The SET holds the visitor
  ids themselves while there are at most ARGV[1] of them (reads then count them with SCARD: exact); past that it
  collapses to the single member "\0" (never a visitor id: ids hold no control character) and reads use PFCOUNT
  from then on. A SET absent beside an HLL that already counts someone (written by a version without SETs, or
  lost) counts as collapsed; both absent is an exact zero. Called with numberOfKeys = #KEYS (an even number).
  KEYS[1]        the HLL
  KEYS[2]        its exact SET
  KEYS[3], [4]…  more HLL / SET pairs whose visitors join KEYS[1] / KEYS[2] (PFMERGE / SUNIONSTORE: a union,
                 so nodes adding the same visitors never count one twice)
  ARGV[1]        the exact limit (uniq.ts EXACT_LIMIT)
  ARGV[2..n]     visitor ids to add (none: only the pairs are merged)
  The SET takes the HLL's TTL. Returns 1 while the SET is exact, 0 once collapsed.
]]
local MARK = '\0'
local hll, set, limit = KEYS[1], KEYS[2], tonumber(ARGV[1])

local function exact(h, s)
  if redis.call('SISMEMBER', s, MARK) == 1 then return false end
  return redis.call('EXISTS', s) == 1 or redis.call('PFCOUNT', h) == 0
end

-- ARGV[2..n] in slices (unpack has a limit on how many values it returns).
local function each(cmd, key)
  for i = 2, #ARGV, 1000 do
    redis.call(cmd, key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end

local ok = exact(hll, set)
each('PFADD', hll)
for i = 3, #KEYS, 2 do
  if ok then ok = exact(KEYS[i], KEYS[i + 1]) end
  redis.call('PFMERGE', hll, hll, KEYS[i])
  if ok then redis.call('SUNIONSTORE', set, set, KEYS[i + 1]) end
end
if ok then
  each('SADD', set)
  ok = redis.call('SCARD', set) <= limit
end
if not ok and (redis.call('SCARD', set) ~= 1 or redis.call('SISMEMBER', set, MARK) == 0) then
  redis.call('DEL', set)
  redis.call('SADD', set, MARK)
end
local ttl = redis.call('PTTL', hll)
if ttl > 0 then redis.call('PEXPIRE', set, ttl) end
return ok and 1 or 0
