"""`chargespec trace --infer-config`: which configurations explain a log, and which parameters
the log determines.

The configuration space (79.6 million products of the parameters the session reads) is never
enumerated.  The search starts from one configuration (the factory defaults, what `--config` /
`--set` give, and the values the log's GetConfiguration answers show) and refines it where the
log contradicts it: at the first frame no behaviour explains, it tries each parameter the
session reads at each of its other values (`checkers.check.parameter_values`), keeps those that
explain the log further, and goes on from the best (`BEAM` of them, `ROUNDS` changes at most).
Then, around the configuration that explains the log, each parameter's other values are tried
one by one: a parameter is **determined** when every other value fails (the frame that ruled
out the last of them is named), **open** when some other value explains the log as well.  What
the answer does not claim: that no configuration differing in two or more parameters at once
explains the log (a class of configurations is explored around the one found, not all of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models.types import thaw
from .check import HEARTBEAT_KEY, Checker, Verdict, check, heartbeat_write
from .readers import Log

BEAM = 4  # configurations kept per round
ROUNDS = 3  # parameters changed at most from the starting configuration


@dataclass
class Inference:
    config: dict[str, Any] | None  # the parameter values of a configuration that explains it
    changed: dict[str, Any]  # ... where they differ from the starting configuration
    determined: dict[str, tuple[Any, int]] = field(default_factory=dict)  # p -> (value, line)
    open: dict[str, list[Any]] = field(default_factory=dict)  # p -> the values that explain
    pinned: dict[str, Any] = field(default_factory=dict)  # given, or shown by the log
    checks: int = 0  # logs checked
    furthest: int = 0  # with no configuration found: the furthest line explained


def log_pins(engine: Any, log: Log) -> dict[str, Any]:
    """Parameter values the log's GetConfiguration answers show (before any change)."""
    from ..configkeys import parse
    table = engine.spec.configuration_keys
    out: dict[str, Any] = {}
    written: set[str] = set()
    if table is None:
        return out
    for f in log.frames:
        if f.kind == 2 and f.origin == "cs" and f.action == "ChangeConfiguration":
            break  # from here on the values may be the central system's
        if f.kind == 3 and f.action == "BootNotification" and heartbeat_write(engine, f.payload):
            written.add(HEARTBEAT_KEY.lower())  # the central system's value from here on
        if f.kind == 3 and f.action == "GetConfiguration":
            for entry in f.payload.get("configurationKey") or []:
                if not isinstance(entry, dict):
                    continue
                key = table.find(str(entry.get("key", "")))
                if key is None or key.parameter is None or key.name.lower() in written or not isinstance(entry.get("value"),
                                                                           str):
                    continue
                value = parse(key, entry["value"])
                if value is not None:
                    out.setdefault(key.parameter, value)
    return out


def _outcome(engine: Any, values: dict[str, Any], log: Log, depth: int,
             witness: list[Verdict] | None = None) -> tuple[bool, int]:
    """(explained, the line of the first unexplained frame or a line past the end).  With
    `witness` (the verdicts of a configuration that explains the log), its runs are tried
    first: when they explain the log under `values` too, no search is needed."""
    config = engine.config(values)
    if witness is not None and all(Checker(engine, config, (), depth).follow(v)
                                   for v in witness):
        return True, 1 << 30
    verdicts, _, _ = check(engine, config, log, depth)
    bad = [v.frame.line for v in verdicts if not v.explained and v.frame is not None]
    return (not bad), (min(bad) if bad else 1 << 30)


def infer(engine: Any, log: Log, given: dict[str, Any], depth: int) -> Inference:
    from ..checkers.check import parameter_values, parameters_read
    pins = {**log_pins(engine, log), **given}
    rendering = {f.render for d in engine.machine.events.values()
                 for f in getattr(d, "fields", ()) if getattr(f, "render", None)}
    read = set(parameters_read(engine)) | rendering  # the idTag's letter case shows on the wire
    params = [p for p in engine.spec.parameters if p in read and p not in pins
              and len(parameter_values(engine, p)) > 1]
    start = dict(pins)
    res = Inference(None, {}, pinned=pins)

    witness: list[Verdict] | None = None

    def run(values: dict[str, Any]) -> tuple[bool, int]:
        res.checks += 1
        try:
            return _outcome(engine, values, log, depth, witness)
        except Exception:  # noqa: BLE001 - a combination the model refuses: no explanation
            return False, 0

    ok, line = run(start)
    beam = [(ok, line, start)]
    found = start if ok else None
    for _ in range(ROUNDS):
        if found is not None:
            break
        tried: list[tuple[bool, int, dict[str, Any]]] = []
        for _, at, values in beam:
            for p in params:
                if p in values and p not in start:
                    continue  # changed already on this branch
                current = getattr(engine.config(values), p)
                for v in parameter_values(engine, p):
                    if v == current:
                        continue
                    cand = {**values, p: v}
                    ok, line = run(cand)
                    if ok:
                        found = cand
                        break
                    if line > at:
                        tried.append((ok, line, cand))
                if found is not None:
                    break
            if found is not None:
                break
        if found is None:
            tried.sort(key=lambda t: -t[1])
            beam = tried[:BEAM]
            if not beam:
                break
            res.furthest = max(res.furthest, beam[0][1])
    if found is None:
        res.furthest = max([res.furthest, line] + [b[1] for b in beam]) if beam else line
        return res
    full = engine.config(found)
    witness = check(engine, full, log, depth)[0]
    base = engine.config(start)
    res.config = {p: thaw(getattr(full, p)) for p in params}
    res.changed = {p: thaw(getattr(full, p)) for p in params
                   if getattr(full, p) != getattr(base, p)}
    for p in params:
        here = thaw(getattr(full, p))
        also, last = [], 0
        for v in parameter_values(engine, p):
            if v == here or thaw(getattr(engine.config({**found, p: v}), p)) == here:
                continue
            ok, line = run({**found, p: v})
            if ok:
                also.append(v)
            else:
                last = max(last, line)
        if also:
            res.open[p] = [here, *also]
        else:
            res.determined[p] = (here, last)
    return res
