-- Licence renewals spread after the launches (bench/storm.py, --renewals spread): a paced stream
-- of nonce'd licence checks, run beside the launch replay (storm.lua) by a second wrk.
-- Usage: wrk -tN -cM -s storm_renewals.lua URL -- BODIES_FILE RATE N HOST
-- BODIES_FILE: one JSON body per line (POST /v1/licenses/check with Host: HOST). RATE: renewals
-- per second for the whole run, shared by the N threads (pass -t again as N); M connections.
-- Pacing: each thread keeps a schedule (thread k's slots at (k-1)/RATE + n*N/RATE seconds) and
-- delay() gives each of its connections the next slot, so the stream is open-loop while the
-- connections keep up; when the service is slower, connections behind the schedule send at once
-- and the achieved rate (printed) falls short of RATE, so the run shows it.
-- 200: renewed. 429/503: load shed, the client keeps its lease and renews later (counted apart).
-- Anything else is a failed renewal. Prints one RENEWALS line per run (summed over threads).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } renewals_timespec;
int clock_gettime(int clk_id, renewals_timespec *tp);
]]
local ts = ffi.new("renewals_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
  table.insert(threads, thread)
end

local requests = {}
local position = 0
local interval_us, next_at, offset_us

-- per-thread tallies, read by done()
ok, shed, failed = 0, 0, 0

function init(args)
  local rate, stride, host = tonumber(args[2]), tonumber(args[3]) or 1, args[4]
  local index = 0
  local headers = { Host = host, Accept = "application/json", ["Content-Type"] = "application/json" }
  for line in io.lines(args[1]) do
    index = index + 1
    if line ~= "" and (index - (thread_index or 1)) % stride == 0 then
      requests[#requests + 1] = wrk.format("POST", "/v1/licenses/check", headers, line)
    end
  end
  interval_us = 1000000 * stride / rate
  offset_us = interval_us * ((thread_index or 1) - 1) / stride -- threads interleave, not in step
end

function delay()
  local now = now_us()
  if next_at == nil then next_at = now + offset_us end
  local wait = next_at - now
  next_at = next_at + interval_us
  if wait <= 0 then return 0 end
  return math.floor(wait / 1000) -- milliseconds
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 429 or status == 503 then
    shed = shed + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests_)
  local totals = { ok = 0, shed = 0, failed = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RENEWALS requests=%d ok=%d shed=%d failed=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d\n",
    summary.requests, totals.ok, totals.shed, totals.failed, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
