"""Z3 proofs that a machine is deterministic and complete, over every configuration.

For every value of the control variable and every event, the rules that may fire are the ones
whose `from` lists that value and whose `on` lists that event.  Over every configuration (each
parameter ranges over its whole domain; a whitelist is any set of cards), every state the
variables' domains allow (restricted by the machine's `assume:` facts, which the explorer checks
on every reachable state) and every value of the event's fields (any card at all), Z3 shows:

  determinism   no two of those rules' guards hold at once;
  completeness  at least one does (an event with nothing to do has an explicit ignore rule).

A failure is a Counterexample naming the configuration (the parameters that matter), the state,
the event and the rules involved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import z3

from chargespec.expr import SetT, TableT, TokenT, names
from chargespec.specmodel import Machine, Spec
from chargespec.verdicts import Counterexample, Proved, Unknown, Verdict, gave_up

from .z3_backend import NONE, Codes, SymSet, Z3Backend, variable


@dataclass(frozen=True)
class Finding:
    kind: str  # determinism | completeness
    control: str
    event: str
    rules: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        what = ("rules " + " and ".join(self.rules) + " both apply") if self.kind == \
            "determinism" else "no rule applies"
        return f"{self.kind}: {what} to {self.event} in {self.control}: {self.detail}"


@dataclass(frozen=True)
class Report:
    machine: str
    buckets: int
    queries: int
    findings: tuple[Finding, ...]
    seconds: float
    unknown: tuple[str, ...] = ()  # the queries Z3 gave up on: (control value, event) said

    @property
    def ok(self) -> bool:
        return not self.findings and not self.unknown

    @property
    def verdict(self) -> Verdict:
        if self.findings:
            return Counterexample("; ".join(str(f) for f in self.findings))
        if self.unknown:
            return Unknown("Z3 gave up on " + "; ".join(self.unknown))
        return Proved(f"{self.buckets} state/event pairs")


class MachineModel:
    """The symbolic configuration, state and events of one machine."""

    def __init__(self, spec: Spec, machine: Machine):
        self.spec, self.machine = spec, machine
        self.codes = Codes()
        self.facts: list[Any] = []
        self.terms: dict[str, tuple[Any, Any]] = {}
        for pid, p in spec.parameters.items():
            term, facts = variable(f"cfg.{pid}", p.type, self.codes)
            self.terms[pid] = (term, p.type)
            self.facts += facts
        for cname, (ctype, value) in spec.constants.items():
            if isinstance(ctype, SetT):
                self.terms[cname] = (SymSet(ctype.domain, {m: z3.BoolVal(m in value)
                                                           for m in ctype.domain}), ctype)
            elif isinstance(ctype, TableT):
                self.terms[cname] = (value, ctype)
        kept = {o.name: o for o in machine.observations if o.keep}
        for vname in machine.state_fields:
            t = machine.variables[vname].type if vname in machine.variables else kept[vname].type
            term, facts = variable(f"s.{vname}", t, self.codes)
            self.terms[vname] = (term, t)
            self.facts += facts
            var = machine.variables.get(vname)
            if var is not None and var.transient:  # reset after every step
                self.facts.append(term == self.codes(var.initial.value))  # type: ignore[attr-defined]
        self.event_terms: dict[str, dict[str, tuple[Any, Any]]] = {}
        for ename, ev in machine.events.items():
            fields = {}
            for f in ev.fields:
                term, facts = variable(f"e.{ename}.{f.name}", f.type, self.codes)
                fields[f.name] = (term, f.type)
                self.facts += facts
            self.event_terms[ename] = fields
        # a card the reader delivers is a card (never None); codes of string literals are
        # numbers >= 1,000,000, free tokens may take any value, so every card is covered
        for ename, fields in self.event_terms.items():
            for fname, (term, t) in fields.items():
                if isinstance(t, TokenT) and not t.nullable:
                    self.facts.append(term != NONE)
        self.assumptions = [self.compile(a.expr) for a in getattr(machine, "assumptions", ())]

    def backend(self, event: str | None = None) -> Z3Backend:
        fields = self.event_terms.get(event, {}) if event else {}

        def resolve(name: str):
            if name in fields:
                return fields[name]
            return self.terms[name]
        return Z3Backend(resolve, self.codes)

    def compile(self, expr, event: str | None = None) -> Any:
        return self.backend(event).visit(expr)

    def control(self) -> Any:
        return self.terms[self.machine.control][0]

    def describe(self, model: z3.ModelRef, guards: list, event: str) -> str:
        """The configuration, state and event of a counterexample, in the spec's words."""
        used: set[str] = set()
        for r in self.machine.rules:
            used |= names(r.when)
        cfg = []
        for pid, p in self.spec.parameters.items():
            if pid in used:
                cfg.append(f"{pid}={self._value(model, *self.terms[pid])}")
        state = [f"{v}={self._value(model, *self.terms[v])}" for v in self.machine.state_fields]
        ev = ", ".join(f"{f}={self._value(model, *t)}"
                       for f, t in self.event_terms[event].items())
        return (f"event {event}({ev}) in state ({', '.join(state)}) under configuration "
                f"({', '.join(cfg)})")

    def _value(self, model: z3.ModelRef, term: Any, t: Any) -> str:
        if isinstance(term, SymSet):
            return "{" + ", ".join(m for m in term.domain
                                   if z3.is_true(model.eval(term.get(m), model_completion=True))
                                   ) + "}"
        if isinstance(term, (z3.ArrayRef,)) or hasattr(term, "plain"):
            return "<set>"
        v = model.eval(term, model_completion=True)
        if z3.is_bool(v):
            return str(z3.is_true(v))
        n = v.as_long()
        if isinstance(t, TokenT):
            if n == NONE:
                return "None"
            return repr(self.codes.name(n) or f"card#{n}")
        return self.codes.name(n) or str(n)


