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
   its rising connectors 1 A more, its remaining amperes go one each by arrival (then site
   order) and its connectors stop.  Whole amperes, never above a limit.

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


@dataclass(frozen=True)
class _Layout:
    """What does not change from tick to tick: the site's limits and which ones each connector
    loads for each phase use (computed once per site)."""

    names: tuple[str, ...]
    capacities: tuple[int, ...]  # the fixed ones; main distribution is set each tick
    meter: int | None  # index of the first main-distribution limit (L1), with a meter
    place: tuple[dict[int, tuple[int, ...]], ...]  # connector -> {vehicle phases: limits}
    reserve: tuple[tuple[int, ...], ...]  # connector -> limits it may load (lost master)
    caps: tuple[int, ...]  # connector -> its own limit (§7.2)


_LAYOUTS: dict[int, tuple[Site, _Layout]] = {}


def _layout(site: Site) -> _Layout:
    hit = _LAYOUTS.get(id(site))
    if hit is not None and hit[0] is site:
        return hit[1]
    names: list[str] = [f"EVSE sub-distribution {PHASES[p]}" for p in range(3)]
    caps: list[int] = [site.sub_distribution(p) for p in range(3)]
    meter = None
    if site.external_meter_support:
        meter = len(names)
        names += [f"main distribution {PHASES[p]}" for p in range(3)]
        caps += [0, 0, 0]
    lines: dict[int, int] = {}
    for st in site.stations:
        if st.single_power_line:
            lines[st.index] = len(names)
            names += [f"supply line of {st.name} {PHASES[p]}" for p in range(3)]
            caps += [st.supply_line_capacity] * 3
    imbalance = None
    if site.current_imbalance_prevention:
        imbalance = len(names)
        names += [f"single-phase current {PHASES[p]} (imbalance)" for p in range(3)]
        caps += [site.imbalance_limit] * 3

    def limits_of(c, phases: tuple[int, ...], single: bool) -> tuple[int, ...]:
        mine = list(phases)
        if meter is not None:
            mine += [meter + p for p in phases]
        if c.station in lines:
            mine += [lines[c.station] + p for p in phases]
        if single and imbalance is not None:
            mine += [imbalance + p for p in phases]
        return tuple(mine)

    place = tuple({use: limits_of(c, c.phases(use), len(c.phases(use)) == 1) for use in (1, 3)}
                  for c in site.connectors)
    reserve = tuple(limits_of(c, c.possible_phases(), not c.three_phase) for c in site.connectors)
    layout = _Layout(tuple(names), tuple(caps), meter, place, reserve,
                     tuple(c.cap for c in site.connectors))
    if len(_LAYOUTS) > 64:
        _LAYOUTS.clear()
    _LAYOUTS[id(site)] = (site, layout)
    return layout


def site_limits(site: Site, tick: Tick, fixed: dict[int, int]) -> tuple[list[Limit], tuple | None]:
    """The tick's limits; `fixed` (connector -> amps) is reserved on every phase it may load."""
    lay = _layout(site)
    building = building_load(site, tick)
    caps = list(lay.capacities)
    if lay.meter is not None and building is not None:
        for p in range(3):
            cap = site.main_distribution_limit[p] - site.external_load_headroom[p] - building[p]
            caps[lay.meter + p] = max(cap, 0)
    # fixed loads (connectors that lost the master) come off the capacities, worst case
    for i, amps in fixed.items():
        for k in lay.reserve[i]:
            caps[k] -= amps
    members: list[list[int]] = [[] for _ in caps]
    for i, vehicle in enumerate(tick.vehicles):
        if vehicle is None or i in fixed:
            continue
        for k in lay.place[i][3 if vehicle.phases == 3 else 1]:
            members[k].append(i)
    return [Limit(name, cap, mem) for name, cap, mem in zip(lay.names, caps, members)], building


def priority_order(site: Site, tick: Tick) -> list[int]:
    """Served connectors first, then waiting ones by arrival, ties by site order."""
    n = len(site.connectors)
    if not tick.arrival:
        served = sorted(tick.served)
        return served + [i for i in range(n) if i not in tick.served]
    served, arrival = tick.served, tick.arrival
    return sorted(range(n), key=lambda i: (i not in served, arrival[i], i))


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
    cap = [lim.capacity for lim in limits]
    lay = _layout(site)
    vehicles = tick.vehicles
    # connector -> indexes of its limits
    of = [() if v is None or i in fixed else lay.place[i][3 if v.phases == 3 else 1]
          for i, v in enumerate(vehicles)]
    order = priority_order(site, tick)
    # the amperes left by rounding go by arrival, then site order, but not served-first: so
    # the tick after a change hands them out as the change did (a fixed point at once)
    arrival = tick.arrival or tuple(0 for _ in range(n))
    rank = {i: (arrival[i], i) for i in range(n)}
    minimum = site.served_minimum

    upper = [0] * n
    caps = lay.caps
    for i, v in enumerate(vehicles):
        if v is None or i in fixed:
            continue
        upper[i] = caps[i] if v.demand is None or v.demand > caps[i] else v.demand
    # admission: every admitted connector at the minimum, in priority order
    load = [0] * len(limits)
    admitted: list[int] = []
    for i in order:
        if upper[i] < minimum:
            continue
        mine = of[i]
        for k in mine:
            if load[k] + minimum > cap[k]:
                break
        else:
            for k in mine:
                load[k] += minimum
            admitted.append(i)
            amps[i] = minimum
    # water-filling from the minimum
    active = set(admitted)
    count = [0] * len(limits)
    for i in admitted:
        for k in of[i]:
            count[k] += 1
    live = [k for k in range(len(limits)) if count[k]]
    while active:
        step = min(upper[i] - amps[i] for i in active)
        for k in live:
            room = (cap[k] - load[k]) // count[k]
            if room < step:
                step = room
        if step > 0:
            for i in active:
                amps[i] += step
            for k in live:
                load[k] += step * count[k]
        stopped = {i for i in active if amps[i] >= upper[i]}
        for k in live:
            if cap[k] - load[k] >= count[k]:
                continue
            # this limit cannot give each of its rising connectors 1 A: share what is left
            members = [i for i in limits[k].members if i in active]
            rising = sorted((i for i in members if i not in stopped), key=rank.__getitem__)
            progress = True
            while progress and cap[k] > load[k]:
                # one ampere each, in turn, to whoever can still take it (others may be held by
                # another limit), until this limit is full or nobody can take more
                progress = False
                for i in rising:
                    if amps[i] < upper[i] and all(load[m] < cap[m] for m in of[i]):
                        amps[i] += 1
                        for m in of[i]:
                            load[m] += 1
                        progress = True
            stopped.update(members)
        for i in stopped:
            active.discard(i)
            for k in of[i]:
                count[k] -= 1
        live = [k for k in live if count[k]]
    return Allocation(tuple(amps), frozenset(admitted), tuple(limits), building)
