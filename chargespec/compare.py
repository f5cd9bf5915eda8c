"""The comparison of an observation with a vector's expectation: one module for the runner
(`chargespec conform`), the fuzzer, the pytest plugin and the mutation analysis.

A key the implementation cannot show (not in `shown`) is not compared; `messages` follow the
vectors' messageOrder (FORMAT.md): results in order, calls as a multiset, the transaction
messages in their relative order (OCPP 1.6 queues and delivers only those in order); the keys
of a GetConfiguration.conf in any order.
"""

from __future__ import annotations

import json
from typing import Any


TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")


def canonical(m: Any) -> str:
    f = m.get("fields") if isinstance(m, dict) else None
    if m.get("action") == "GetConfiguration" and isinstance(f, dict):
        # OCPP 1.6 §6.23 gives configurationKey and unknownKey no order: compared as sets
        f = dict(f)
        for name, key in (("configurationKey", lambda i: json.dumps(i, sort_keys=True)),
                          ("unknownKey", lambda i: json.dumps(i))):
            if isinstance(f.get(name), list):
                f[name] = sorted(f[name], key=key)
        m = {**m, "fields": f}
    return json.dumps(m, sort_keys=True)


def messages_differ(expected: list[Any], observed: Any) -> str | None:
    """The vectors' messageOrder: results in order; calls as a multiset, except that the
    transaction messages keep their relative order (OCPP 1.6 queues and delivers only those in
    order).  None when the observed messages conform."""
    if not isinstance(observed, list) or not all(isinstance(m, dict) for m in observed):
        return f"messages: expected a list of messages, observed {str(observed)[:200]}"
    for m in observed:
        if not {"action", "kind", "fields"} <= set(m):
            return f"messages: {str(m)[:200]} lacks action, kind or fields"
        if not isinstance(m["fields"], dict) or not isinstance(m["kind"], str):
            return f"messages: {str(m)[:200]}: fields must be an object and kind a string"

    def part(ms, pred):
        return [canonical(m) for m in ms if pred(m)]
    results = (lambda m: m["kind"] == "result")
    calls = (lambda m: m["kind"] != "result")
    tx = (lambda m: m["kind"] != "result" and m["action"] in TRANSACTION_ACTIONS)
    if part(expected, results) != part(observed, results) or \
            sorted(part(expected, calls)) != sorted(part(observed, calls)):
        return f"messages: expected {labels(expected)}, observed {labels(observed)}"
    if part(expected, tx) != part(observed, tx):
        return (f"transaction messages out of order: expected {labels(expected)}, "
                f"observed {labels(observed)}")
    return None


def labels(ms: list[Any]) -> str:
    """Messages as one line: `Authorize(idTag=CARD_A); StartTransaction.conf(...)`."""
    def one(m: Any) -> str:
        if not isinstance(m, dict):
            return repr(m)[:80]
        f = m.get("fields", {})
        fields = (", ".join(f"{k}={v}" for k, v in sorted(f.items(), key=lambda kv: str(kv[0])))
                  if isinstance(f, dict) else repr(f)[:80])
        suffix = ".conf" if m.get("kind") == "result" else ""
        return f"{m.get('action')}{suffix}({fields})"
    return "[" + "; ".join(one(m) for m in ms) + "]" if ms else "[]"


def compare(expected: dict[str, Any], observed: dict[str, Any], shown: list[str]
            ) -> tuple[str, str] | None:
    """(key, description) of the first observation that differs, or None."""
    for key in shown:
        if key not in expected:
            continue
        if key not in observed:
            return key, f"{key}: expected {expected[key]!r}, observed nothing"
        if key == "messages":
            diff = messages_differ(expected[key], observed[key])
            if diff:
                return key, diff
        elif observed[key] != expected[key]:
            return key, f"{key}: expected {expected[key]!r}, observed {observed[key]!r}"
    return None
