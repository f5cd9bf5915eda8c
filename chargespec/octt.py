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
    """The first expected message not found, in order, among each step's messages, or a
    message that must not come but does (`no ...`), or None.

    Within one step the order is free (the vectors' messageOrder), so each step is searched
    as a set for as many of the next expected messages as it holds.  A `no X` entry is then
    checked over the steps from the one that holds the expected message before it to the one
    that holds the expected message after it (the last step if none follows), leaving out the
    matched messages themselves.
    """
    positive = [e for e in case.expect if not e.negated]
    at: list[tuple[int, int]] = []  # (step, index) of each positive match
    k = 0
    for i, messages in enumerate(steps):
        left = list(enumerate(messages))
        while k < len(positive):
            hit = next((j for j, (_, m) in enumerate(left) if positive[k].matches(m)), None)
            if hit is None:
                break
            at.append((i, left.pop(hit)[0]))
            k += 1
    if k < len(positive):
        return positive[k].text
    matched = set(at)
    before = 0  # positives before the current entry
    for e in case.expect:
        if not e.negated:
            before += 1
            continue
        first = at[before - 1][0] if before else 0
        last = at[before][0] if before < len(at) else len(steps) - 1
        for i in range(first, last + 1):
            for j, m in enumerate(steps[i]):
                if (i, j) not in matched and e.matches(m):
                    return e.text
    return None


def defaults_failing(engine: Engine, case: OcttCase) -> dict[str, dict[str, Any]]:
    """The settings of the case's configuration whose factory default fails the case: the
    case replayed with that one setting back at its default no longer sends what OCTT expects
    (parameter -> {default, required})."""
    out: dict[str, dict[str, Any]] = {}
    for pid, value in sorted(case.config.items()):
        default = engine.spec.parameters[pid].default
        if thaw(default) == thaw(value):
            continue
        config = engine.config({**case.config, pid: default})
        trace = [engine.event(name, **fields) for name, fields, _ in case.steps]
        try:
            run = engine.run(config, trace)
        except ChargespecError:
            continue
        sent = [[m.to_json() for m in out_.messages] for _, _, out_ in run]
        if unmatched(case, sent) is not None:
            out[pid] = {"default": thaw(default), "required": thaw(value)}
    return out


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
        comment = f"{case.id} {case.title}"
        if case.interpretation:
            comment += (f". Departs from OCTT, which expects {case.octt_expects} "
                        f"(interpretation {case.interpretation})")
        test = make_test(engine, config, trace, comment, flag=case.id, octt=case.id)
        if case.interpretation:
            test["flags"].append(case.interpretation)
        sent = [s["expect"]["messages"] for s in test["steps"]]
        missing = unmatched(case, sent)
        if missing is not None and missing.startswith("no "):
            raise SpecError(case.where, f"OCTT case {case.id}: the reference sends "
                                        f"{missing[3:].strip()} where the case expects none")
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
