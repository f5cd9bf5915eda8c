"""The state invariants proved for every configuration at once, by induction with Z3.

The explorer checks invariants state by state under the configurations it explores (a pairwise
covering set: the parameters the guards read distinguish about 19 million configurations, too
many to enumerate).  Here the configuration stays symbolic, so the proof covers all of them:

  base       for every configuration, every state invariant holds in the initial state;
  step       for every configuration, every state that satisfies all state invariants, every
             event and every rule that applies to them: the state after the rule satisfies
             every state invariant again.

Both together prove the state invariants in every reachable state of every configuration.  A
third query covers the backend changing a setting between two steps (ChangeConfiguration of a
writable key, chargespec/configkeys.py): from every state that satisfies the state invariants,
with the writable keys' parameters set to any values, the invariants hold again.  The
invariants marked `assume: true` in spec/session.yaml are the strengthening that makes the step
go through (each is itself proved here, and checked by the explorer).  A failed step is not
necessarily a reachable violation: the state it starts from may be unreachable, and the answer
is a stronger invariant.  So the counterexample names configuration, state, event and rule.

The state after a rule is built as the step function builds it: `do` assigns simultaneously from
the old values, `to` sets the control variable, and the observations (the kept `status` among
them) are computed in order from the new state, with the transient variables as the rule left
them.  One query per (rule, event): all invariants at once; on a counterexample the model says
which ones break.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import z3

from chargespec.expr import SetT, TokenSetT
from chargespec.specmodel import Spec

from chargespec.verdicts import Counterexample, Proved, Unknown, Verdict, gave_up

from .determinism import MachineModel
from .z3_backend import SymSet, Z3Backend, variable


@dataclass(frozen=True)
class InvariantProof:
    """The verdict of a proof of invariants for every configuration (this induction, and the
    step invariants' proof in step_proof.py)."""

    machine: str
    invariants: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]  # (invariant, counterexample in the spec's words)
    queries: int
    seconds: float
    unknown: tuple[tuple[str, str], ...] = ()  # (invariant, why Z3 gave up): not proved

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unknown

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """Each invariant's verdict: Proved, Counterexample(in the spec's words) or Unknown."""
        bad, unknown = dict(self.failures), dict(self.unknown)
        return {i: Counterexample(bad[i]) if i in bad else Unknown(unknown[i]) if i in unknown
                else Proved() for i in self.invariants}


Induction = InvariantProof


def observation_terms(model: MachineModel, terms: dict[str, tuple[Any, Any]],
                      stored: bool = False) -> "ObservationTerms":
    """The observations of the state `terms`, in order, each seeing the ones before it.  Like
    the step function's, they see the configuration and the state, never the event: an event
    field may share a name with a kept observation (authorize_conf's `status`).

    A state's kept observations are the values the step that made it computed.  So after a
    step (`stored` False) they are computed from the state, reading their own old values; of a
    state as it is stored (`stored` True: the state a step starts from) they are the stored
    values, which is what an invariant saw when it was checked on that state.

    Each observation's term is built when something first reads it: a proof that reads the
    status never builds the error code's lookups (most of the step proof's time, before)."""
    return ObservationTerms(model, {**model.terms, **terms}, stored)


class ObservationTerms(dict):
    """The scope of `observation_terms`: parameters, constants and the state as given; an
    observation's (term, type) computed on its first read.  An observation reads those before
    it as computed here, and anything later in the order (a kept observation's own old value,
    or a kept one declared after it) as the state holds it, as the step function does."""

    def __init__(self, model: MachineModel, base: dict[str, tuple[Any, Any]], stored: bool):
        super().__init__(base)
        self._model = model
        self._base = base
        self._obs = [o for o in model.machine.observations
                     if not (o.kind == "pwm_duty" or o.type is None)  # a table lookup
                     and not (stored and o.keep)]  # the stored value, already in the base
        self._index = {o.name: i for i, o in enumerate(self._obs)}
        self._done: dict[int, tuple[Any, Any]] = {}

    def __getitem__(self, name: str) -> tuple[Any, Any]:
        i = self._index.get(name)
        return super().__getitem__(name) if i is None else self._term(i)

    def __contains__(self, name: object) -> bool:
        return name in self._index or super().__contains__(name)

    def _term(self, i: int) -> tuple[Any, Any]:
        hit = self._done.get(i)
        if hit is None:
            o = self._obs[i]

            def resolve(n: str, i: int = i) -> tuple[Any, Any]:
                j = self._index.get(n)
                return self._term(j) if j is not None and j < i else self._base[n]
            b = Z3Backend(resolve, self._model.codes)
            if o.kind == "cases":
                value = None
                for case in reversed(o.cases):
                    v = b.visit(case.value)
                    value = v if value is None else z3.If(b.visit(case.when), v, value)
            else:
                value = b.visit(o.expr)
            hit = self._done[i] = (value, o.type)
        return hit


