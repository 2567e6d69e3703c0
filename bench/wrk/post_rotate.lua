-- Rotate POST requests over a file of JSON bodies (one per line) sent to one path, and print the
-- same RESULT line as rotate.lua. Usage: wrk -s post_rotate.lua URL -- BODIES_FILE PATH

local requests = {}
local position = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(args[1]) do
    if line ~= "" then
      requests[#requests + 1] = wrk.format("POST", args[2], headers, line)
    end
  end
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
