# bench/lib/table.sh: the Markdown table bench/run prints: one row per figure of the
# performance issue, paychaos beside its peers from the same run (median, min–max), the
# ratio of the medians, the target and whether the median meets it. Reads only RESULTS.

# fmt KIND VALUE : a figure with its unit ("—" when there is none).
fmt() {
  awk -v k="$1" -v v="$2" 'BEGIN {
    if (v == "") { printf "—"; exit }
    if (k == "rate" || k == "per_s") {
      if (v >= 1000) printf "%.1f k", v / 1000; else printf "%.0f", v
      if (k == "per_s") printf "/s"
    }
    else if (k == "us") printf((v < 10) ? "%.2f µs" : "%.1f µs", v)
    else if (k == "ms") {
      if (v >= 1000) printf "%.2f s", v / 1000
      else if (v >= 10) printf "%.0f ms", v
      else printf "%.2f ms", v
    }
    else if (k == "bytes") {
      a = (v < 0) ? -v : v
      if (a >= 1048576) printf "%.1f MiB", v / 1048576
      else if (a >= 1024) printf "%.2f KiB", v / 1024
      else printf "%.0f B", v
    }
    else printf "%s", v
  }'
}

# cell KIND METRIC : "median (min–max)" over the samples, the median alone for one sample.
cell() {
  local med lo hi n
  read -r med lo hi n < <(stats "$2") || true
  if [[ -z ${med:-} ]]; then
    printf '—'
  elif ((n == 1)); then
    fmt "$1" "$med"
  else
    # The range without "/s": the median carries the unit.
    printf '%s (%s–%s)' "$(fmt "$1" "$med")" "$(fmt "${1/per_s/rate}" "$lo")" "$(fmt "${1/per_s/rate}" "$hi")"
  fi
}

# ratio A B : median(A) / median(B), as "0.27×" ("—" when either is missing or B is 0).
ratio_value() {
  local a b
  a=$(median "$1")
  b=$(median "$2")
  [[ -n $a && -n $b ]] || return 0
  awk -v a="$a" -v b="$b" 'BEGIN { if (b != 0) printf "%.3f", a / b }'
}
ratio() {
  local r
  r=$(ratio_value "$1" "$2")
  if [[ -n $r ]]; then printf '%.2f×' "$r"; else printf '—'; fi
}

# judge VALUE OP LIMIT : "yes" / "no" ("—" without a value; nothing is judged in smoke mode).
judge() {
  if [[ -n ${SMOKE:-} ]]; then
    printf 'not judged (smoke)'
    return
  fi
  [[ -n $1 ]] || {
    printf '—'
    return
  }
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == ">=") ? v >= l : v <= l
    printf ok ? "**yes**" : "no"
  }'
}

row() {
  local out="|" c
  for c in "$@"; do out+=" $c |"; done
  echo "$out"
}

has() { [[ -n $(median "$1") ]]; }

table_provider() {
  has prov.paychaos.rps || return 0
  local peers="bare hyper $(cell per_s prov.hyper.rps); wiremock-rs $(cell per_s prov.wiremock.rps)"
  row "provider \`POST /v1/payment_intents\` confirm=true, unique keys, \`wrk -t1 -c64\`: throughput" \
    "$(cell per_s prov.paychaos.rps)" "$peers" \
    "$(ratio prov.paychaos.rps prov.hyper.rps) bare hyper; $(ratio prov.paychaos.rps prov.wiremock.rps) wiremock-rs" \
    "≥ 0.5× bare hyper" "$(judge "$(ratio_value prov.paychaos.rps prov.hyper.rps)" ">=" 0.5)"
  row "provider: server CPU per request" "$(cell us prov.paychaos.cpu_us)" \
    "bare hyper $(cell us prov.hyper.cpu_us); wiremock-rs $(cell us prov.wiremock.cpu_us)" \
    "$(ratio prov.paychaos.cpu_us prov.hyper.cpu_us) bare hyper" "—" "—"
  row "provider: p99 latency under \`wrk -t1 -c64\`" "$(cell ms prov.paychaos.p99_ms)" \
    "bare hyper $(cell ms prov.hyper.p99_ms); wiremock-rs $(cell ms prov.wiremock.p99_ms)" \
    "—" "≤ 5 ms" "$(judge "$(median prov.paychaos.p99_ms)" "<=" 5)"
}

table_memory() {
  has mem.paychaos.bytes || return 0
  row "provider memory kept per payment (RSS delta over $(median mem.paychaos.payments) payments)" \
    "$(cell bytes mem.paychaos.bytes)" \
    "bare hyper $(cell bytes mem.hyper.bytes); wiremock-rs $(cell bytes mem.wiremock.bytes) (per request)" \
    "—" "≤ 500 B per payment" "$(judge "$(median mem.paychaos.bytes)" "<=" 500)"
}

