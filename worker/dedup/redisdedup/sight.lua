-- sight.lua: record the sightings of commands a worker holds before it
-- begins them (see begin.lua's sighting), for many commands at once.
--
-- KEYS[2i-1] command record of sighting i
-- KEYS[2i]   its sighting (hash: h, q, t)
-- ARGV[4i-3] payload hash
-- ARGV[4i-2] origin stream sequence ('' when unknown)
-- ARGV[4i-1] origin time in Unix nanoseconds ('' likewise)
-- ARGV[4i]   the sighting's TTL in milliseconds
--
-- A done command is left alone (no sighting is made for it); a sighting
-- with another hash is left alone (Begin answers the conflict); one with
-- the same hash takes the earlier origin. Reply: 1.

-- below (a < b for canonical decimal uint64 strings) is decimal.lua's.

for i = 1, #KEYS / 2 do
  local rec, sighting = KEYS[2 * i - 1], KEYS[2 * i]
  local hash, q, t, ttl = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if redis.call('HGET', rec, 's') ~= 'd' then
    local seen = redis.call('HMGET', sighting, 'h', 'q')
    if not seen[1] then
      redis.call('HSET', sighting, 'h', hash, 'q', q, 't', t)
      redis.call('PEXPIRE', sighting, ttl)
    elseif seen[1] == hash and q ~= '' and (seen[2] == '' or below(q, seen[2])) then
      redis.call('HSET', sighting, 'q', q, 't', t)
      redis.call('PEXPIRE', sighting, ttl)
    end
  end
end
return 1
