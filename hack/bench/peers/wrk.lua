-- One sentence per request, bodies taken in turn from WRK_BODIES (one JSON body per line);
-- each wrk thread starts at a different line. Prints the result as one JSON line.
local path = os.getenv("WRK_PATH")
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local cursor = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  cursor = math.random(#bodies)
end

function request()
  cursor = cursor % #bodies + 1
  return wrk.format(nil, path, nil, bodies[cursor])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"socketErrors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write, e.timeout))
end
