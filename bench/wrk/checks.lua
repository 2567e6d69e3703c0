-- Licence checks at a bounded rate, counting the answers' statuses (bench/licensing_outage.py).
-- Usage: wrk -s checks.lua URL -- BODIES_FILE PATH DELAY_MS
-- Each connection POSTs the next JSON body of BODIES_FILE to PATH, then waits DELAY_MS before its
-- next one: about connections x 1000 / (DELAY_MS + latency) checks per second. Prints rotate.lua's
-- RESULT line and a STATUSES line: how many answers carried each payload "status" (grace, valid...),
-- "http_<code>" for answers without one.

local requests = {}
local position = 0
local pause = 0
counts = {} -- a global: done() reads each thread's through thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      requests[#requests + 1] = wrk.format("POST", args[2], { ["Content-Type"] = "application/json" }, line)
    end
  end
  pause = tonumber(args[3])
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function delay()
  return pause
end

function response(status, headers, body)
  local name = body and body:match('"status":"(%a+)"') or ("http_" .. status)
  counts[name] = (counts[name] or 0) + 1
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d status_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
  local total = {}
  for _, thread in ipairs(threads) do
    for name, n in pairs(thread:get("counts") or {}) do
      total[name] = (total[name] or 0) + n
    end
  end
  local parts = {}
  for name, n in pairs(total) do
    parts[#parts + 1] = name .. "=" .. n
  end
  io.write("STATUSES " .. table.concat(parts, " ") .. "\n")
end
