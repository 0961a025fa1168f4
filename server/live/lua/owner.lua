--[[
  txOwner: records the event's owner (owners.ts) unless it holds one of a higher source: catalog > secret >
  public (nodes may flush in any order; a secret owner never moves, a catalog owner only for another catalog one).
  KEYS[1]  the event's live HASH
  ARGV[1]  organizer_id
  ARGV[2]  owner_source ('catalog', 'secret' or 'public')
  Returns 1 when written, 0 when refused.
]]
local cur = redis.call('HGET', KEYS[1], 'owner_source')
if cur == 'catalog' and ARGV[2] ~= 'catalog' then return 0 end
if cur == 'secret' and ARGV[2] == 'public' then return 0 end
redis.call('HSET', KEYS[1], 'organizer_id', ARGV[1], 'owner_source', ARGV[2])
return 1
