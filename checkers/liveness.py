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


# ---- set variables read only through a mask --------------------------------------------------
#
# Some set variables are only ever looked at through a fixed set: `timed_errors` (the errors
# whose reset timer an unplug started) is read as `timed_errors & cleared_by_rcmb_reset_timer`
# and otherwise only carried on by its own updates (`(timed_errors | ...) - cleared_by_unplug`).
# Two runs that agree on everything else and on the variable's members inside the mask then
# agree on every observation forever: each read sees the same members, and set operations
# (|, -, &) keep agreement member by member.  So a change confined to members outside the mask
# is unseen, and so is a change of the mask itself on members the variable can never hold.

ALL = None  # "every member of the domain"


def _set_ops_only(e: Expr, target: str) -> bool:
    """Whether every occurrence of `target` in `e` is reached through |, - (left side) and &
    only: then `e`'s value agrees member by member wherever `target`'s does."""
    from chargespec.expr import Arith, Name
    if isinstance(e, Name):
        return True
    if isinstance(e, Arith) and e.op in ("|", "&", "-"):
        if e.op == "-" and target in read_names(e.right):
            return False
        return _set_ops_only(e.left, target) and _set_ops_only(e.right, target)
    return target not in read_names(e)


class Masks:
    """For each set-of-enum variable: the members any read can see (`mask`, None when some read
    sees the whole set) and the members it can ever hold (`possible`, None when unbounded)."""

    def __init__(self, spec: Any, m: Machine):
        from chargespec.expr import SetT
        self.spec, self.m = spec, m
        self.sets = {n for n, v in m.variables.items() if isinstance(v.type, SetT)}
        self.constants = {n: v for n, (t, v) in spec.constants.items() if isinstance(t, SetT)}
        self.mask: dict[str, frozenset[str] | None] = {v: frozenset() for v in self.sets}
        for owner, e in self._expressions():
            self._scan(owner, e)

    def _expressions(self) -> Any:
        m = self.m
        for r in m.rules:
            yield None, r.when
            for v, x in r.do:
                yield v, x
            for em in r.emit:
                for _, x in em.fields:
                    yield None, x
        for o in m.observations:
            for x in ([o.expr] if o.expr is not None else []) + [y for c in o.cases
                                                                for y in (c.when, c.value)]:
                yield None, x
        for n in m.notify:
            yield None, n.when
            for em in n.emit:
                for _, x in em.fields:
                    yield None, x
        for f in m.filters:
            yield None, f.when

    def _const_set(self, e: Expr) -> frozenset[str] | None:
        from chargespec.expr import Const, Name
        if isinstance(e, Name) and e.id in self.constants:
            return frozenset(self.constants[e.id])
        if isinstance(e, Const) and isinstance(e.value, frozenset):
            return e.value
        return None

    def _scan(self, owner: str | None, e: Expr) -> None:
        """Widen the masks by what `e` (the value of an update of `owner`, or any other
        expression) reads of each set variable."""
        from chargespec.expr import Arith, Name

        def walk(x: Any, carried: bool) -> None:
            # carried: on a |, -, & path from the root of an update of `owner`
            if isinstance(x, Name) and x.id in self.sets:
                if not (carried and x.id == owner):
                    self.mask[x.id] = ALL
                return
            if isinstance(x, Arith) and x.op == "&":
                for var, other in ((x.left, x.right), (x.right, x.left)):
                    k = self._const_set(other)
                    if isinstance(var, Name) and var.id in self.sets and k is not None \
                            and not (carried and var.id == owner):
                        if self.mask[var.id] is not ALL:
                            self.mask[var.id] = self.mask[var.id] | k
                        return
            if isinstance(x, Arith) and x.op in ("|", "&", "-"):
                walk(x.left, carried)
                walk(x.right, carried and x.op != "-")
                return
            if isinstance(x, Expr):
                for v in vars(x).values():
                    if isinstance(v, Expr):
                        walk(v, False)
                    elif isinstance(v, tuple):
                        for i in v:
                            if isinstance(i, Expr):
                                walk(i, False)
        walk(e, owner in self.sets)

    def possible(self, v: str, constants: dict[str, frozenset[str]] | None = None
                 ) -> frozenset[str] | None:
        """The members `v` can ever hold: its initial value and what its updates add (least
        fixed point); None when some update may put any member there.  `constants` overrides
        constant sets (a constant mutant's value)."""
        from chargespec.expr import Arith, Const, Name
        consts = {**self.constants, **(constants or {})}
        got: frozenset[str] | None = frozenset()

        def el(x: Expr) -> frozenset[str] | None:
            if isinstance(x, Name):
                if x.id == v:
                    return got
                if x.id in consts:
                    return frozenset(consts[x.id])
                return ALL
            if isinstance(x, Const):
                return x.value if isinstance(x.value, frozenset) else ALL
            if isinstance(x, Arith) and x.op in ("|", "&", "-"):
                a = el(x.left)
                if x.op == "-":
                    return a
                b = el(x.right)
                if x.op == "|":
                    return ALL if a is ALL or b is ALL else a | b
                return b if a is ALL else a if b is ALL else a & b
            return ALL
        init = el(self.m.variables[v].initial)
        if init is ALL:
            return ALL
        got = init
        while True:
            new: frozenset[str] | None = got
            for r in self.m.rules:
                for name, x in r.do:
                    if name == v:
                        add = el(x)
                        if add is ALL:
                            return ALL
                        new = new | add
            if new == got:
                return got
            got = new


