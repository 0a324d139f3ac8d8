# bench/lib/build.sh: everything the bench runs, built or installed once: paychaos (release),
# the two peers under bench/peers/ (crates.io, into target/bench/peers), oha (cargo install
# into target/bench/oha, reused when present) and the Debian tools wrk, jq and GNU time.
# Cargo commands run one after another: the machine may be shared.

PAYCHAOS="$ROOT/target/release/paychaos"
HYPER_PEER="$OUT/peers/release/bench-hyper-peer"
WIREMOCK_PEER="$OUT/peers/release/bench-wiremock-peer"
OHA="$OUT/oha/bin/oha"

ensure_debian_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v jq >/dev/null || missing+=(jq)
  [[ -x /usr/bin/time ]] || missing+=(time)
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]}, and no apt-get to install them with"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  log "installing ${missing[*]} from Debian"
  "${sudo[@]}" apt-get install -y "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
    die "apt-get install -y ${missing[*]} failed (see $WORK/apt.log)"
}

build_all() {
  ensure_debian_tools
  if [[ -n ${BENCH_SKIP_BUILD:-} ]]; then
    log "BENCH_SKIP_BUILD set: using the binaries already built"
  else
    log "cargo build --release (paychaos)"
    (cd "$ROOT" && cargo build --release --locked --quiet) || die "building paychaos failed"
    local peer
    for peer in hyper-peer wiremock-peer; do
      log "cargo build --release ($peer, into target/bench/peers)"
      cargo build --release --locked --quiet \
        --manifest-path "$ROOT/bench/peers/$peer/Cargo.toml" \
        --target-dir "$OUT/peers" || die "building bench/peers/$peer failed"
    done
  fi
  # BENCH_NO_OHA=1 leaves oha out when it is not installed yet (its first build takes about
  # ten minutes, more than a CI smoke run should spend): its rows then show "—".
  HAVE_OHA=1
  if [[ ! -x $OHA && -n ${BENCH_NO_OHA:-} ]]; then
    log "BENCH_NO_OHA set and oha not installed: oha's rows are left out"
    HAVE_OHA=""
  elif [[ ! -x $OHA ]]; then
    log "cargo install oha --root target/bench/oha (once; minutes)"
    cargo install oha --locked --quiet --root "$OUT/oha" || die "cargo install oha failed"
  fi
  local bin
  for bin in "$PAYCHAOS" "$HYPER_PEER" "$WIREMOCK_PEER" ${HAVE_OHA:+"$OHA"}; do
    [[ -x $bin ]] || die "$bin is missing (run without BENCH_SKIP_BUILD)"
  done
}
