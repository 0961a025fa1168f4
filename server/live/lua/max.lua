--[[
  txMax: HSET a numeric field unless it already holds a larger number (re-seeding never lowers a counter).
  KEYS[1]  the HASH
  ARGV[1]  the field
  ARGV[2]  the value
  Returns 0.
]]
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
