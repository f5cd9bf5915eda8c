"""Mutation analysis: which spec mutants the committed vectors kill, and the tests for the rest.

Every mutant of `checkers/mutants.py` becomes a step function (the reference's, with the one
change) and runs against the committed vectors in-process.  A mutant is **killed** when some test
fails on it; the analysis counts up to two killing tests per mutant, so the mutants that only one
test stands guard over are listed.  A mutant no test kills is then either

  * **distinguished**: the reference and the mutant are explored together, breadth-first, under
    the configurations that the mutated element reads (every value of each such parameter; for
    a changed update also those that decide whether anything reads the variable; for a factory
    default those that decide whether the parameter is read, the parameter itself left unset)
    and the vectors' own configurations, until an observation differs; the shortest such event
    sequence is a new test (`chargespec vectors` adds it to `mutation.json`, flagged with the
    mutant's bug class).  Where that search gives up, random walks (seeded by the mutant's id,
    so the vectors stay byte-identical) continue from every state of the vectors where a
    changed rule is in play, and a walk that tells the two apart is cut to the events it needs;
    last, Z3 names a state where the changed rule acts otherwise, and a best-first search
    under the configuration it names goes toward that state (`toward_witness`);
  * **equivalent**, with the reason: nothing reads what it changed; the changed update's
    variable is dead where the rule leaves the machine (`liveness`: no path reads it before
    writing it); the change is confined to members of a set no read sees (`liveness.masks`);
    Z3 shows the mutated guard or value agrees with the original in every state the (proved)
    state invariants allow, or that wherever the mutated guard decides otherwise the step taken
    has the reference's effect, or that a mutated message field or observation takes the
    original's value wherever it is computed; or the product exploration covered every value of the
    parameters it reads, exhausted the state pairs and found no observable difference; or
  * **undecided**: the searches hit their bounds.  `chargespec mutate` exits 1 on these and on
    every survivor that is not equivalent.

A mutant need not be deterministic: it takes the first rule that applies, the mutated rule first
(the mutated branch wins where it holds), and an event no rule takes falls through
(`CompiledMachine.lenient`).  Rule mutants share the reference's compiled observations and caches
(a rule cannot change them), so most of them cost a few lookups per step.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from chargespec import configkeys
from chargespec.compare import TRANSACTION_ACTIONS, compare
from chargespec.errors import ModelError
from chargespec.models.step import Engine
from chargespec.models.types import Event, Message, thaw

from . import mutants as M
from .mutants import Mutant

OBSERVED = ("status", "contactor", "offered_current", "duty_cycle", "led")


# ---- the committed vectors, as the step function sees them -----------------------------------

@dataclass(frozen=True)
class Case:
    file: str
    tc_id: Any  # the test's tcId (a mutant's id for a test just found)
    config: dict[str, Any]  # the group's configuration (JSON)
    key: str  # its canonical JSON
    events: tuple[Event, ...]
    expected: tuple[Any, ...]  # projected outputs after each step (see `project`)
    states: tuple[Any, ...]  # the reference's state before each step
    rules: tuple[str, ...]  # the rule each step fires on the reference
    situations: frozenset[tuple[str, str]]  # (phase before, event) of every step


def project(out: Any, state: Any) -> tuple[Any, ...]:
    """What a vector compares of one step: the observed fields, the lock, messages,
    indications."""
    o = out.observation
    return (o.status, o.contactor, o.offered_current, o.duty_cycle, o.led, state.lock,
            out.messages, tuple(i.name for i in out.indications))


def _calls(ms: tuple[Message, ...]) -> tuple[list[Any], list[Any], list[Any]]:
    results = [m for m in ms if m.kind == "result"]
    calls = sorted((m for m in ms if m.kind != "result"), key=repr)
    tx = [m for m in ms if m.kind != "result" and m.action in TRANSACTION_ACTIONS]
    return results, calls, tx


def conforms(expected: tuple[Any, ...], seen: tuple[Any, ...]) -> bool:
    """The vectors' comparison: observations equal; messages per `messageOrder` (results in
    order, calls in any order but the transaction messages')."""
    if expected == seen:
        return True
    if expected[:6] != seen[:6] or expected[7] != seen[7]:
        return False
    return _calls(expected[6]) == _calls(seen[6])


@dataclass
class Suite:
    cases: list[Case]
    by_situation: dict[tuple[str, str], list[int]]
    files: tuple[str, ...]
    # every test, in the order a mutant that may change any step tries them: one test of each
    # configuration in turn (largest groups first), the longest first within a group, so the
    # tests that can see a changed table cell or observation come early (`killers`)
    spread: tuple[int, ...] = ()

    @property
    def steps(self) -> int:
        return sum(len(c.events) for c in self.cases)


SESSION_FILES_SKIP = ("coverage-report.json", "manifest.json")  # not vector files


def load_suite(engine: Engine, paths: Iterable[Path]) -> Suite:
    """The session tests of the vector files (see `suite_of`)."""
    from chargespec.conform import load_vectors
    docs = [(p.name, load_vectors(p)) for p in sorted(paths) if p.name not in SESSION_FILES_SKIP]
    return suite_of(engine, docs)


def suite_of(engine: Engine, docs: list[tuple[str, dict[str, Any]]]) -> Suite:
    """The session tests of vector documents, replayed once on the reference: the expected
    outputs in the step function's own terms, and the situations each test meets.  A vector
    whose expectations the reference does not meet is drift: ValueError naming it."""
    from chargespec.kinds import kind_of_group
    from chargespec.models.stdio import observation
    cases: list[Case] = []
    files = []
    configs: dict[str, Any] = {}
    for name, doc in docs:
        groups = [g for g in doc.get("testGroups", ()) if kind_of_group(g).name == "session"]
        if not groups:
            continue
        path = Path(name)
        files.append(path.name)
        for g in groups:
            key = json.dumps(g["config"], sort_keys=True)
            if key not in configs:
                configs[key] = engine.config(g["config"])
            cfg = configs[key]
            for t in g["tests"]:
                if any(s["event"]["name"] in configkeys.EVENTS for s in t["steps"]):
                    # GetConfiguration / ChangeConfiguration answer from the key table, which no
                    # spec mutant changes; the machine's behaviour after a change is the
                    # machine's under another configuration, which the other tests cover
                    continue
                events = []
                for s in t["steps"]:
                    fields = dict(s["event"])
                    events.append(engine.event(fields.pop("name"), **fields))
                st = engine.initial(cfg)
                expected, situations, states, fired = [], set(), [], []
                for s, ev in zip(t["steps"], events):
                    situations.add((st.session, ev.name))
                    states.append(st)
                    st, out = engine.step(cfg, st, ev)
                    fired.append(out.rule)
                    if observation(engine.machine, out, st) != s["expect"] and "choice" not in s:
                        if compare(s["expect"], observation(engine.machine, out, st), list(s["expect"])):
                            raise ValueError(f"{path}: test {t['tcId']} is not what the spec "
                                             "gives (run `chargespec vectors`)")
                    expected.append(project(out, st))
                cases.append(Case(path.name, t["tcId"], g["config"], key, tuple(events),
                                  tuple(expected), tuple(states), tuple(fired),
                                  frozenset(situations)))
    by: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cases):
        for sit in c.situations:
            by.setdefault(sit, []).append(i)
    return Suite(cases, by, tuple(files), _spread(cases))


def _spread(cases: list[Case]) -> tuple[int, ...]:
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        groups.setdefault(c.key, []).append(i)
    queues = sorted((sorted(g, key=lambda i: (-len(cases[i].events), i)) for g in groups.values()),
                    key=lambda g: (-len(g), g[0]))
    out: list[int] = []
    depth = 0
    while len(out) < len(cases):
        out += [q[depth] for q in queues if depth < len(q)]
        depth += 1
    return tuple(out)


# ---- a mutant's step function ------------------------------------------------------------------

def mutant_engine(ref: Engine, mu: Mutant) -> Engine:
    """The step function of a mutant.  A mutant that changes rules only (a rule, a definition
    the rules alone read, a table cell the rules alone read) is the reference's compiled
    machine with those rules recompiled and placed first among their siblings, observations
    and their caches shared; any other mutant is compiled from its mutated spec."""
    rules = touched(ref.spec, mu)
    if rules is not None:
        consts = M.mutated_spec(ref.spec, mu).constants if mu.kind == "constant" else None
        return _patched(ref, rules, consts)
    eng = Engine(M.mutated_spec(ref.spec, mu), helpers=M.helpers(mu), reuse=ref)
    eng.compiled.lenient = True
    eng.compiled.specialise = False
    return eng


