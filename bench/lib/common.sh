# bench/lib/common.sh: what every part of bench/run shares: logging, the processes the bench
# started (and their clean-up), loopback servers that announce "listening on http://…", a
# process's CPU time and memory from /proc, float arithmetic, and the results file every
# measurement is appended to (one "metric value" line per sample).
# Sourced by bench/run; expects ROOT, OUT, WORK and RESULTS to be set.

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}

# ---- processes -------------------------------------------------------------------------

# Every process the bench starts is tracked, and stopped on exit (a stopped peer is sent
# SIGCONT first, or it would never see the SIGTERM).
BENCH_PIDS=()
track() { BENCH_PIDS+=("$1"); }

stop_pid() {
  local pid=$1 i kept=() p
  for p in "${BENCH_PIDS[@]}"; do
    [[ $p == "$pid" ]] || kept+=("$p")
  done
  BENCH_PIDS=("${kept[@]}")
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    stop_pid "$pid"
  done
}

# start_server NAME CMD… : starts a server whose output contains "listening on http://ADDR",
# waits for that line (30 s at most: a busy machine starts a process late, and a server that
# starts is what a smoke run must see) and sets SERVER_PID and SERVER_URL.
start_server() {
  local name=$1 deadline=$((SECONDS + 30))
  shift
  local out="$WORK/$name.$RANDOM.log"
  "$@" >"$out" 2>&1 &
  SERVER_PID=$!
  track "$SERVER_PID"
  SERVER_URL=""
  while ((SECONDS < deadline)); do
    SERVER_URL=$(grep -o -m1 'listening on http://127\.0\.0\.1:[0-9]*' "$out" 2>/dev/null | sed 's/^listening on //') || true
    [[ -n $SERVER_URL ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "$name did not start listening; its output ($out):"
  cat "$out" >&2 || true
  return 1
}

# A free loopback port below the ephemeral range, for the few addresses that must be fixed
# before the process starts (an external run's provider.listen).
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# ---- /proc -------------------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

# utime + stime of the whole process (every thread), in clock ticks.
cpu_ticks() {
  local s f
  read -r s <"/proc/$1/stat" || return 1
  s=${s##*) } # the command name may hold spaces; fields restart after its ")"
  read -r -a f <<<"$s"
  echo $((f[11] + f[12]))
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Appends "EPOCHREALTIME ticks" for PID every 0.25 s until it exits.
cpu_sampler() {
  local pid=$1 t
  while t=$(cpu_ticks "$pid" 2>/dev/null); do
    echo "$EPOCHREALTIME $t"
    sleep 0.25
  done
}

# ---- numbers -----------------------------------------------------------------------------

# calc EXPR: float arithmetic (awk), printed with 6 significant digits (not for epoch times).
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }

# CPU µs per request from a tick delta and a request count ("" when nothing was answered).
us_per() {
  local ticks=$1 n=$2
  [[ -n $ticks && -n $n && $n != 0 ]] || return 0
  calc "$ticks * 1000000 / $CLK_TCK / $n"
}

# /usr/bin/time -f '%U %S' output → CPU µs per request.
time_us_per() {
  local file=$1 n=$2 u s
  read -r u s <"$file" || return 0
  [[ -n $n && $n != 0 ]] || return 0
  calc "($u + $s) * 1000000 / $n"
}

# ---- results -----------------------------------------------------------------------------

# record METRIC VALUE: one sample (skipped when the value is empty).
record() {
  [[ -n ${2:-} ]] || return 0
  echo "$1 $2" >>"$RESULTS"
}

# stats METRIC → "median min max count" over its samples (nothing when there are none).
stats() {
  awk -v m="$1" '$1 == m { print $2 }' "$RESULTS" | sort -g | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) exit
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      print med, v[1], v[NR], NR
    }'
}

median() { stats "$1" | awk '{ print $1 }'; }
