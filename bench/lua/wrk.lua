-- wrk script for bench/run. Two request shapes, chosen by BENCH_WRK_MODE:
--   intents  (default) POST /v1/payment_intents as the Stripe SDKs send it: a form body
--            with amount, currency, payment_method, confirm=true and metadata[order_id],
--            a bearer key, and a fresh Idempotency-Key and order id on every request;
--   checkout one constant JSON checkout body (what paychaos's generator sends), no Lua per
--            request, so wrk runs at its own full speed.
-- done() prints one "wrk-result" line that bench/run parses.

local mode = os.getenv("BENCH_WRK_MODE") or "intents"
-- A run tag keeps keys unique across several wrk runs against one provider.
local tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())

local counter = 0

if mode == "checkout" then
  wrk.method = "POST"
  wrk.path = "/checkout"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"order_id":"ord-bench-1","amount":1000,"currency":"usd","payment_method":"pm_card_visa"}'
else
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Bearer sk_test_bench",
  }
  request = function()
    counter = counter + 1
    local id = tag .. "-" .. counter
    headers["Idempotency-Key"] = "bench-" .. id
    local body = "amount=" .. (500 + counter % 49500)
      .. "&currency=usd&payment_method=pm_card_visa&confirm=true"
      .. "&metadata%5Border_id%5D=ord-" .. id
    return wrk.format("POST", "/v1/payment_intents", headers, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
