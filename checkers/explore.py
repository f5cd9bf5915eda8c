"""Breadth-first exploration of a machine's reachable states under given configurations.

For one configuration, `explore` visits every state reachable from the initial one by the
machine's events (each field taking the representative values the spec lists under `explore:`),
and records every transition with the rule that fired and the outputs.  A `Check` sees every
transition as it is found and may report a violation; a violation comes back with the shortest
event sequence that reaches it (BFS order), ready to replay or to save as a vector.

`configurations` enumerates the configurations that the machine's guards and observations can
tell apart: the product of the values of every parameter they read (ints and lists take the
representative values given here).  The issue that adds invariants and sharding over processes
builds on this module.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from chargespec.expr import names
from chargespec.models.step import Engine
from chargespec.models.types import Event, Outputs

# Values of non-enum parameters that the session's guards can distinguish.
REPRESENTATIVE = {
    "local_whitelist": [[], ["CARD_A"], ["CARD_A#1", "CARD_B#2"]],
    "maximum_current": [32],
    "installation_current_limit": [32],
    "operator_current_limit": [32],
}


def parameters_read(engine: Engine) -> list[str]:
    """Parameters that some guard, update, initial value or observation of the machine reads."""
    m = engine.machine
    exprs = [r.when for r in m.rules] + [e for r in m.rules for _, e in r.do]
    exprs += [v.initial for v in m.variables.values()]
    for o in m.observations:
        if o.expr is not None:
            exprs.append(o.expr)
        for c in o.cases:
            exprs += [c.when, c.value]
    exprs += [n.when for n in m.notify]
    read = set().union(*(names(e) for e in exprs)) & set(engine.spec.parameters)
    return [p for p in engine.spec.parameters if p in read]


def parameter_values(engine: Engine, pid: str) -> list[Any]:
    p = engine.spec.parameters[pid]
    if pid in REPRESENTATIVE:
        return REPRESENTATIVE[pid]
    if p.kind == "bool":
        return [False, True]
    if p.kind == "enum":
        return list(p.values)
    return [p.default]


def configurations(engine: Engine, only: Iterable[str] | None = None,
                   fixed: dict[str, Any] | None = None) -> Iterator[Any]:
    """Every combination of the values of the parameters read (or of `only`)."""
    pids = list(only) if only is not None else parameters_read(engine)
    fixed = fixed or {}
    pids = [p for p in pids if p not in fixed]
    for combo in itertools.product(*(parameter_values(engine, p) for p in pids)):
        yield engine.config({**fixed, **dict(zip(pids, combo))})


# One error row per behaviour of the error table, for explorations that cannot afford all 15:
# faulting with a timer and cable-removal recovery; from the vehicle, not faulting; from the
# vehicle, faulting; faulting and keeping the socket locked; not faulting, shown on the LEDs
# only by a parameter.
REPRESENTATIVE_ERRORS = ("rcmb_residual_current", "vehicle_signals_error",
                         "vehicle_diode_check_failed", "actuator_stuck", "backend_disconnected")


def error_event_names(engine: Engine) -> set[str]:
    """The events of the error model: error_raised and the error table's recovery events."""
    return {"error_raised", *engine.spec.recovery_events} & set(engine.machine.events)


def session_events(engine: Engine) -> list[Event]:
    """Every event except the error model's: the session as it runs without faults."""
    skip = error_event_names(engine)
    return [e for e in all_events(engine) if e.name not in skip]


def error_events(engine: Engine, errors: Iterable[str] | None = None) -> list[Event]:
    """error_raised for `errors` (default: every row) and every recovery event."""
    wanted = set(errors) if errors is not None else None
    skip = error_event_names(engine)
    return [e for e in all_events(engine) if e.name in skip and
            (e.name != "error_raised" or wanted is None or e.as_dict()["error"] in wanted)]


def max_errors(n: int) -> Callable[[Any], bool]:
    """A bound for `explore`: states with at most `n` active errors."""
    return lambda s: len(s.errors) <= n


def all_events(engine: Engine) -> list[Event]:
    """Every event with every combination of its fields' representative values."""
    out = []
    for ev in engine.machine.events.values():
        domains = []
        for f in ev.fields:
            if f.explore:
                domains.append(list(f.explore))
            elif hasattr(f.type, "values"):
                domains.append(list(f.type.values))  # type: ignore[attr-defined]
            elif f.type.describe() == "bool":
                domains.append([False, True])
            else:
                raise ValueError(f"event {ev.name}.{f.name} needs `explore:` values")
        for combo in itertools.product(*domains):
            out.append(engine.event(ev.name, **dict(zip(ev.field_names(), combo))))
    return out


@dataclass(frozen=True)
class Violation:
    check: str
    message: str
    config: Any
    trace: tuple[Event, ...]  # from the initial state
    state: Any


Check = Callable[[Any, Any, Event, Any, Outputs], str | None]


@dataclass
class Exploration:
    config: Any
    states: int = 0
    transitions: int = 0
    rules_fired: set[str] = field(default_factory=set)
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0
    parent: dict[Any, Any] = field(default_factory=dict, repr=False)  # BFS tree, for traces


