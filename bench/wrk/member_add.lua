-- PATCH add one member to a group, each request a user not yet in any target group.
--
-- Arguments (key=value after wrk's `--`):
--   base     the SCIM base path, e.g. /scim/v2
--   token    the bearer key
--   groups   a file of group ids, one a line
--   block    consecutive requests of a thread that go to the same group, then the next
--            group: with block = the thread's connections, every request in flight
--            targets one group, whatever the groups' size, so the sizes are compared
--            under the same contention on the group
--   offset   the group the first block goes to (the measured run starts past the
--            groups the warm-up grew)
--   pool     a file of user ids to add, one a line, split evenly between the threads
--   quota    adds per run (all threads); each thread stops after its share, so the
--            groups grow by a known amount. 0: never stop (the ceiling)
--   threads  wrk's -t, to split the pool and the quota

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

local base, groups, pool, first, last, quota, sent, received, block, offset, threads

setup = common.setup
done = common.done

function init(args)
  local options = common.parse_args(args)
  base = options.base
  common.set_headers(options.token)
  groups = common.read_lines(options.groups)
  local all = common.read_lines(options.pool)
  threads = tonumber(options.threads)
  block = tonumber(options.block)
  offset = tonumber(options.offset)
  local share = math.floor(#all / threads)
  first, last = tid * share + 1, (tid + 1) * share
  quota = math.floor(tonumber(options.quota) / threads)
  pool = all
  sent, received = 0, 0
end

function request()
  if sent == 0 then
    started_us = common.now_us()
  end
  -- The pool holds a connection's worth more than the quota, so the requests already
  -- in flight when the quota is reached add new members too; past its end (only the
  -- ceiling gets there) it starts over.
  local user = pool[first + sent % (last - first + 1)]
  local group = groups[(offset + math.floor(sent / block) * threads + tid) % #groups + 1]
  sent = sent + 1
  local body = '{"schemas":["' .. PATCH_OP .. '"],"Operations":[{"op":"add",' ..
    '"path":"members","value":[{"value":"' .. user .. '"}]}]}'
  return wrk.format("PATCH", base .. "/Groups/" .. group, nil, body)
end

function response(status)
  received = received + 1
  if quota > 0 and received == quota then
    finished_us = common.now_us()
    wrk.thread:stop()
  end
end
