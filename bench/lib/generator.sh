# bench/lib/generator.sh: the load generator parts, against the bare hyper peer as a trivial
# merchant (paychaos drives it through its external-merchant mode, bench/scenarios/generator.toml).
#   generator  the highest open-loop rate each tool holds (paychaos: sent within 1 % of the
#              plan, nothing shed, errors ≤ 1 %, send lag p99 < 10 ms; oha -q RATE
#              --latency-correction: 2xx answers within 1 % of RATE, since oha reports no
#              send lag), found by doubling then bisecting to 5 %, and wrk's closed-loop
#              rate; CPU µs per request of each generator at that rate.
#   stall      a SIGSTOP/SIGCONT of the peer at STALL_RATE: p99 and max latency (from the
#              intended send time) of paychaos and of oha --latency-correction.
# The peer is restarted for every run; the tools take turns.

CHECKOUT_BODY='{"order_id":"ord-bench-1","amount":1000,"currency":"usd","payment_method":"pm_card_visa"}'
GEN_CONNECTIONS=64

# Whether this paychaos takes `load.connections` (a bounded connection pool): when it does,
# the generator gets the 64 connections oha and wrk get. bench/run asks once.
LOAD_CONNECTIONS=""
probe_load_connections() {
  local f="$WORK/connections-probe.toml"
  sed "/^\[load\]/a connections = $GEN_CONNECTIONS" "$ROOT/bench/scenarios/generator.toml" >"$f"
  if "$PAYCHAOS" validate "$f" >/dev/null 2>&1; then
    LOAD_CONNECTIONS=$GEN_CONNECTIONS
    log "paychaos takes load.connections: the generator runs with $GEN_CONNECTIONS connections"
  else
    log "paychaos has no load.connections: its generator opens the connections it needs"
  fi
}