def _patched_rule(base: Any, rule: Any, constants: Any = None) -> Any:
    from chargespec.expr import PythonBackend, names
    from chargespec.models.compiled import CompiledRule, getter
    fields = frozenset(f.name for f in base.machine.events[rule.events[0]].fields)
    if constants is None:
        be = base._rule_backends[rule.id]
    else:
        be = PythonBackend(base.resolver(fields, constants), base.order, base.listed_fn)
    used = set().union(*(names(e) for _, e in rule.do),
                       *(names(v) for x in rule.emit for _, v in x.fields)) - fields
    read = sorted(base.index[n] for n in used if n in base.index)
    return CompiledRule(
        rule=rule, guard=be.visit(rule.when),
        updates=tuple((base.index[v], be.visit(e)) for v, e in rule.do),
        to=rule.to, emits=tuple(base._emit(be, x) for x in rule.emit),
        inert=not rule.do and rule.to is None and not rule.emit and not rule.renotify,
        reads=getter(read))


def _patched(ref: Engine, rules: list[Any], constants: Any = None) -> Engine:
    base = ref.compiled
    c = copy.copy(base)
    c.lenient = True
    c.specialise = False
    c.fallthrough = None
    c.caches = base.caches.for_other_rules()
    new = {r.id: _patched_rule(base, r, constants) for r in rules}
    c.rules = [new.get(cr.rule.id, cr) for cr in base.rules]
    c.by_source_event = {}
    for key, crs in base.by_source_event.items():
        if any(cr.rule.id in new for cr in crs):
            crs = ([new[cr.rule.id] for cr in crs if cr.rule.id in new]
                   + [cr for cr in crs if cr.rule.id not in new])
        c.by_source_event[key] = crs
    eng = Engine.__new__(Engine)
    eng.compiled, eng.spec, eng.machine = c, ref.spec, base.machine
    eng._memo, eng._normalized = {}, {}
    eng.keys = ref.keys
    return eng


# ---- killing ---------------------------------------------------------------------------------

def run_case(eng: Engine, config: Any, case: Case, initial: Any, start: int = 0) -> int:
    """The 1-based step at which the mutant fails the test, 0 when it passes; from step
    `start` (0-based) on, the steps before it being the reference's."""
    st = initial if start == 0 else case.states[start]
    step = eng.step
    expected = case.expected
    for k in range(start, len(case.events)):
        st, out = step(config, st, case.events[k])
        if not conforms(expected[k], project(out, st)):
            return k + 1
    return 0


def _first_difference(case: Case, config: Any, rules: list[Any], old: dict[str, Any],
                      new: dict[str, Any], normalize: Any) -> int | None:
    """The first step of the test at which the changed rules can act differently: one of them
    fires on the reference, or a changed guard decides otherwise on the reference's state.
    None: the mutant takes every step as the reference does."""
    ids = {r.id for r in rules}
    for k, (st, ev, fired) in enumerate(zip(case.states, case.events, case.rules)):
        if fired in ids:
            return k
        phase = st.session
        for r in rules:
            if phase in r.sources and ev.name in r.events:
                g_old, g_new = old[r.id], new[r.id]
                if g_old is not g_new:
                    seen = normalize(config, ev)
                    if bool(g_old(st, config, seen, None)) != bool(g_new(st, config, seen, None)):
                        return k
    return None


def touched(spec: Any, mu: Mutant) -> list[Any] | None:
    """The rules a mutant changes, when it changes nothing but rules (None: it may change
    anything a step does: an observation, a notification, a filter, an initial value, a
    default, a helper)."""
    m = spec.machine()
    if mu.kind == "rule":
        return [mu.payload]
    if mu.kind == "definition":
        new = M.mutated_spec(spec, mu).machine()
        if (new.observations, new.notify, new.filters) != (m.observations, m.notify, m.filters):
            return None
        return [b for a, b in zip(m.rules, new.rules) if a != b]
    if mu.kind == "constant":
        cname = mu.payload[0]

        def reads(*exprs: Any) -> bool:
            return any(cname in M.read_names(e) for e in exprs if e is not None)
        if any(reads(o.expr, *[x for c in o.cases for x in (c.when, c.value)])
               for o in m.observations) or any(
                reads(n.when, *[v for em in n.emit for _, v in em.fields]) for n in m.notify) \
                or any(reads(f.when) for f in m.filters):
            return None
        return [r for r in m.rules if reads(r.when, *[x for _, x in r.do],
                                            *[v for em in r.emit for _, v in em.fields])]
    return None


def candidates(suite: Suite, mu: Mutant | None, rules: list[Any] | None) -> list[int]:
    """The tests that can kill the mutant: when it changes rules only, those that meet one of
    their situations (before that step the mutant is the reference); a parameter's default,
    the tests whose configuration leaves it at its default; else every test (`Suite.spread`'s
    order)."""
    if rules is None:
        order = list(suite.spread or range(len(suite.cases)))
        if mu is not None and mu.kind == "default" and mu.payload is not None:
            # a test whose configuration sets the parameter never sees its default
            pid = mu.payload[0]
            order = [i for i in order if pid not in suite.cases[i].config]
        return order
    out: set[int] = set()
    for r in rules:
        for src in r.sources:
            for ev in r.events:
                out.update(suite.by_situation.get((src, ev), ()))
    return sorted(out)


def killers(ref: Engine, eng: Engine, suite: Suite, mu: Mutant, limit: int = 2
            ) -> list[tuple[str, int]]:
    """Up to `limit` tests (file, tcId) that fail on the mutant."""
    found: list[tuple[str, int]] = []
    configs: dict[str, Any] = {}
    initials: dict[str, Any] = {}
    shared = eng.compiled.Config is ref.compiled.Config and mu.kind != "default"
    rules = touched(ref.spec, mu)
    if rules is not None and shared:
        # the reference's states are the mutant's until a changed rule acts: start there
        old = {cr.rule.id: cr.guard for cr in ref.compiled.rules}
        new = {cr.rule.id: cr.guard for cr in eng.compiled.rules}
        normalize = ref.compiled.normalize
    for i in candidates(suite, mu, rules):
        case = suite.cases[i]
        key = case.key
        cfg = configs.get(key)
        if cfg is None:
            cfg = configs[key] = (ref if shared else eng).config(case.config)
            initials[key] = eng.initial(cfg)
        start = 0
        if rules is not None and shared:
            k = _first_difference(case, cfg, rules, old, new, normalize)
            if k is None:
                continue
            start = k
        try:
            failed = run_case(eng, cfg, case, initials[key], start)
        except ModelError:
            failed = 1
        if failed:
            found.append((case.file, case.tc_id))
            if len(found) >= limit:
                break
    return found


# ---- distinguishing and equivalence ---------------------------------------------------------

@dataclass
class Distinction:
    config: dict[str, Any]
    events: list[Event]
    step: int  # where the observation first differs


def alphabet(engine: Engine, data: str = "") -> list[Event]:
    """The events of a product exploration: the session's, the representative errors and
    their recoveries, the backend going and coming; with `data` "cards" or "amps" also the
    data values of that class (real UIDs; current limits at every boundary); with "errors"
    every row of the error table instead of the representative ones."""
    from chargespec import datavalues
    from chargespec.checkers.explore import REPRESENTATIVE_ERRORS, error_events, session_events
    rows = None if data == "errors" else REPRESENTATIVE_ERRORS
    evs = list(session_events(engine)) + list(error_events(engine, rows))
    evs.append(engine.event("backend_online"))
    if data == "cards":
        evs += datavalues.card_events(engine)
    elif data == "amps":
        evs += datavalues.amps_events(engine)
    seen, out = set(), []
    for e in evs:
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out


CARD_READS = {"rfid_tag_letter_case", "local_whitelist", "enable_local_whitelist",
              "enable_ocpp_whitelist", "local_pre_authorize", "local_authorize_offline"}
AMPS_READS = {"operator_current_limit", "maximum_current", "installation_current_limit"}


def data_class(mu: Mutant) -> str:
    """Which data values a mutant's search needs: "cards", "amps", "errors" (every row of
    the error table) or none."""
    if mu.kind == "helper":
        return "amps" if mu.payload[0] == "duty_cycle" else "cards"
    if mu.kind == "pilot" or set(mu.reads) & AMPS_READS or "limit" in mu.element \
            or "current" in mu.element:
        return "amps"
    if set(mu.reads) & CARD_READS:
        return "cards"
    if mu.area == "errors":  # a row's cell or a rule of the error model: every row
        return "errors"
    return ""


def graph_bound(s: Any) -> bool:
    """The states a search follows: at most one error active, at most one card cached."""
    return len(s.errors) <= 1 and len(s.cache) <= 1


