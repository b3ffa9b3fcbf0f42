-- bench/portal_pace.lua: holds one wrk thread to a constant request rate (what wrk2's
-- -R does, for the plain wrk that Debian ships), and reports p50/p95/p99 as JSON.
--
--   wrk -t1 -c8 -d60s -s bench/portal_pace.lua URL -- RATE
--
-- Each request gets the next slot of a schedule RATE a second from the first; a connection
-- waits for its slot (wrk's delay()), so the rate holds while latency stays under
-- connections / RATE seconds. The latency wrk records is from send to answer.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local interval_ms = 10
local next_at = nil

function init(args)
  local rate = tonumber(args[1] or "100")
  interval_ms = 1000 / rate
end

function delay()
  local now = now_ms()
  if next_at == nil then
    next_at = now
  end
  next_at = next_at + interval_ms
  local wait = next_at - now
  if wait < 0 then
    return 0
  end
  return math.floor(wait)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
