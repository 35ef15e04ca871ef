-- renew.lua: extend the claim, the lease and the command's hold on the
-- resource when claim and lease are still the owner's; for a command that
-- joined another owner's lease, the claim and its hold while that owner
-- holds the lease (which that owner renews).
--
-- KEYS[1]  command record
-- KEYS[2]  the resource's lease and holds (holds.lua), only when a lease
--          key was given
-- ARGV[1]  owner
-- ARGV[2]  TTL in milliseconds
-- ARGV[3]  the hold's TTL in milliseconds (TTL + Hold)
-- ARGV[4]  the command id
-- ARGV[5]  the owner of the lease the command joined ('' for none)
--
-- Reply: 1 renewed, 0 lost (nothing changed).
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] ~= 'c' or rec[2] ~= ARGV[1] then
  return 0
end
local leased = #KEYS >= 2
local leaseOwner = ARGV[1]
if ARGV[5] ~= '' then
  leaseOwner = ARGV[5]
end
-- One clock reading: the claim and the lease lapse together (see begin.lua).
local nowMs = holdNow()
local cur
if leased then
  cur = redis.call('HMGET', KEYS[2], LEASE, ARGV[4])
  if liveLease(cur[1], nowMs) ~= leaseOwner then
    return 0
  end
end
local deadline = nowMs + tonumber(ARGV[2])
redis.call('PEXPIREAT', KEYS[1], deadline)
if leased then
  -- The lease (unless joined) and the command's hold in one write.
  local set, latest = {}, 0
  if ARGV[5] == '' then
    set[#set + 1], set[#set + 2] = LEASE, entryValue(ARGV[1], deadline)
    latest = deadline
  end
  if liveHold(cur[2], nowMs) == ARGV[1] then
    local holdDeadline = nowMs + tonumber(ARGV[3])
    set[#set + 1], set[#set + 2] = ARGV[4], entryValue(ARGV[1], holdDeadline)
    latest = holdDeadline
  end
  if #set > 0 then
    redis.call('HSET', KEYS[2], unpack(set))
    keepUntil(KEYS[2], latest, nowMs)
  end
end
return 1