def explore_pair(ref: Engine, eng: Engine, values: dict[str, Any], events: list[Event],
                 max_pairs: int, budget: Budget, mu: Mutant) -> tuple[Distinction | None, bool]:
    """Breadth-first over (reference state, mutant state) under one configuration: the
    shortest events after which an observation differs, and whether the search was exhaustive
    (False: a bound was hit)."""
    rc = ref.config(values)
    mc = rc if (eng.compiled.Config is ref.compiled.Config and mu.kind != "default") \
        else eng.config(values)
    start = (ref.initial(rc), eng.initial(mc))
    parent: dict[Any, Any] = {start: None}
    queue = deque([start])
    bound = graph_bound
    while queue:
        if len(parent) > max_pairs or budget.spend(0):
            return None, False
        pair = queue.popleft()
        a, b = pair
        for ev in events:
            a2, oa = ref.step(rc, a, ev)
            budget.spend()
            try:
                b2, ob = eng.step(mc, b, ev)
            except ModelError:
                ob = None
            if ob is None or not conforms(project(oa, a2), project(ob, b2)):
                trace = [ev]
                p = pair
                while parent[p] is not None:
                    p, e = parent[p]
                    trace.append(e)
                trace.reverse()
                return Distinction(values, trace, len(trace)), True
            nxt = (a2, b2)
            if nxt not in parent and bound(a2):
                parent[nxt] = (pair, ev)
                queue.append(nxt)
    return None, True


COMPLETE_CONFIGS = 24  # a product of the read parameters' values up to this is searched whole


def search_configs(engine: Engine, mu: Mutant, suite: Suite | None, most: int = 12
                   ) -> tuple[list[dict[str, Any]], int]:
    """The configurations to look under, most telling first, and how many of the first ones
    are every combination of the values of the parameters the element reads (0 when there
    are more than COMPLETE_CONFIGS): then the data configurations of its data class and the
    vectors' own configurations, up to `most` beyond the combinations."""
    import itertools

    from chargespec import datavalues
    from .liveness import reader_parameters
    reads = list(mu.reads)
    unset = None
    if mu.kind == "rule" and mu.operator in ("UPD-DEL", "UPD-VAL"):
        # an update shows only where something reads it: the parameters that decide that too
        changed = _changed_updates(engine.spec.machine(), mu.payload)
        reads += [p for p in reader_parameters(engine.spec, changed) if p not in reads]
    elif mu.kind == "default":
        # a factory default shows only where the configuration leaves the parameter unset:
        # look under the parameters that decide whether it is read, never setting it
        unset = mu.payload[0]
        reads = [p for p in reader_parameters(engine.spec, [unset]) if p != unset]
    domains = [[(p, v) for v in datavalues.parameter_values(engine, p)] for p in reads]
    size = 1
    for d in domains:
        size *= len(d)
    out: list[dict[str, Any]] = []
    if size <= COMPLETE_CONFIGS:
        out += [dict(combo) for combo in itertools.product(*domains)]
        complete = len(out)
    else:  # every pair of values of two read parameters in some configuration
        from chargespec.checkers.explore import pairwise_configurations
        complete = 0
        out.append({})
        reads = [p for p in reads if engine.spec.parameters[p].kind in ("bool", "enum")]
        for c in pairwise_configurations(engine, reads):
            full = c.as_dict()
            out.append({p: thaw(full[p]) for p in reads})
    data = data_class(mu)
    extra: list[dict[str, Any]] = []
    if data == "cards":
        extra += datavalues.card_configs()
    elif data == "amps":
        extra.append(dict(datavalues.HIGH_CURRENT))
    if suite is not None:
        for c in suite.cases:
            extra.append(c.config)
    uniq, seen = [], set()
    for c in out + extra:
        k = json.dumps(c, sort_keys=True)
        if unset in c:
            continue
        if k not in seen:
            seen.add(k)
            uniq.append(c)
    return uniq[:max(complete, 1) + most], complete


SEARCH_STEPS = 8_000  # a mutant's allowance for the distinguishing search
WALK_STEPS = 4_000  # and for the random walks tried after it


class Budget:
    """A search's allowance, in steps of the mutant: counted, not timed, so a search finds the
    same test on every machine and the generated vectors are byte-identical."""

    def __init__(self, steps: int, seed: str = ""):
        import random
        import zlib
        self.left = steps
        # the random walks' choices: seeded by the mutant, drawn in the search's fixed order
        self.rng = random.Random(zlib.crc32(seed.encode()))

    def spend(self, n: int = 1) -> bool:
        """Spend `n` steps; True once the allowance is gone."""
        self.left -= n
        return self.left < 0


_GRAPHS: dict[str, Any] = {}  # configuration -> the reference's BFS tree (per process)
_ALPHABET: dict[tuple[int, str], list[Event]] = {}


def reference_graph(ref: Engine, config: Any, key: str, events: list[Event]
                    ) -> tuple[dict[Any, Any], bool]:
    """The reference's reachable states under `config` (at most one error active), as a BFS
    parent map in BFS order; kept per process, since every mutant searches the same ones."""
    g = _GRAPHS.get(key)
    if g is None:
        from chargespec.checkers.explore import explore
        count = [0]
        cut = [False]

        def bound(st: Any) -> bool:  # the first GRAPH_STATES states, breadth-first
            if not graph_bound(st):
                return False
            if count[0] >= GRAPH_STATES:
                cut[0] = True
                return False
            count[0] += 1
            return True
        g = _GRAPHS[key] = (explore(ref, config, {}, events=events, bound=bound).parent,
                            not cut[0])
    return g


GRAPH_STATES = 400


def _replay_differs(ref: Engine, eng: Engine, rc: Any, mc: Any, trace: list[Event]) -> int:
    a, b = ref.initial(rc), eng.initial(mc)
    for k, ev in enumerate(trace, 1):
        a, oa = ref.step(rc, a, ev)
        try:
            b, ob = eng.step(mc, b, ev)
        except ModelError:
            return k
        if not conforms(project(oa, a), project(ob, b)):
            return k
    return 0


WALKS, WALK_LENGTH = 30, 12  # random continuations tried from a state pair where BFS gave up


def _differ_after(ref: Engine, eng: Engine, rc: Any, mc: Any, a: Any, b: Any,
                  events: list[Event]) -> int:
    """The 1-based step after which the runs from `a` and `b` differ, 0 when they do not."""
    for k, ev in enumerate(events, 1):
        a, oa = ref.step(rc, a, ev)
        try:
            b, ob = eng.step(mc, b, ev)
        except ModelError:
            return k
        if not conforms(project(oa, a), project(ob, b)):
            return k
    return 0


def _walk(ref: Engine, eng: Engine, rc: Any, mc: Any, a: Any, b: Any,
          events: list[Event], budget: Budget) -> list[Event] | None:
    """Random continuations from a pair whose states differ but whose observations do not
    (a value written that only a later step reads): up to WALKS walks of WALK_LENGTH events,
    each stopped once the states agree again; the first that tells them apart, with every
    event it does not need removed."""
    rng = budget.rng
    for _ in range(WALKS):
        if budget.spend(0):
            return None
        x, y, trace = a, b, []
        for _ in range(WALK_LENGTH):
            ev = events[rng.randrange(len(events))]
            trace.append(ev)
            x2, ox = ref.step(rc, x, ev)
            budget.spend()
            try:
                y2, oy = eng.step(mc, y, ev)
            except ModelError:
                oy = None
            if oy is None or not conforms(project(ox, x2), project(oy, y2)):
                k = 0
                while k < len(trace) - 1:  # drop each event the difference does not need
                    shorter = trace[:k] + trace[k + 1:]
                    n = _differ_after(ref, eng, rc, mc, a, b, shorter)
                    budget.spend(n or len(shorter))
                    if n:
                        trace = shorter[:n]
                    else:
                        k += 1
                return trace
            if x2 == y2:
                break
            x, y = x2, y2
    return None


def _continue(ref: Engine, eng: Engine, rc: Any, mc: Any, a: Any, b: Any,
              events: list[Event], budget: Budget, depth: int = 6, cap: int = 3000
              ) -> list[Event] | None:
    """From reference state `a` and mutant state `b`, the shortest events after which an
    observation differs (breadth-first, bounded)."""
    parent: dict[Any, Any] = {(a, b): None}
    frontier = [(a, b)]
    for _ in range(depth):
        nxt = []
        for pair in frontier:
            x, y = pair
            for ev in events:
                x2, ox = ref.step(rc, x, ev)
                budget.spend()
                try:
                    y2, oy = eng.step(mc, y, ev)
                except ModelError:
                    oy = None
                if oy is None or not conforms(project(ox, x2), project(oy, y2)):
                    out = [ev]
                    p = pair
                    while parent[p] is not None:
                        p, e = parent[p]
                        out.append(e)
                    return out[::-1]
                q = (x2, y2)
                if x2 != y2 and q not in parent:
                    parent[q] = (pair, ev)
                    nxt.append(q)
                    if len(parent) > cap:
                        return None
        frontier = nxt
        if not frontier:
            break
    return None


