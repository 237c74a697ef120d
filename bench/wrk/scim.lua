-- Create, get, filter and PATCH replace on /Users, each request on another user.
--
-- Arguments (key=value after wrk's `--`):
--   op      create | get | filter | patch
--   base    the SCIM base path, e.g. /scim/v2
--   token   the bearer key
--   ids     get, patch: a file of user ids, one a line
--   names   filter: a file of userNames, one a line
--   prefix  create: makes this run's userNames unique (warm-up and measurement differ)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local USER = "urn:ietf:params:scim:schemas:core:2.0:User"
local PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

local op, base, items, position, counter, prefix

setup = common.setup
done = common.done

function init(args)
  local options = common.parse_args(args)
  op, base, prefix = options.op, options.base, options.prefix or "bench"
  common.set_headers(options.token)
  counter = 0
  if op == "get" or op == "patch" then
    items = common.read_lines(options.ids)
  elseif op == "filter" then
    items = common.read_lines(options.names)
  elseif op ~= "create" then
    error("unknown op " .. tostring(op))
  end
  if items ~= nil then
    -- Each thread walks the whole list from its own random place: no hot row, and
    -- threads do not move in step over the same rows.
    math.randomseed(os.time() + 7919 * tid)
    position = math.random(#items)
  end
end

local function next_item()
  position = position % #items + 1
  return items[position]
end

-- Only what a URL query may not hold as is: the filter's spaces, quotes and '@'.
local function escape(text)
  return (text:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function request()
  counter = counter + 1
  if op == "get" then
    return wrk.format("GET", base .. "/Users/" .. next_item())
  elseif op == "filter" then
    local filter = 'userName eq "' .. next_item() .. '"'
    return wrk.format("GET", base .. "/Users?filter=" .. escape(filter))
  elseif op == "patch" then
    local body = '{"schemas":["' .. PATCH_OP .. '"],"Operations":[{"op":"replace",' ..
      '"path":"displayName","value":"Patched ' .. tid .. "-" .. counter .. '"}]}'
    return wrk.format("PATCH", base .. "/Users/" .. next_item(), nil, body)
  end
  local name = prefix .. "-" .. tid .. "-" .. counter
  local body = '{"schemas":["' .. USER .. '"],"userName":"' .. name .. '@example.com",' ..
    '"externalId":"' .. name .. '","active":true,"displayName":"Bench ' .. name .. '",' ..
    '"name":{"givenName":"Bench","familyName":"' .. name .. '"},' ..
    '"emails":[{"value":"' .. name .. '@example.com","type":"work","primary":true}]}'
  return wrk.format("POST", base .. "/Users", nil, body)
end
