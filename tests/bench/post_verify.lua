-- wrk script: POST /v1/verify cycling through many distinct card tokens.
-- Environment: LK_TOKENS (file, one token per line), LK_PARTNER_KEY.
local tokens = {}
local key = os.getenv("LK_PARTNER_KEY")
for line in io.lines(os.getenv("LK_TOKENS")) do tokens[#tokens + 1] = line end
local counter = 0
local threads = {}

-- setup() runs in the main Lua state; each thread starts at its own place in the token list
-- (the global `start` of the thread's state).
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("start", #threads * 7919)
end

-- Each thread formats its requests once (wrk runs init() in every thread's Lua state), so the
-- per-request work of the load generator is handing over a prepared string, not building one.
local requests = {}
function init(args)
  for i, t in ipairs(tokens) do
    requests[i] = wrk.format("POST", "/v1/verify",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key},
      '{"token":"' .. t .. '"}')
  end
end

function request()
  counter = counter + 1
  return requests[((counter + (start or 0)) % #requests) + 1]
end

-- No response() callback: wrk would build a Lua table of headers and a body string for every
-- answer (5 us of wrk CPU per request, measured). That every answer said "active" is checked on
-- the server's side instead: api_load.sh compares lk_verifications_total by outcome on /metrics
-- before and after the run with the number of requests wrk completed.
function done(summary, latency, requests)
  io.write(string.format("p50_ms=%.3f p99_ms=%.3f requests=%d non2xx_or_errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
