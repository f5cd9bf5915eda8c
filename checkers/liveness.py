"""Which state variables a machine can still read: the static half of "this change is unseen".

A mutant that deletes an update or changes its value leaves the state after that one step
different from the reference's in those variables only.  Until a later step writes them again,
the mutant's run is the reference's run with those variables carried along, so nothing an
implementation shows can differ unless some step *reads* them first: a guard (which rule fires),
an update's value, a message field, an observation (status, LED, offered current ...) or a
notification.  A variable is **live** in a phase when such a read can come before a write on
some path of rules from that phase; a change the mutated rule leaves in variables dead in every
phase it goes to is equivalent, for every configuration and every event sequence.

The analysis is syntactic over the spec (the names each expression reads, definitions
expanded), with two refinements that keep it sound: each expression is first specialised to the
phase it is evaluated in (`session == 'idle'` folds to true or false), so an observation case or
a guard that cannot hold in a phase reads nothing there; and an observation reads what the
observations it names read.  The variables whose value a vector observes directly (the lock),
the kept observations and the transient variables are never called dead.
"""

from __future__ import annotations

from typing import Any

from chargespec.expr import Const, Expr, specialize
from chargespec.specmodel import Machine, Rule

from .mutants import read_names


def _reads(e: Expr | None, known: dict[str, Any]) -> tuple[set[str], Expr | None]:
    if e is None:
        return set(), None
    s = specialize(e, known)
    return read_names(s), s


def _false(e: Expr | None) -> bool:
    return isinstance(e, Const) and not e.value


def _true(e: Expr | None) -> bool:
    return isinstance(e, Const) and bool(e.value)


class Liveness:
    """Per phase (value of the control variable): the names the observations and notifications
    read, each rule's reads there, and the phases from which a variable can be read before it
    is written."""

    def __init__(self, m: Machine):
        self.m = m
        self.phases = sorted({s for r in m.rules for s in r.sources}
                             | {r.to for r in m.rules if r.to})
        kept = {o.name for o in m.observations if o.keep}
        direct = {o.name for o in m.observed if o.source == "state"}
        transient = {v.name for v in m.variables.values() if v.transient}
        self.never_dead = kept | direct | transient | {m.control}
        self.variables = set(m.variables)
        self._obs = {p: self._observation_reads(p) for p in self.phases}
        self._rule_reads: dict[tuple[str, str], set[str] | None] = {}
        self._live: dict[str, frozenset[str]] = {}

    def _observation_reads(self, phase: str) -> set[str]:
        known = {self.m.control: phase}
        per: dict[str, set[str]] = {}
        for o in self.m.observations:
            got: set[str] = set()
            if o.kind == "expr":
                got, _ = _reads(o.expr, known)
            elif o.kind == "cases":
                for c in o.cases:
                    r, when = _reads(c.when, known)
                    if _false(when):
                        continue
                    got |= r | _reads(c.value, known)[0]
                    if _true(when):
                        break
            else:
                got = set(o.args)
            for name in list(got):  # an observation read by a later one: what it reads
                got |= per.get(name, set())
            per[o.name] = got
        out = set().union(*per.values()) if per else set()
        for n in self.m.notify:
            r, when = _reads(n.when, known)
            if _false(when):
                continue
            out |= r
            for em in n.emit:
                for _, v in em.fields:
                    out |= _reads(v, known)[0]
                    out |= per.get(next(iter(read_names(v)), ""), set())
        for name in list(out):
            out |= per.get(name, set())
        return out

    def rule_reads(self, r: Rule, phase: str) -> set[str] | None:
        """What the rule reads when it is considered in `phase`; None when its guard cannot
        hold there.  An update that reads only its own variable besides the configuration
        (`timed_errors: timed_errors - cleared_by_unplug`) does not count as reading it: it
        carries the value on, and `live` treats it as neither a read nor a write."""
        key = (r.id, phase)
        if key not in self._rule_reads:
            known = {self.m.control: phase}
            out, when = _reads(r.when, known)
            if _false(when):
                self._rule_reads[key] = None
                return None
            for v, x in r.do:
                got = _reads(x, known)[0]
                out |= got - {v} if not (got & self.variables - {v}) else got
            for em in r.emit:
                for _, v in em.fields:
                    out |= _reads(v, known)[0]
            self._rule_reads[key] = out
        return self._rule_reads[key]

    def live(self, v: str) -> frozenset[str]:
        """The phases in which `v` can be read before it is written (least fixed point)."""
        got = self._live.get(v)
        if got is not None:
            return got
        live = {p for p in self.phases if v in self._obs[p]}
        changed = True
        while changed:
            changed = False
            for r in self.m.rules:
                # a write: an update that does not read the variable's own old value
                writes = {x for x, e in r.do if x not in read_names(e)}
                for p in r.sources:
                    if p in live:
                        continue
                    reads = self.rule_reads(r, p)
                    if reads is None:
                        continue
                    if v in reads or (v not in writes and (r.to or p) in live):
                        live.add(p)
                        changed = True
        self._live[v] = frozenset(live)
        return self._live[v]

    def dead_after(self, rule: Rule, variables: list[str]) -> bool:
        """Whether every one of `variables` is dead in every phase `rule` leaves the machine
        in: a different value left there by the rule is never read."""
        targets = {rule.to} if rule.to else set(rule.sources)
        return all(v not in self.never_dead and v in self.m.variables
                   and not (self.live(v) & targets) for v in variables)


_CACHE: dict[int, tuple[Machine, Liveness]] = {}


def liveness(m: Machine) -> Liveness:
    """The analysis of a machine, built once per machine object (machines are immutable)."""
    hit = _CACHE.get(id(m))
    if hit is None or hit[0] is not m:
        hit = _CACHE[id(m)] = (m, Liveness(m))
    return hit[1]
