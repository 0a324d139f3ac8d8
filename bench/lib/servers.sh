# bench/lib/servers.sh: the provider parts. `paychaos provider` beside the bare hyper peer
# and wiremock-rs, each a fresh process per run, driven by `wrk -t1 -c64` with the Stripe
# SDK's form body and a fresh idempotency key per request (bench/lua/wrk.lua):
#   provider  req/s, server CPU µs per request (/proc/<pid>/stat), wrk's p99;
#   memory    RSS kept per payment after PAYMENTS requests (RSS delta / requests answered).
# Runs are interleaved: paychaos, hyper, wiremock, paychaos, hyper, wiremock, …

PROVIDER_TARGETS=(paychaos hyper wiremock)

# Starts one of the three servers on a free loopback port (SERVER_PID, SERVER_URL); any
# further arguments go to paychaos.
start_target() {
  local t=$1
  shift
  case $t in
  paychaos) start_server paychaos-provider "$PAYCHAOS" provider --listen 127.0.0.1:0 --quiet "$@" ;;
  hyper) start_server hyper-peer "$HYPER_PEER" 127.0.0.1:0 ;;
  wiremock) start_server wiremock-peer "$WIREMOCK_PEER" 127.0.0.1:0 ;;
  *) die "unknown target $t" ;;
  esac
}

# wrk_run URL SECS TAG MODE : one bounded wrk run (-t1 -c64, SECS whole seconds). Sets
# WRK_REQ (answers), WRK_OK (2xx answers), WRK_SECS, WRK_P99_MS, WRK_ERRORS and
# WRK_CPU_US (wrk's own CPU per request).
wrk_run() {
  local url=$1 secs=$2 tag=$3 mode=$4
  local out="$WORK/wrk-$tag"
  if ! BENCH_WRK_MODE=$mode BENCH_RUN_TAG=$tag timeout -k 5 $((secs + 30)) \
    /usr/bin/time -f '%U %S' -o "$out.cpu" \
    wrk -t1 -c64 -d"${secs}s" --timeout 10s -s "$ROOT/bench/lua/wrk.lua" "$url" >"$out.txt" 2>&1; then
    log "wrk failed against $url ($out.txt)"
    return 1
  fi
  local line kv requests=0 duration_us=0 p99_us=0 errors=0 non2xx=0
  line=$(grep -m1 '^wrk-result ' "$out.txt") || {
    log "no wrk-result line in $out.txt"
    return 1
  }
  for kv in ${line#wrk-result }; do
    case $kv in
    requests=*) requests=${kv#*=} ;;
    duration_us=*) duration_us=${kv#*=} ;;
    p99_us=*) p99_us=${kv#*=} ;;
    errors=*) errors=${kv#*=} ;;
    non2xx=*) non2xx=${kv#*=} ;;
    esac
  done
  WRK_REQ=$requests
  WRK_OK=$((requests - non2xx))
  WRK_ERRORS=$((errors + non2xx))
  WRK_SECS=$(calc "$duration_us / 1000000")
  WRK_P99_MS=$(calc "$p99_us / 1000")
  WRK_CPU_US=$(time_us_per "$out.cpu" "$requests")
  if ((WRK_ERRORS * 100 > requests)); then
    log "warning: $WRK_ERRORS of $requests requests to $url failed or were not 2xx"
  fi
}

provider_once() {
  local t=$1 rep=$2
  start_target "$t" || return 1
  local pid=$SERVER_PID url=$SERVER_URL
  if ((WARM_SECS > 0)); then
    wrk_run "$url" "$WARM_SECS" "prov-warm-$t-$rep" intents || return 1
  fi
  local c0 c1
  c0=$(cpu_ticks "$pid")
  wrk_run "$url" "$PROVIDER_SECS" "prov-$t-$rep" intents || return 1
  c1=$(cpu_ticks "$pid")
  stop_pid "$pid"
  record "prov.$t.rps" "$(calc "$WRK_OK / $WRK_SECS")"
  record "prov.$t.cpu_us" "$(us_per $((c1 - c0)) "$WRK_REQ")"
  record "prov.$t.p99_ms" "$WRK_P99_MS"
  record "prov.$t.wrk_cpu_us" "$WRK_CPU_US"
  log "provider $t: $(calc "$WRK_OK / $WRK_SECS") req/s, p99 $WRK_P99_MS ms"
}

part_provider() {
  local rep t
  for ((rep = 1; rep <= REPS; rep++)); do
    for t in "${PROVIDER_TARGETS[@]}"; do
      provider_once "$t" "$rep" || return 1
    done
  done
}

# Memory kept: RSS after a 1 s warm-up, then wrk runs of MEMORY_CHUNK_SECS until PAYMENTS
# requests were answered (at most 120 chunks), then RSS again. paychaos runs with
# `--retain 0`: its default retention would cap what it keeps and hide the cost per payment.
memory_once() {
  local t=$1 rep=$2
  start_target "$t" --retain 0 || return 1
  local pid=$SERVER_PID url=$SERVER_URL
  wrk_run "$url" 1 "mem-warm-$t-$rep" intents || return 1
  local rss0 rss1 answered=0 chunk=0
  rss0=$(rss_kb "$pid")
  while ((answered < PAYMENTS && chunk < 120)); do
    wrk_run "$url" "$MEMORY_CHUNK_SECS" "mem-$t-$rep-$chunk" intents || return 1
    answered=$((answered + WRK_OK))
    chunk=$((chunk + 1))
  done
  rss1=$(rss_kb "$pid")
  stop_pid "$pid"
  ((answered > 0)) || return 1
  record "mem.$t.bytes" "$(calc "($rss1 - $rss0) * 1024 / $answered")"
  record "mem.$t.payments" "$answered"
  log "memory $t: $(((rss1 - rss0) / 1024)) MiB more after $answered payments"
}

part_memory() {
  local rep t
  for ((rep = 1; rep <= REPS; rep++)); do
    for t in "${PROVIDER_TARGETS[@]}"; do
      memory_once "$t" "$rep" || return 1
    done
  done
}
