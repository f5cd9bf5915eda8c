"""The invariants of a machine (its `invariants:`) as checks the explorer runs.

`state` invariants are expressions of the spec, evaluated on every reachable state with its
observations (once per state: they are marked `per_state`, and the explorer calls them on the
initial state and on each state when it is first reached).  `step` invariants are expressions
too, over the state before (`old.x`) and after (`new.x`), the event and the messages sent
(`sent`, `every`): properties of a transition that expressions of one state cannot say.  The
same expressions are proved for every configuration by checkers/step_proof.py and give the
coverage boundaries of chargespec/coverage.py.  `graph` invariants look at the whole
reachable state graph (no dead end).  Each check returns None or a message; the explorer adds
the configuration and the shortest trace.
"""

from __future__ import annotations

from typing import Any, Callable

from chargespec.expr import (TRUE, BoolOp, Call, Const, Expr, ListLit, PythonBackend, calls, names,
                             specialize, to_label)
from chargespec.models.step import Engine
from chargespec.models.types import Event, Outputs


class StepInvariant:
    """A step invariant compiled to Python: `reaches` (its `when`: the steps it is about, the
    coverage boundary), `violation` (its `expr` fails on such a step), `applies` (the
    configurations under which `when` can hold: the conjuncts of `when` that read only the
    configuration).

    The expressions read (old, new) as the state, the configuration, the event as the rules
    see it and the step's Outputs.  Per configuration they are specialised first (the
    parameters folded in, `chargespec.expr.specialize`), so a check spends nothing on the
    settings it does not depend on; `specialise=False` keeps the unspecialised closures (the test
    compares both)."""

    def __init__(self, engine: Engine, inv: Any, specialise: bool = True):
        self.inv = inv
        self._be = step_backend(engine)
        self._spec = engine.spec
        self._specialise = specialise
        self._by_config: dict[Any, tuple[Any, Any]] = {}
        read = names(inv.expr) | (names(inv.when) if inv.when is not None else set())
        self._normalize = engine.compiled.normalize if any(
            n.startswith("event.") for n in read) else None
        part = config_part(inv.when, set(engine.spec.parameters) | set(engine.spec.constants))
        fn = python_backend(engine).visit(part) if part is not None else None
        self.applies = (lambda c: bool(fn(None, c, None, None))) if fn else None

    def _compiled(self, config: Any) -> tuple[Any, Any]:
        """(when, expr) as closures for `config`; when None: every step, False: no step."""
        hit = self._by_config.get(config)
        if hit is None:
            inv, be = self.inv, self._be
            when, expr = inv.when, inv.expr
            if self._specialise:
                known = {p: getattr(config, p) for p in self._spec.parameters}
                known.update({c: v for c, (_, v) in self._spec.constants.items()})
                symbolic = tuple(self._spec.constants)
                when = specialize(when, known, symbolic) if when is not None else None
                expr = specialize(expr, known, symbolic)
            if when == Const(False) or expr == TRUE:
                hit = (False, None)
            else:
                hit = (None if when is None or when == TRUE else be.visit(when), be.visit(expr))
            self._by_config[config] = hit
        return hit

    def reaches(self, config: Any, s: Any, ev: Event, s2: Any, out: Outputs) -> bool:
        when = self._compiled(config)[0]
        if when is None or when is False:
            return when is None
        e = self._normalize(config, ev) if self._normalize else ev
        return bool(when((s, s2), config, e, out))

    def violation(self, config: Any, s: Any, ev: Event, s2: Any, out: Outputs) -> str | None:
        """None, or what the step shows where the invariant fails."""
        when, expr = self._compiled(config)
        if when is False:
            return None
        e = self._normalize(config, ev) if self._normalize else ev
        pair = (s, s2)
        if when is not None and not when(pair, config, e, out):
            return None
        if expr(pair, config, e, out):
            return None
        sent = ", ".join(m.label() for m in out.messages) or "nothing"
        return (f"invariant {self.inv.id} fails on {ev.label()}: {to_label(self.inv.expr)} is "
                f"false (status {s.status} -> {s2.status}, session {s.session} -> "
                f"{s2.session}; sent {sent}): {self.inv.doc}")


def config_part(e: Expr | None, config_names: set[str]) -> Expr | None:
    """The conjuncts of `e` that read only `config_names` (None: no such conjunct)."""
    if e is None:
        return None
    parts = e.operands if isinstance(e, BoolOp) and e.op == "and" else (e,)
    keep = tuple(p for p in parts if names(p) <= config_names and not calls(p))
    if not keep:
        return None
    return keep[0] if len(keep) == 1 else BoolOp("and", keep)


GRAPH_CHECKS = ("available_reachable",)


def explorer_checks(engine: Engine) -> dict[str, Callable]:
    """The machine's state and step invariants as checks for `explore`."""
    m = engine.machine
    unknown = [i.check for i in m.invariants if i.kind == "graph" and i.check not in GRAPH_CHECKS]
    if unknown:
        raise ValueError(f"invariants name unknown checks: {', '.join(unknown)}")
    checks: dict[str, Callable] = {}
    be = python_backend(engine)
    for inv in m.invariants:
        if inv.kind == "state":
            fn = be.visit(inv.expr)

            def state_check(config, s, ev, s2, out, fn=fn, inv=inv):
                if not fn(s2, config, None, out.observation):
                    return f"invariant {inv.id} fails in {s2!r}: {inv.doc}"
                return None
            state_check.per_state = True  # type: ignore[attr-defined]
            checks[inv.id] = state_check
        elif inv.kind == "step":
            step = StepInvariant(engine, inv)

            def step_check(config, s, ev, s2, out, step=step):
                return step.violation(config, s, ev, s2, out)
            step_check.applies = step.applies  # type: ignore[attr-defined]
            checks[inv.id] = step_check
    return checks


