"""No dead end, proved for every configuration: a recovery witness checked with Z3.

The explorer checks the graph invariant `no_dead_end` (from every reachable state some sequence
of events leads back to the goal, a state that is powered and Available) on the state graphs of
the configurations it explores.  The configurations are too many to enumerate, and a graph
property has no induction step, so here the spec supplies witnesses instead: `recovery:`, each
a sequence of events (power back, the §9 recoveries, the backend ending a transaction, the
vehicle leaving) for the states its `when` names.  Z3 shows, for every configuration:

  cover      every state the state invariants allow is some witness's (their `when`s);
  witness    from every state the state invariants and its `when` allow (and there is one),
             stepping through the witness's events meets the goal somewhere along them.

The state invariants hold in every reachable state (checkers/induction.py), so every reachable
state of every configuration has a way back: its witness.  Several witnesses make the claim
sharper than one could: the spec's first needs no reset, and only the state with the error that
only a reset clears is left to the second, so a dead end a reset would hide is still found.

The sequence is unrolled symbolically.  One step on a concrete event is the step function's:
of the rules for that event, the one whose source and guard hold (determinism and completeness
are proved, so exactly one does; an If chain over them, ignore rules keeping the state), `do`
assigned simultaneously from the old values, `to` set, the kept observations settled from the
new state and the transient variables reset.  One query per witness asks for a start state
from which no prefix reaches the goal; unsat is the proof.  A model is a start state and configuration the
witness does not rescue, with the state it ends in.  Such a state may be unreachable (the state
invariants do not pin every variable) or the witness may be too short: the explorer's dead-end
check on its configurations says which.
"""

from __future__ import annotations

import time
from typing import Any

import z3

from chargespec.expr import BoolT, IntT
from chargespec.specmodel import Spec

from .determinism import MachineModel
from chargespec.verdicts import gave_up

from .induction import InvariantProof, invariant_terms, observation_terms, state_after
from .z3_backend import SymSet, Z3Backend

State = dict[str, tuple[Any, Any]]  # state field -> (Z3 term, type)


def _const(model: MachineModel, value: Any, t: Any) -> Any:
    """A concrete event field value as a term of its type's encoding."""
    if isinstance(t, BoolT):
        return z3.BoolVal(value)
    if isinstance(t, IntT):
        return z3.IntVal(value)
    return z3.IntVal(model.codes(value))  # enum value or card: its code


def _ite(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(a, SymSet):
        return SymSet(a.domain, {m: z3.If(cond, a.get(m), b.get(m)) for m in a.domain})
    return z3.If(cond, a, b)


def successor(model: MachineModel, state: State, event: str,
              fields: tuple[tuple[str, Any], ...] = ()) -> State:
    """The state after the concrete event `event(fields)` from the symbolic `state`."""
    m = model.machine
    types = {f.name: f.type for f in m.events[event].fields}
    given = {name: (_const(model, v, types[name]), types[name]) for name, v in fields}

    def resolve(name: str) -> tuple[Any, Any]:
        if name in given:
            return given[name]
        return state[name] if name in state else model.terms[name]
    b = Z3Backend(resolve, model.codes)
    control = state[m.control][0]
    new = dict(state)  # unreachable: completeness is proved, some rule applies
    for rule in reversed([r for r in m.rules if event in r.events]):
        applies = z3.And(z3.Or(*[control == model.codes(p) for p in rule.sources]),
                         b.visit(rule.when))
        after = state if rule.ignore else state_after(model, rule, event, state, b)
        new = {k: (_ite(applies, after[k][0], new[k][0]), t) for k, (_, t) in state.items()}
    settled = observation_terms(model, new)
    for o in m.observations:
        if o.keep:
            new[o.name] = settled[o.name]
    for v in m.variables.values():
        if v.transient:  # reset after every step, as the step function does
            new[v.name] = (z3.IntVal(model.codes(v.initial.value)),  # type: ignore[attr-defined]
                           new[v.name][1])
    return new


def _holds(model: MachineModel, expr: Any, state: State) -> Any:
    return Z3Backend(lambda n: state[n] if n in state else model.terms[n],
                     model.codes).visit(expr)


def _show(model: MachineModel, mod: z3.ModelRef, state: State) -> str:
    return ", ".join(f"{name}={model._value(mod, *state[name])}"
                     for name in model.machine.state_fields
                     if not isinstance(state[name][0], z3.ArrayRef))


def _config(model: MachineModel, mod: z3.ModelRef) -> str:
    """The counterexample's configuration, in the spec's words (the parameters rules read)."""
    first_event = next(iter(model.machine.events))
    return model.describe(mod, [], first_event).split(" under ", 1)[-1]


def prove(spec: Spec, machine: str = "session", timeout_ms: int = 120_000) -> InvariantProof:
    """Each graph invariant with a goal and a `recovery:` witness, for every configuration."""
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    graph = [i for i in m.invariants if i.kind == "graph" and i.expr is not None and i.recovery]
    failures: dict[str, str] = {}
    unknown: dict[str, str] = {}
    if not graph:
        return InvariantProof(machine, (), (), 0, time.perf_counter() - t0)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*model.facts)
    start: State = {name: model.terms[name] for name in m.state_fields}
    s.add(*invariant_terms(model, [i for i in m.invariants if i.kind == "state"], start, stored=True))
    queries = 0
    for inv in graph:
        whens = [w.when for w in inv.recovery]
        if all(w is not None for w in whens):  # together they must cover every state
            queries += 1
            s.push()
            s.add(z3.Not(z3.Or(*[_holds(model, w, start) for w in whens])))
            verdict = s.check()
            if verdict == z3.sat:
                mod = s.model()
                failures[inv.id] = (f"no witness is for the state ({_show(model, mod, start)}) "
                                    f"under {_config(model, mod)}")
            elif verdict == z3.unknown:
                unknown[inv.id] = gave_up(s).reason
            s.pop()
        for k, w in enumerate(inv.recovery, 1):
            if inv.id in failures or inv.id in unknown:
                break
            state, reached = start, [_holds(model, inv.expr, start)]
            for event, fields in w.events:
                state = successor(model, state, event, fields)
                reached.append(_holds(model, inv.expr, state))
            queries += 1
            s.push()
            if w.when is not None:
                s.add(_holds(model, w.when, start))
                some = s.check()
                if some != z3.sat:  # a witness for no state would prove nothing
                    if some == z3.unknown:
                        unknown[inv.id] = gave_up(s).reason
                    else:
                        failures[inv.id] = (f"witness {k} ({w.where.file}:{w.where.line}) is "
                                            f"for no state the state invariants allow")
                    s.pop()
                    break
            s.add(z3.Not(z3.Or(*reached)))
            verdict = s.check()
            if verdict == z3.sat:
                mod = s.model()
                failures[inv.id] = (
                    f"witness {k} ({len(w.events)} events, {w.where.file}:{w.where.line}) does "
                    f"not reach the goal from state ({_show(model, mod, start)}) under "
                    f"{_config(model, mod)}; "
                    f"it ends in ({_show(model, mod, state)})")
            elif verdict == z3.unknown:
                unknown[inv.id] = gave_up(s).reason
            s.pop()
    return InvariantProof(machine, tuple(i.id for i in graph), tuple(sorted(failures.items())),
                          queries, time.perf_counter() - t0, tuple(sorted(unknown.items())))
