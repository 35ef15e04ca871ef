-- holds.lua: prepended to the scripts that read or change a resource's
-- holds (store.go builds each from its sources). A resource is held for
-- the command whose delivery took its lease and for the commands that
-- joined that lease (BeginRequest.JoinOwner), each until its own
-- deadline: a hash, command id -> owner NUL deadline (Unix milliseconds,
-- decimal). An entry whose deadline passed counts as gone; the key itself
-- expires at the latest deadline it was given.

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

-- holdOf returns the owner and deadline of id's live hold, or nil.
local function holdOf(key, id, nowMs)
  local v = redis.call('HGET', key, id)
  if not v then
    return nil
  end
  local owner, deadline = holdEntry(v)
  if deadline <= nowMs then
    return nil
  end
  return owner, deadline
end

-- heldForOthers returns the latest deadline of the live holds of commands
-- other than id, 0 when there is none.
local function heldForOthers(key, id, nowMs)
  local all = redis.call('HGETALL', key)
  local latest = 0
  for i = 1, #all, 2 do
    if all[i] ~= id then
      local _, deadline = holdEntry(all[i + 1])
      if deadline > nowMs and deadline > latest then
        latest = deadline
      end
    end
  end
  return latest
end

-- setHold holds the resource for id's owner until deadline, and keeps the
-- key at least that long.
local function setHold(key, id, owner, deadline, nowMs)
  redis.call('HSET', key, id, owner .. '\0' .. string.format('%.0f', deadline))
  local pttl = redis.call('PTTL', key)
  if pttl < 0 or nowMs + pttl < deadline then
    redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
  end
end

-- endHold drops id's hold when owner's.
local function endHold(key, id, owner)
  local v = redis.call('HGET', key, id)
  if v and holdEntry(v) == owner then
    redis.call('HDEL', key, id)
  end
end
