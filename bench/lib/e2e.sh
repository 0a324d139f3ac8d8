# bench/lib/e2e.sh: the end-to-end parts, paychaos with its embedded reference merchant:
#   knee  a capacity run (CAPACITY_SCENARIO, scenarios/capacity.toml by default): the knee
#         from report.json's capacity section, and the process's CPU µs per checkout over
#         the knee step's judged span (CPU sampled every 0.25 s during the load);
#   rss   a long constant run (bench/scenarios/long.toml, ORDERS orders at LONG_RATE, by
#         default half the knee this invocation measured, else 4000/s): peak RSS of the
#         whole run per checkout sent (GNU time), and RSS at the load's end per checkout.

# The hook of the capacity run: sample the process's CPU while it lives.
sample_cpu() {
  cpu_sampler "$1" >"$KNEE_SAMPLES" &
  track $!
}

# ticks_at FILE T0 OFFSET : CPU ticks at time T0 + OFFSET (s), linear between the samples
# around it (the sum is taken in awk: epoch times need more digits than calc prints).
ticks_at() {
  awk -v t0="$2" -v off="$3" '
    BEGIN { t = t0 + off }
    NR == 1 { pt = $1; pv = $2 }
    $1 >= t {
      print ($1 == pt) ? $2 : pv + ($2 - pv) * (t - pt) / ($1 - pt)
      found = 1
      exit
    }
    { pt = $1; pv = $2 }
    END { if (!found && NR > 0) print pv }' "$1"
}

knee_once() {
  local rep=$1 dir="$WORK/knee-$1"
  mkdir -p "$dir"
  KNEE_SAMPLES="$dir/cpu.samples"
  RUN_LIMIT=900 run_paychaos "$CAPACITY_SCENARIO" "$dir" sample_cpu || return 1
  jq -e .capacity "$RUN_REPORT" >/dev/null || {
    log "$CAPACITY_SCENARIO made no capacity section (is it a capacity run?)"
    return 1
  }
  local rate from to sent held_at_max max_rate first_broken cpu=""
  read -r rate from to sent held_at_max max_rate first_broken < <(jq -r '.capacity |
    "\(.knee.rate // 0) \(.knee.from_s // 0) \(.knee.to_s // 0) \(.knee.sent // 0) \(.held_at_max) \(.max_rate) \(.first_broken.rate // "none")"' "$RUN_REPORT")
  if [[ $sent != 0 && -n $RUN_T0 && -s $KNEE_SAMPLES ]]; then
    local c_from c_to
    c_from=$(ticks_at "$KNEE_SAMPLES" "$RUN_T0" "$from")
    c_to=$(ticks_at "$KNEE_SAMPLES" "$RUN_T0" "$to")
    cpu=$(calc "($c_to - $c_from) * 1000000 / $CLK_TCK / $sent")
  fi
  record e2e.knee "$rate"
  record e2e.cpu_us "$cpu"
  record e2e.max_rate "$max_rate"
  [[ $held_at_max == true ]] && record e2e.held_at_max 1
  log "knee: $rate/s (first broken: $first_broken; max_rate $max_rate), ${cpu:-?} µs CPU per checkout at the knee"
}

part_knee() {
  local rep
  for ((rep = 1; rep <= REPS; rep++)); do
    knee_once "$rep" || return 1
  done
}

# The long run's rate: well below the knee (measured over short steps, while a long run's
# state keeps growing), or the load outruns the machine and the run measures a backlog
# (shed checkouts, sockets piling up) as well as the per-order state.
long_rate() {
  if [[ -n $LONG_RATE ]]; then
    echo "$LONG_RATE"
    return
  fi
  local knee
  knee=$(median e2e.knee)
  if [[ -n $knee ]] && awk -v k="$knee" 'BEGIN { exit !(k >= 500) }'; then
    awk -v k="$knee" 'BEGIN { printf "%d", int(k * 0.5 / 100) * 100 }'
  else
    echo 4000
  fi
}

rss_once() {
  local rep=$1 dir="$WORK/long-$1" rate
  mkdir -p "$dir"
  rate=$(long_rate)
  local ms=$((ORDERS * 1000 / rate))
  ((ms > 0)) || ms=1
  log "long run: $ORDERS orders at $rate/s (about $((ms / 1000)) s of load)"
  scenario_copy "$ROOT/bench/scenarios/long.toml" "$dir/scenario.toml" \
    "s/^rate = .*/rate = $rate/" \
    "s/^duration = .*/duration = \"${ms}ms\"/"
  RUN_LIMIT=$((ms / 1000 + 1800)) run_paychaos "$dir/scenario.toml" "$dir" || return 1
  local planned sent shed errors
  read -r planned sent shed errors < <(jq -r '.load | "\(.planned) \(.sent) \(.shed) \(.errors)"' "$RUN_REPORT")
  ((sent > 0)) || return 1
  record rss.orders "$sent"
  record rss.planned "$planned"
  record rss.shed "$shed"
  record rss.errors "$errors"
  record rss.rate "$rate"
  record rss.peak_b "$(calc "$RUN_MAXRSS_KB * 1024 / $sent")"
  [[ -n $RUN_RSS_END_KB ]] && record rss.load_end_b "$(calc "$RUN_RSS_END_KB * 1024 / $sent")"
  log "long run: $sent orders, peak RSS $((RUN_MAXRSS_KB / 1024)) MiB, ${RUN_RSS_END_KB:-?} KiB at the load's end"
}

part_rss() {
  local rep
  for ((rep = 1; rep <= LONG_REPS; rep++)); do
    rss_once "$rep" || return 1
  done
}
