-- wrk script: GET one card's .pkpass (cached by the service after the first build).
-- Environment: LK_PASS_PATH (/v1/cards/SERIAL/pass.pkpass), LK_ACCESS_TOKEN.
local path = os.getenv("LK_PASS_PATH")
local auth = "Bearer " .. os.getenv("LK_ACCESS_TOKEN")
function request()
  return wrk.format("GET", path, {["Authorization"] = auth})
end
function done(summary, latency, requests)
  io.write(string.format("p50_ms=%.3f p99_ms=%.3f requests=%d non2xx_or_errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
