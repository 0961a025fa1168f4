--[[
  txUvCount: unique visitors of one HyperLogLog and its exact SET (uv.lua): SCARD while the SET is exact,
  PFCOUNT once it collapsed to the marker "\0" or when it is absent (nothing yet, or an older version's HLL).
  KEYS[1]  the HLL
  KEYS[2]  its exact SET
  ARGV[1]  none (the script takes no arguments)
  Returns the count.
]]
if redis.call('SISMEMBER', KEYS[2], '\0') == 0 then
  local n = redis.call('SCARD', KEYS[2])
  if n > 0 then return n end
end
return redis.call('PFCOUNT', KEYS[1])
