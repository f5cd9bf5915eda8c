"""The reference allocator: one DLM tick, as a pure function of the site and the tick's inputs.

`allocate(site, tick)` returns the current offered to every connector.  The steps, each from the
manual or an interpretation of spec/interpretations.yaml:

1. A connector whose controller lost the master offers min(its limits, Disconnected Limit,
   the vehicle's demand) on its own (§7.7).  The master cannot see those vehicles, so it
   reserves that current on every grid phase the connector could load.
2. The limits of the tick, each a capacity shared by some connectors on one grid phase:
   the EVSE sub-distribution (min of the installer's and the operator's limit, §7.4.1); with an
   external meter, Main Distribution Limit - Headroom - building load (DLM-METER); each supply
   line shared by a dual station (§7.3); with Current Imbalance Prevention, the single-phase
   current per phase (DLM-IMBALANCE).  A vehicle loads the grid phases its rotation puts its
   charger's phases on (§7.6, §7.8).
3. Admission (DLM-ADMISSION): connectors served in the previous tick first, then waiting ones
   by arrival, ties by site order; each is admitted if every limit still holds with all admitted
   connectors at the minimum current.
4. Water-filling (DLM-FAIRNESS): all admitted connectors rise together from the minimum; a
   connector stops at its own limit or its vehicle's demand; when a limit cannot give each of
   its rising connectors 1 A more, its remaining amperes go one each in priority order and its
   connectors stop.  Whole amperes, never above a limit.

The result is max-min fair, work-conserving (no connector can get 1 A more) and a fixed point for
constant inputs.  Costs O(iterations x (limits + connectors)); iterations are the distinct levels
at which something stops, so a site of 1,000 identical connectors settles in a few.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .site import IEC_MINIMUM, PHASES, Site


@dataclass(frozen=True)
class Vehicle:
    """A vehicle that is connected and wants current."""

    phases: int = 3  # the phases its on-board charger uses, as the DLM detected them (§7.6)
    demand: int | None = None  # the most it draws (None: whatever it is offered)
    drawn: int = 0  # what it draws now (a meter including the sub-distribution measures it)


@dataclass(frozen=True)
class Tick:
    """The inputs of one tick."""

    vehicles: tuple[Vehicle | None, ...]  # per connector; None: no vehicle wanting current
    meter: tuple[int, int, int] | None = None  # building meter per phase; None: meter failed
    lost_master: frozenset[int] = frozenset()  # connectors whose controller lost the master
    served: frozenset[int] = frozenset()  # connectors offered current in the previous tick
    arrival: tuple[int, ...] | None = None  # per connector, when its vehicle began to wait


@dataclass
class Limit:
    """A capacity on one grid phase shared by the connectors whose vehicles load it there."""

    name: str
    capacity: int
    members: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Allocation:
    amps: tuple[int, ...]
    admitted: frozenset[int]
    limits: tuple[Limit, ...]
    building: tuple[int, int, int] | None  # the building load used, per phase (with a meter)


def fallback_current(site: Site, index: int, vehicle: Vehicle | None) -> int:
    """What a connector that lost its master offers on its own (§7.7)."""
    c = site.connectors[index]
    amps = min(c.cap, c.disconnected_limit)
    if vehicle is None:
        return 0
    if vehicle.demand is not None:
        amps = min(amps, vehicle.demand)
    return amps if amps >= IEC_MINIMUM else 0


def building_load(site: Site, tick: Tick) -> tuple[int, int, int] | None:
    """The building's load per phase (DLM-METER), or None without an external meter."""
    if not site.external_meter_support:
        return None
    if tick.meter is None:
        return site.external_load_fallback
    load = list(tick.meter)
    if site.meter_including:
        for i, v in enumerate(tick.vehicles):
            if v is not None and v.drawn:
                for p in site.connectors[i].phases(v.phases):
                    load[p] -= v.drawn
    return tuple(max(0, x) for x in load)  # type: ignore[return-value]


