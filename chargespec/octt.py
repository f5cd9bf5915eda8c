"""The OCTT OCPP 1.6 test cases that apply, replayed on the reference as vectors (octt.json).

Each applicable case of `spec/octt.yaml` becomes one test named by its TC id (`octt` field and
flag), in a group per configuration.  Before a case is written, its `expect` list must occur, in
order, among the calls and results the reference sends; otherwise generation stops with the
case's file and line, because a vector that claims to mirror TC_012 but does not send
RemoteStopTransaction.conf(Accepted) would mislead every team that trusts the TC id.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ChargespecError, SpecError, Where
from .models.step import Engine
from .models.types import thaw
from .octt_cases import OcttCase


def unmatched(case: OcttCase, steps: list[list[dict[str, Any]]]) -> str | None:
    """The first expected message not found, in order, among each step's messages, or None.

    Within one step the order is free (the vectors' messageOrder), so each step is searched
    as a set for as many of the next expected messages as it holds.
    """
    k = 0
    for messages in steps:
        left = list(messages)
        while k < len(case.expect):
            hit = next((i for i, m in enumerate(left) if case.expect[k].matches(m)), None)
            if hit is None:
                break
            del left[hit]
            k += 1
    return None if k == len(case.expect) else case.expect[k].text


def groups(engine: Engine) -> list[dict[str, Any]]:
    from .vectorform import initial_json, make_test
    by_config: dict[str, dict[str, Any]] = {}
    for case in engine.spec.octt:
        if not case.applies:
            continue
        try:
            config = engine.config(case.config)
            trace = [engine.event(name, **fields) for name, fields, _ in case.steps]
        except ChargespecError as exc:
            line = case.where.line
            for name, fields, ln in case.steps:
                try:
                    engine.event(name, **fields)
                except ChargespecError:
                    line = ln
                    break
            raise SpecError(Where(case.where.file, line), f"OCTT case {case.id}: {exc}") from None
        test = make_test(engine, config, trace, f"{case.id} {case.title}", flag=case.id,
                         octt=case.id)
        sent = [s["expect"]["messages"] for s in test["steps"]]
        missing = unmatched(case, sent)
        if missing is not None:
            raise SpecError(case.where, f"OCTT case {case.id}: the reference does not send "
                                        f"{missing} where the case expects it")
        key = json.dumps(case.config, sort_keys=True)
        g = by_config.setdefault(key, {"config": {k: thaw(v) for k, v in
                                                  sorted(case.config.items())},
                                       "initial": initial_json(engine, config), "tests": []})
        g["tests"].append(test)
    return list(by_config.values())


def applicable(engine: Engine) -> list[OcttCase]:
    return [c for c in engine.spec.octt if c.applies]