def state_after(model: MachineModel, rule: Any, event: str,
                old: dict[str, tuple[Any, Any]] | None = None, backend: Z3Backend | None = None
                ) -> dict[str, tuple[Any, Any]]:
    """The state variables after `rule` (before its observations settle), from the state
    `old` (default: the symbolic state) with names resolved by `backend` (default: the event's
    fields, then the symbolic state and configuration)."""
    m = model.machine
    b = backend or model.backend(event)
    old = old or {name: model.terms[name] for name in m.state_fields}
    new = dict(old)
    for var, expr in rule.do:
        new[var] = (b.visit(expr), old[var][1])
    if rule.to is not None:
        new[m.control] = (z3.IntVal(model.codes(rule.to)), old[m.control][1])
    return new


def _initial(model: MachineModel, b: Z3Backend, var: Any) -> Any:
    """A variable's initial value as a term of its own encoding (sets start as literals)."""
    t = var.type
    if isinstance(t, SetT):
        members = {getattr(i, "value", None) for i in getattr(var.initial, "items", ())}
        return SymSet(t.domain, {m: z3.BoolVal(m in members) for m in t.domain})
    if isinstance(t, TokenSetT):
        base = z3.K(z3.IntSort(), z3.BoolVal(False))
        for i in getattr(var.initial, "items", ()):
            base = z3.Store(base, b.visit(i), True)
        return base
    return b.visit(var.initial)


def invariant_terms(model: MachineModel, invariants: list[Any],
                    state: dict[str, tuple[Any, Any]], stored: bool = False) -> list[Any]:
    """The invariants as Z3 terms over `state` and its observations (shared with the step,
    recovery and status-relation proofs)."""
    scope = observation_terms(model, state, stored)
    b = Z3Backend(scope.__getitem__, model.codes)
    return [b.visit(i.expr) for i in invariants]


def prove(spec: Spec, machine: str = "session", timeout_ms: int = 60_000) -> Induction:
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    invariants = [i for i in m.invariants if i.kind == "state"]
    failures: dict[str, str] = {}
    unknown: dict[str, str] = {}
    queries = 0
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*model.facts)

    def broken(terms: list[Any], what: Any) -> None:
        """Record the invariants that some model of the solver's facts breaks."""
        nonlocal queries
        while True:  # again without those found broken, until the rest hold
            left = [t for inv, t in zip(invariants, terms)
                    if inv.id not in failures and inv.id not in unknown]
            if not left:
                return
            queries += 1
            s.push()
            s.add(z3.Not(z3.And(*left)))
            verdict = s.check()
            if verdict == z3.sat:
                mod = s.model()
                for inv, t in zip(invariants, terms):
                    if inv.id not in failures and inv.id not in unknown and \
                            not z3.is_true(mod.eval(t, model_completion=True)):
                        failures[inv.id] = what(mod)
            elif verdict == z3.unknown:
                for inv in invariants:
                    if inv.id not in failures:
                        unknown.setdefault(inv.id, gave_up(s).reason)
            s.pop()
            if verdict != z3.sat:
                return

    # base: the initial state, for every configuration
    b0 = model.backend()
    init = {name: (_initial(model, b0, v), model.terms[name][1])
            for name, v in m.variables.items()}
    kept = [o.name for o in m.observations if o.keep]
    for name in kept:
        init[name] = model.terms[name]
    scope0 = observation_terms(model, init)
    for name in kept:
        init[name] = scope0[name]
    first_event = next(iter(model.event_terms))
    broken(invariant_terms(model, invariants, init, stored=True),
           lambda mod: "does not hold in the initial state under " +
           model.describe(mod, [], first_event).split(" under ", 1)[-1])
    # step: from any state where every state invariant holds, by every rule on every event
    old = {name: model.terms[name] for name in m.state_fields}
    s.add(*invariant_terms(model, invariants, old, stored=True))
    control = model.control()
    for rule in m.rules:
        if rule.ignore:
            continue  # the state is unchanged
        for event in rule.events:
            if len(failures) == len(invariants):
                break
            s.push()
            s.add(z3.Or(*[control == model.codes(p) for p in rule.sources]))
            s.add(model.compile(rule.when, event))
            broken(invariant_terms(model, invariants, state_after(model, rule, event)),
                   lambda mod, rule=rule, event=event: (
                       f"rule {rule.id} ({rule.where.file}:{rule.where.line}) breaks it on "
                       + model.describe(mod, [], event)))
            s.pop()
    # a ChangeConfiguration between steps: the state stays, every writable key's parameter
    # may take any value of its type (configkeys); the invariants must hold again.  (The
    # lists of measurands, read by no expression, are left out.)
    writable = [k.parameter for k in getattr(spec.configuration_keys, "keys", ())
                if k.parameter is not None and not k.readonly
                and spec.parameters[k.parameter].kind != "list"]
    if writable:
        changed = dict(old)
        for pid in writable:
            t = spec.parameters[pid].type
            term, facts = variable(f"cfg2.{pid}", t, model.codes)
            s.add(*facts)
            changed[pid] = (term, t)
        broken(invariant_terms(model, invariants, changed, stored=True),
               lambda mod: "a ChangeConfiguration to " + ", ".join(
                   f"{pid}={model._value(mod, *changed[pid])}" for pid in writable)
               + " breaks it in state " + model.describe(
                   mod, [], first_event).split(" in state ", 1)[-1])
    return Induction(machine, tuple(i.id for i in invariants),
                     tuple(sorted(failures.items())), queries, time.perf_counter() - t0,
                     tuple(sorted(unknown.items())))
