-- holds.lua: prepended to the scripts that read or change a resource's
-- lease and holds (store.go builds each from its sources). They are one
-- hash per resource, so that a command reads and writes both in one call
-- each: entry -> owner NUL deadline (Unix milliseconds, decimal).
--
--  - The lease is the entry under the empty field (a command id is never
--    empty): the owner whose delivery works on the resource, until its
--    deadline, which is the claim's (see begin.lua).
--  - A hold is the entry under a command's id: the resource is held for
--    the command whose delivery took the lease and for the commands that
--    joined that lease (BeginRequest.JoinOwner), each until its own
--    deadline (the lease's plus the hold).
--
-- An entry whose deadline passed counts as gone; the key itself expires at
-- the latest deadline it was given.

-- The field of the lease's entry.
local LEASE = ''

-- holdNow returns the server's clock in Unix milliseconds: one reading per
-- script, so that every deadline it sets or compares is of one instant.
local function holdNow()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

-- holdEntry splits an entry into its owner and deadline.
local function holdEntry(v)
  local i = string.find(v, '\0', 1, true)
  return string.sub(v, 1, i - 1), tonumber(string.sub(v, i + 1))
end

-- entryValue is an entry for owner until deadline.
local function entryValue(owner, deadline)
  return owner .. '\0' .. string.format('%.0f', deadline)
end

-- liveHold returns the owner and deadline of a hold entry (v, as read)
-- that is live at nowMs, or nil.
local function liveHold(v, nowMs)
  if not v then
    return nil
  end
  local owner, deadline = holdEntry(v)
  if deadline <= nowMs then
    return nil
  end
  return owner, deadline
end

-- liveLease returns the owner of a lease entry (v, as read) that is live
-- at nowMs, or nil. The lease lives through its deadline's millisecond, as
-- the claim key given the same deadline with PEXPIREAT does, so that the
-- two lapse together: it is live at nowMs when a hold would be at the
-- millisecond before.
local function liveLease(v, nowMs)
  return (liveHold(v, nowMs - 1))
end

-- keepUntil makes the key live at least until deadline (an entry just
-- written), never shortening it: the other entries may need longer.
local function keepUntil(key, deadline, nowMs)
  local pttl = redis.call('PTTL', key)
  if pttl < 0 or nowMs + pttl < deadline then
    redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
  end
end

-- setHold holds the resource for id's owner until deadline, and keeps the
-- key at least that long.
local function setHold(key, id, owner, deadline, nowMs)
  redis.call('HSET', key, id, entryValue(owner, deadline))
  keepUntil(key, deadline, nowMs)
end

-- dropOwn deletes, of the lease's entry and id's hold as read (lease,
-- hold), those that are owner's, in one call.
local function dropOwn(key, id, owner, lease, hold)
  local fields = {}
  if lease and holdEntry(lease) == owner then
    fields[#fields + 1] = LEASE
  end
  if hold and holdEntry(hold) == owner then
    fields[#fields + 1] = id
  end
  if #fields > 0 then
    redis.call('HDEL', key, unpack(fields))
  end
end