def targeted(ref: Engine, eng: Engine, rules: list[Any], values: dict[str, Any], key: str,
             events: list[Event], budget: Budget) -> tuple[Distinction | None, bool]:
    """For a mutant that changes rules only: over the reference's reachable states in BFS
    order, the first state and event where a changed rule acts differently, continued until an
    observation differs."""
    from chargespec.checkers.explore import trace_to
    rc = ref.config(values)
    # the reference's graph is not charged to the allowance: it is the same whichever search
    # builds it (bounded by GRAPH_STATES, kept per process), so what a search finds does not
    # depend on which mutants a worker searched before (the vectors are byte-identical on
    # every run; charging only its builder made the result depend on the order)
    graph, whole = reference_graph(ref, rc, key, events)
    ids = {r.id for r in rules}
    old = {cr.rule.id: cr.guard for cr in ref.compiled.rules}
    new = {cr.rule.id: cr.guard for cr in eng.compiled.rules}
    by_phase: dict[str, list[Event]] = {}
    for r in rules:
        for src in r.sources:
            by_phase.setdefault(src, []).extend(e for e in events if e.name in r.events)
    normalize = ref.compiled.normalize
    for s in graph:
        evs = by_phase.get(s.session)
        if not evs:
            continue
        if budget.spend(0):
            return None, False
        for ev in evs:
            a2, oa = ref.step(rc, s, ev)
            budget.spend()
            if oa.rule not in ids:
                seen = normalize(rc, ev)
                if not any(old[i] is not new[i] and bool(old[i](s, rc, seen, None))
                           != bool(new[i](s, rc, seen, None)) for i in ids
                           if s.session in ref.machine.rule(i).sources
                           and ev.name in ref.machine.rule(i).events):
                    continue
            try:
                b2, ob = eng.step(rc, s, ev)
            except ModelError:
                ob = None
            prefix = list(trace_to(graph, s)) + [ev]
            if ob is None or not conforms(project(oa, a2), project(ob, b2)):
                cont: list[Event] | None = []
            elif a2 == b2:
                continue
            else:
                cont = _continue(ref, eng, rc, rc, a2, b2, events, budget)
                if cont is None:
                    continue
            trace = prefix + cont
            k = _replay_differs(ref, eng, rc, rc, trace)
            if k:
                return Distinction(values, trace[:k], k), True
    return None, whole


def seeded(ref: Engine, eng: Engine, rules: list[Any], suite: Suite, events: list[Event],
           budget: Budget, walk: bool = False) -> Distinction | None:
    """For a mutant that changes rules only: at every step of the vectors where a changed rule
    is in play, each event of the alphabet it answers, continued until an observation differs
    (breadth-first a few events deep; with `walk`, by random walks instead, `_walk`).
    The vectors already reach every rule's situations, so most survivors are told apart a few
    events from one of their states."""
    by_name: dict[str, list[Event]] = {}
    for e in events:
        by_name.setdefault(e.name, []).append(e)
    sits = {(src, ev) for r in rules for src in r.sources for ev in r.events}
    tried: set[tuple[Any, Any, Event]] = set()
    configs: dict[str, Any] = {}
    for i in candidates(suite, None, rules):
        if budget.spend(0):
            return None
        case = suite.cases[i]
        rc = configs.get(case.key)
        if rc is None:
            rc = configs[case.key] = ref.config(case.config)
        for k, st in enumerate(case.states):
            names = {n for (src, n) in sits if src == st.session}
            for name in sorted(names):
                for ev in by_name.get(name, ()):
                    if (rc, st, ev) in tried:
                        continue
                    tried.add((rc, st, ev))
                    a2, oa = ref.step(rc, st, ev)
                    budget.spend()
                    try:
                        b2, ob = eng.step(rc, st, ev)
                    except ModelError:
                        ob = None
                    if ob is None or not conforms(project(oa, a2), project(ob, b2)):
                        cont: list[Event] | None = []
                    elif a2 == b2:
                        continue
                    else:
                        cont = _walk(ref, eng, rc, rc, a2, b2, events, budget) if walk \
                            else _continue(ref, eng, rc, rc, a2, b2, events, budget, depth=4,
                                           cap=800)
                        if cont is None:
                            continue
                    trace = list(case.events[:k]) + [ev] + cont
                    n = _replay_differs(ref, eng, rc, rc, trace)
                    if n:
                        return Distinction(case.config, trace[:n], n)
    return None


WITNESS_STEPS = 6_000  # the allowance of the search toward a Z3 witness


def _z3_witness(ref: Engine, mu: Mutant) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """For a rule mutant: a state the state invariants allow where the changed rule acts
    otherwise than the original (its guard decides otherwise, or it fires and an update or a
    message field differs), as Z3 finds it: the event, the scalar parameters and the scalar
    state variables of that state (enum, bool and int values only)."""
    import z3

    from chargespec.expr import BoolT, EnumT, IntT, Name
    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    new = mu.payload
    old = m.rule(new.id)
    try:
        for ev in old.events:
            sol = z3.Solver()
            sol.set("timeout", 5000)
            sol.add(*model.facts, *model.assumptions,
                    z3.Or(*[model.control() == model.codes(v) for v in old.sources]))
            g_old, g_new = model.compile(old.when, ev), model.compile(new.when, ev)
            if old.when != new.when:
                sol.add(z3.Xor(g_old, g_new))
            else:
                before, after = dict(old.do), dict(new.do)
                diffs = [_differs(model.compile(before.get(v, Name(v)), ev),
                                  model.compile(after.get(v, Name(v)), ev), None)
                         for v in set(before) | set(after) if before.get(v) != after.get(v)]
                for a, b in zip(old.emit, new.emit):
                    fb = dict(b.fields)
                    diffs += [_differs(model.compile(x, ev), model.compile(fb[k], ev), None)
                              for k, x in a.fields if k in fb and fb[k] != x]
                if not diffs:
                    continue
                sol.add(g_old, z3.Or(*diffs))
            if sol.check() != z3.sat:
                continue
            found = sol.model()

            def value(term: Any, t: Any) -> Any:
                v = found.eval(term, model_completion=True)
                if isinstance(t, BoolT):
                    return z3.is_true(v)
                if isinstance(t, IntT):
                    return v.as_long()
                if isinstance(t, EnumT):
                    return model.codes.name(v.as_long())
                return None
            config = {p: value(*model.terms[p]) for p in ref.spec.parameters
                      if isinstance(model.terms[p][1], (BoolT, IntT, EnumT))}
            state = {n: value(*model.terms[n]) for n in m.state_fields
                     if isinstance(model.terms[n][1], (BoolT, IntT, EnumT))}
            return ev, config, state
    except (z3.Z3Exception, KeyError, TypeError, AttributeError, ValueError):
        return None
    return None


def _shrink(ref: Engine, eng: Engine, rc: Any, trace: list[Event], budget: Budget
            ) -> list[Event]:
    """`trace` (which tells the two apart at its last event) with every event it does not
    need removed, one at a time from the front."""
    k = 0
    while k < len(trace) - 1:
        shorter = trace[:k] + trace[k + 1:]
        n = _replay_differs(ref, eng, rc, rc, shorter)
        budget.spend(n or len(shorter))
        if n:
            trace = shorter[:n]
        else:
            k += 1
    return trace


