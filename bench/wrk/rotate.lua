-- Rotate across many requests and print one parseable RESULT line with requests, duration and
-- the p50/p99 latency in microseconds.
-- Usage: wrk -s rotate.lua URL -- LINES_FILE            (GET: one "<path> [<If-None-Match value>]" per line)
--        wrk -s rotate.lua URL -- BODIES_FILE PATH      (POST: one JSON body per line, all to PATH)
-- No response() callback: it would slow wrk down and flatter the fastest targets. Statuses are
-- checked by the runner before each run; wrk counts >= 400 answers in errors.status.

local requests = {}
local position = 0
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
  table.insert(threads, thread)
end

function init(args)
  local post_path = args[2]
  for line in io.lines(args[1]) do
    if post_path then
      if line ~= "" then
        requests[#requests + 1] = wrk.format("POST", post_path, { ["Content-Type"] = "application/json" }, line)
      end
    else
      local path, tag = line:match("^(%S+)%s*(%S*)$")
      if path then
        local headers = {}
        if tag ~= "" then
          headers["If-None-Match"] = tag
        end
        requests[#requests + 1] = wrk.format("GET", path, headers)
      end
    end
  end
  -- each thread starts at its own offset so that threads do not walk in step
  position = math.floor((#requests / 7) * ((thread_index or 1) - 1)) % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d status_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
