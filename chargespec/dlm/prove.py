"""Z3 proofs of a site's safety invariants, for all inputs, with counterexamples in the site's terms.

For one site, every input of a tick is a Z3 variable: which connectors have a vehicle wanting
current, each vehicle's phase use (1 or 3 where the connector is three-phase), its demand and the
current it draws, which controllers lost the master, the meter's readings or its failure (and,
while it fails, the true building load, anywhere up to the External Load Fallback).  The
allocation is a variable too, constrained only by what the reference allocator guarantees: its
own limits, computed the way the master computes them (the master's view: lost slaves reserved
on every phase they may load, the building load from the meter), 0 or at least the minimum, at
most the connector's limits and demand, the Disconnected Limit without a master.  Each safety
invariant of spec/dlm.yaml is then negated, against the *physical* loads (each vehicle on the
grid phases its rotation and phase use really load).  Unsatisfiable: Proved for every input
and every allocation the allocator may produce.  Satisfiable: a Counterexample that names the
connectors, phases, currents and the limit exceeded, by how much.

That the reference allocator keeps its guarantees is what the Hypothesis tests check; this
module proves that the guarantees are enough on this site.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from .invariants import config_violations
from .allocator import Tick
from .site import IEC_MINIMUM, PHASES, Site

READING_MAX = 100_000  # amperes; a bound for the meter's readings (no real fuse is larger)


@dataclass(frozen=True)
class Result:
    invariant: str
    status: str  # Proved | Counterexample | Checked | Violated
    detail: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status in ("Proved", "Checked")


class _Model:
    """The symbolic tick of one site."""

    def __init__(self, site: Site):
        self.site = site
        n = len(site.connectors)
        self.present = [z3.Bool(f"present_{i}") for i in range(n)]
        self.three = [z3.Bool(f"three_{i}") if c.three_phase else z3.BoolVal(False)
                      for i, c in enumerate(site.connectors)]
        self.lost = [z3.Bool(f"lost_{i}") for i in range(n)]
        self.demand = [z3.Int(f"demand_{i}") for i in range(n)]
        self.drawn = [z3.Int(f"drawn_{i}") for i in range(n)]
        self.amps = [z3.Int(f"amps_{i}") for i in range(n)]
        self.meter_ok = z3.Bool("meter_ok")
        self.reading = [z3.Int(f"reading_{p}") for p in range(3)]
        self.true_building = [z3.Int(f"building_{p}") for p in range(3)]
        self.facts: list[z3.BoolRef] = []
        self._build()

    # ---- which grid phases connector i loads
    def loads(self, i: int, p: int) -> z3.BoolRef:
        """Physically: the vehicle at i loads grid phase p."""
        c = self.site.connectors[i]
        if p == c.grid[0]:
            return self.present[i]
        if c.three_phase and p in c.grid:
            return z3.And(self.present[i], self.three[i])
        return z3.BoolVal(False)

    def may_load(self, i: int, p: int) -> bool:
        return p in self.site.connectors[i].possible_phases()

    def single(self, i: int) -> z3.BoolRef:
        return z3.Not(self.three[i])

    def _sum(self, terms: list) -> z3.ArithRef:
        return z3.Sum(terms) if terms else z3.IntVal(0)

    def _build(self) -> None:
        s, f = self.site, self.facts
        minimum = s.served_minimum
        for i, c in enumerate(s.connectors):
            f += [self.demand[i] >= 0, self.demand[i] <= c.cap,
                  self.drawn[i] >= 0, self.drawn[i] <= c.cap]
            upper = self.demand[i]
            fb = z3.If(upper < min(c.cap, c.disconnected_limit), upper,
                       min(c.cap, c.disconnected_limit))
            lost_amps = z3.If(z3.And(self.present[i], fb >= IEC_MINIMUM), fb, 0)
            with_master = z3.Or(self.amps[i] == 0,
                                z3.And(self.present[i], self.amps[i] >= minimum,
                                       self.amps[i] <= upper))
            f.append(z3.If(self.lost[i], self.amps[i] == lost_amps, with_master))
        # per connector and grid phase: y, its physical current there, and m, the part the
        # master controls.  The lemmas after them follow from the facts above (a lost
        # connector draws at most its reserve, on phases it may load); stating them lets the
        # solver bound sums without splitting on every connector.
        self.y = [[z3.Int(f"y_{i}_{p}") for p in range(3)] for i in range(len(s.connectors))]
        self.m = [[z3.Int(f"m_{i}_{p}") for p in range(3)] for i in range(len(s.connectors))]
        for i, c in enumerate(s.connectors):
            reserve = min(c.cap, c.disconnected_limit)
            f += [self.amps[i] >= 0, self.amps[i] <= c.cap,
                  z3.Implies(self.lost[i], self.amps[i] <= max(reserve, 0)),
                  z3.Implies(z3.Not(self.present[i]), self.amps[i] == 0)]
            for p in range(3):
                loads = self.loads(i, p)
                f += [self.y[i][p] == z3.If(loads, self.amps[i], 0),
                      self.m[i][p] == z3.If(z3.And(z3.Not(self.lost[i]), loads),
                                            self.amps[i], 0),
                      self.y[i][p] >= 0, self.m[i][p] >= 0, self.m[i][p] <= self.y[i][p],
                      self.y[i][p] <= self.m[i][p] + z3.If(
                          self.lost[i], reserve if self.may_load(i, p) else 0, 0)]
        for p in range(3):
            f += [self.reading[p] >= 0, self.reading[p] <= READING_MAX,
                  self.true_building[p] >= 0]
        # the building load: what the master computes, and what is true
        self.estimate = []
        for p in range(3):
            measured = self.reading[p]
            if s.meter_including:
                measured = measured - self._sum([z3.If(self.loads(i, p), self.drawn[i], 0)
                                                 for i in range(len(s.connectors))])
            measured = z3.If(measured < 0, 0, measured)
            self.estimate.append(z3.If(self.meter_ok, measured, s.external_load_fallback[p]))
            # a working meter is right; a failed one: the fallback bounds the true load
            f.append(z3.If(self.meter_ok, self.true_building[p] == measured,
                           self.true_building[p] <= s.external_load_fallback[p]))
        if not s.external_meter_support:
            f.append(self.meter_ok)
        # the allocator's guarantees: each limit of the master's view holds
        for cap, members, reserved in self.master_limits():
            total = self._sum([self.m[i][p] if isinstance(p, int) else z3.If(p, self.amps[i], 0)
                               for i, p in members])
            left = cap - self._sum([z3.If(self.lost[i], r, 0) for i, r in reserved])
            f.append(total <= z3.If(left < 0, 0, left))

    def master_limits(self):
        """(capacity, [(connector, condition it counts)], [(connector, reserve if lost)])."""
        s = self.site
        n = len(s.connectors)
        out = []

        def members(p: int, extra=lambda i: True):
            return [(i, p) for i in range(n) if extra(i)]

        def reserved(p: int, extra=lambda i: True):
            return [(i, min(c.cap, c.disconnected_limit)) for i, c in enumerate(s.connectors)
                    if self.may_load(i, p) and extra(i)]

        for p in range(3):
            out.append((s.sub_distribution(p), members(p), reserved(p)))
            if s.external_meter_support:
                cap = s.main_distribution_limit[p] - s.external_load_headroom[p] - self.estimate[p]
                out.append((z3.If(cap < 0, 0, cap), members(p), reserved(p)))
            for st in s.stations:
                if st.single_power_line:
                    inside = lambda i, st=st: i in st.connectors  # noqa: E731
                    out.append((st.supply_line_capacity, members(p, inside), reserved(p, inside)))
            if s.current_imbalance_prevention:
                out.append((s.imbalance_limit,
                            [(i, z3.And(z3.Not(self.lost[i]), self.loads(i, p), self.single(i)))
                             for i in range(n)],
                            [(i, r) for i, r in reserved(p)
                             if not s.connectors[i].three_phase]))
        return out

    # ---- physical loads
    def phase_total(self, p: int, which=lambda i: True) -> z3.ArithRef:
        return self._sum([self.y[i][p] for i in range(len(self.site.connectors)) if which(i)])


def _solve(model: _Model, goal: z3.BoolRef, timeout_ms: int,
           worst: z3.ArithRef | None = None) -> z3.ModelRef | None | str:
    """A model of facts + goal (None: unsatisfiable).  With `worst`, the counterexample shown
    is the one that maximizes it (the worst case reads better than an arbitrary one)."""
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*model.facts)
    solver.add(goal)
    r = solver.check()
    if r == z3.unsat:
        return None
    if r != z3.sat:
        return "unknown"
    if worst is None:
        return solver.model()
    opt = z3.Optimize()
    opt.set("timeout", min(timeout_ms, 2_000))  # only to show the worst case; else any
    opt.add(*model.facts)
    opt.add(goal)
    opt.maximize(worst)
    return opt.model() if opt.check() == z3.sat else solver.model()


def _describe(model: _Model, m: z3.ModelRef) -> str:
    s = model.site
    parts = []
    for i, c in enumerate(s.connectors):
        if not z3.is_true(m.eval(model.present[i], model_completion=True)):
            continue
        use = 3 if z3.is_true(m.eval(model.three[i], model_completion=True)) else 1
        amps = m.eval(model.amps[i], model_completion=True)
        lost = z3.is_true(m.eval(model.lost[i], model_completion=True))
        parts.append(f"{c.describe_phases(use)} offered {amps} A"
                     + (" after losing its master" if lost else ""))
    text = "; ".join(parts) or "no vehicle"
    if s.external_meter_support:
        if z3.is_true(m.eval(model.meter_ok, model_completion=True)):
            readings = [m.eval(model.reading[p], model_completion=True) for p in range(3)]
            text += f"; meter reads {', '.join(f'{PHASES[p]} {readings[p]} A' for p in range(3))}"
        else:
            true = [m.eval(model.true_building[p], model_completion=True) for p in range(3)]
            text += (f"; meter failed (true building load "
                     f"{', '.join(f'{PHASES[p]} {true[p]} A' for p in range(3))})")
    return text


def verify(site: Site, timeout_ms: int = 60_000) -> list[Result]:
    """Every safety invariant of spec/dlm.yaml for this site: Proved, or a Counterexample."""
    results: list[Result] = []
    t0 = time.perf_counter()
    found = config_violations(site)
    for inv in ("configuration_order",):
        bad = [v for v in found if v.invariant == inv]
        results.append(Result(inv, "Violated" if bad else "Checked",
                              "; ".join(v.message for v in bad) or "every limit in order",
                              time.perf_counter() - t0))
    model = _Model(site)
    s = site
    n = len(s.connectors)

    def goal_check(inv: str, goals: list[tuple[z3.BoolRef, callable]]) -> None:
        t = time.perf_counter()
        # one query for all the ways the invariant can break; then the first that does,
        # shown at its worst
        m = _solve(model, z3.Or(*[g for g, *_ in goals]), timeout_ms)
        if m == "unknown":
            results.append(Result(inv, "Unknown", "Z3 gave up (timeout)",
                                  time.perf_counter() - t))
            return
        if m is None:
            results.append(Result(inv, "Proved", "for every input of a tick",
                                  time.perf_counter() - t))
            return
        for goal, explain, *worst in goals:
            if z3.is_true(m.eval(goal, model_completion=True)):
                shown = _solve(model, goal, timeout_ms, worst[0] if worst else None)
                if isinstance(shown, z3.ModelRef):
                    m = shown
                results.append(Result(inv, "Counterexample",
                                      f"{_describe(model, m)}: {explain(m)}",
                                      time.perf_counter() - t))
                return

    def value(m, e) -> int:
        return m.eval(e, model_completion=True).as_long()

    # fallback safety: every controller without its master, any phase use
    fb_goals = []
    for p in range(3):
        total = model.phase_total(p)
        limit = s.sub_distribution(p)
        # the worst case, shown plainly: every vehicle present and drawing all it may
        goal = z3.And(*[z3.And(model.lost[i], model.present[i],
                               model.demand[i] == s.connectors[i].cap) for i in range(n)],
                      total > limit)
        fb_goals.append((goal, lambda m, p=p, total=total, limit=limit: (
            f"grid phase {PHASES[p]} carries {value(m, total)} A > min(EVSE Sub-Distribution "
            f"Limit, Operator EVSE Sub-Distribution Limit) = {limit} A, by "
            f"{value(m, total) - limit} A"), total))
    goal_check("fallback_safety", fb_goals)

    goals = []
    for p in range(3):
        total = model.phase_total(p)
        limit = s.sub_distribution(p)
        goals.append((total > limit, lambda m, p=p, total=total, limit=limit: (
            f"grid phase {PHASES[p]} carries {value(m, total)} A > {limit} A, by "
            f"{value(m, total) - limit} A"), total))
    goal_check("per_phase_sub_distribution", goals)

    if s.external_meter_support:
        goals = []
        for p in range(3):
            total = model.phase_total(p, lambda i: True)
            # the master's own currents only
            mine = model._sum([z3.If(z3.And(z3.Not(model.lost[i]), model.loads(i, p)),
                                     model.amps[i], 0) for i in range(n)])
            used = model.true_building[p] + mine + s.external_load_headroom[p]
            goals.append((z3.And(mine > 0, used > s.main_distribution_limit[p]),
                          lambda m, p=p, used=used: (
                              f"grid phase {PHASES[p]}: building + charging + headroom = "
                              f"{value(m, used)} A > Main Distribution Limit "
                              f"{s.main_distribution_limit[p]} A, by "
                              f"{value(m, used) - s.main_distribution_limit[p]} A"), used))
        goal_check("main_distribution_with_meter", goals)

    if any(st.single_power_line for st in s.stations):
        goals = []
        for st in s.stations:
            if not st.single_power_line:
                continue
            for p in range(3):
                total = model.phase_total(p, lambda i, st=st: i in st.connectors)
                goals.append((total > st.supply_line_capacity,
                              lambda m, st=st, p=p, total=total: (
                                  f"supply line of {st.name}, phase {PHASES[p]}: "
                                  f"{value(m, total)} A > {st.supply_line_capacity} A"),
                              total))
        goal_check("single_supply_line", goals)

    if s.current_imbalance_prevention:
        goals = []
        for p in range(3):
            # the master's own currents (a slave without its master cannot coordinate)
            total = model._sum([z3.If(z3.And(z3.Not(model.lost[i]), model.loads(i, p),
                                             model.single(i)), model.amps[i], 0)
                                for i in range(n)])
            goals.append((total > s.imbalance_limit, lambda m, p=p, total=total: (
                f"grid phase {PHASES[p]}: single-phase current {value(m, total)} A > "
                f"{s.imbalance_limit} A"), total))
        goal_check("imbalance", goals)

    goals = []
    for i, c in enumerate(s.connectors):
        goals.append((model.amps[i] > c.cap, lambda m, c=c, i=i: (
            f"{c.name} offered {value(m, model.amps[i])} A > its limits {c.cap} A")))
        goals.append((z3.And(model.lost[i], model.amps[i] > c.disconnected_limit),
                      lambda m, c=c, i=i: (
                          f"{c.name} without its master offered {value(m, model.amps[i])} A > "
                          f"Disconnected Limit {c.disconnected_limit} A")))
    goal_check("connector_hierarchy", goals)
    return results


def max_min_fair(s: Site, t: Tick, served: set[int]) -> tuple[int, ...]:
    """The lexicographically max-min fair allocation over the connectors `served`, by iterated
    Z3 Optimize against the site's physical limits (sub-distribution and supply lines; not the
    allocator's own limit list): maximize the smallest current, fix the connectors that cannot
    exceed it, repeat.  For small sites, as an independent reference for the allocator."""
    n = len(s.connectors)
    a = [z3.Int(f"a{i}") for i in range(n)]
    base = []
    minimum = s.served_minimum
    for i in range(n):
        v = t.vehicles[i]
        if i in served:
            up = s.connectors[i].cap if v.demand is None else min(s.connectors[i].cap, v.demand)
            base += [a[i] >= minimum, a[i] <= up]
        else:
            base.append(a[i] == 0)
    for p in range(3):
        on = [i for i in range(n) if t.vehicles[i] is not None
              and p in s.connectors[i].phases(t.vehicles[i].phases)]
        base.append(z3.Sum([a[i] for i in on] + [0]) <= s.sub_distribution(p))
        for st in s.stations:
            if st.single_power_line:
                base.append(z3.Sum([a[i] for i in on if i in st.connectors] + [0])
                            <= st.supply_line_capacity)
    fixed: dict[int, int] = {}
    free = set(served)
    while free:
        opt = z3.Optimize()
        level = z3.Int("level")
        opt.add(*base, *[a[i] == v for i, v in fixed.items()], *[a[i] >= level for i in free])
        opt.maximize(level)
        if opt.check() != z3.sat:
            raise ValueError("no allocation gives every served connector its minimum")
        t_star = opt.model()[level].as_long()
        stuck = []
        for i in sorted(free):
            sol = z3.Solver()
            sol.add(*base, *[a[j] == v for j, v in fixed.items()],
                    *[a[j] >= t_star for j in free], a[i] >= t_star + 1)
            if sol.check() == z3.unsat:
                stuck.append(i)
        if not stuck:
            # whole amperes: each could exceed t_star alone, not all together; the fewest
            # connectors stay at t_star (the next criterion of the lexicographic order)
            opt = z3.Optimize()
            opt.add(*base, *[a[j] == v for j, v in fixed.items()],
                    *[a[j] >= t_star for j in free])
            opt.maximize(z3.Sum([z3.If(a[j] >= t_star + 1, 1, 0) for j in sorted(free)]))
            opt.check()
            m = opt.model()
            stuck = [j for j in sorted(free) if m.eval(a[j], model_completion=True).as_long()
                     == t_star]
        for i in stuck:
            fixed[i] = t_star
            free.discard(i)
    return tuple(fixed.get(i, 0) for i in range(n))