table_generator() {
  has gen.paychaos.rate || return 0
  row "generator: highest open-loop rate within 1 % of target, send lag p99 < 10 ms, trivial merchant (bare hyper)" \
    "$(cell per_s gen.paychaos.rate)" \
    "oha \`--latency-correction -q\` $(cell per_s gen.oha.rate); wrk closed loop $(cell per_s gen.wrk.rate)" \
    "$(ratio gen.paychaos.rate gen.oha.rate) oha; $(ratio gen.paychaos.rate gen.wrk.rate) wrk" \
    "≥ 1.0× oha" "$(judge "$(ratio_value gen.paychaos.rate gen.oha.rate)" ">=" 1.0)"
  row "generator: CPU per request at that rate" "$(cell us gen.paychaos.cpu_us)" \
    "oha $(cell us gen.oha.cpu_us); wrk $(cell us gen.wrk.cpu_us)" \
    "$(ratio gen.paychaos.cpu_us gen.oha.cpu_us) oha" "—" "—"
}

table_stall() {
  has stall.paychaos.p99_ms || return 0
  local what="a ${STALL_FOR_S} s stall of the merchant (SIGSTOP) at $(fmt rate "$STALL_RATE")/s"
  row "$what: p99" "$(cell ms stall.paychaos.p99_ms)" "oha \`--latency-correction\` $(cell ms stall.oha.p99_ms)" \
    "$(ratio stall.paychaos.p99_ms stall.oha.p99_ms) oha" "within 10 % of oha (≤ 1.1×)" \
    "$(judge "$(ratio_value stall.paychaos.p99_ms stall.oha.p99_ms)" "<=" 1.1)"
  row "$what: max" "$(cell ms stall.paychaos.max_ms)" "oha \`--latency-correction\` $(cell ms stall.oha.max_ms)" \
    "$(ratio stall.paychaos.max_ms stall.oha.max_ms) oha" "within 10 % of oha (≤ 1.1×)" \
    "$(judge "$(ratio_value stall.paychaos.max_ms stall.oha.max_ms)" "<=" 1.1)"
}

table_knee() {
  has e2e.knee || return 0
  local knee held="" floor="" floor_cell="—" floor_ratio="—"
  knee="$(cell per_s e2e.knee)"
  if has e2e.held_at_max; then
    held=" (held up to max_rate $(fmt rate "$(median e2e.max_rate)")/s in $(stats e2e.held_at_max | awk '{ print $4 }') run(s): the knee is higher)"
  fi
  # Three exchanges (customer → merchant, merchant → provider, provider → merchant webhook),
  # each at least the bare peer's and wrk's CPU per request.
  if has gen.wrk.server_cpu_us && has gen.wrk.cpu_us; then
    floor=$(calc "3 * ($(median gen.wrk.server_cpu_us) + $(median gen.wrk.cpu_us))")
    floor_cell="floor of 3 exchanges with bare hyper $(fmt us "$floor")"
    floor_ratio="$(awk -v a="$(median e2e.cpu_us)" -v b="$floor" 'BEGIN { if (a != "" && b > 0) printf "%.2f×", a / b; else printf "—" }') floor"
  fi
  row "end to end, embedded reference merchant, knee (\`$(basename "$CAPACITY_SCENARIO")\`: p99 ≤ 250 ms, 99 % success)" \
    "$knee$held" "—" "—" "≥ 15 k checkouts/s" "$(judge "$(median e2e.knee)" ">=" 15000)"
  row "end to end: CPU per checkout over the knee step" "$(cell us e2e.cpu_us)" "$floor_cell" \
    "$floor_ratio" "≤ 133 µs per checkout" "$(judge "$(median e2e.cpu_us)" "<=" 133)"
}

table_rss() {
  has rss.peak_b || return 0
  local orders verdict kept=""
  orders=$(median rss.orders)
  verdict=$(judge "$(median rss.peak_b)" "<=" 1024)
  if [[ -z ${SMOKE:-} ]] && ((${orders%.*} < 1000000)); then
    verdict="$verdict (at $orders orders; the target is over 1 M)"
  fi
  # A run that fell behind its schedule measured a backlog as well as the per-order state.
  if has rss.shed && awk -v s="$(median rss.shed)" 'BEGIN { exit !(s > 0) }'; then
    kept="; schedule not kept: $(median rss.shed) shed, $(median rss.errors) errors"
  fi
  row "peak RSS per order: $orders of $(median rss.planned) planned orders sent at $(fmt per_s "$(median rss.rate)")$kept (at the load's end: $(cell bytes rss.load_end_b))" \
    "$(cell bytes rss.peak_b)" "—" "—" "≤ 1 KiB per order over a 1 M-order run (aim 300 B)" "$verdict"
}

machine() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  printf '%s cores (%s), %s, Linux %s' "$(nproc)" "${cpu:-unknown CPU}" "$mem" "$(uname -r)"
}

print_table() {
  local commit runs="one run each"
  ((REPS > 1)) && runs="medians of $REPS interleaved runs (min–max)"
  commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  {
    echo "paychaos performance, side by side ($MODE_NOTE)"
    echo
    echo "$(date -u '+%F %H:%M UTC') · $(machine) · load average at start $LOAD_AT_START · paychaos $commit · $runs, loopback, $PROFILE builds"
    echo
    row "what" "paychaos" "peer, same run" "ratio" "target" "met"
    row "---" "---" "---" "---" "---" "---"
    table_provider
    table_memory
    table_generator
    table_stall
    table_knee
    table_rss
  } | tee "$OUT/results/table.md"
}
