-- rotate.lua's POSTs at a steady rate: each thread sends at most RATE requests per second.
-- Usage: wrk -s paced.lua URL -- BODIES_FILE PATH RATE
-- (install reports beside discovery, bench/install_reports.py: the issue's target is a rate, not
-- "as fast as the connections are answered"). A thread hands out send times RATE per second
-- apart through wrk's delay() to whichever connection is free; one that falls behind (every
-- connection waiting on the server) does not burst to catch up, so the rate reached is printed
-- by the runner, never assumed.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "rotate.lua")

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } livery_timespec;
int clock_gettime(int clock_id, livery_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("livery_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local interval_ms = 0
local next_ms = nil
local rotate_init = init

function init(args)
  rotate_init(args)
  interval_ms = 1000 / tonumber(args[3])
end

function delay()
  local now = now_ms()
  if next_ms == nil or next_ms < now - interval_ms then
    next_ms = now -- behind (or the first): from now, no burst to catch up
  end
  next_ms = next_ms + interval_ms
  return math.max(0, math.floor(next_ms - now))
end
