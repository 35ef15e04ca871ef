-- begin.lua: look up a command, claim it, take the resource lease and read
-- the order keys, atomically.
--
-- KEYS[1]  command record (hash: s = 'c' claim | 'd' done, h, o, r, f, q, t)
-- KEYS[2]  the resource's lease and holds (holds.lua)   } only when
-- KEYS[3]  resource order keys (hash: field -> key/seq) } a lease key
--                                                        } was given
-- ARGV[1]  payload hash
-- ARGV[2]  owner
-- ARGV[3]  TTL in milliseconds
-- ARGV[4]  '1' when the delivery is a replay, '0' otherwise
-- ARGV[5..] fields whose order keys to return
-- KEYS[#KEYS] the command's sighting (hash: h payload hash first seen, q
--           and t the earliest copy's origin: stream sequence and Unix
--           nanoseconds, '' when unknown; w '1' when a delivery may have
--           written without its answer), kept while the command is not
--           done; Release leaves it, Complete drops it
-- ARGV[#ARGV-4] this copy's origin stream sequence ('' when unknown)
-- ARGV[#ARGV-3] this copy's origin time in Unix nanoseconds ('' likewise)
-- ARGV[#ARGV-2] the sighting's TTL in milliseconds
-- ARGV[#ARGV-1] the command id
-- ARGV[#ARGV-1] the hold's TTL in milliseconds (TTL + hold)
-- ARGV[#ARGV]   the owner of the lease to join ('' to take the lease)
-- (these are taken off KEYS and ARGV first, so the ones above keep their
-- places)
--
-- Reply: {state, result|nil}, for 'lease_busy' {state, the hold's
-- remaining ms when the resource is held for another command whose lease
-- lapsed | nil}, or, for state 'claimed', {state, result|nil, origin
-- seq|nil, origin time|nil, resumed '1'|'0', nil, field1, key1, field2,
-- key2, ...}; resumed when the hold was an earlier delivery's of this
-- command, or the sighting says a delivery may have written; the
-- pairs only for fields that have a key (stored as "key/seq", or a bare
-- "key" written before order keys had a stream sequence). The result is
-- that of the done record for 'done' and 'conflict', and for 'claimed' when
-- a reopenable done record (f = '1') was reopened by a replay. The origin
-- of 'claimed' is the one a reopened record kept, otherwise the
-- sighting's.
local sighting = table.remove(KEYS)
local joinOwner = table.remove(ARGV)
local holdTTL = table.remove(ARGV)
local commandID = table.remove(ARGV)
local sightingTTL = table.remove(ARGV)
local originTime = table.remove(ARGV)
local originSeq = table.remove(ARGV)

-- below (a < b for canonical decimal uint64 strings) is decimal.lua's.

local rec = redis.call('HMGET', KEYS[1], 's', 'h', 'o', 'r', 'f', 'q', 't')
local state, hash, owner, result, reopenable = rec[1], rec[2], rec[3], rec[4], rec[5]

local reopened = false
if state == 'd' then
  if hash ~= ARGV[1] then
    return {'conflict', result}
  end
  if reopenable ~= '1' or ARGV[4] ~= '1' then
    return {'done', result}
  end
  -- A replay of a failed command: claimed like a new one, below.
  reopened = true
end

-- The sighting: another payload under a known id is a conflict, whoever
-- holds or held the claim; the earliest copy's origin is kept, on a busy
-- lease too. A reopened done record keeps its own origin instead.
local wrote = false
if not reopened then
  local seen = redis.call('HMGET', sighting, 'h', 'q', 't', 'w')
  wrote = seen[4] == '1'
  if seen[1] and seen[1] ~= ARGV[1] then
    return {'conflict', false}
  end
  local earlier = seen[2] and seen[2] ~= '' and (originSeq == '' or below(seen[2], originSeq))
  if earlier then
    originSeq, originTime = seen[2], seen[3]
  end
  if not seen[1] or (not earlier and originSeq ~= (seen[2] or '')) then
    redis.call('HSET', sighting, 'h', ARGV[1], 'q', originSeq, 't', originTime)
  end
  redis.call('PEXPIRE', sighting, sightingTTL)
end

-- An expired claim is gone (PEXPIRE), so any claim seen here is live.
if state == 'c' and owner ~= ARGV[2] then
  if hash == ARGV[1] then
    return {'in_progress', false}
  end
  return {'conflict', false}
end

-- The resource's holds outlive the lease: held for other commands only,
-- the resource is busy even with no live lease (unless this owner holds
-- the lease: the others joined it); held for this command too, by another
-- owner (an earlier delivery that did not finish), it is taken over,
-- resumed, and the others' holds stay. A joining Begin needs the lease
-- live and the joined owner's.
local leased = #KEYS >= 2
local resumed = '0'
local nowMs = holdNow()
-- The lease and every hold in one read: the latest live deadline (to keep
-- the key alive without asking its TTL) and the other commands' lapsed
-- holds (dropped when the claim is written; this command's own is
-- replaced) come with it.
local latest, lapsed = 0, {}
if leased then
  local holder, heldBy, others = nil, nil, 0
  local entries = redis.call('HGETALL', KEYS[2])
  for i = 1, #entries, 2 do
    local field, v = entries[i], entries[i + 1]
    local _, deadline = holdEntry(v)
    if field == LEASE then
      holder = liveLease(v, nowMs)
    else
      local owner = liveHold(v, nowMs)
      if field == commandID then
        heldBy = owner -- a lapsed one is replaced below
      elseif not owner then
        lapsed[#lapsed + 1] = field
      elseif deadline > others then
        others = deadline
      end
    end
    if deadline >= nowMs and deadline > latest then
      latest = deadline
    end
  end
  if joinOwner ~= '' then
    if holder ~= joinOwner then
      return {'lease_busy', false}
    end
  elseif holder and holder ~= ARGV[2] then
    return {'lease_busy', false}
  end
  if not heldBy and not holder and joinOwner == '' and others > 0 then
    return {'lease_busy', string.format('%.0f', others - nowMs)}
  end
  if heldBy and heldBy ~= ARGV[2] then
    resumed = '1'
  end
end

-- A delivery of it may have written without its answer (may_have_written.lua).
if wrote then
  resumed = '1'
end

if reopened then
  -- The claim replaces the done record, result and flag included.
  redis.call('DEL', KEYS[1])
end
-- One clock reading for the claim, the lease and the hold, so that the
-- claim and the lease lapse at the same millisecond (set one after the
-- other with relative TTLs, the lease could outlive the claim by one, and
-- a redelivery would find the lease busy with no claim). Each deadline is
-- set with PEXPIREAT, never SET PXAT: when the script reaches it in the
-- deadline's own millisecond (a TTL of 1 ms), PEXPIREAT deletes the key
-- at once while SET PXAT keeps it through that millisecond, and the lease
-- would outlive the claim.
local deadline = nowMs + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 's', 'c', 'h', ARGV[1], 'o', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], deadline)

local reply = {'claimed', false, originSeq, originTime, resumed, false}
if reopened then
  reply[2] = result
  reply[3] = rec[6] or false
  reply[4] = rec[7] or false
end
if leased then
  -- The lease (unless joined) and the command's hold in one write; the key
  -- lives until the hold's deadline, the latest of its live entries.
  local holdDeadline = nowMs + tonumber(holdTTL)
  local hold = entryValue(ARGV[2], holdDeadline)
  if #lapsed > 0 then
    redis.call('HDEL', KEYS[2], unpack(lapsed))
  end
  if joinOwner == '' then
    redis.call('HSET', KEYS[2], LEASE, entryValue(ARGV[2], deadline), commandID, hold)
  else
    redis.call('HSET', KEYS[2], commandID, hold)
  end
  if holdDeadline > latest then
    redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', holdDeadline))
  end
  if #ARGV >= 5 then
    local fields = {}
    for i = 5, #ARGV do
      fields[#fields + 1] = ARGV[i]
    end
    local vals = redis.call('HMGET', KEYS[3], unpack(fields))
    for i, f in ipairs(fields) do
      if vals[i] then
        reply[#reply + 1] = f
        reply[#reply + 1] = vals[i]
      end
    end
  end
end
return reply
