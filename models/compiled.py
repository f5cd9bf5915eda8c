"""A machine of the spec, compiled once to closures: what both engines execute.

`CompiledMachine` turns every guard, update, message field and observation of a `Machine` into a
closure (via `chargespec.expr.PythonBackend`), builds the value classes (Config, State,
Observation), and offers the pieces of a step that do not depend on how the rule was chosen:
applying a rule's updates and messages, computing the observations of a state, and the
notifications of a changed kept observation.  The step function (`step.py`) chooses the rule by
table lookup; the transitions machine (`machine.py`) lets `transitions` choose it.  Both then call
`finish`, so they can only differ in rule choice and update mechanics, which is what the
cross-check holds them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, Callable, Mapping

from chargespec.errors import InputError, ModelError
from chargespec.expr import Const, PythonBackend, names, specialize
from chargespec.loader import value_fits
from chargespec.rfid import render_uid
from chargespec.specmodel import Emit, Machine, Rule, Spec

from . import pwm
from .types import Event, Indication, Message, Outputs, freeze, value_class

Fn = Callable[[Any, Any, Any, Any], Any]


@dataclass(frozen=True)
class CompiledEmit:
    action: str | None
    kind: str
    fields: tuple[tuple[str, Fn], ...]
    indication: str | None


def _no_reads(values: tuple[Any, ...]) -> tuple[()]:
    return ()


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    guard: Fn
    updates: tuple[tuple[int, Fn], ...]  # (state field index, value)
    to: str | None
    emits: tuple[CompiledEmit, ...]
    inert: bool = False  # changes nothing, sends nothing: the step only settles the state
    # the state fields its updates and message fields read: what `delta` depends on, beside
    # the configuration and the event
    reads: Callable[[tuple[Any, ...]], Any] = _no_reads


def getter(indices: list[int]) -> Callable[[tuple[Any, ...]], Any]:
    """The values at `indices` of a tuple, as one hashable value."""
    return itemgetter(*indices) if indices else _no_reads


def _present(fields: Any) -> tuple[tuple[str, Any], ...]:
    """Message fields without the optional ones whose value is None (absent in OCPP JSON)."""
    return tuple((k, v) for k, v in fields if v is not None)


class Caches:
    """Every memo of a compiled machine in one place: cleared together (`clear`), and shared
    with a machine whose rules differ (`for_other_rules`: a rule mutant) where the rules play
    no part."""

    __slots__ = ("observations", "dispatch", "known", "plans", "finish", "drops", "inert")

    def __init__(self) -> None:
        # observations of (config, provisional state); most steps revisit a state (ignore rules)
        self.observations: dict[tuple[Any, Any], tuple[dict[str, Any], Any]] = {}
        # (config, control value, event) -> the rules that may fire, guards specialised
        self.dispatch: dict[tuple[Any, str], dict[str, tuple[Any, ...]]] = {}
        self.known: dict[Any, dict[str, Any]] = {}  # config -> the values a guard may fold
        # (config, control value, id of an event list) -> the events `expand` may skip, the rest
        self.plans: dict[tuple[Any, str, int], Any] = {}
        # (config, state before, values after, renotify) -> the settled state, its messages
        self.finish: dict[tuple[Any, ...], tuple[Any, tuple[Message, ...], Any]] = {}
        self.drops: dict[Any, tuple[frozenset[str], ...]] = {}  # the filters a config applies
        # what an inert rule leaves of (config, state): most events in most states fire one
        self.inert: dict[tuple[Any, Any], tuple[Any, tuple[Message, ...], Any]] = {}

    def clear(self) -> None:
        for name in self.__slots__:
            getattr(self, name).clear()

    def for_other_rules(self) -> "Caches":
        """Fresh dispatch tables and plans (they hold the rules); the rest shared."""
        other = Caches()
        for name in ("observations", "known", "finish", "drops", "inert"):
            setattr(other, name, getattr(self, name))
        return other


class CompiledMachine:
    """The closures and value classes of one machine of a spec."""

    def __init__(self, spec: Spec, machine: str = "session",
                 helpers: Mapping[str, Callable[..., Any]] | None = None,
                 reuse: "CompiledMachine | None" = None):
        """`reuse`: a compiled machine of a spec this one was derived from (a spec mutant,
        checkers/mutate.py): each rule that is the same object reading the same constants is
        taken from it instead of compiled again."""
        self.spec = spec
        # the pure helpers the spec relies on (§5.3 UID rendering, IEC 61851-1 duty cycle,
        # §5.5 whitelist match); mutation analysis (checkers/mutate.py) swaps in wrong versions
        helpers = dict(helpers or {})
        self.render_uid: Callable[[str, str], str] = helpers.pop("render_uid", render_uid)
        self.duty_cycle: Callable[..., float] = helpers.pop("duty_cycle", pwm.duty_cycle)
        listed_fn = helpers.pop("listed", None)
        if helpers:
            raise ValueError(f"unknown helper(s) {sorted(helpers)}")
        self.machine: Machine = spec.machine(machine)
        m = self.machine
        self.params = tuple(spec.parameters)
        self.fields = m.state_fields
        self.index = {f: i for i, f in enumerate(self.fields)}
        self.control_index = self.index[m.control]
        self.Config = value_class("Config", self.params)
        self.State = value_class("State", self.fields)
        self.obs_names = tuple(o.name for o in m.observations)
        self.Observation = value_class("Observation", self.obs_names)
        self.kept = tuple((self.index[o.name], o.name) for o in m.observations if o.keep)
        kept_at = [i for i, _ in self.kept]
        self._kept_of: Callable[[tuple[Any, ...]], Any] = (
            itemgetter(*kept_at) if kept_at else (lambda t: ()))

        state_names = set(self.fields)
        param_names = set(self.params)
        obs_names = set(self.obs_names)
        constants = spec.constants
        order = {v: i for t, _ in constants.values() if hasattr(t, "domain")
                 for i, v in enumerate(t.domain)}  # type: ignore[attr-defined]

        def resolver(event_fields: frozenset[str], constants: Mapping[str, Any] = constants
                     ) -> Callable[[str], Fn]:
            def resolve(name: str) -> Fn:
                if name in event_fields:
                    return lambda s, c, e, o: e.value(name)
                if name in state_names and name in obs_names:
                    # a kept observation: its new value once computed in this step, before that
                    # (in rules, and in its own expression) the value stored in the state
                    g = attrgetter(name)
                    return lambda s, c, e, o: o[name] if o is not None and name in o else g(s)
                if name in state_names:
                    g = attrgetter(name)
                    return lambda s, c, e, o: g(s)
                if name in param_names:
                    g = attrgetter(name)
                    return lambda s, c, e, o: g(c)
                if name in obs_names:
                    return lambda s, c, e, o: o[name]
                if name in constants:
                    value = constants[name][1]
                    return lambda s, c, e, o: value
                raise KeyError(name)  # the loader has already rejected unknown names
            return resolve

        # kept for recompiling one rule (checkers/mutate.py)
        self.resolver, self.order, self.listed_fn = resolver, order, listed_fn
        plain = PythonBackend(resolver(frozenset()), order, listed_fn)
        self._rule_backends: dict[str, PythonBackend] = {}
        self.rules: list[CompiledRule] = []
        self.by_source_event: dict[tuple[str, str], list[CompiledRule]] = {}
        # compiled rules by (rule, the constants it reads): what a derived spec may reuse
        self._compiled_rules: dict[tuple[Any, str], tuple[CompiledRule, PythonBackend]] = {}
        shared = (reuse._compiled_rules if reuse is not None and reuse.listed_fn is listed_fn
                  and reuse.order == order and reuse.fields == self.fields
                  and reuse.params == self.params and reuse.obs_names == self.obs_names
                  else {})
        for r in m.rules:
            fields = frozenset(f.name for f in m.events[r.events[0]].fields)
            used = set().union(*(names(e) for _, e in r.do),
                               *(names(v) for x in r.emit for _, v in x.fields)) - fields
            reads_consts = (used | names(r.when)) & set(constants)
            key = (r, repr(sorted((n, constants[n][1]) for n in reads_consts)))
            got = shared.get(key)
            if got is not None:
                cr, be = got
            else:
                be = PythonBackend(resolver(fields), order, listed_fn)
                read = sorted(self.index[n] for n in used if n in self.index)
                cr = CompiledRule(
                    rule=r,
                    guard=be.visit(r.when),
                    updates=tuple((self.index[v], be.visit(e)) for v, e in r.do),
                    to=r.to,
                    emits=tuple(self._emit(be, x) for x in r.emit),
                    inert=not r.do and r.to is None and not r.emit and not r.renotify,
                    reads=getter(read),
                )
            self._rule_backends[r.id] = be
            self._compiled_rules[key] = (cr, be)
            self.rules.append(cr)
            for src in r.sources:
                for ev in r.events:
                    self.by_source_event.setdefault((src, ev), []).append(cr)

        self.observations: list[tuple[str, str, Any]] = []
        for o in m.observations:
            if o.kind == "expr":
                self.observations.append((o.name, "expr", plain.visit(o.expr)))
            elif o.kind == "cases":
                cases = tuple((plain.visit(c.when), plain.visit(c.value)) for c in o.cases)
                self.observations.append((o.name, "cases", cases))
            else:
                self.observations.append((o.name, "pwm_duty", tuple(o.args)))
        self.notifies = tuple(
            (None if n.on_change is None else self.index[n.on_change], plain.visit(n.when),
             tuple(self._emit(plain, x) for x in n.emit))
            for n in m.notify)
        self.caches = Caches()
        self.filters = tuple((frozenset(f.drop), plain.visit(f.when)) for f in m.filters)
        self._renders = {e.name: tuple((f.name, f.render) for f in e.fields if f.render)
                         for e in m.events.values() if any(f.render for f in e.fields)}
        self.transient = tuple(self.index[v.name] for v in m.variables.values() if v.transient)
        self._initials = {v.name: plain.visit(v.initial) for v in m.variables.values()}
        self._kept_initials = {o.name: o.initial.value for o in m.observations if o.keep}
        self._transient_initial = {self.index[v.name]: v.initial.value  # type: ignore[attr-defined]
                                   for v in m.variables.values() if v.transient}

    @staticmethod
    def _emit(be: PythonBackend, e: Emit) -> CompiledEmit:
        return CompiledEmit(e.message, e.kind, tuple((k, be.visit(v)) for k, v in e.fields),
                            e.indication)

    # ---- values from the outside world
    def normalize(self, config: Any, event: Event) -> Event:
        """The event as the rules see it: card UIDs written per RFID Tag letter case (§5.3)."""
        renders = self._renders.get(event.name)
        if not renders:
            return event
        fields = event.as_dict()
        for fname, param in renders:
            fields[fname] = self.render_uid(fields[fname], getattr(config, param))
        return Event.of(event.name, **fields)

    def config(self, values: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
        """A Config: defaults of spec/parameters.yaml, then `values`, then `overrides`."""
        merged: dict[str, Any] = {p: q.default for p, q in self.spec.parameters.items()}
        for src in (values or {}), overrides:
            for k, v in src.items():
                p = self.spec.parameters.get(k)
                if p is None:
                    raise InputError(f"unknown configuration parameter {k!r}")
                if not value_fits(p.type, v):
                    raise InputError(f"configuration parameter {k}: {v!r} is not "
                                     f"{p.type.describe()}")
                merged[k] = v
        return self.Config(**{k: freeze(v) for k, v in merged.items()})

    def event(self, name: str, **fields: Any) -> Event:
        """A validated Event of this machine."""
        ev = self.machine.events.get(name)
        if ev is None:
            raise InputError(f"unknown event {name!r} of machine {self.machine.name} "
                             f"(events: {', '.join(self.machine.events)})")
        want = set(ev.field_names())
        if set(fields) != want:
            raise InputError(f"event {name} takes field(s) {sorted(want) or 'none'}, "
                             f"got {sorted(fields) or 'none'}")
        for f in ev.fields:
            if not value_fits(f.type, fields[f.name]):
                raise InputError(f"event {name}: {f.name}={fields[f.name]!r} is not "
                                 f"{f.type.describe()}")
        return Event.of(name, **fields)

    def initial(self, config: Any) -> Any:
        """The initial state under `config` (variables' initial values, kept observations')."""
        values = [None] * len(self.fields)
        for name, fn in self._initials.items():
            values[self.index[name]] = fn(None, config, None, None)
        for name, v in self._kept_initials.items():
            values[self.index[name]] = v
        state = self.State(*values)
        # kept observations start from their declared value, then settle on the initial state
        obs = self.observe_dict(config, state)
        for i, name in self.kept:
            values[i] = obs[name]
        return self.State(*values)

    # ---- the parts of a step
    def applicable(self, config: Any, state: Any, event: Event) -> list[CompiledRule]:
        control = state.as_tuple()[self.control_index]
        if not self.specialise:
            return [cr for cr in self.by_source_event.get((control, event.name), ())
                    if cr.guard(state, config, event, None)]
        table = self.caches.dispatch.get((config, control))
        bucket = None if table is None else table.get(event.name)
        if bucket is None:
            bucket = self._bucket(config, control, event.name)
        return [cr for cr, guard, _ in bucket
                if guard is None or guard(state, config, event, None)]

    def expand(self, config: Any, state: Any, events: list[tuple[Event, Event]],
               changes_only: bool = False) -> tuple[list[tuple[Event, Any, Outputs]], list[str]]:
        """(event, new state, outputs) for every event of `events`, given as (event, event as
        the rules see it) pairs: what `choose`, `apply` and `finish` give, for the explorer,
        which asks this of every state once.  The rule buckets are looked up once per event,
        and the events that fire an inert rule share one settled state.

        With `changes_only`, the self-loops (the state unchanged, nothing sent) are left out of
        the list, and the second value names the rules they fired.  The events that one
        unconditional inert rule decides under (configuration, control value) are then not
        looked at one by one: on a settled state each is such a self-loop."""
        control = state.as_tuple()[self.control_index]
        plan = self.caches.plans.get((config, control, id(events)))
        if plan is None or plan[0] is not events:
            plan = self._plan(config, control, events)
        _, quiet, rest, _ = plan
        new0, msgs0, _ = self._inert_result(config, state)
        settled = new0 == state and not msgs0  # an inert rule makes a self-loop
        loops: list[str] = []
        if changes_only and settled:
            loops += quiet
        else:
            rest = plan[3]
        out: list[tuple[Event, Any, Outputs]] = []
        fields = state.as_tuple()
        for ev, seen, bucket, read, chosen, deltas in rest:
            # the rule depends only on the state fields its bucket's guards read
            k = read(fields)
            cr = chosen.get(k)
            if cr is None:
                hits = [cr for cr, g, _ in bucket if g is None or g(state, config, seen, None)]
                cr = chosen[k] = hits[0] if len(hits) == 1 else self.choose(config, state, seen)
            if cr.inert:
                if changes_only and settled:
                    loops.append(cr.rule.id)
                else:
                    out.append((ev, *self.finish_inert(config, state, cr)))
            else:
                # what the rule does depends on the state fields it reads (config and event
                # are fixed here): looked up, then laid over this state's values
                dk = (id(cr), cr.reads(fields))
                hit = deltas.get(dk)
                if hit is None:
                    hit = deltas[dk] = self.delta(cr, config, state, seen)
                changes, msgs, inds = hit
                values = list(fields)
                for i, v in changes:
                    values[i] = v
                s2, o = self.finish(config, state, values, cr, msgs, inds)
                if changes_only and not o.messages and s2 == state:
                    loops.append(cr.rule.id)
                else:
                    out.append((ev, s2, o))
        return out, loops

    def _table(self, config: Any, control: str) -> dict[str, Any]:
        """Event -> the rule bucket, under (configuration, control value); every event."""
        table = self.caches.dispatch.setdefault((config, control), {})
        for event in self.machine.events:
            if event not in table:
                self._bucket(config, control, event)
        return table

    def _plan(self, config: Any, control: str, events: list[tuple[Event, Event]]
              ) -> tuple[Any, tuple[str, ...], list[tuple[Event, Event, Any]]]:
        """The events one unconditional inert rule decides (their rules), and the others."""
        table = self._table(config, control)
        quiet: list[str] = []
        rest, every = [], []
        for ev, seen in events:
            bucket = table[ev.name]
            entry = (ev, seen, bucket, *self._reader(bucket), {})
            every.append(entry)
            if len(bucket) == 1 and bucket[0][1] is None and bucket[0][0].inert:
                quiet.append(bucket[0][0].rule.id)
            else:
                rest.append(entry)
        plan = self.caches.plans[(config, control, id(events))] = (events, tuple(quiet), rest, every)
        return plan

    def _reader(self, bucket: Any) -> tuple[Callable[[tuple[Any, ...]], Any], dict[Any, Any]]:
        """What the bucket's (specialised) guards read of a state's values, and an empty
        table of the rule chosen by those values (the event and configuration are fixed)."""
        read = sorted({self.index[n] for _, _, used in bucket for n in used if n in self.index})
        if not read:
            return (lambda t: ()), {}
        return itemgetter(*read), {}

    def _bucket(self, config: Any, control: str, event: str
                ) -> tuple[tuple[CompiledRule, Fn | None, frozenset[str]], ...]:
        """The rules of (control value, event) whose guard the configuration does not make
        false, each with its guard specialised to the configuration (`expr.specialize`: the
        parameters and constants folded in; None when that makes it true).  Exact, so the rule
        chosen is the one the full guards choose; most guards of an exploration shrink to a
        comparison or two, and most buckets to one rule that needs no test at all."""
        known = self.caches.known.get(config)
        if known is None:
            known = self.caches.known[config] = {**{n: v for n, (_, v) in self.spec.constants.items()},
                                           **config.as_dict()}
        out = []
        for cr in self.by_source_event.get((control, event), ()):
            g = specialize(cr.rule.when, known)
            if isinstance(g, Const):
                if g.value:
                    out.append((cr, None, frozenset()))
            else:
                out.append((cr, self._rule_backends[cr.rule.id].visit(g), names(g)))
        bucket = self.caches.dispatch.setdefault((config, control), {})[event] = tuple(out)
        return bucket

    # A mutant of the spec (checkers/mutate.py) need not be deterministic or complete: as a
    # firmware's if/elif chain would, it takes the first rule that applies (a mutated rule is
    # placed first, so the mutated branch wins where it holds), and where none applies the
    # event falls through and changes nothing.
    lenient = False
    # guards specialised per (configuration, control value, event) pay off over an exploration;
    # a mutant that takes a few steps per configuration evaluates the full guards instead
    specialise = True
    fallthrough: CompiledRule | None = None

    def choose(self, config: Any, state: Any, event: Event) -> CompiledRule:
        """The one rule that applies; ModelError if none or several (names all involved)."""
        hits = self.applicable(config, state, event)
        if len(hits) == 1:
            return hits[0]
        if self.lenient:
            if hits:
                return hits[0]
            if self.fallthrough is None:
                nothing = Rule("fallthrough", (), (), Const(True), None, (), (), True, False,
                               self.machine.rules[0].ref, self.machine.rules[0].where)
                self.fallthrough = CompiledRule(nothing, lambda s, c, e, o: True, (), None, (),
                                                inert=True)
            return self.fallthrough
        what = "no rule applies" if not hits else (
            "rules " + ", ".join(h.rule.id for h in hits) + " all apply")
        raise ModelError(
            f"machine {self.machine.name} ({self.machine.file}): {what} to event "
            f"{event.label()} in state {state!r} under {self.describe_config(config)}")

    def describe_config(self, config: Any) -> str:
        d = config.as_dict()
        diffs = {k: v for k, v in d.items() if v != freeze(self.spec.parameters[k].default)}
        return "the default configuration" + (f" with {diffs}" if diffs else "")

    def apply(self, cr: CompiledRule, config: Any, state: Any, event: Event
              ) -> tuple[list[Any], list[Message], list[Indication]]:
        """Values after the rule's updates (computed from the old state) and its outputs."""
        changes, msgs, inds = self.delta(cr, config, state, event)
        values = list(state.as_tuple())
        for i, v in changes:
            values[i] = v
        return values, msgs, inds

    def delta(self, cr: CompiledRule, config: Any, state: Any, event: Event
              ) -> tuple[tuple[tuple[int, Any], ...], list[Message], list[Indication]]:
        """What the rule changes ((field index, new value), `to` included, all computed from
        the old state) and its outputs."""
        changes = tuple((i, fn(state, config, event, None)) for i, fn in cr.updates)
        if cr.to is not None:
            changes += ((self.control_index, cr.to),)
        msgs: list[Message] = []
        inds: list[Indication] = []
        for em in cr.emits:
            if em.indication is not None:
                inds.append(Indication(em.indication))
            else:
                msgs.append(Message(em.action, em.kind,  # type: ignore[arg-type]
                                    _present((k, fn(state, config, event, None))
                                             for k, fn in em.fields)))
        return changes, msgs, inds

    def observe_dict(self, config: Any, state: Any) -> dict[str, Any]:
        o: dict[str, Any] = {}
        for name, kind, fn in self.observations:
            if kind == "expr":
                o[name] = fn(state, config, None, o)
            elif kind == "cases":
                for when, value in fn:
                    if when(state, config, None, o):
                        o[name] = value(state, config, None, o)
                        break
            else:
                regime, amps = (o[a] for a in fn)
                o[name] = self.duty_cycle(self.spec.pilot, regime, amps)
        return o

    def observe(self, config: Any, state: Any) -> Any:
        return self.Observation(**self.observe_dict(config, state))

    def finish(self, config: Any, old: Any, values: list[Any], rule: CompiledRule,
               msgs: list[Message], inds: list[Indication]) -> tuple[Any, Outputs]:
        """Settle kept observations, add notifications, and make the new state and outputs.

        The new state, the notifications and the observation are a pure function of the
        configuration, the values after the rule, the old values of the kept observations and
        the rule's renotify flag: memoized on those, since many transitions share them (every
        ignore rule of a state gives the same ones).  The configuration's filters then drop
        what it never sends."""
        renotify = rule.rule.renotify
        key = (config, tuple(values), self._kept_of(old.as_tuple()), renotify)
        hit = self.caches.finish.get(key)
        if hit is None:
            hit = self.caches.finish[key] = self._settle(config, old.as_tuple(), values, renotify)
        new, notes, observation = hit
        return new, Outputs(rule.rule.id, self._filtered(config, msgs, notes), tuple(inds),
                            observation)

    def finish_inert(self, config: Any, state: Any, rule: CompiledRule) -> tuple[Any, Outputs]:
        """`finish` for an inert rule (no update, no `to`, no output, no renotify): the same
        result as `finish(config, state, list(state), rule, [], [])`, looked up by state."""
        new, out_msgs, observation = self._inert_result(config, state)
        return new, Outputs(rule.rule.id, out_msgs, (), observation)

    def _inert_result(self, config: Any, state: Any) -> tuple[Any, tuple[Message, ...], Any]:
        key = (config, state)
        hit = self.caches.inert.get(key)
        if hit is None:
            new, notes, observation = self._settle(config, state.as_tuple(),
                                                   list(state.as_tuple()), False)
            if new == state:
                new = state  # the same object: later comparisons are identity tests
            hit = self.caches.inert[key] = new, self._filtered(config, [], notes), observation
        return hit

    def _filtered(self, config: Any, msgs: list[Message], notes: tuple[Message, ...]
                  ) -> tuple[Message, ...]:
        """The rule's messages, then the notifications, less what the filters drop."""
        drops = self.caches.drops.get(config)
        if drops is None:
            drops = self.caches.drops[config] = tuple(drop for drop, when in self.filters
                                                if when(None, config, None, None))
        out = tuple(msgs) + notes if msgs else notes
        for drop in drops:
            if out:
                out = () if "*" in drop else tuple(m for m in out if m.action not in drop)
        return out

    def _settle(self, config: Any, old_t: tuple[Any, ...], values: list[Any], renotify: bool
                ) -> tuple[Any, tuple[Message, ...], Any]:
        """The state after settling the kept observations and resetting the transient
        variables, the notifications, and the observation."""
        values = list(values)
        msgs: list[Message] = []
        provisional = self.State(*values)
        key = (config, provisional)
        hit = self.caches.observations.get(key)
        if hit is None:
            d = self.observe_dict(config, provisional)
            hit = self.caches.observations[key] = (d, self.Observation(**d))
        obs, observation = hit
        new = provisional  # a new State only where settling changes a value
        for i, name in self.kept:
            if values[i] != obs[name]:
                values[i] = obs[name]
                new = None
        if new is None:
            new = self.State(*values)
        for idx, when, emits in self.notifies:
            changed = idx is None or values[idx] != old_t[idx] or renotify
            if changed and when(new, config, None, obs):
                for em in emits:
                    msgs.append(Message(em.action, em.kind,  # type: ignore[arg-type]
                                        _present((k, fn(new, config, None, obs))
                                                 for k, fn in em.fields)))
        # transient variables only carry a rule's doing to its notifications
        reset = False
        for i in self.transient:
            if values[i] != self._transient_initial[i]:
                values[i] = self._transient_initial[i]
                reset = True
        if reset:
            new = self.State(*values)
        return new, tuple(msgs), observation