_MASKS: dict[int, tuple[Any, Masks]] = {}


def masks(spec: Any) -> Masks:
    """The mask analysis of a spec's session machine, built once per spec object."""
    hit = _MASKS.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = _MASKS[id(spec)] = (spec, Masks(spec, spec.machine()))
    return hit[1]


def _occurrences(e: Expr, name: str, path: tuple[Expr, ...] = ()) -> Any:
    """Every occurrence of `name` in `e`, each with the nodes above it (root first)."""
    from chargespec.expr import Name
    if isinstance(e, Name):
        if e.id == name:
            yield path
        return
    for v in vars(e).values():
        for x in (v if isinstance(v, tuple) else (v,)):
            if isinstance(x, Expr):
                yield from _occurrences(x, name, path + (e,))


def unseen_constant_change(spec: Any, cname: str, new: frozenset[str]) -> str | None:
    """Why changing the set constant `cname` to `new` is never seen, when the masks show it:
    every expression that reads it is an update of a masked set variable made of set
    operations (its value changes only in the changed members, all outside the mask), or the
    fixed set of a masked read `v & cname` (of a variable that can never hold the changed
    members).  None when neither argument covers every read."""
    from chargespec.expr import Arith, Name
    mk = masks(spec)
    old = frozenset(mk.constants.get(cname, ()))
    delta = old ^ new
    if not delta or cname not in mk.constants:
        return None
    why: list[str] = []
    for owner, e in mk._expressions():
        for path in _occurrences(e, cname):
            parent = path[-1] if path else None
            if owner in mk.sets and mk.mask[owner] is not None and all(
                    isinstance(p, Arith) and p.op in ("|", "&", "-") for p in path) \
                    and not mk.mask[owner] & delta:
                why.append(f"{owner} is read only through {', '.join(sorted(mk.mask[owner]))}")
                continue
            if isinstance(parent, Arith) and parent.op == "&" and (
                    isinstance(parent.left, Name) and parent.left.id in mk.sets
                    and parent.right == Name(cname)
                    or isinstance(parent.right, Name) and parent.right.id in mk.sets
                    and parent.left == Name(cname)):
                v = parent.left.id if parent.right == Name(cname) else parent.right.id
                if not (owner == v and all(isinstance(p, Arith) and p.op in ("|", "&", "-")
                                           for p in path)):
                    held = [mk.possible(v), mk.possible(v, {cname: new})]
                    if any(h is None or h & delta for h in held):
                        return None
                    why.append(f"{v} never holds {', '.join(sorted(delta))}")
                    continue
            return None
    if not why:
        return None
    return ("masked: " + "; ".join(sorted(set(why))) + f" (so {', '.join(sorted(delta))} in "
            f"{cname} or not is never seen)")


def reader_parameters(spec: Any, variables: list[str]) -> tuple[str, ...]:
    """The configuration parameters that decide whether a read of `variables` happens: those
    the guards of the rules reading them read, and those read next to them by observations and
    notifications.  A changed update shows only under configurations that let something read
    it; a search for a test that tells it apart looks under these."""
    m = spec.machine()
    want = set(variables)
    got: set[str] = set()
    for r in m.rules:
        reads = read_names(r.when) | set().union(
            *(read_names(x) for _, x in r.do), *(read_names(v) for em in r.emit
                                                 for _, v in em.fields))
        if reads & want:
            got |= read_names(r.when)
    for owner, e in masks(spec)._expressions():
        if owner is None and read_names(e) & want:
            got |= read_names(e)
    return tuple(p for p in spec.parameters if p in got)
