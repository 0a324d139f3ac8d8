#!/usr/bin/env bash
# Stripe SDK compatibility: the official stripe-python and stripe-node libraries against a
# running `paychaos provider`. Installs the pinned SDKs from PyPI and npm into
# target/sdk-cache (reused when already there), builds the binary, starts a webhook sink and
# the provider (tests/sdk/scenario.toml), runs compat.py and compat.mjs, stops the provider
# and checks its ledger. Ends with `N passed, M failed`; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${PAYCHAOS_SDK_CACHE:-$ROOT/target/sdk-cache}
PY_SDK=16.1.0
NODE_SDK=23.1.0
SCENARIO=tests/sdk/scenario.toml
START=$SECONDS

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# Setup failures count as one failed check, so the closing line stays honest.
die() {
  echo "sdk: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

# Waits up to 30 s for file $1 to exist and be non-empty.
await_file() {
  for _ in $(seq 300); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

echo "== sdk: installing stripe-python $PY_SDK and stripe-node $NODE_SDK (cache: $CACHE)"
VENV=$CACHE/python-$PY_SDK
if ! "$VENV/bin/python" -c "import stripe, sys; sys.exit(stripe.VERSION != '$PY_SDK')" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "stripe==$PY_SDK" \
    || die "pip install stripe==$PY_SDK failed"
fi
PYTHON=$VENV/bin/python
NODE_DIR=$CACHE/node-$NODE_SDK
if [ "$(node -p "require('$NODE_DIR/node_modules/stripe/package.json').version" 2>/dev/null)" != "$NODE_SDK" ]; then
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "stripe@$NODE_SDK" \
    || die "npm install stripe@$NODE_SDK failed"
fi

echo "== sdk: building paychaos"
cargo build --quiet --locked --bin paychaos --example sdk_orders || die "cargo build failed"
BIN=$ROOT/target/debug/paychaos

ORDERS=$("$ROOT/target/debug/examples/sdk_orders" "$SCENARIO" sdk-py- sdk-node-) \
  || die "could not pick the fault orders"

mkdir -p "$TMP/sink"
"$PYTHON" tests/sdk/webhook_sink.py "$TMP/sink" &
PIDS+=($!)
await_file "$TMP/sink/port" || die "the webhook sink did not start"
SINK_URL="http://127.0.0.1:$(cat "$TMP/sink/port")/webhooks"

"$BIN" provider --listen 127.0.0.1:0 --scenario "$SCENARIO" --webhook-url "$SINK_URL" \
  --ledger-out "$TMP/ledger.json" >"$TMP/provider.out" 2>"$TMP/provider.err" &
PROVIDER=$!
PIDS+=("$PROVIDER")
await_file "$TMP/provider.out" || die "the provider did not start: $(cat "$TMP/provider.err")"
for _ in $(seq 100); do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$TMP/provider.out" | head -1)
  SECRET=$(sed -n 's/^webhook secret: //p' "$TMP/provider.out")
  [ -n "$URL" ] && [ -n "$SECRET" ] && break
  sleep 0.1
done
[ -n "$URL" ] || die "no URL from the provider: $(cat "$TMP/provider.out" "$TMP/provider.err")"
echo "== sdk: provider at $URL, webhooks to $SINK_URL"

export PAYCHAOS_URL=$URL PAYCHAOS_WEBHOOK_SECRET=$SECRET PAYCHAOS_SINK=$TMP/sink
export PAYCHAOS_ORDERS=$ORDERS STRIPE_NODE_DIR=$NODE_DIR

# Each program prints ok / not ok lines and its own tally (dropped here: one tally at the end).
CRASHED=0
run_program() {
  local name=$1
  shift
  echo "== sdk: $name"
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local rc=$?
  grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/$name.out"
  if [ $rc -ne 0 ]; then
    sed 's/^/    /' "$TMP/$name.err" | tail -40
    if ! grep -q '^not ok - ' "$TMP/$name.out"; then
      echo "not ok - $name: exited $rc without reporting a failed check"
      CRASHED=$((CRASHED + 1))
    fi
  fi
}
run_program stripe-python "$PYTHON" tests/sdk/compat.py
run_program stripe-node node tests/sdk/compat.mjs

echo "== sdk: stopping the provider"
kill -INT "$PROVIDER"
wait "$PROVIDER" || die "the provider exited badly: $(cat "$TMP/provider.err")"
await_file "$TMP/ledger.json" || die "the provider wrote no ledger"
"$PYTHON" tests/sdk/check_ledger.py "$TMP/ledger.json" "$ORDERS" >"$TMP/ledger.out" 2>&1
cat "$TMP/ledger.out"

OUTS=("$TMP/stripe-python.out" "$TMP/stripe-node.out" "$TMP/ledger.out")
PASSED=$(cat "${OUTS[@]}" | grep -c '^ok - ')
FAILED=$(($(cat "${OUTS[@]}" | grep -c '^not ok - ') + CRASHED))
echo "== sdk: done in $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
