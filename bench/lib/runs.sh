# bench/lib/runs.sh: one `paychaos run` under observation. It runs under `timeout` (every
# load is bounded in time) and GNU time (peak RSS); its stderr is read line by line so that
# the moment the load starts ("paychaos: scenario '…'") and ends ("paychaos: load done")
# are caught, with the process's CPU ticks and RSS at each, and a hook can act at the start
# (a stall of the peer, a CPU sampler).

# run_paychaos SCENARIO DIR [HOOK] : runs the scenario with its report in DIR/report. HOOK
# is called with paychaos's pid when the load starts. Sets RUN_RC (exit status), RUN_PID,
# RUN_T0/RUN_C0 and RUN_T1/RUN_C1 (EPOCHREALTIME and CPU ticks at the load's start and end;
# empty when the line was not seen), RUN_RSS_END_KB (RSS at the load's end), RUN_MAXRSS_KB
# (peak RSS of the whole run) and RUN_REPORT (report.json). RUN_LIMIT bounds it (seconds).
run_paychaos() {
  local scn=$1 dir=$2 hook=${3:-}
  mkdir -p "$dir"
  local fifo="$dir/stderr.fifo"
  rm -f "$fifo"
  mkfifo "$fifo"
  # paychaos's pid is written by the shell that then becomes paychaos (exec), before it
  # starts: looking for the child of `time` once the start line is read would miss a run
  # that has already ended when a busy machine schedules this loop late.
  local pidfile="$dir/paychaos.pid"
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
  timeout -s INT -k 30 "${RUN_LIMIT:-600}" /usr/bin/time -v -o "$dir/time.txt" \
    bash -c 'echo $$ >"$1" && shift && exec "$@"' paychaos-run "$pidfile" \
    "$PAYCHAOS" run "$scn" --out "$dir/report" >"$dir/stdout.log" 2>"$fifo" &
  local tpid=$!
  track "$tpid"
  RUN_PID="" RUN_T0="" RUN_C0="" RUN_T1="" RUN_C1="" RUN_RSS_END_KB="" RUN_MAXRSS_KB=""
  local line
  while IFS= read -r line; do
    printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$dir/stderr.log"
    case $line in
    "paychaos: scenario '"*)
      RUN_T0=$EPOCHREALTIME
      RUN_PID=$(<"$pidfile") || RUN_PID=""
      if [[ -n $RUN_PID ]]; then
        RUN_C0=$(cpu_ticks "$RUN_PID") || RUN_C0=""
        if [[ -n $hook ]]; then "$hook" "$RUN_PID"; fi
      fi
      ;;
    "paychaos: load done"*)
      RUN_T1=$EPOCHREALTIME
      if [[ -n $RUN_PID ]]; then
        RUN_C1=$(cpu_ticks "$RUN_PID") || RUN_C1=""
        RUN_RSS_END_KB=$(rss_kb "$RUN_PID") || RUN_RSS_END_KB=""
      fi
      ;;
    esac
  done <"$fifo"
  RUN_RC=0
  wait "$tpid" || RUN_RC=$?
  stop_pid "$tpid"
  rm -f "$fifo"
  RUN_MAXRSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt" 2>/dev/null) || true
  RUN_REPORT="$dir/report/report.json"
  # 0 passed, 1 a gate or check failed: both are measured runs; anything else is not.
  if ((RUN_RC > 1)); then
    log "paychaos run $scn exited $RUN_RC (see $dir/stderr.log)"
    return 1
  fi
  # Without the two lines there is no CPU span and no stall: a changed message must fail
  # the part (and the smoke run), not leave a figure quietly missing.
  if [[ -z $RUN_T0 || -z $RUN_T1 || -z $RUN_PID ]]; then
    log "did not see paychaos's load start and end lines (\"paychaos: scenario '…'\", \"paychaos: load done\") in $dir/stderr.log"
    return 1
  fi
  [[ -s $RUN_REPORT ]] || {
    log "paychaos wrote no $RUN_REPORT"
    return 1
  }
}

# The load's CPU time per checkout sent, µs (from the start and end lines).
run_cpu_us_per() {
  [[ -n $RUN_C0 && -n $RUN_C1 ]] || return 0
  us_per $((RUN_C1 - RUN_C0)) "$1"
}

# scenario_copy SRC DST SED-EXPR… : a copy of a scenario with lines rewritten.
scenario_copy() {
  local src=$1 dst=$2
  shift 2
  local args=() e
  for e in "$@"; do args+=(-e "$e"); done
  sed "${args[@]}" "$src" >"$dst"
}