def explore(engine: Engine, config: Any, checks: dict[str, Check] | None = None,
            events: list[Event] | None = None, max_violations: int = 1,
            bound: Callable[[Any], bool] | None = None,
            predecessors: dict[Any, set[Any]] | None = None,
            skip_unchanged: bool = False) -> Exploration:
    """BFS from the initial state; each check sees each transition (config, s, ev, s2, out).

    A check marked `per_state` (a state invariant) sees each state once instead: the initial
    state (with ev None and an "(initial)" output) and every other state when it is first
    reached.  `bound` (e.g. `max_errors(2)`) keeps the search to states it accepts: transitions
    into other states are checked but not followed, so the result is exhaustive within the
    bound.  With `predecessors`, the state graph is recorded backwards (state -> the states it
    is reached from), for properties of the graph such as the absence of dead ends; a state
    beyond the bound is recorded with the states that reach it, though it is not followed.
    `skip_unchanged` spares the step checks the self-loops (the state unchanged, nothing sent),
    which only checks of a change can look at; most events in most states are such self-loops.
    """
    t0 = time.perf_counter()
    checks = checks or {}
    per_state = [(n, c) for n, c in checks.items() if getattr(c, "per_state", False)]
    # a step check that says when it `applies` is left out under other configurations
    per_step = [(n, c) for n, c in checks.items() if not getattr(c, "per_state", False)
                and (getattr(c, "applies", None) is None or c.applies(config))]
    events = events if events is not None else all_events(engine)
    init = engine.initial(config)
    parent: dict[Any, tuple[Any, Event] | None] = {init: None}
    queue = deque([init])
    result = Exploration(config)
    expand = engine.expand
    outside: set[Any] = set()  # states beyond the bound, checked once

    def report(name: str, msg: str | None, s: Any, ev: Event | None, s2: Any) -> None:
        if msg is not None and len(result.violations) < max_violations:
            trace = _trace(parent, s) + ((ev,) if ev is not None else ())
            result.violations.append(Violation(name, msg, config, trace, s2))

    if per_state:
        first = Outputs("(initial)", (), (), engine.observe(config, init))
        for name, chk in per_state:
            report(name, chk(config, init, None, init, first), init, None, init)
    fired = result.rules_fired
    while queue:
        s = queue.popleft()
        successors, loops = expand(config, s, events, skip_unchanged)
        result.transitions += len(events)
        fired.update(loops)  # the self-loops, which the checks are spared
        for ev, s2, out in successors:
            fired.add(out.rule)
            for name, chk in per_step:
                msg = chk(config, s, ev, s2, out)
                if msg is not None:
                    report(name, msg, s, ev, s2)
            if s2 not in parent:
                if bound is None or bound(s2):
                    parent[s2] = (s, ev)
                    queue.append(s2)
                    fresh = True
                else:
                    fresh = s2 not in outside
                    outside.add(s2)
                if fresh:
                    for name, chk in per_state:
                        msg = chk(config, s, ev, s2, out)
                        if msg is not None:
                            report(name, msg, s, ev, s2)
            if predecessors is not None and (s2 in parent or s2 in outside):
                predecessors.setdefault(s2, set()).add(s)
        if len(result.violations) >= max_violations:
            break
    result.states = len(parent)
    result.seconds = time.perf_counter() - t0
    result.parent = parent
    return result


def trace_to(parent: dict[Any, tuple[Any, Event] | None], s: Any) -> tuple[Event, ...]:
    """The shortest event sequence (BFS order) from the initial state to `s`."""
    return _trace(parent, s)


def _trace(parent: dict[Any, tuple[Any, Event] | None], s: Any) -> tuple[Event, ...]:
    out: list[Event] = []
    while (p := parent[s]) is not None:
        s, ev = p
        out.append(ev)
    return tuple(reversed(out))


def pairwise_configurations(engine: Engine, only: Iterable[str] | None = None) -> list[Any]:
    """A covering set: every pair of values of any two parameters read occurs in some config.

    Greedy (AETG-style, deterministic): each new configuration is built parameter by parameter,
    choosing the value that covers most still-uncovered pairs, ties to the first value.  Far
    fewer configurations than the product, for tests that must see every setting interact.
    """
    pids = list(only) if only is not None else parameters_read(engine)
    domains = [parameter_values(engine, p) for p in pids]
    uncovered = {(i, a, j, b) for i, j in itertools.combinations(range(len(pids)), 2)
                 for a in range(len(domains[i])) for b in range(len(domains[j]))}
    rows: list[list[int]] = []
    while uncovered:
        # start from the first uncovered pair so each row makes progress
        i0, a0, j0, b0 = min(uncovered)
        row: list[int | None] = [None] * len(pids)
        row[i0], row[j0] = a0, b0
        for k in range(len(pids)):
            if row[k] is not None:
                continue
            best, best_gain = 0, -1
            for v in range(len(domains[k])):
                gain = sum(1 for m in range(len(pids)) if row[m] is not None and
                           ((min(k, m), v if k < m else row[m], max(k, m),
                             row[m] if k < m else v) in uncovered))
                if gain > best_gain:
                    best, best_gain = v, gain
            row[k] = best
        full = [int(x) for x in row]  # type: ignore[arg-type]
        for i, j in itertools.combinations(range(len(pids)), 2):
            uncovered.discard((i, full[i], j, full[j]))
        rows.append(full)
    return [engine.config({p: domains[k][row[k]] for k, p in enumerate(pids)}) for row in rows]
