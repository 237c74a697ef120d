-- Shared by the benchmark scripts: arguments, id files, a monotonic clock, and the
-- one-line JSON report that bench/server.py reads.
--
-- Arguments come after wrk's `--` as key=value pairs, e.g.
--   wrk ... -s scim.lua http://127.0.0.1:8000 -- op=get base=/scim/v2 token=... ids=/tmp/ids.txt

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local common = {}

function common.now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + math.floor(tonumber(timespec.tv_nsec) / 1000)
end

function common.parse_args(args)
  local options = {}
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    if key == nil then
      error("expected key=value, got " .. arg)
    end
    options[key] = value
  end
  return options
end

-- One id (or name) per line.
function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  file:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

function common.set_headers(token)
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/scim+json"
  wrk.headers["Accept"] = "application/scim+json"
end

-- Every thread object, so done() can read the globals each thread kept.
common.threads = {}

function common.setup(thread)
  common.threads[#common.threads + 1] = thread
  thread:set("tid", #common.threads - 1)
end

local function json_number(value)
  if value == nil then
    return "null"
  end
  return string.format("%.0f", value)
end

-- Print one line, `BENCH {...}`, with the figures of the run. When every thread stopped
-- itself after its quota (member adds), wrk still reports its full -d duration, so the
-- elapsed time is measured here, from each thread's first request to its last response.
function common.done(summary, latency)
  local first, last, all_stopped = nil, nil, #common.threads > 0
  for _, thread in ipairs(common.threads) do
    local started, finished = thread:get("started_us"), thread:get("finished_us")
    if started ~= nil and (first == nil or started < first) then
      first = started
    end
    if finished == nil then
      all_stopped = false
    elseif last == nil or finished > last then
      last = finished
    end
  end
  local elapsed = summary.duration
  if all_stopped and first ~= nil and last ~= nil and last > first then
    elapsed = last - first
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %s, "duration_us": %s, "elapsed_us": %s, "p50_us": %s, ' ..
    '"p90_us": %s, "p99_us": %s, "max_us": %s, "errors": {"connect": %s, "read": %s, ' ..
    '"write": %s, "status": %s, "timeout": %s}, "stopped_early": %s}\n',
    json_number(summary.requests), json_number(summary.duration), json_number(elapsed),
    json_number(latency:percentile(50)), json_number(latency:percentile(90)),
    json_number(latency:percentile(99)), json_number(latency.max),
    json_number(errors.connect), json_number(errors.read), json_number(errors.write),
    json_number(errors.status), json_number(errors.timeout), tostring(all_stopped)))
end

return common
