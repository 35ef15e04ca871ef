-- release.lua: drop the owner's claim and lease, and its command's hold on
-- the resource unless asked to keep it; a no-op for anything not the
-- owner's (a done record is never touched, nor the command's sighting, nor
-- the holds of other commands).
--
-- KEYS[1]  command record
-- KEYS[2]  resource lease                     } only when a lease
-- KEYS[3]  the resource's holds (holds.lua)   } key was given
-- ARGV[1]  owner
-- ARGV[2]  the command id
-- ARGV[3]  '1': keep the hold for ARGV[4] ms (a write may have landed);
--          '0': drop it
-- ARGV[4]  the hold's TTL in milliseconds when kept
--
-- Reply: 1.
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] == 'c' and rec[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if #KEYS >= 2 then
  if redis.call('GET', KEYS[2]) == ARGV[1] then
    redis.call('DEL', KEYS[2])
  end
  local nowMs = holdNow()
  if holdOf(KEYS[3], ARGV[2], nowMs) == ARGV[1] then
    if ARGV[3] == '1' then
      setHold(KEYS[3], ARGV[2], ARGV[1], nowMs + tonumber(ARGV[4]), nowMs)
    else
      redis.call('HDEL', KEYS[3], ARGV[2])
    end
  end
end
return 1
