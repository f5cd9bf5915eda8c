"""The connector status changes the session can make, for every configuration, with Z3.

The explorations show status changes that happen (each with a trace), but only under the
configurations they explore; a change they never meet may still happen under another.  Here the
configuration stays symbolic: a change (old, new) is *possible* when some rule, on some event,
from some state the state invariants allow, takes the kept status from old to new, and
*impossible* when no rule does, which holds for every reachable state of every configuration
(the state invariants are inductive, checkers/induction.py).  "Possible" is an over-approximation
(the state may be unreachable); the explorations turn it into "made".  The OCPP status picture of
the report draws the three kinds apart.

The state after a rule is the induction's (`state_after`, the observations settled from it).
One disjunction over the rules and their events gives the new status; for each old status its
possible new ones are enumerated (each model found is blocked and the solver asked again), so
there is one query per possible change and one per old status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from chargespec.specmodel import Spec

from .determinism import MachineModel
from .induction import invariant_terms, observation_terms, state_after


@dataclass(frozen=True)
class StatusRelation:
    statuses: tuple[str, ...]
    possible: frozenset[tuple[str, str]]  # some rule makes it from a state the invariants allow
    unknown: frozenset[tuple[str, str]]  # Z3 gave up
    queries: int
    seconds: float


def status_changes(spec: Spec, machine: str = "session", observation: str = "status",
                   timeout_ms: int = 30_000) -> StatusRelation:
    """Which (old, new) changes of the kept observation some rule can make."""
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*model.facts)
    s.add(*invariant_terms(model, [i for i in m.invariants if i.kind == "state"],
                  {n: model.terms[n] for n in m.state_fields}, stored=True))
    old, t = model.terms[observation]
    statuses = tuple(t.values)
    control = model.control()
    steps = []
    for rule in m.rules:
        for event in rule.events:
            new = observation_terms(model, state_after(model, rule, event))[observation][0]
            steps.append((z3.And(z3.Or(*[control == model.codes(p) for p in rule.sources]),
                                 model.compile(rule.when, event)), new))
    # one disjunction for every query: `target` is the code of the status some step makes;
    # for each old status, the models of `target` are enumerated, each found one blocked
    target = z3.Int("status.after")
    s.add(z3.Or(*[z3.And(g, target == new) for g, new in steps]))
    name_of = {model.codes(v): v for v in statuses}
    possible, unknown, queries = set(), set(), 0
    for a in statuses:
        s.push()
        s.add(old == model.codes(a), target != model.codes(a))
        found: set[str] = set()
        while True:
            queries += 1
            verdict = s.check()
            if verdict == z3.sat:
                b = name_of[s.model().eval(target, model_completion=True).as_long()]
                found.add(b)
                possible.add((a, b))
                s.add(target != model.codes(b))
                continue
            if verdict == z3.unknown:
                unknown |= {(a, b) for b in statuses if b != a and b not in found}
            break
        s.pop()
    return StatusRelation(statuses, frozenset(possible), frozenset(unknown), queries,
                          time.perf_counter() - t0)
