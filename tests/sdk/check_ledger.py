"""The provider's side of the SDK retry checks: reads the ledger `paychaos provider
--ledger-out` wrote and checks that each SDK's automatic retry reused the first attempt's
Idempotency-Key (the injected 500 and the lost answer included) and that money moved once.
Prints `ok - …` / `not ok - …` lines. Stdlib only.

Usage: check_ledger.py LEDGER.json ORDERS_JSON
"""

import json
import sys

ledger = json.load(open(sys.argv[1]))["ledger"]
orders = json.loads(sys.argv[2])

# Per fault: the results, faults and money of the order's charge requests, in order.
EXPECTED = {
    "server_error": (
        ["server_error", "ok", "replayed"],
        ["server_error", None, None],
        [False, True, False],
    ),
    "answer_lost": (
        ["answer_lost", "replayed"],
        ["timeout_after_charge", None],
        [True, False],
    ),
}

failed = 0
for prefix, sets in orders.items():
    sdk = prefix.strip("-").replace("sdk-", "")
    for fault, order in sets.items():
        name = f"ledger: {sdk} {fault} retry reused the key and charged once ({order})"
        rows = [e for e in ledger if e["order_id"] == order and e["op"] == "charge"]
        got = (
            [e["result"] for e in rows],
            [e["fault"] for e in rows],
            [e["money_moved"] for e in rows],
        )
        keys = {e["idempotency_key"] for e in rows}
        problems = []
        if got != EXPECTED[fault]:
            problems.append(f"results/faults/money {got}, want {EXPECTED[fault]}")
        if len(keys) != 1 or None in keys:
            problems.append(f"keys {sorted(map(str, keys))}, want one")
        if problems:
            failed += 1
            print(f"not ok - {name}: {'; '.join(problems)}")
        else:
            print(f"ok - {name}")
sys.exit(1 if failed else 0)
