--[[
  txUnlink: an event left an organizer: remove it from the organizer's events SET and rebuild the organizer's
  visitors HLL and exact SET (uv.lua) from the events it keeps, since a HyperLogLog cannot forget. Builds key
  names (ARGV[2] .. event .. ':uv' / ':uv_exact'): like the rest of the mirror it assumes one Redis, not a
  cluster. The rebuilt keys keep the HLL's TTL.
  KEYS[1]  the organizer's events SET
  KEYS[2]  the organizer's visitors HLL
  KEYS[3]  the organizer's exact visitors SET
  ARGV[1]  the event id that left
  ARGV[2]  the key prefix of the tenant's events ("{prefix}{tenant}:analytics:event:")
  ARGV[3]  the exact limit (uniq.ts EXACT_LIMIT)
  Returns 0.
]]
local MARK = '\0'
local ttl = redis.call('PTTL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
local ok = true
for _, e in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h, s = ARGV[2] .. e .. ':uv', ARGV[2] .. e .. ':uv_exact'
  redis.call('PFMERGE', KEYS[2], KEYS[2], h)
  if ok then
    if redis.call('SISMEMBER', s, MARK) == 1 or (redis.call('EXISTS', s) == 0 and redis.call('PFCOUNT', h) > 0) then
      ok = false
    else
      redis.call('SUNIONSTORE', KEYS[3], KEYS[3], s)
      ok = redis.call('SCARD', KEYS[3]) <= tonumber(ARGV[3])
    end
  end
end
if not ok then
  redis.call('DEL', KEYS[3])
  redis.call('SADD', KEYS[3], MARK)
end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return 0