def prove(spec: Spec, machine: str = "session", timeout_ms: int = 30_000) -> Report:
    """Determinism and completeness of every (control value, event) of a machine."""
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    control = model.control()
    findings: list[Finding] = []
    unknown: list[str] = []
    buckets = queries = 0
    base = z3.Solver()
    base.set("timeout", timeout_ms)
    base.add(*model.facts, *model.assumptions)
    control_values = m.variables[m.control].type.values  # type: ignore[union-attr]
    for value in control_values:
        for event in m.events:
            rules = [r for r in m.rules if value in r.sources and event in r.events]
            buckets += 1
            guards = [model.compile(r.when, event) for r in rules]
            base.push()
            base.add(control == model.codes(value))
            # completeness
            queries += 1
            base.push()
            base.add(z3.Not(z3.Or(*guards)) if guards else z3.BoolVal(True))
            verdict = base.check()
            if verdict == z3.sat:
                findings.append(Finding("completeness", value, event, tuple(r.id for r in rules),
                                        model.describe(base.model(), guards, event)))
            elif verdict == z3.unknown:
                unknown.append(f"completeness of {value} x {event}: {gave_up(base).reason}")
            base.pop()
            # determinism: at least two guards at once
            if len(guards) > 1:
                queries += 1
                base.push()
                base.add(z3.PbGe([(g, 1) for g in guards], 2))
                verdict = base.check()
                if verdict == z3.unknown:
                    unknown.append(f"determinism of {value} x {event}: {gave_up(base).reason}")
                if verdict == z3.sat:
                    mod = base.model()
                    both = tuple(r.id for r, g in zip(rules, guards)
                                 if z3.is_true(mod.eval(g, model_completion=True)))
                    findings.append(Finding("determinism", value, event, both,
                                            model.describe(mod, guards, event)))
                base.pop()
            base.pop()
    return Report(machine, buckets, queries, tuple(findings), time.perf_counter() - t0,
                  tuple(unknown))