def site_limits(site: Site, tick: Tick, fixed: dict[int, int]) -> tuple[list[Limit], tuple | None]:
    """The tick's limits; `fixed` (connector -> amps) is reserved on every phase it may load."""
    building = building_load(site, tick)
    limits: list[Limit] = []
    for p in range(3):
        limits.append(Limit(f"EVSE sub-distribution {PHASES[p]}", site.sub_distribution(p)))
    if building is not None:
        for p in range(3):
            cap = site.main_distribution_limit[p] - site.external_load_headroom[p] - building[p]
            limits.append(Limit(f"main distribution {PHASES[p]}", max(cap, 0)))
    line_limits: dict[int, list[Limit]] = {}
    for st in site.stations:
        if st.single_power_line:
            line_limits[st.index] = [Limit(f"supply line of {st.name} {PHASES[p]}",
                                           st.supply_line_capacity) for p in range(3)]
            limits += line_limits[st.index]
    imbalance: list[Limit] = []
    if site.current_imbalance_prevention:
        imbalance = [Limit(f"single-phase current {PHASES[p]} (imbalance)", site.imbalance_limit)
                     for p in range(3)]
        limits += imbalance
    meter_limits = limits[3:6] if building is not None else []

    def place(index: int, phases: tuple[int, ...], single: bool) -> list[Limit]:
        c = site.connectors[index]
        mine = [limits[p] for p in phases] + [meter_limits[p] for p in phases if meter_limits]
        if c.station in line_limits:
            mine += [line_limits[c.station][p] for p in phases]
        if single and imbalance:
            mine += [imbalance[p] for p in phases]
        return mine

    # fixed loads (connectors that lost the master) come off the capacities, worst case
    for i, amps in fixed.items():
        c = site.connectors[i]
        for lim in place(i, c.possible_phases(), not c.three_phase):
            lim.capacity -= amps
    for i, v in enumerate(site.connectors):
        vehicle = tick.vehicles[i]
        if vehicle is None or i in fixed:
            continue
        phases = v.phases(vehicle.phases)
        for lim in place(i, phases, len(phases) == 1):
            lim.members.append(i)
    return limits, building


def priority_order(site: Site, tick: Tick) -> list[int]:
    """Served connectors first, then waiting ones by arrival, ties by site order."""
    arrival = tick.arrival or tuple(0 for _ in site.connectors)
    return sorted(range(len(site.connectors)),
                  key=lambda i: (i not in tick.served, arrival[i], i))


def allocate(site: Site, tick: Tick) -> Allocation:
    n = len(site.connectors)
    if len(tick.vehicles) != n:
        raise ValueError(f"tick has {len(tick.vehicles)} vehicle entries for {n} connectors")
    amps = [0] * n
    fixed = {i: fallback_current(site, i, tick.vehicles[i]) for i in tick.lost_master}
    for i, a in fixed.items():
        amps[i] = a
    fixed_reserve = {i: min(site.connectors[i].cap, site.connectors[i].disconnected_limit)
                     for i in tick.lost_master}
    limits, building = site_limits(site, tick, fixed_reserve)
    of: list[list[Limit]] = [[] for _ in range(n)]
    for lim in limits:
        for i in lim.members:
            of[i].append(lim)
    order = priority_order(site, tick)
    rank = {i: r for r, i in enumerate(order)}
    minimum = site.served_minimum

    upper = [0] * n
    for i in range(n):
        v = tick.vehicles[i]
        if v is None or i in fixed:
            continue
        upper[i] = site.connectors[i].cap if v.demand is None else min(site.connectors[i].cap,
                                                                         v.demand)
    # admission: every admitted connector at the minimum, in priority order
    load = {id(lim): 0 for lim in limits}
    admitted: list[int] = []
    for i in order:
        if upper[i] < minimum:
            continue
        if all(load[id(lim)] + minimum <= lim.capacity for lim in of[i]):
            for lim in of[i]:
                load[id(lim)] += minimum
            admitted.append(i)
            amps[i] = minimum
    # water-filling from the minimum
    active = set(admitted)
    count = {id(lim): sum(1 for i in lim.members if i in active) for lim in limits}
    while active:
        step = min(upper[i] - amps[i] for i in active)
        for lim in limits:
            k = count[id(lim)]
            if k:
                step = min(step, (lim.capacity - load[id(lim)]) // k)
        if step > 0:
            for i in active:
                amps[i] += step
            for lim in limits:
                load[id(lim)] += step * count[id(lim)]
        stopped = {i for i in active if amps[i] >= upper[i]}
        for lim in limits:
            k = count[id(lim)]
            if not k or lim.capacity - load[id(lim)] >= k:
                continue
            # this limit cannot give each of its rising connectors 1 A: share what is left
            rising = sorted((i for i in lim.members if i in active and i not in stopped),
                            key=rank.__getitem__)
            for i in rising:
                if amps[i] < upper[i] and all(load[id(m)] < m.capacity for m in of[i]):
                    amps[i] += 1
                    for m in of[i]:
                        load[id(m)] += 1
            stopped.update(i for i in lim.members if i in active)
        for i in stopped:
            active.discard(i)
            for lim in of[i]:
                count[id(lim)] -= 1
    return Allocation(tuple(amps), frozenset(admitted), tuple(limits), building)
