"""The invariants of spec/dlm.yaml as checks, each naming what is exceeded and by how much.

`tick_violations(site, tick, amps)` checks one allocation against every `scope: tick`
invariant, computing the physical load of each grid phase afresh from the site, the vehicles'
actual phase use and the currents (deliberately not through the allocator's own limits, so that
a wrong limit in the allocator shows up here).  `config_violations(site)` checks the `scope:
config` invariants by enumeration; chargespec.dlm.prove proves the same with Z3.  The `ticks`
invariants (monotonicity, fixed point, no starvation) need several ticks and are checked by the
tests and by `dlm simulate` through `fixed_point_violation` and `starvation_violation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .allocator import Tick, Vehicle, priority_order
from .site import IEC_MINIMUM, PHASES, Site


@dataclass(frozen=True)
class Violation:
    invariant: str  # an id of spec/dlm.yaml
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}"


def phase_loads(site: Site, tick: Tick, amps: tuple[int, ...]) -> list[list[tuple[int, int]]]:
    """Per grid phase, (connector, amps) of every connector whose vehicle loads it."""
    out: list[list[tuple[int, int]]] = [[], [], []]
    for i, a in enumerate(amps):
        v = tick.vehicles[i]
        if a and v is not None:
            for p in site.connectors[i].phases(v.phases):
                out[p].append((i, a))
    return out


def _sum(site: Site, parts: list[tuple[int, int]]) -> str:
    return " + ".join(f"{a} A ({site.connectors[i].name})" for i, a in parts) or "0 A"


def _building(site: Site, tick: Tick) -> tuple[int, ...]:
    if tick.meter is None:
        return site.external_load_fallback
    load = list(tick.meter)
    if site.meter_including:
        for i, v in enumerate(tick.vehicles):
            if v is not None:
                for p in site.connectors[i].phases(v.phases):
                    load[p] -= v.drawn
    return tuple(max(0, x) for x in load)


def site_fits(site: Site, tick: Tick, amps: tuple[int, ...]) -> list[Violation]:
    """The limits of the site (sub-distribution, main distribution, supply lines, imbalance)."""
    out = []
    loads = phase_loads(site, tick, amps)
    for p in range(3):
        total = sum(a for _, a in loads[p])
        limit = site.sub_distribution(p)
        if total > limit:
            out.append(Violation("per_phase_sub_distribution", (
                f"grid phase {PHASES[p]}: {_sum(site, loads[p])} = {total} A > min(EVSE "
                f"Sub-Distribution Limit {site.evse_sub_distribution_limit[p]} A, Operator EVSE "
                f"Sub-Distribution Limit {site.operator_evse_sub_distribution_limit[p]} A), by "
                f"{total - limit} A")))
    if site.external_meter_support:
        # the master answers for the currents it offers; a slave without its master cannot
        # see the meter (fallback_safety covers it against the sub-distribution)
        building = _building(site, tick)
        loads_m = [[(i, a) for i, a in loads[p] if i not in tick.lost_master] for p in range(3)]
        for p in range(3):
            total = sum(a for _, a in loads_m[p])
            if not total:
                continue
            used = building[p] + total + site.external_load_headroom[p]
            if used > site.main_distribution_limit[p]:
                source = "External Load Fallback" if tick.meter is None else "building load"
                out.append(Violation("main_distribution_with_meter", (
                    f"grid phase {PHASES[p]}: {source} {building[p]} A + {_sum(site, loads_m[p])} + "
                    f"External Load Headroom {site.external_load_headroom[p]} A = {used} A > "
                    f"Main Distribution Limit {site.main_distribution_limit[p]} A, by "
                    f"{used - site.main_distribution_limit[p]} A")))
    for st in site.stations:
        if not st.single_power_line:
            continue
        for p in range(3):
            parts = [(i, a) for i, a in loads[p] if i in st.connectors]
            total = sum(a for _, a in parts)
            if total > st.supply_line_capacity:
                out.append(Violation("single_supply_line", (
                    f"station {st.name}, supply line phase {PHASES[p]}: {_sum(site, parts)} = "
                    f"{total} A > current carrying capacity {st.supply_line_capacity} A, by "
                    f"{total - st.supply_line_capacity} A")))
    if site.current_imbalance_prevention:
        for p in range(3):
            parts = [(i, a) for i, a in loads[p] if i not in tick.lost_master
                     and len(site.connectors[i].phases(tick.vehicles[i].phases)) == 1]  # type: ignore[union-attr]
            total = sum(a for _, a in parts)
            if total > site.imbalance_limit:
                out.append(Violation("imbalance", (
                    f"grid phase {PHASES[p]}: single-phase {_sum(site, parts)} = {total} A > "
                    f"{site.imbalance_limit} A")))
    return out


def tick_violations(site: Site, tick: Tick, amps: tuple[int, ...]) -> list[Violation]:
    """Every `scope: tick` invariant of spec/dlm.yaml, checked on one allocation."""
    out = site_fits(site, tick, amps)
    minimum = site.served_minimum
    for i, a in enumerate(amps):
        c = site.connectors[i]
        v = tick.vehicles[i]
        if a and v is None:
            out.append(Violation("connector_hierarchy", f"{c.name}: {a} A offered to no vehicle"))
        if a > c.cap:
            out.append(Violation("connector_hierarchy", (
                f"{c.name}: {a} A > min(Maximum current {c.maximum_current} A, Installation "
                f"Current Limit {c.installation_current_limit} A, Operator Current Limit "
                f"{c.operator_current_limit} A) = {c.cap} A")))
        if v is not None and v.demand is not None and a > v.demand:
            out.append(Violation("connector_hierarchy",
                                 f"{c.name}: {a} A > the vehicle's demand {v.demand} A"))
        if i in tick.lost_master:
            if a > c.disconnected_limit:
                out.append(Violation("lost_master_uses_disconnected_limit", (
                    f"{c.name} lost its master: {a} A > Disconnected Limit "
                    f"{c.disconnected_limit} A")))
            if 0 < a < IEC_MINIMUM:
                out.append(Violation("zero_or_minimum", f"{c.name}: {a} A is below 6 A"))
        elif 0 < a < minimum:
            out.append(Violation("zero_or_minimum", (
                f"{c.name}: {a} A is neither 0 nor at least the Minimum Current Limit "
                f"{minimum} A")))
    if not tick.lost_master:
        out += work_conserving(site, tick, amps)
        out += starvation_violations(site, tick, amps)
    return out


def starvation_violations(site: Site, tick: Tick, amps: tuple[int, ...]) -> list[Violation]:
    """A waiting vehicle must be served when the limits fit its minimum beyond the minimum of
    every vehicle served ahead of it (served last tick first, then by arrival, then site
    order): it waits behind at most the vehicles that came before it."""
    out = []
    minimum = site.served_minimum
    ahead: list[int] = []
    for i in priority_order(site, tick):
        v = tick.vehicles[i]
        if v is None:
            continue
        if amps[i]:
            ahead.append(i)
            continue
        if _upper(site, i, v) < minimum:
            continue
        trial = [0] * len(amps)
        for j in ahead + [i]:
            trial[j] = minimum
        if not site_fits(site, tick, tuple(trial)):
            names = ", ".join(site.connectors[j].name for j in ahead) or "nobody"
            out.append(Violation("no_starvation", (
                f"{site.connectors[i].name} waits although its minimum {minimum} A fits beside "
                f"the minimum of those ahead of it ({names})")))
    return out


def _upper(site: Site, i: int, v: Vehicle) -> int:
    cap = site.connectors[i].cap
    return cap if v.demand is None else min(cap, v.demand)


def work_conserving(site: Site, tick: Tick, amps: tuple[int, ...]) -> list[Violation]:
    """No connector could get 1 A more (or, waiting, its minimum) within every limit; and the
    bottleneck condition of max-min fairness holds.  Not checked while a slave lost its master:
    the master then reserves the worst case of what that slave may draw."""
    out = []
    minimum = site.served_minimum
    base = phase_loads(site, tick, amps)
    for i, a in enumerate(amps):
        v = tick.vehicles[i]
        if v is None:
            continue
        up = _upper(site, i, v)
        if a >= up or (a == 0 and up < minimum):
            continue
        more = list(amps)
        more[i] = a + 1 if a else minimum
        if not site_fits(site, tick, tuple(more)):
            what = "1 A more" if a else f"its minimum {minimum} A"
            out.append(Violation("work_conserving",
                                 f"{site.connectors[i].name} gets {a} A but could get {what}"))
            continue
        if a and not _has_bottleneck(site, tick, amps, i, base):
            out.append(Violation("max_min_fair", (
                f"{site.connectors[i].name} gets {a} A below its limit, but every limit that "
                f"stops it also feeds a connector with at least 2 A more")))
    return out


def _has_bottleneck(site: Site, tick: Tick, amps: tuple[int, ...], i: int,
                    loads: list[list[tuple[int, int]]]) -> bool:
    """Some limit that stops connector i gives no member more than amps[i] + 1."""
    more = list(amps)
    more[i] += 1
    v = tick.vehicles[i]
    for p in site.connectors[i].phases(v.phases):  # type: ignore[union-attr]
        for viol in site_fits(site, tick, tuple(more)):
            if PHASES[p] not in viol.message:
                continue
            members = [a for j, a in loads[p]]
            if viol.invariant == "single_supply_line":
                st = site.stations[site.connectors[i].station]
                members = [a for j, a in loads[p] if j in st.connectors]
            elif viol.invariant == "imbalance":
                members = [a for j, a in loads[p] if len(site.connectors[j].phases(
                    tick.vehicles[j].phases)) == 1]  # type: ignore[union-attr]
            if max(members, default=0) <= amps[i] + 1:
                return True
    return False


# ---------------------------------------------------------------- the configuration

def config_violations(site: Site) -> list[Violation]:
    """The `scope: config` invariants, by enumeration (see chargespec.dlm.prove for Z3)."""
    out = []
    for c in site.connectors:
        if not c.operator_current_limit <= c.installation_current_limit <= c.maximum_current:
            out.append(Violation("configuration_order", (
                f"{c.name}: Operator Current Limit {c.operator_current_limit} A <= Installation "
                f"Current Limit {c.installation_current_limit} A <= Maximum current "
                f"{c.maximum_current} A does not hold")))
        st = site.stations[c.station]
        if st.single_power_line and c.installation_current_limit > st.supply_line_capacity:
            out.append(Violation("configuration_order", (
                f"{c.name}: Installation Current Limit {c.installation_current_limit} A > current "
                f"carrying capacity of the supply line of {st.name}, {st.supply_line_capacity} A")))
    for p in range(3):
        if site.operator_evse_sub_distribution_limit[p] > site.evse_sub_distribution_limit[p]:
            out.append(Violation("configuration_order", (
                f"grid phase {PHASES[p]}: Operator EVSE Sub-Distribution Limit "
                f"{site.operator_evse_sub_distribution_limit[p]} A > EVSE Sub-Distribution Limit "
                f"{site.evse_sub_distribution_limit[p]} A")))
    out += fallback_violations(site)
    return out


def fallback_violations(site: Site) -> list[Violation]:
    """Every slave lost its master: the Disconnected Limits, worst case per grid phase."""
    out = []
    for p in range(3):
        parts = [(c.index, min(c.cap, c.disconnected_limit)) for c in site.connectors
                 if p in c.possible_phases() and min(c.cap, c.disconnected_limit) >= IEC_MINIMUM]
        total = sum(a for _, a in parts)
        if total > site.sub_distribution(p):
            out.append(Violation("fallback_safety", (
                f"grid phase {PHASES[p]}, every slave without its master: {_sum(site, parts)} = "
                f"{total} A > min(EVSE Sub-Distribution Limit, Operator EVSE Sub-Distribution "
                f"Limit) = {site.sub_distribution(p)} A, by {total - site.sub_distribution(p)} A")))
    return out


# ---------------------------------------------------------------- several ticks

def fixed_point_violation(site: Site, first: tuple[int, ...], second: tuple[int, ...]
                          ) -> Violation | None:
    if first != second:
        diff = ", ".join(f"{site.connectors[i].name} {a} -> {b} A"
                         for i, (a, b) in enumerate(zip(first, second)) if a != b)
        return Violation("fixed_point", f"constant inputs, yet {diff}")
    return None


def monotonicity_violation(site_before: Site, site_after: Site, before: tuple[int, ...],
                           after: tuple[int, ...]) -> Violation | None:
    """After lowering limits (or raising the building load) with the same connectors served."""
    served_before = {i for i, a in enumerate(before) if a}
    served_after = {i for i, a in enumerate(after) if a}
    if served_before != served_after:
        return None
    # whole amperes: the remainder of a shared limit may move between connectors (DLM-MONOTONE)
    rises = [(i, a, b) for i, (a, b) in enumerate(zip(before, after)) if b > a + 1]
    if rises:
        text = ", ".join(f"{site_after.connectors[i].name} {a} -> {b} A" for i, a, b in rises)
        return Violation("monotonicity", f"a limit went down and {text}")
    return None
