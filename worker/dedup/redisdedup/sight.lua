-- sight.lua: record the sightings of commands a worker holds before it
-- begins them (see begin.lua's sighting), for many commands at once.
--
-- KEYS[3i-2] command record of sighting i
-- KEYS[3i-1] its sighting (hash: h, q, t)
-- KEYS[3i]   its resource's lease and holds (holds.lua), or the
--            sighting's key again when no lease key was given
-- ARGV[6i-5] payload hash
-- ARGV[6i-4] origin stream sequence ('' when unknown)
-- ARGV[6i-3] origin time in Unix nanoseconds ('' likewise)
-- ARGV[6i-2] the sighting's TTL in milliseconds
-- ARGV[6i-1] the command id
-- ARGV[6i]   the hold to keep in milliseconds ('0': none)
--
-- A done command is left alone (no sighting is made for it); a sighting
-- with another hash is left alone (Begin answers the conflict); one with
-- the same hash takes the earlier origin. A hold of the resource for this
-- command is kept for at least the given time from now, unless the
-- sighting is of another payload. Reply: 1.

-- below (a < b for canonical decimal uint64 strings) is decimal.lua's.

for i = 1, #KEYS / 3 do
  local rec, sighting, hold = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local hash, q, t, ttl = ARGV[6 * i - 5], ARGV[6 * i - 4], ARGV[6 * i - 3], ARGV[6 * i - 2]
  local id, keep = ARGV[6 * i - 1], tonumber(ARGV[6 * i])
  if redis.call('HGET', rec, 's') ~= 'd' then
    local seen = redis.call('HMGET', sighting, 'h', 'q')
    if not seen[1] then
      redis.call('HSET', sighting, 'h', hash, 'q', q, 't', t)
      redis.call('PEXPIRE', sighting, ttl)
    elseif seen[1] == hash and q ~= '' and (seen[2] == '' or below(q, seen[2])) then
      redis.call('HSET', sighting, 'q', q, 't', t)
      redis.call('PEXPIRE', sighting, ttl)
    end
    if keep > 0 and (not seen[1] or seen[1] == hash) then
      local v = redis.call('HGET', hold, id)
      if v then
        local nowMs = holdNow()
        local owner, deadline = liveHold(v, nowMs)
        if owner and deadline < nowMs + keep then
          setHold(hold, id, owner, nowMs + keep, nowMs)
        end
      end
    end
  end
end
return 1