def step_backend(engine: Engine) -> PythonBackend:
    """The Python back end of step invariants, over ((state before, state after),
    configuration, event, Outputs):
    `old.x` / `new.x` read the state before / after (`new.` an observation from the Outputs),
    `event` the event's name, `event.f` its field (None if it has none), and the step
    functions read the messages the step sends and the configuration's filters."""
    compiled, spec = engine.compiled, engine.spec
    dropped_cache: dict[tuple[Any, str], bool] = {}

    def dropped(config: Any, action: str) -> bool:
        key = (config, action)
        hit = dropped_cache.get(key)
        if hit is None:
            hit = dropped_cache[key] = any(
                when(None, config, None, None) and ("*" in drop or action in drop)
                for drop, when in compiled.filters)
        return hit

    def sent(be: PythonBackend, call: Call) -> Callable:
        action = call.args[0].value  # type: ignore[attr-defined]
        if action == "*":
            return lambda s, c, e, o: len(o.messages)
        # most steps send nothing: answer those without a loop
        return lambda s, c, e, o: [m.action for m in o.messages].count(action) \
            if o.messages else 0

    def every(be: PythonBackend, call: Call) -> Callable:
        action, field = (a.value for a in call.args[:2])  # type: ignore[attr-defined]
        value = call.args[2]
        if isinstance(value, ListLit):
            fs = [be.visit(i) for i in value.items]

            def fits(v, s, c, e, o):
                return any(v == f(s, c, e, o) for f in fs)
        else:
            f = be.visit(value)

            def fits(v, s, c, e, o):
                return v == f(s, c, e, o)
        return lambda s, c, e, o: not o.messages or all(
            fits(m.as_dict().get(field), s, c, e, o) for m in o.messages if m.action == action)

    def dropped_fn(be: PythonBackend, call: Call) -> Callable:
        action = call.args[0].value  # type: ignore[attr-defined]
        return lambda s, c, e, o: dropped(c, action)

    def permitted(be: PythonBackend, call: Call) -> Callable:
        a, b = (be.visit(x) for x in call.args)
        permits = spec.status_table.permits
        return lambda s, c, e, o: permits(a(s, c, e, o), b(s, c, e, o))

    functions = {"sent()": sent, "every()": every, "dropped()": dropped_fn,
                 "permitted()": permitted}

    def resolver(name: str):
        if name in functions:
            return functions[name]
        if name.startswith("old."):
            x = name[4:]
            return lambda s, c, e, o: getattr(s[0], x)
        if name.startswith("new."):
            x = name[4:]
            if x in compiled.obs_names:
                return lambda s, c, e, o: getattr(o.observation, x)
            return lambda s, c, e, o: getattr(s[1], x)
        if name == "event":
            return lambda s, c, e, o: e.name
        if name.startswith("event."):
            x = name[6:]
            return lambda s, c, e, o: e.as_dict().get(x)
        if name in spec.parameters:
            return lambda s, c, e, o: getattr(c, name)
        value = spec.constants[name][1]
        return lambda s, c, e, o: value

    return PythonBackend(resolver, _order(engine))


def python_backend(engine: Engine, state_first: bool = False) -> PythonBackend:
    """The Python back end over (state, configuration, event, observation); a kept
    observation is read from the observation, or with `state_first` from the state."""
    compiled = engine.compiled

    def resolver(name: str):
        if name in compiled.index and (state_first or name not in compiled.obs_names):
            return lambda s, c, e, o: getattr(s, name)
        if name in compiled.obs_names:
            return lambda s, c, e, o: getattr(o, name)
        if name in engine.spec.parameters:
            return lambda s, c, e, o: getattr(c, name)
        value = engine.spec.constants[name][1]
        return lambda s, c, e, o: value

    return PythonBackend(resolver, _order(engine))


def _order(engine: Engine) -> dict[str, int]:
    """The rank of each member of the spec's set domains (for `first`)."""
    return {v: i for t, _ in engine.spec.constants.values() if hasattr(t, "domain")
            for i, v in enumerate(t.domain)}  # type: ignore[attr-defined]


def graph_goal(engine: Engine, inv: Any, config: Any) -> Callable[[Any], bool]:
    """A graph invariant's goal (its `expr`) as a test of a state under `config`."""
    fn = python_backend(engine, state_first=True).visit(inv.expr)
    compiled = engine.compiled
    if names(inv.expr) & (set(compiled.obs_names) - set(compiled.index)):
        return lambda s: bool(fn(s, config, None, engine.observe(config, s)))
    return lambda s: bool(fn(s, config, None, None))


def dead_ends(predecessors: dict[Any, set[Any]], states: Any, goal: Callable[[Any], bool]
              ) -> list[Any]:
    """The reachable states from which no path leads to a state that meets `goal` (the state
    graph backwards from the goal states; `predecessors` from `explore`).  A state beyond the
    exploration's bound (in `predecessors`, not in `states`) was not followed: it counts as
    leading to the goal, which the Z3 recovery proof (checkers/recovery.py) shows for every
    state the state invariants allow."""
    good = {s for s in states if goal(s)} | {s for s in predecessors if s not in states}
    frontier = list(good)
    while frontier:
        s = frontier.pop()
        for p in predecessors.get(s, ()):
            if p not in good:
                good.add(p)
                frontier.append(p)
    return [s for s in states if s not in good]
