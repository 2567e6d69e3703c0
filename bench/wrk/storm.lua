-- Replay whole client launches (bench/storm.py): each line of LAUNCHES_FILE is one install's next
-- launch, its requests in order, exactly as the reference client sends them.
-- Usage: wrk -tN -cN -s storm.lua URL -- LAUNCHES_FILE MODE N      (MODE: dynamic | micro | static)
-- One connection per thread (-t = -c = N), so a thread's request() and response() alternate and a
-- launch's requests go one after the other, as a client makes them. Thread k replays lines k, k+N,
-- k+2N...: every install belongs to one thread, and each thread parses only its own.
--
-- Line: steps separated by TAB; a step is "METHOD|HOST|PATH|IF-NONE-MATCH|BODY|FLAGS" where FLAGS
-- holds "s" for a request to the static host (never Python) and "f" for the API fallback of the
-- static request before it (sent only when that one did not answer 200 or 304).
-- 429/503 (load shed): the launch completes from the client's cache or lease, and the install
-- launches again only after Retry-After. Prints one STORM line per run (summed over threads).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } storm_timespec;
int clock_gettime(int clk_id, storm_timespec *tp);
]]
local ts = ffi.new("storm_timespec")
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

local installs = {}
local mode
local position, current, step, started, reached_python
local not_before = {}

-- per-thread tallies, read by done()
launches, failed, python, shed, from_cache, deferred, fallbacks = 0, 0, 0, 0, 0, 0, 0
latencies = {} -- microseconds per completed launch

local function split(text, sep)
  local out = {}
  for piece in (text .. sep):gmatch("(.-)" .. sep) do
    out[#out + 1] = piece
  end
  return out
end

function init(args)
  mode = args[2]
  local stride, index = tonumber(args[3]) or 1, 0
  for line in io.lines(args[1]) do
    index = index + 1
    if line ~= "" and (index - (thread_index or 1)) % stride == 0 then
      local steps = {}
      for _, text in ipairs(split(line, "\t")) do
        local f = split(text, "|")
        local headers = { Host = f[2], Accept = "application/json" }
        if f[4] ~= "" then headers["If-None-Match"] = f[4] end
        local body = nil
        if f[5] ~= "" then
          body = f[5]
          headers["Content-Type"] = "application/json"
        end
        steps[#steps + 1] = {
          request = wrk.format(f[1], f[3], headers, body),
          static = f[6]:find("s") ~= nil,
          fallback = f[6]:find("f") ~= nil,
        }
      end
      installs[#installs + 1] = steps
    end
  end
  position = 0
end

local function next_launch()
  local now = now_us()
  for _ = 1, #installs do
    position = position % #installs + 1
    local wait = not_before[position]
    if wait == nil or wait <= now then
      current, step, started, reached_python = position, 1, now, false
      return
    end
    deferred = deferred + 1 -- still inside its Retry-After: this install's client waits
  end
  current, step, started, reached_python = position, 1, now, false -- every install waits: go anyway
end

function request()
  if current == nil then next_launch() end
  return installs[current][step].request
end

local function finish(ok)
  if ok then
    launches = launches + 1
    if reached_python then python = python + 1 end
    latencies[#latencies + 1] = now_us() - started
  else
    failed = failed + 1
  end
  current = nil
end

function response(status, headers, body)
  local steps = installs[current]
  local s = steps[step]
  local answered = status == 200 or status == 304
  if not s.static then
    local cache = headers["X-Cache-Status"]
    if mode == "dynamic" or not (cache == "HIT" or cache == "STALE" or cache == "UPDATING") then
      reached_python = true
    end
  end
  if s.static then
    if answered then
      step = step + 1
      if steps[step] and steps[step].fallback then step = step + 1 end -- no fallback needed
    else
      fallbacks = fallbacks + 1
      step = step + 1 -- to the API
    end
  elseif answered then
    step = step + 1
  elseif status == 429 or status == 503 then
    -- service trouble: the launch completes from the cache and lease; no request to this
    -- service before Retry-After (seconds)
    shed = shed + 1
    from_cache = from_cache + 1
    local after = tonumber(headers["Retry-After"] or "") or 1
    not_before[current] = now_us() + after * 1000000
    finish(true)
    return
  else
    finish(false) -- 404, 410, another 5xx: not what these installs should ever see
    return
  end
  if step > #steps then finish(true) end
end

function done(summary, latency, requests)
  local totals = { launches = 0, failed = 0, python = 0, shed = 0, from_cache = 0, deferred = 0, fallbacks = 0 }
  local names = { "launches", "failed", "python", "shed", "from_cache", "deferred", "fallbacks" }
  local merged = {}
  for _, thread in ipairs(threads) do
    for _, name in ipairs(names) do
      totals[name] = totals[name] + thread:get(name)
    end
    for _, value in ipairs(thread:get("latencies")) do merged[#merged + 1] = value end
  end
  table.sort(merged)
  local function percentile(p)
    if #merged == 0 then return 0 end
    return merged[math.max(1, math.ceil(#merged * p))]
  end
  local e = summary.errors
  io.write(string.format(
    "STORM launches=%d failed=%d python=%d shed=%d from_cache=%d deferred=%d fallbacks=%d requests=%d " ..
    "duration_us=%d p50_us=%d p99_us=%d socket_errors=%d status_errors=%d\n",
    totals.launches, totals.failed, totals.python, totals.shed, totals.from_cache, totals.deferred, totals.fallbacks,
    summary.requests, summary.duration, percentile(0.5), percentile(0.99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
