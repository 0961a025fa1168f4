--[[
  txSnap: a gate snapshot replaces the held one only when newer; scans it covers that left the rate window go.
  KEYS[1]  the event's gates HASH (gate → newest snapshot, JSON with `at`)
  KEYS[2]  the event's scans ZSET (member "gate\tkind\tid", score = occurred at)
  ARGV[1]  the gate
  ARGV[2]  the snapshot's time (ms)
  ARGV[3]  the snapshot (JSON)
  ARGV[4]  now (ms)
  ARGV[5]  '1' when the snapshot covers the gate's scans (they are then dropped up to the rate window)
  Returns 1 when stored, 0 when an equal or newer snapshot is held.
]]
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if cur then
  local held = cjson.decode(cur)
  if held.at >= at then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[5] == '1' then
  local horizon = math.min(at, tonumber(ARGV[4]) - 60000)
  local prefix = ARGV[1] .. '\t'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', horizon)) do
    if string.sub(m, 1, #prefix) == prefix then redis.call('ZREM', KEYS[2], m) end
  end
end
return 1
