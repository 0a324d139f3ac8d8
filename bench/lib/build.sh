# bench/lib/build.sh: everything the bench runs, built or installed once: paychaos and the
# two peers in bench/peers/ (examples of the package: bench-hyper-peer, bench-wiremock-peer),
# in release, or in debug with BENCH_PROFILE=debug (the smoke run's default in CI, where
# `cargo test` has built them already); oha (cargo install into target/bench/oha, reused when
# present) and the Debian tools wrk, jq and GNU time.
# Cargo commands run one after another: the machine may be shared.
# Expects PROFILE (release or debug) to be set.

PAYCHAOS="$ROOT/target/$PROFILE/paychaos"
HYPER_PEER="$ROOT/target/$PROFILE/examples/bench-hyper-peer"
WIREMOCK_PEER="$ROOT/target/$PROFILE/examples/bench-wiremock-peer"
OHA="$OUT/oha/bin/oha"
PEER_EXAMPLES=(--example bench-hyper-peer --example bench-wiremock-peer)

ensure_debian_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v jq >/dev/null || missing+=(jq)
  [[ -x /usr/bin/time ]] || missing+=(time)
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]}, and no apt-get to install them with"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo -n)
  log "installing ${missing[*]} from Debian"
  # A fresh machine (a CI container) may have no package lists yet: then update once.
  { "${sudo[@]}" apt-get install -y "${missing[@]}" ||
    { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y "${missing[@]}"; }; } \
    >"$WORK/apt.log" 2>&1 ||
    die "apt-get install -y ${missing[*]} failed (see $WORK/apt.log)"
}

build_binaries() {
  if [[ $PROFILE == debug ]]; then
    # One invocation, examples included: the dependency features `cargo test` compiles
    # with, so that after it this builds nothing.
    log "cargo build --bins --examples (debug: paychaos and the peers)"
    (cd "$ROOT" && cargo build --locked --quiet --bins "${PEER_EXAMPLES[@]}") ||
      die "building paychaos and the peers (debug) failed"
    return
  fi
  # paychaos alone first, as `cargo build --release` gives it to users; the peers then
  # build with the dev-dependencies (wiremock), which compiles the library once more.
  log "cargo build --release (paychaos)"
  (cd "$ROOT" && cargo build --release --locked --quiet) || die "building paychaos failed"
  log "cargo build --release --example bench-hyper-peer --example bench-wiremock-peer"
  (cd "$ROOT" && cargo build --release --locked --quiet "${PEER_EXAMPLES[@]}") ||
    die "building the peers (bench/peers/) failed"
}

build_all() {
  ensure_debian_tools
  if [[ -n ${BENCH_SKIP_BUILD:-} ]]; then
    log "BENCH_SKIP_BUILD set: using the binaries already built"
  else
    build_binaries
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