def toward_witness(ref: Engine, eng: Engine, mu: Mutant, rules: list[Any], events: list[Event],
                   budget: Budget) -> Distinction | None:
    """For a rule mutant the searches missed: ask Z3 for a state where the changed rule acts
    otherwise (`_z3_witness`), take the configuration it names for the parameters the rule and
    the readers of what it writes read (the rest at their defaults), then search the
    reference's states best-first toward that state (fewest of its variables still different)
    and, at each state where the changed rule is in play, try its event, continued as the
    other searches do until an observation differs."""
    import heapq

    from .liveness import reader_parameters
    w = _z3_witness(ref, mu)
    if w is None:
        return None
    ev_name, config, target = w
    changed = _changed_updates(ref.spec.machine(), mu.payload)
    keep = set(mu.reads) | set(reader_parameters(ref.spec, changed))
    values = {p: v for p, v in config.items() if p in keep and v is not None}
    try:
        rc = ref.config(values)
    except Exception:  # noqa: BLE001 - a witness outside what a configuration may hold
        return None
    sources = {src for r in rules for src in r.sources}
    tries = [e for e in events if e.name == ev_name]
    old = ref.spec.machine().rule(mu.payload.id)
    read = M.read_names(old.when) | M.read_names(mu.payload.when) | set().union(
        *(M.read_names(x) for _, x in old.do + mu.payload.do),
        *(M.read_names(v) for em in old.emit + mu.payload.emit for _, v in em.fields))
    # the witness's values of what the rule reads (the rest of its state is Z3's whim)
    target = {k: v for k, v in target.items() if v is not None and k in read}

    def distance(st: Any) -> int:
        return sum(getattr(st, k) != v for k, v in target.items())
    start = ref.initial(rc)
    parent: dict[Any, Any] = {start: None}
    heap = [(distance(start), 0, 0, start)]
    order = 1
    while heap:
        if budget.spend(0):
            return None
        _, depth, _, st = heapq.heappop(heap)
        if st.session in sources:
            for ev in tries:
                a2, oa = ref.step(rc, st, ev)
                budget.spend()
                try:
                    b2, ob = eng.step(rc, st, ev)
                except ModelError:
                    ob = None
                if ob is not None and conforms(project(oa, a2), project(ob, b2)):
                    if a2 == b2:
                        continue
                    cont = _continue(ref, eng, rc, rc, a2, b2, events, budget, depth=2,
                                     cap=400) or _walk(ref, eng, rc, rc, a2, b2, events, budget)
                    if cont is None:
                        continue
                else:
                    cont = []
                trace = [ev] + cont
                p = st
                while parent[p] is not None:
                    p, e = parent[p]
                    trace.insert(0, e)
                k = _replay_differs(ref, eng, rc, rc, trace)
                if k:
                    trace = _shrink(ref, eng, rc, trace[:k], budget)
                    return Distinction(values, trace, len(trace))
        if depth >= 12:
            continue
        for ev in events:
            nxt, _ = ref.step(rc, st, ev)
            budget.spend()
            if nxt not in parent and graph_bound(nxt):
                parent[nxt] = (st, ev)
                heapq.heappush(heap, (distance(nxt) + depth // 4, depth + 1, order, nxt))
                order += 1
    return None


def _can_fire(ref: Engine, rules: list[Any], config: Any, consts: Any) -> bool:
    """Whether the mutant can act otherwise under the configuration: a changed rule's guard,
    specialised to it (`expr.specialize`), differs from the original's, or a rule whose
    updates or messages changed can fire."""
    from chargespec.expr import Const, specialize
    known = {**{n: v for n, (_, v) in ref.spec.constants.items()}, **config.as_dict()}
    known_new = known if consts is None else {**known, **{n: v for n, (_, v) in consts.items()}}
    for r in rules:
        o = ref.machine.rule(r.id)
        g_new, g_old = specialize(r.when, known_new), specialize(o.when, known)
        if g_new != g_old:
            return True
        body = (r.do, r.emit, r.to) != (o.do, o.emit, o.to) or consts is not None and any(
            set(consts) & M.read_names(e) and consts[n] != ref.spec.constants[n]
            for e in [*(x for _, x in r.do), *(v for em in r.emit for _, v in em.fields)]
            for n in M.read_names(e) & set(consts))
        if body and not (isinstance(g_old, Const) and not g_old.value):
            return True
    return False


def distinguish(ref: Engine, eng: Engine, mu: Mutant, suite: Suite | None,
                steps: int = SEARCH_STEPS, max_pairs: int = 4000,
                exclude: frozenset[str] = frozenset()
                ) -> tuple[Distinction | None, bool, int]:
    """The shortest distinguishing test over the search configurations (first found in their
    order), whether every configuration was searched exhaustively, and how many were.
    `exclude`: configurations (canonical JSON) not to search under (a second test's search
    skips the first's)."""
    budget = Budget(steps, mu.id)
    if exclude and suite is not None:
        kept = [c for c in suite.cases if c.key not in exclude]
        suite = Suite(kept, _situations(kept), suite.files, _spread(kept))
    data = data_class(mu)
    events = _ALPHABET.get((id(ref), data))
    if events is None:
        events = _ALPHABET[(id(ref), data)] = alphabet(ref, data)
    rules = touched(ref.spec, mu)
    patched = eng.compiled.Config is ref.compiled.Config and rules is not None
    exhaustive = True
    n = 0
    if patched and suite is not None:
        d = seeded(ref, eng, rules, suite, events, budget)
        if d is not None:
            return d, True, 0
    configs, complete = search_configs(ref, mu, suite)
    if exclude:
        configs = [c for c in configs if json.dumps(c, sort_keys=True) not in exclude]
        complete = 0
    exhaustive = complete > 0
    consts = M.mutated_spec(ref.spec, mu).constants if mu.kind == "constant" else None
    for i, values in enumerate(configs):
        try:
            rc = ref.config(values)
        except Exception:
            continue
        if patched and not _can_fire(ref, rules, rc, consts):
            continue  # no changed rule can fire under it, nor its original: nothing differs
        n += 1
        if patched:
            d, full = targeted(ref, eng, rules, values,
                               data + json.dumps(values, sort_keys=True), events, budget)
        elif mu.kind == "default":  # every configuration its share: the first is seldom it
            allowed = max(1, budget.left // max(1, len(configs) - i))
            share = Budget(allowed)
            d, full = explore_pair(ref, eng, values, events, max_pairs, share, mu)
            budget.spend(allowed - max(share.left, 0))
        else:
            d, full = explore_pair(ref, eng, values, events, max_pairs, budget, mu)
        if d is not None:
            return d, True, n
        if i < complete:
            exhaustive &= full
        if budget.spend(0):
            exhaustive &= i + 1 >= complete
            break
    if not exhaustive and patched and suite is not None:
        # the states the vectors reach where a changed rule is in play, continued at random
        d = seeded(ref, eng, rules, suite, events, Budget(WALK_STEPS, mu.id), walk=True)
        if d is not None:
            return d, True, n
    if not exhaustive and patched and mu.kind == "rule":
        d = toward_witness(ref, eng, mu, rules, events, Budget(WITNESS_STEPS, mu.id))
        if d is not None:
            return d, True, n
    return None, exhaustive, n


def equivalence(ref: Engine, mu: Mutant) -> str | None:
    """Why the mutant cannot be told apart, when a static argument shows it; else None."""
    from chargespec.expr import names
    m = ref.machine
    if mu.kind == "default":
        pid = mu.payload[0]
        read = set()
        for r in m.rules:
            read |= names(r.when) | set().union(*(names(x) for _, x in r.do),
                                               *(names(v) for em in r.emit for _, v in em.fields))
        for o in m.observations:
            for e in ([o.expr] if o.expr is not None else []) + [x for c in o.cases
                                                                for x in (c.when, c.value)]:
                read |= names(e)
        for n in m.notify:
            read |= names(n.when) | set().union(*(names(v) for em in n.emit for _, v in em.fields))
        for f in m.filters:
            read |= names(f.when)
        for v in m.variables.values():
            read |= names(v.initial)
        renders = {f.render for e in m.events.values() for f in e.fields if f.render}
        if pid not in read and pid not in renders:
            return f"no expression of the session reads {pid}"
        return None
    if mu.kind == "rule" and mu.element.endswith(": when"):
        return _z3_guard_equivalent(ref, mu) or _z3_same_effect(ref, mu)
    if mu.kind == "rule" and mu.operator in ("UPD-DEL", "UPD-VAL"):
        return _dead_update(ref, mu) or _z3_update_equivalent(ref, mu)
    if mu.kind == "observation":
        return _z3_observation_equivalent(ref, mu)
    if mu.kind == "rule" and mu.operator == "EMIT-FIELD":
        return _z3_emit_equivalent(ref, mu)
    if mu.kind == "constant" and isinstance(mu.payload[1], frozenset):
        from .liveness import unseen_constant_change
        return unseen_constant_change(ref.spec, *mu.payload)
    return None


def _changed_updates(m: Any, new: Any) -> list[str]:
    before, after = dict(m.rule(new.id).do), dict(new.do)
    return sorted(v for v in set(before) | set(after) if before.get(v) != after.get(v))


def _dead_update(ref: Engine, mu: Mutant) -> str | None:
    """An update deleted or changed is equivalent when what it leaves different is never read
    again before it is written (`liveness`): no guard, update, message field, observation or
    notification can see it, in any configuration."""
    from .liveness import liveness
    m = ref.spec.machine()
    old = m.rule(mu.payload.id)
    changed = _changed_updates(m, mu.payload)
    if not changed or not liveness(m).dead_after(old, changed):
        return None
    where = old.to or " / ".join(old.sources)
    return (f"dead update: after the rule ({where}) no path of rules reads "
            f"{', '.join(changed)} before writing it again (no guard, update, message field, "
            "observation or notification there reads it)")


def _machine_model(spec: Any) -> Any:
    from .determinism import MachineModel
    model = _model_cache.get(id(spec))
    if model is None:
        model = _model_cache[id(spec)] = MachineModel(spec, spec.machine())
    return model


def _z3_update_equivalent(ref: Engine, mu: Mutant) -> str | None:
    """An update deleted or changed is equivalent when, wherever the rule can fire (its
    guard, its source phases, every state the state invariants allow), the mutated update
    leaves each variable at the value the original gives it: the state after the step is the
    same, so is everything after it."""
    import z3

    from chargespec.expr import Name
    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    from .liveness import masks
    seen = masks(ref.spec)
    new = mu.payload
    old = m.rule(new.id)
    before, after = dict(old.do), dict(new.do)
    changed = _changed_updates(m, new)
    if not changed:
        return None
    try:
        for ev in old.events:
            s = z3.Solver()
            s.set("timeout", 5000)
            s.add(*model.facts, *model.assumptions)
            control = model.control()
            s.add(z3.Or(*[control == model.codes(v) for v in old.sources]))
            s.add(model.compile(old.when, ev))
            s.add(z3.Or(*[_differs(model.compile(before.get(v, Name(v)), ev),
                                   model.compile(after.get(v, Name(v)), ev), seen.mask.get(v))
                          for v in changed]))
            if s.check() != z3.unsat:
                return None
    except (z3.Z3Exception, KeyError, TypeError, AttributeError, ValueError):
        return None  # an update Z3 cannot compare: left to the search
    masked = [v for v in sorted(changed) if seen.mask.get(v) is not None]
    return ("Z3: wherever the rule fires (its guard, in every state the state invariants "
            f"allow), the mutated update leaves {', '.join(sorted(changed))} at the value the "
            "original gives" + "".join(
                f"; of {v} only the members any read sees ({', '.join(sorted(seen.mask[v]))}: "
                "every read of it is masked by a fixed set, its own updates only carry it on)"
                for v in masked))


def _differs(a: Any, b: Any, mask: frozenset[str] | None) -> Any:
    """Z3: the two values differ (sets member by member, only inside `mask` when given)."""
    import z3

    from .z3_backend import SymSet
    if isinstance(a, SymSet) or isinstance(b, SymSet):
        dom = a.domain if isinstance(a, SymSet) else b.domain
        members = [x for x in dom if mask is None or x in mask]
        if not isinstance(a, SymSet) or not isinstance(b, SymSet):
            raise TypeError("a set compared with a non-set")
        return z3.Or(*[a.get(x) != b.get(x) for x in members]) if members \
            else z3.BoolVal(False)
    return a != b


def _z3_guard_equivalent(ref: Engine, mu: Mutant) -> str | None:
    import z3

    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    new = mu.payload
    old = m.rule(new.id)
    ev = new.events[0]
    s = z3.Solver()
    s.set("timeout", 5000)
    s.add(*model.facts, *model.assumptions)
    control = model.control()
    s.add(z3.Or(*[control == model.codes(v) for v in new.sources]))
    # only where the event could reach this rule: no earlier sibling decides it
    s.add(z3.Xor(model.compile(old.when, ev), model.compile(new.when, ev)))
    if s.check() == z3.unsat:
        return ("Z3: the mutated guard holds exactly where the original does, in every state "
                "the state invariants allow")
    return None


def _effects_differ(model: Any, live: Any, phase: str, ev: str, r: Any, s: Any) -> Any:
    """Z3: the steps of rules `r` and `s` (None: no rule, the step changes nothing) from the
    same state in `phase` differ in what a run can ever see: the phase after, the messages and
    indications, a variable that is live there (only its masked members for a masked set)."""
    import z3

    from chargespec.expr import Name
    from .liveness import masks
    to_r = (r.to if r is not None and r.to else phase)
    to_s = (s.to if s is not None and s.to else phase)
    if to_r != to_s:
        return z3.BoolVal(True)
    ren_r, ren_s = (bool(x is not None and x.renotify) for x in (r, s))
    em_r, em_s = (() if x is None else x.emit for x in (r, s))
    if ren_r != ren_s or len(em_r) != len(em_s):
        return z3.BoolVal(True)
    out = []
    for a, b in zip(em_r, em_s):
        if (a.message, a.kind, a.indication) != (b.message, b.kind, b.indication) \
                or dict(a.fields).keys() != dict(b.fields).keys():
            return z3.BoolVal(True)
        fb = dict(b.fields)
        out += [_differs(model.compile(x, ev), model.compile(fb[k], ev), None)
                for k, x in a.fields]
    do_r, do_s = (dict(x.do) if x is not None else {} for x in (r, s))
    mk = masks(model.spec)
    for v in sorted(set(do_r) | set(do_s)):
        if v not in live.never_dead and to_r not in live.live(v):
            continue  # never read again before it is written: unseen
        out.append(_differs(model.compile(do_r.get(v, Name(v)), ev),
                            model.compile(do_s.get(v, Name(v)), ev), mk.mask.get(v)))
    return z3.Or(*out) if out else z3.BoolVal(False)


def _z3_same_effect(ref: Engine, mu: Mutant) -> str | None:
    """A guard mutant is equivalent when, wherever it decides otherwise than the original
    (in every state the state invariants allow), the step it takes has the effect the
    reference's has: where the guard now holds, the same as whichever sibling the reference
    fires; where it no longer holds (no sibling applies: the reference is deterministic, so
    the mutant's step changes nothing), the rule itself changes nothing that is seen."""
    import z3

    from .liveness import liveness
    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    live = liveness(m)
    new = mu.payload
    old = m.rule(new.id)
    cases = 0
    try:
        for ev in old.events:
            g_old, g_new = model.compile(old.when, ev), model.compile(new.when, ev)
            for phase in old.sources:
                base = [*model.facts, *model.assumptions,
                        model.control() == model.codes(phase)]
                sibs = [r for r in m.rules if r.id != old.id and phase in r.sources
                        and ev in r.events]
                guards = {r.id: model.compile(r.when, ev) for r in sibs}
                checks = [(z3.And(g_old, z3.Not(g_new)),
                           _effects_differ(model, live, phase, ev, old, None))]
                gained = z3.And(g_new, z3.Not(g_old))
                checks.append((z3.And(gained, z3.Not(z3.Or(*guards.values()) if guards
                                                     else z3.BoolVal(False))),
                               z3.BoolVal(True)))  # no sibling for the reference: unknown
                checks += [(z3.And(gained, guards[r.id]),
                            _effects_differ(model, live, phase, ev, new, r)) for r in sibs]
                for where, differs in checks:
                    sol = z3.Solver()
                    sol.set("timeout", 5000)
                    sol.add(*base, where, differs)
                    if sol.check() != z3.unsat:
                        return None
                    cases += 1
    except (z3.Z3Exception, KeyError, TypeError, AttributeError, ValueError):
        return None
    return ("Z3: wherever the mutated guard decides otherwise (in every state the state "
            "invariants allow), the step taken has the same effect as the reference's: the "
            "same phase, messages and every variable read again")


def _z3_emit_equivalent(ref: Engine, mu: Mutant) -> str | None:
    """A message field changed is equivalent when, wherever the rule fires (its guard, in
    every state the state invariants allow) and the configuration sends that message at all
    (its filters), the mutated field takes the original's value."""
    import z3

    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    new = mu.payload
    old = m.rule(new.id)
    diffs = [(a.message, dict(a.fields), dict(b.fields)) for a, b in zip(old.emit, new.emit)
             if a != b]
    if len(old.emit) != len(new.emit) or len(diffs) != 1:
        return None
    action, before, after = diffs[0]
    if before.keys() != after.keys():
        return None
    drops = [model.compile(f.when) for f in m.filters if "*" in f.drop or action in f.drop]
    try:
        for ev in old.events:
            sol = z3.Solver()
            sol.set("timeout", 5000)
            sol.add(*model.facts, *model.assumptions,
                    z3.Or(*[model.control() == model.codes(v) for v in old.sources]),
                    model.compile(old.when, ev), *[z3.Not(d) for d in drops],
                    z3.Or(*[_differs(model.compile(before[k], ev), model.compile(after[k], ev),
                                     None) for k in before if before[k] != after[k]]))
            if sol.check() != z3.unsat:
                return None
    except (z3.Z3Exception, KeyError, TypeError, AttributeError, ValueError):
        return None
    return (f"Z3: wherever the rule fires (its guard, in every state the state invariants "
            f"allow) and the configuration sends {action}, the mutated field takes the "
            "original's value")


def _z3_observation_equivalent(ref: Engine, mu: Mutant) -> str | None:
    """An observation mutant is equivalent when the mutated observation takes the original's
    value in every state it is computed on: the state after a rule's updates, before the kept
    observations settle, so only the state invariants that read neither a kept observation nor
    a transient variable are assumed there (the others hold only once the step has settled)."""
    import z3

    from chargespec.expr import Const
    from .z3_backend import Z3Backend
    m = ref.spec.machine()
    model = _machine_model(ref.spec)
    name, k, new = mu.payload
    kept = {o.name for o in m.observations if o.keep}
    transient = {v.name for v in m.variables.values() if v.transient}
    settled_only = kept | transient
    transient_facts = [model.terms[v][0] == model.codes(m.variables[v].initial.value)
                       for v in transient]
    facts = [f for f in model.facts if not any(f.eq(t) for t in transient_facts)]
    assumptions = [model.compile(a.expr) for a in m.assumptions
                   if not M.read_names(a.expr) & settled_only]
    computed: dict[str, Any] = {}

    def resolve(n: str) -> Any:
        if n in computed:
            return computed[n], None
        return model.terms[n]
    be = Z3Backend(resolve, model.codes)

    def value(o: Any, cases: Any, expr: Any) -> Any:
        if o.kind == "expr":
            return be.visit(expr)
        if not cases or not (isinstance(cases[-1].when, Const) and cases[-1].when.value is True):
            raise ValueError("cases without a last catch-all")
        term = be.visit(cases[-1].value)
        for c in reversed(cases[:-1]):
            term = z3.If(be.visit(c.when), be.visit(c.value), term)
        return term
    try:
        for o in m.observations:
            if o.name == name:
                old = value(o, o.cases, o.expr)
                if k is None:
                    mutated = value(o, o.cases, new)
                else:
                    mutated = value(o, o.cases[:k] + (new,) + o.cases[k + 1:], o.expr)
                break
            if o.kind in ("expr", "cases"):  # a table-computed one (the duty cycle) read
                computed[o.name] = value(o, o.cases, o.expr)  # later fails: left undecided
        else:
            return None
        sol = z3.Solver()
        sol.set("timeout", 5000)
        sol.add(*facts, *assumptions, _differs(old, mutated, None))
        if sol.check() != z3.unsat:
            return None
    except (z3.Z3Exception, KeyError, TypeError, AttributeError, ValueError):
        return None
    return (f"Z3: the mutated {name} takes the original's value in every state it is computed "
            "on (the state invariants that hold before the step settles assumed)")


_model_cache: dict[int, Any] = {}


# ---- the whole analysis ----------------------------------------------------------------------

@dataclass
class Verdict:
    mutant: Mutant
    status: str  # killed | distinguished | equivalent | undecided | invalid
    killers: list[tuple[str, int]] = field(default_factory=list)
    reason: str = ""
    distinction: Distinction | None = None
    second: Distinction | None = None  # for a mutant one test alone kills: a second test


SECOND_STEPS = SEARCH_STEPS  # the allowance of the search for a second test


def second_test(ref: Engine, suite: Suite, mu: Mutant, killer: tuple[str, Any]
                ) -> Distinction | None:
    """A test that tells the mutant apart under another configuration than the one test that
    kills it (a small change to that test must not let the bug through); None when the search
    finds none (the element may be reachable under that configuration only)."""
    case = next((c for c in suite.cases if (c.file, c.tc_id) == tuple(killer)), None)
    if case is None:
        return None
    try:
        eng = mutant_engine(ref, mu)
        d, _, _ = distinguish(ref, eng, mu, suite, SECOND_STEPS, exclude=frozenset({case.key}))
    except Exception:  # noqa: BLE001 - as in analyse_one: no second test, not a crash
        return None
    return d


def analyse_one(ref: Engine, suite: Suite, mu: Mutant, search: bool = True,
                steps: int = SEARCH_STEPS) -> Verdict:
    reason = equivalence(ref, mu) if mu.kind == "default" else None
    if reason:
        return Verdict(mu, "equivalent", reason=reason)
    try:
        eng = mutant_engine(ref, mu)
        ks = killers(ref, eng, suite, mu)
    except Exception as exc:  # noqa: BLE001
        # a mutant the step function cannot run (a value outside its domain, a pilot table
        # that breaks its helper's precondition): no behaviour, reported with the reason
        return Verdict(mu, "invalid", reason=f"{type(exc).__name__}: {exc}")
    if ks:
        return Verdict(mu, "killed", ks)
    if not search:
        return Verdict(mu, "undecided", reason="not killed by the vectors")
    reason = equivalence(ref, mu)
    if reason:
        return Verdict(mu, "equivalent", reason=reason)
    try:
        d, exhaustive, n = distinguish(ref, eng, mu, suite, steps)
    except Exception as exc:  # noqa: BLE001 - as above, met only on the way
        return Verdict(mu, "invalid", reason=f"{type(exc).__name__}: {exc}")
    if d is not None:
        return Verdict(mu, "distinguished", reason=f"after {len(d.events)} events under "
                       f"{d.config or 'the defaults'}", distinction=d)
    if exhaustive:
        return Verdict(mu, "equivalent", reason=(
            "exhaustive product exploration under every combination of the values of "
            f"{', '.join(mu.reads) or 'no parameter'} (the others at their defaults; the "
            "session's events, five representative errors, at most one active) found no "
            "observable difference"))
    return Verdict(mu, "undecided", reason=f"not distinguished within the search bounds "
                   f"({n} configurations)")


_STATE: dict[str, Any] = {}


def _job(chunk: list[int]) -> list[tuple[str, str, list, str, Any]]:
    ref, suite, ms, search = (_STATE[k] for k in ("ref", "suite", "mutants", "search"))
    out = []
    for i in chunk:
        v = analyse_one(ref, suite, ms[i], search)
        d = v.distinction
        out.append((v.mutant.id, v.status, v.killers, v.reason,
                    None if d is None else (d.config, [(e.name, e.args) for e in d.events])))
    return out


def _run(ref: Engine, suite: Suite, mutants: list[Mutant], search: bool,
         workers: int | None) -> list[Verdict]:
    from chargespec.parallel import parallel_map
    _STATE.update(ref=ref, suite=suite, mutants=mutants, search=search)
    n = len(mutants)
    if n == 0:
        return []
    # interleaved chunks: rule mutants (cheap) and table mutants (dearer) spread evenly
    k = max(1, min(64, n // 4 or 1))
    chunks = [list(range(i, n, k)) for i in range(k)]
    by_id = {}
    for res in parallel_map(_job, chunks, workers):
        for mid, status, ks, reason, dist in res:
            by_id[mid] = (status, ks, reason, dist)
    out = []
    for mu in mutants:
        status, ks, reason, dist = by_id[mu.id]
        d = None
        if dist is not None:
            cfg, evs = dist
            d = Distinction(cfg, [Event(nm, tuple(args)) for nm, args in evs], len(evs))
        out.append(Verdict(mu, status, [tuple(k) for k in ks], reason, d))
    return out


BATCH = 48  # survivors searched at once; the tests found then kill many of the rest


def analyse(ref: Engine, suite: Suite, mutants: list[Mutant], search: bool = True,
            workers: int | None = None, progress: Any = None, second: bool = True
            ) -> list[Verdict]:
    """Every mutant's verdict, in the mutants' order, on the worker processes: first which
    tests kill each; then, with `search`, the survivors a batch at a time: each searched for
    a distinguishing test, then the rest run against the tests just found (a test made for
    one mutant often kills others of the same bug).  Batches are fixed by the mutants'
    order, so the result is the same on every run.  With `second`, a second distinguishing
    test for every mutant one test alone kills (what the generator adds beside it)."""
    say = progress or (lambda text: None)
    verdicts = _run(ref, suite, mutants, False, workers)
    say(f"{len(mutants)} mutants: {sum(v.status == 'killed' for v in verdicts)} killed by "
        f"the vectors")
    if not search:
        return verdicts
    index = {v.mutant.id: i for i, v in enumerate(verdicts)}
    left = [v.mutant for v in verdicts if v.status == "undecided"]
    every: list[Case] = []  # every test found so far

    def found_kill(mutants_left: list[Mutant], cases: list[Case]) -> list[Mutant]:
        extra = Suite(cases, _situations(cases), ("mutation.json",), _spread(cases))
        still = []
        for v in _run(ref, extra, mutants_left, False, workers):
            if v.status == "killed":
                verdicts[index[v.mutant.id]] = Verdict(
                    v.mutant, "distinguished", [], "killed by the test found for "
                    + ", ".join(f"{t}" for _, t in v.killers), None)
            else:
                still.append(v.mutant)
        return still
    while left:
        batch, left = left[:BATCH], left[BATCH:]
        found = _run(ref, suite, batch, True, workers)
        cases = []
        for v in found:
            verdicts[index[v.mutant.id]] = v
            if v.distinction is not None:
                cases.append(distinction_case(ref, v.distinction, v.mutant))
        every += cases
        if cases and left:
            left = found_kill(left, cases)
        say(f"searched {len(batch)}, {len(left)} left")
    # a mutant searched in an early batch may fall to a test a later batch found
    undecided = [v.mutant for v in verdicts if v.status == "undecided"]
    if undecided and every:
        rest = found_kill(undecided, every)
        say(f"{len(undecided) - len(rest)} more killed by the tests found after their search")
    once = [i for i, v in enumerate(verdicts) if v.status == "killed" and len(v.killers) == 1]
    if once and second:  # a second test for each: what the generator adds beside the first
        _STATE.update(ref=ref, suite=suite, mutants=mutants, verdicts=verdicts)
        from chargespec.parallel import parallel_map
        k = max(1, min(64, len(once) // 4 or 1))
        chunks = [once[j::k] for j in range(k)]
        found = 0
        for res in parallel_map(_second_job, chunks, workers):
            for i, dist in res:
                if dist is not None:
                    cfg, evs = dist
                    verdicts[i].second = Distinction(
                        cfg, [Event(nm, tuple(args)) for nm, args in evs], len(evs))
                    found += 1
        say(f"{len(once)} mutants killed by one test: a second test for {found}")
    return verdicts


def _second_job(chunk: list[int]) -> list[tuple[int, Any]]:
    ref, suite, ms, vs = (_STATE[k] for k in ("ref", "suite", "mutants", "verdicts"))
    out = []
    for i in chunk:
        d = second_test(ref, suite, ms[i], vs[i].killers[0])
        out.append((i, None if d is None else
                    (d.config, [(e.name, e.args) for e in d.events])))
    return out


def _situations(cases: list[Case]) -> dict[tuple[str, str], list[int]]:
    by: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cases):
        for sit in c.situations:
            by.setdefault(sit, []).append(i)
    return by


def distinction_case(ref: Engine, d: Distinction, mu: Mutant) -> Case:
    """A distinguishing test as a Case of the suite (its tcId: the mutant's id)."""
    cfg = ref.config(d.config)
    st = ref.initial(cfg)
    expected, states, fired, sits = [], [], [], set()
    for ev in d.events:
        sits.add((st.session, ev.name))
        states.append(st)
        st, out = ref.step(cfg, st, ev)
        fired.append(out.rule)
        expected.append(project(out, st))
    return Case("mutation.json", mu.id, d.config, json.dumps(d.config, sort_keys=True),
                tuple(d.events), tuple(expected), tuple(states), tuple(fired),
                frozenset(sits))


@dataclass
class Score:
    area: str
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    survived: int = 0

    @property
    def score(self) -> float:
        live = self.total - self.equivalent
        return 100.0 if live == 0 else 100.0 * self.killed / live


def scores(verdicts: list[Verdict]) -> list[Score]:
    by: dict[str, Score] = {a: Score(a) for a in M.AREAS}
    for v in verdicts:
        s = by.setdefault(v.mutant.area, Score(v.mutant.area))
        s.total += 1
        if v.status == "invalid":
            s.total -= 1
        elif v.status == "killed":
            s.killed += 1
        elif v.status == "equivalent":
            s.equivalent += 1
        else:
            s.survived += 1
    return [s for s in by.values() if s.total]


# ---- mutation-adequate vectors -----------------------------------------------------------------

def adequate_groups(engine: Engine, docs: list[tuple[str, dict[str, Any]]],
                    workers: int | None = None, progress: Any = None
                    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """For every mutant the documents' tests do not kill, its shortest distinguishing test
    (flagged with the mutant's bug class, the mutant ids in `mutants`), grouped by
    configuration; and the analysis in numbers (per area; the equivalent and undecided
    mutants with their reasons; the mutants one test alone kills)."""
    from chargespec.vectorform import initial_json, make_test
    suite = suite_of(engine, docs)
    mutants = M.generate(engine.spec)
    verdicts = analyse(engine, suite, mutants, search=True, workers=workers, progress=progress)
    groups: dict[str, dict[str, Any]] = {}
    by_trace: dict[tuple[str, tuple[Event, ...]], dict[str, Any]] = {}
    found = [(v, v.distinction, "kills") for v in verdicts if v.distinction is not None]
    found += [(v, v.second, "also kills") for v in verdicts if v.second is not None]
    for v, d, verb in found:
        key = json.dumps(d.config, sort_keys=True)
        tk = (key, tuple(d.events))
        test = by_trace.get(tk)
        mu = v.mutant
        if test is None:
            config = engine.config(d.config)
            test = make_test(engine, config, list(d.events),
                             f"{verb} {mu.id}: {mu.description} ({mu.where})", flag=mu.bug_class)
            test["mutants"] = []
            by_trace[tk] = test
            g = groups.get(key)
            if g is None:
                g = groups[key] = {"config": d.config, "initial": initial_json(engine, config),
                                   "tests": []}
            g["tests"].append(test)
        test["mutants"].append(mu.id)
        if mu.bug_class not in test["flags"]:
            test["flags"].append(mu.bug_class)
    summary = summarise(verdicts)
    return [groups[k] for k in sorted(groups)], summary


def summarise(verdicts: list[Verdict]) -> dict[str, Any]:
    """The analysis in numbers and lists (a vector file's `coverage`, the report, the CLI)."""
    areas = {}
    for sc in scores(verdicts):
        areas[sc.area] = {"mutants": sc.total, "killed": sc.killed,
                          "distinguished": sum(1 for v in verdicts if v.mutant.area == sc.area
                                               and v.status == "distinguished"),
                          "equivalent": sc.equivalent,
                          "undecided": sum(1 for v in verdicts if v.mutant.area == sc.area
                                           and v.status == "undecided")}
    return {
        "mutants": len(verdicts),
        "byArea": areas,
        "equivalent": {v.mutant.id: v.reason for v in verdicts if v.status == "equivalent"},
        "undecided": {v.mutant.id: v.reason for v in verdicts if v.status == "undecided"},
        "invalid": {v.mutant.id: v.reason for v in verdicts if v.status == "invalid"},
        "killedByOneTest": sorted(v.mutant.id for v in verdicts
                                  if v.status == "killed" and len(v.killers) == 1
                                  and v.second is None),
        "secondTestAdded": sum(1 for v in verdicts if v.second is not None),
    }


BUG_TYPES = {
    "WRONG_CONDITION": "a rule fires where the spec says it must not, or not where it must",
    "WRONG_STATE_UPDATE": "the charger remembers the wrong thing after a step (seen later)",
    "WRONG_SESSION_PHASE": "the charger goes to the wrong phase of the session",
    "MISSING_MESSAGE": "an OCPP message or indication the spec requires is not sent",
    "WRONG_STOP_REASON": "StopTransaction carries the wrong reason (OCPP 1.6 §7.45)",
    "WRONG_ID_TAG": "a message carries the wrong idTag",
    "WRONG_CONNECTOR_STATUS": "the connector status (OCPP 1.6 §4.9) is wrong",
    "WRONG_ERROR_CODE": "StatusNotification carries the wrong errorCode (§9)",
    "WRONG_LED": "the LED pattern (§6) is wrong",
    "WRONG_DUTY_CYCLE": "the control pilot's duty cycle (IEC 61851-1 Table A.8) is wrong",
    "WRONG_UID_RENDERING": "the card's UID is written in the wrong byte order or letter case "
                           "(§5.3)",
    "CASE_INSENSITIVE_WHITELIST": "the local whitelist matches a card in another letter case "
                                  "(§5.3, §5.5)",
    "CACHE_NOT_READ_BACK": "the authorization cache (§5.4) is written but not read back "
                           "where Local Pre Authorize or Local Authorize Offline read it, or a "
                           "refused card is cached",
    "SETTING_EVENT_PAIR": "a setting does not change what an event does as the spec says",
    "WRONG_WHITELIST_MATCH": "the local whitelist's connector postfix is matched wrongly (§5.5)",
    "WRONG_ERROR_TABLE_ROW": "an error of §9 stops, clears or shows as the wrong row says",
    "WRONG_FACTORY_DEFAULT": "a setting's factory default differs from the manual's",
    "WRONG_INITIAL_STATE": "the charger starts in the wrong state",
    "WRONG_NOTIFICATION": "a StatusNotification is sent when it must not be, or not when it "
                          "must",
    "WRONG_MESSAGE_FILTER": "Free Charging sends OCPP messages its mode forbids, or drops "
                            "required ones (§5.2)",
}


def bug_note(flag: str) -> dict[str, Any]:
    """The vector file's note for a mutant's bug class."""
    text = BUG_TYPES.get(flag)
    if text is None:
        words = flag.removeprefix("WRONG_").replace("_", " ").lower()
        text = f"the implementation gets {words} wrong"
    return {"bugType": "a spec mutant survives in the implementation", "description": text,
            "manual": []}


# ---- printing ------------------------------------------------------------------------------

def table(verdicts: list[Verdict]) -> str:
    """The score per area: killed / (mutants - equivalent)."""
    rows = [("area", "mutants", "killed", "equivalent", "surviving", "score")]
    tot = Score("total")
    for sc in scores(verdicts):
        rows.append((sc.area, str(sc.total), str(sc.killed), str(sc.equivalent),
                     str(sc.survived), f"{sc.score:.1f} %"))
        tot.total += sc.total
        tot.killed += sc.killed
        tot.equivalent += sc.equivalent
        tot.survived += sc.survived
    rows.append(("total", str(tot.total), str(tot.killed), str(tot.equivalent),
                 str(tot.survived), f"{tot.score:.1f} %"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in rows)


def describe(v: Verdict) -> str:
    mu = v.mutant
    head = f"{v.status:13} {mu.id}  [{mu.where}; {mu.ref}]\n    {mu.description}"
    if v.killers:
        head += "\n    killed by " + ", ".join(f"{f}#{t}" for f, t in v.killers)
    if v.distinction is not None:
        d = v.distinction
        head += (f"\n    told apart under {d.config or 'the defaults'} by: "
                 + "; ".join(e.label() for e in d.events))
    elif v.reason:
        head += f"\n    {v.reason}"
    return head


def verdict_json(v: Verdict) -> dict[str, Any]:
    mu = v.mutant
    out: dict[str, Any] = {"id": mu.id, "kind": mu.kind, "element": mu.element,
                           "operator": mu.operator, "description": mu.description,
                           "area": mu.area, "bugClass": mu.bug_class, "manual": mu.ref,
                           "where": mu.where, "status": v.status,
                           "killedBy": [f"{f}#{t}" for f, t in v.killers]}
    if v.reason:
        out["reason"] = v.reason
    if v.distinction is not None:
        out["distinguishedBy"] = {"config": v.distinction.config,
                                  "events": [{"name": e.name, **dict(e.args)}
                                             for e in v.distinction.events]}
    return out
