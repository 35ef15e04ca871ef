-- release.lua: drop the owner's claim and lease, and its command's hold on
-- the resource unless asked to keep it; a no-op for anything not the
-- owner's (a done record is never touched, nor the command's sighting, nor
-- the holds of other commands).
--
-- KEYS[1]  command record
-- KEYS[2]  the resource's lease and holds (holds.lua), only when a lease
--          key was given
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
  local cur = redis.call('HMGET', KEYS[2], LEASE, ARGV[2])
  local lease = cur[1]
  if ARGV[3] == '1' and cur[2] then
    local nowMs = holdNow()
    if liveHold(cur[2], nowMs) == ARGV[1] then
      setHold(KEYS[2], ARGV[2], ARGV[1], nowMs + tonumber(ARGV[4]), nowMs)
    end
    dropOwn(KEYS[2], ARGV[2], ARGV[1], lease, nil)
  else
    dropOwn(KEYS[2], ARGV[2], ARGV[1], lease, cur[2])
  end
end
return 1