# gen_scenario RATE MS PEER_URL DST : the generator scenario at RATE for MS milliseconds.
gen_scenario() {
  local rate=$1 ms=$2 peer=${3#http://} dst=$4 port
  port=$(free_port) || die "no free loopback port"
  scenario_copy "$ROOT/bench/scenarios/generator.toml" "$dst" \
    "s/^rate = .*/rate = $rate/" \
    "s/^duration = .*/duration = \"${ms}ms\"/" \
    "s/127\.0\.0\.1:8080/$peer/g" \
    "s/127\.0\.0\.1:12111/127.0.0.1:$port/"
  if [[ -n $LOAD_CONNECTIONS ]]; then
    sed -i "/^\[load\]/a connections = $LOAD_CONNECTIONS" "$dst"
  fi
}

PROBE_N=0

# One paychaos run at RATE against a fresh peer. Sets PROBE_PASS (1/0), PROBE_CPU_US,
# PROBE_P99_MS, PROBE_MAX_MS. HOOK (optional) acts when the load starts.
probe_paychaos() {
  local rate=$1 ms=$2 hook=${3:-}
  PROBE_N=$((PROBE_N + 1))
  local dir attempt
  for attempt in 1 2; do
    start_server hyper-peer "$HYPER_PEER" 127.0.0.1:0 || return 1
    PEER_PID=$SERVER_PID
    # Each part runs in a subshell of its own, so PROBE_N starts again in each: the folder
    # is made unique here (a run refuses an --out that holds an earlier report).
    dir=$(mktemp -d "$WORK/paychaos-$PROBE_N-$rate-XXXX")
    gen_scenario "$rate" "$ms" "$SERVER_URL" "$dir/scenario.toml"
    if RUN_LIMIT=$((ms / 1000 + 120)) run_paychaos "$dir/scenario.toml" "$dir" "$hook"; then
      stop_pid "$PEER_PID"
      break
    fi
    stop_pid "$PEER_PID"
    # The provider's port was free when drawn; on a shared machine another process can bind
    # it first. That is no failure of the part: once more, on another port.
    if ((attempt == 1)) && grep -q 'cannot listen on .*provider\.listen' "$dir/stderr.log"; then
      log "the provider's port was taken meanwhile: once more on another"
      continue
    fi
    return 1
  done
  local planned sent shed errors lag achieved
  read -r planned sent shed errors lag achieved < <(jq -r \
    '.load | "\(.planned) \(.sent) \(.shed) \(.errors) \(.send_lag_p99_ms) \(.achieved_rate)"' "$RUN_REPORT")
  PROBE_PASS=$(awk -v p="$planned" -v s="$sent" -v sh="$shed" -v e="$errors" -v l="$lag" \
    'BEGIN { print (s >= 0.99 * p && sh == 0 && e <= 0.01 * s && l < 10) ? 1 : 0 }')
  PROBE_CPU_US=$(run_cpu_us_per "$sent")
  read -r PROBE_P99_MS PROBE_MAX_MS < <(jq -r '.latency_ms | "\(.p99) \(.max)"' "$RUN_REPORT")
  log "paychaos at $rate/s: sent $sent of $planned ($(printf %.0f "$achieved")/s), shed $shed, errors $errors, send lag p99 $lag ms, p99 $PROBE_P99_MS ms, ${PROBE_CPU_US:-?} µs CPU/checkout: schedule $([[ $PROBE_PASS == 1 ]] && echo kept || echo missed)"
}

# One oha run at RATE (open loop, latency from the intended time) against a fresh peer. Sets
# PROBE_PASS, PROBE_CPU_US, PROBE_P99_MS, PROBE_MAX_MS. HOOK acts right after oha starts.
probe_oha() {
  local rate=$1 ms=$2 hook=${3:-}
  PROBE_N=$((PROBE_N + 1))
  start_server hyper-peer "$HYPER_PEER" 127.0.0.1:0 || return 1
  PEER_PID=$SERVER_PID
  local out="$WORK/oha-$PROBE_N-$rate"
  timeout -s INT -k 5 $((ms / 1000 + 60)) /usr/bin/time -f '%U %S' -o "$out.cpu" \
    "$OHA" -z "${ms}ms" -q "$rate" --latency-correction -c "$GEN_CONNECTIONS" --no-tui \
    --output-format json -m POST -T application/json -d "$CHECKOUT_BODY" \
    "$SERVER_URL/checkout" >"$out.json" 2>"$out.err" &
  local opid=$!
  track "$opid"
  if [[ -n $hook ]]; then "$hook" "$opid"; fi
  local rc=0
  wait "$opid" || rc=$?
  stop_pid "$opid"
  stop_pid "$PEER_PID"
  if ((rc != 0)) || ! jq -e .summary "$out.json" >/dev/null 2>&1; then
    log "oha failed (exit $rc; $out.err)"
    return 1
  fi
  local ok
  ok=$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add // 0' "$out.json")
  PROBE_PASS=$(awk -v ok="$ok" -v r="$rate" -v ms="$ms" 'BEGIN { print (ok / (ms / 1000) >= 0.99 * r) ? 1 : 0 }')
  PROBE_CPU_US=$(time_us_per "$out.cpu" "$ok")
  read -r PROBE_P99_MS PROBE_MAX_MS < <(jq -r \
    '"\((.latencyPercentiles.p99 // 0) * 1000) \((.summary.slowest // 0) * 1000)"' "$out.json")
  log "oha at $rate/s: $ok answered 2xx ($(calc "$ok * 1000 / $ms")/s), p99 $PROBE_P99_MS ms, ${PROBE_CPU_US:-?} µs CPU/request: rate $([[ $PROBE_PASS == 1 ]] && echo kept || echo missed)"
}

# search TOOL START GROW_PCT : the highest rate TOOL holds, from START, multiplying by
# GROW_PCT/100 until a miss, then bisecting until the bracket is within 5 % (at most
# GEN_MAX_PROBES runs). Sets FOUND_RATE (0: none held) and FOUND_CPU_US (at that rate).
search() {
  local tool=$1 rate=$2 grow=$3 lo=0 hi=0 probes=0
  FOUND_CPU_US=""
  while ((probes < GEN_MAX_PROBES)); do
    "probe_$tool" "$rate" "$GEN_MS" || return 1
    probes=$((probes + 1))
    if ((PROBE_PASS == 1)); then
      lo=$rate
      FOUND_CPU_US=$PROBE_CPU_US
      ((hi == 0 && lo >= GEN_MAX_RATE)) && break
      ((hi == 0)) && rate=$((rate * grow / 100))
      ((rate > GEN_MAX_RATE)) && rate=$GEN_MAX_RATE
    else
      hi=$rate
      ((lo == 0)) && rate=$((rate * 100 / grow))
      ((lo == 0 && rate < 500)) && break
    fi
    if ((lo > 0 && hi > 0)); then
      ((hi * 100 <= lo * 105)) && break
      rate=$(((lo + hi) / 2 / 100 * 100))
      ((rate <= lo)) && break
    fi
  done
  FOUND_RATE=$lo
}

part_generator() {
  local rep start grow secs=$(((GEN_MS + 999) / 1000))
  local -A last=([paychaos]=$GEN_START [oha]=$GEN_START)
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in paychaos ${HAVE_OHA:+oha}; do
      # Later searches start at the earlier answer and take smaller steps.
      start=${last[$tool]}
      grow=200
      ((rep > 1)) && grow=125
      ((start < 1000)) && start=1000
      search "$tool" "$start" "$grow" || return 1
      ((FOUND_RATE > 0)) && last[$tool]=$FOUND_RATE
      record "gen.$tool.rate" "$FOUND_RATE"
      record "gen.$tool.cpu_us" "$FOUND_CPU_US"
      log "generator $tool: holds $FOUND_RATE/s"
    done
    # wrk, closed loop: as fast as 64 connections go; the peer's CPU per request too (the
    # floor of one exchange, with wrk's own).
    start_server hyper-peer "$HYPER_PEER" 127.0.0.1:0 || return 1
    local pid=$SERVER_PID c0 c1
    c0=$(cpu_ticks "$pid")
    wrk_run "$SERVER_URL" "$secs" "gen-wrk-$rep" checkout || return 1
    c1=$(cpu_ticks "$pid")
    stop_pid "$pid"
    record gen.wrk.rate "$(calc "$WRK_OK / $WRK_SECS")"
    record gen.wrk.cpu_us "$WRK_CPU_US"
    record gen.wrk.server_cpu_us "$(us_per $((c1 - c0)) "$WRK_REQ")"
    log "generator wrk (closed loop): $(calc "$WRK_OK / $WRK_SECS") req/s"
  done
}

# The stall: STALL_AT_S after the load starts, SIGSTOP the peer for STALL_FOR_S.
stall_peer() {
  (
    sleep "$STALL_AT_S"
    kill -STOP "$PEER_PID"
    sleep "$STALL_FOR_S"
    kill -CONT "$PEER_PID"
  ) &
  track $!
}

part_stall() {
  local rep
  for ((rep = 1; rep <= REPS; rep++)); do
    probe_paychaos "$STALL_RATE" "$STALL_MS" stall_peer || return 1
    record stall.paychaos.p99_ms "$PROBE_P99_MS"
    record stall.paychaos.max_ms "$PROBE_MAX_MS"
    [[ -n ${HAVE_OHA:-} ]] || continue
    probe_oha "$STALL_RATE" "$STALL_MS" stall_peer || return 1
    record stall.oha.p99_ms "$PROBE_P99_MS"
    record stall.oha.max_ms "$PROBE_MAX_MS"
  done
}
