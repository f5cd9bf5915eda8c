"""The step invariants proved for every configuration at once, with Z3.

The explorer checks the step invariants (checkers/invariants.py) on every transition of the
configurations it explores.  Here the configuration stays symbolic: for every rule (ignore rules
too: they settle the kept status and may notify) and each of its events, from every state that
satisfies the state invariants, Z3 shows that the step keeps each step invariant.  The state
invariants are proved inductive for every configuration (checkers/induction.py), so they hold
in every reachable state, and the step invariants then hold on every reachable transition of
every configuration.

Each step invariant is the spec's own expression (`when` implies `expr`, spec/session.yaml),
compiled by the Z3 back end over the state before (`old.x`: the symbolic state), the state
after with its observations (`new.x`: the rule's updates applied), the event and the messages
the step sends.  The messages are the rule's emits (present unless a filter of the
configuration drops their action) and the notifications, whose presence is left open (a fresh
Bool, unless dropped) beyond their `when` over the state after the step: a property proved
here holds whichever notifications go out, so the proof stays sound though it does not decide
when a notification fires.

A failed query is not necessarily a reachable violation: the state it starts from satisfies the
state invariants but may be unreachable (the status a state keeps is not constrained by them,
for one).  The counterexample names rule, event, state and configuration, like the induction's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Collection

import z3

from chargespec.expr import Call, ListLit
from chargespec.specmodel import Spec
from chargespec.verdicts import gave_up

from .determinism import MachineModel
from .induction import InvariantProof, invariant_terms, observation_terms, state_after
from .z3_backend import NONE, Z3Backend


StepProof = InvariantProof


@dataclass
class Sent:
    """One message a step may send: its action, kind, presence, and its fields' expressions
    with the back end that compiles them (a field's term is built when an invariant reads it)."""

    action: str
    kind: str
    present: Any
    exprs: dict[str, Any]
    backend: Any

    def field(self, name: str) -> Any:
        e = self.exprs.get(name)
        return z3.IntVal(NONE) if e is None else self.backend.visit(e)


class Step:
    """One (rule, event) symbolically: the state before and after, the messages, and the Z3
    back end of step invariants over them."""

    def __init__(self, model: MachineModel, rule: Any, event: str):
        self.model, self.rule, self.event = model, rule, event
        m = model.machine
        self.fields = model.event_terms.get(event, {})
        self.after = observation_terms(model, state_after(model, rule, event))
        old_backend = model.backend(event)
        new_backend = Z3Backend(self.after.__getitem__, model.codes)
        self._dropped: dict[str, Any] = {}
        self.messages = [
            Sent(x.message, x.kind, z3.Not(self.dropped(x.message)), dict(x.fields), old_backend)
            for x in rule.emit if x.message is not None]
        # notifications: whether one goes out is left open (a fresh Bool) beyond what its `when`
        # demands of the state after the step, unless dropped; so a property proved here holds
        # whichever of them the step sends
        self.messages += [
            Sent(x.message, x.kind,
                 z3.And(z3.Bool(f"notify.{n.id}.{k}"),
                        z3.BoolVal(True) if n.when is None else new_backend.visit(n.when),
                        z3.Not(self.dropped(x.message))),
                 dict(x.fields), new_backend)
            for n in m.notify for k, x in enumerate(n.emit) if x.message is not None]
        self.backend = Z3Backend(self.resolve, model.codes)

    def dropped(self, action: str) -> Any:
        """The configuration's filters drop `action`."""
        hit = self._dropped.get(action)
        if hit is None:
            whens = [self.model.compile(f.when) for f in self.model.machine.filters
                     if "*" in f.drop or action in f.drop]
            hit = self._dropped[action] = z3.Or(*whens) if whens else z3.BoolVal(False)
        return hit

    def resolve(self, name: str) -> tuple[Any, Any]:
        """A name of a step invariant as a Z3 term (and its type); a step function as the
        function that compiles its call."""
        if name.endswith("()"):
            return getattr(self, "f_" + name[:-2]), None
        if name.startswith("old."):
            return self.model.terms[name[4:]]
        if name.startswith("new."):
            return self.after[name[4:]]
        if name == "event":
            return z3.IntVal(self.model.codes(self.event)), None
        if name.startswith("event."):
            return self.fields.get(name[6:], (z3.IntVal(NONE), None))
        return self.model.terms[name]

    def sent_with(self, action: str) -> list[Sent]:
        return [s for s in self.messages if action in ("*", s.action)]

    def f_sent(self, be: Z3Backend, call: Call) -> Any:
        sent = self.sent_with(call.args[0].value)  # type: ignore[attr-defined]
        return z3.Sum([z3.If(s.present, 1, 0) for s in sent]) if sent else z3.IntVal(0)

    def f_dropped(self, be: Z3Backend, call: Call) -> Any:
        return self.dropped(call.args[0].value)  # type: ignore[attr-defined]

    def f_every(self, be: Z3Backend, call: Call) -> Any:
        action, field = (a.value for a in call.args[:2])  # type: ignore[attr-defined]
        value = call.args[2]
        wanted = [be.visit(i) for i in value.items] if isinstance(value, ListLit) \
            else [be.visit(value)]
        out = []
        for s in self.sent_with(action):
            v = s.field(field)
            out.append(z3.Implies(s.present, z3.Or(*[v == w for w in wanted])))
        return z3.And(*out) if out else z3.BoolVal(True)

    def f_permitted(self, be: Z3Backend, call: Call) -> Any:
        old, new = (be.visit(a) for a in call.args)
        # Z3 terms are hash-consed: the many rules that leave the status as it was ask about
        # the same pair of terms, built once per model
        cache = self.model.__dict__.setdefault("_permitted_terms", {})
        key = (old.get_id(), new.get_id())
        hit = cache.get(key)
        if hit is None:
            code = self.model.codes
            hit = cache[key] = z3.Or(old == new, *[
                z3.And(old == code(a), z3.Or(*[new == code(b) for b in bs]))
                for a, bs in self.model.spec.status_table.allowed.items() if bs])
        return hit

    def formula(self, inv: Any) -> Any:
        """The step invariant on this step: its `when` implies its `expr`."""
        expr = self.backend.visit(inv.expr)
        return expr if inv.when is None else z3.Implies(self.backend.visit(inv.when), expr)


def prove(spec: Spec, machine: str = "session", timeout_ms: int = 60_000,
          rules: Collection[str] | None = None) -> StepProof:
    """Every step invariant with a formula, on every rule and event, for every configuration,
    from every state that satisfies the state invariants.  `rules` limits the proof to those
    rules (a seeded mutation's test, which knows the rule it broke)."""
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    steps = [i for i in m.invariants if i.kind == "step"]
    states = [i for i in m.invariants if i.kind == "state"]
    failures: dict[str, str] = {}
    unknown: dict[str, str] = {}
    queries = 0
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*model.facts)
    s.add(*invariant_terms(model, states, {n: model.terms[n] for n in m.state_fields}, stored=True))
    control = model.control()
    for rule in m.rules:
        if rules is not None and rule.id not in rules:
            continue
        if len(failures) + len(unknown) == len(steps):
            break  # every invariant is decided: broken or given up on
        for event in rule.events:
            if len(failures) + len(unknown) == len(steps):
                break
            st = Step(model, rule, event)
            terms = [(inv, st.formula(inv)) for inv in steps
                     if inv.id not in failures and inv.id not in unknown]
            terms = [(inv, t) for inv, t in terms if not z3.is_true(z3.simplify(t))]
            if not terms:
                continue
            s.push()
            s.add(z3.Or(*[control == model.codes(p) for p in rule.sources]))
            s.add(model.compile(rule.when, event))
            while terms:  # again without those found broken, until the rest hold
                queries += 1
                s.push()
                s.add(z3.Not(z3.And(*[t for _, t in terms])))
                verdict = s.check()
                if verdict == z3.sat:
                    mod = s.model()
                    where = (f"rule {rule.id} ({rule.where.file}:{rule.where.line}) breaks it "
                             f"on {model.describe(mod, [], event)}")
                    for inv, t in terms:
                        if not z3.is_true(mod.eval(t, model_completion=True)):
                            failures[inv.id] = where
                elif verdict == z3.unknown:
                    for inv, _ in terms:
                        unknown.setdefault(inv.id, gave_up(s).reason)
                s.pop()
                if verdict != z3.sat:
                    break
                terms = [(inv, t) for inv, t in terms if inv.id not in failures]
            s.pop()
    return StepProof(machine, tuple(i.id for i in steps), tuple(sorted(failures.items())),
                     queries, time.perf_counter() - t0, tuple(sorted(unknown.items())))
