"""The reference allocator (§7.4-§7.8) and the invariants of spec/dlm.yaml.

Each invariant has a site and an allocation that break it (so its check can fail) and the
allocator's own output on that site, which keeps it.  Hypothesis then holds the allocator to
every invariant on random sites (rotations, 1/3-phase mixes, meters, failures, single-line
pairs): a few hundred in the fast suite, 10,000 in the slow profile.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings

from chargespec.dlm.allocator import Tick, Vehicle, allocate, site_limits
from chargespec.dlm.invariants import (config_violations, fixed_point_violation,
                                       monotonicity_violation, tick_violations)
from dlm_sites import connector, site, sites_and_ticks, tick

V3, V1 = Vehicle(3), Vehicle(1)


def ids(violations):
    return {v.invariant for v in violations}


def test_every_invariant_of_the_spec_is_checked_somewhere(spec):
    import chargespec.dlm.invariants as inv
    import chargespec.dlm.prove as prove
    source = open(inv.__file__).read() + open(prove.__file__).read()
    for iid, invariant in spec.dlm.invariants.items():
        assert f'"{iid}"' in source, f"invariant {iid} has no check"
        assert invariant.ref.manual or invariant.ref.interpretation


# ---------------------------------------------------------------- one invariant at a time

def three(cap=32, **kw):
    return site([connector(0, cap=cap), connector(1, cap=cap, rotation="STR"),
                 connector(2, cap=cap, rotation="TRS")], **kw)


def test_per_phase_sub_distribution():
    s = three(sub=(40, 40, 40))
    t = tick(s, V3, V3, V3)
    assert "per_phase_sub_distribution" in ids(tick_violations(s, t, (14, 14, 14)))
    amps = allocate(s, t).amps
    assert sum(amps) == 40 and tick_violations(s, t, amps) == []


def test_sub_distribution_takes_the_lower_of_installer_and_operator():
    s = three(sub=(63, 63, 63), op_sub=(30, 40, 50))
    t = tick(s, V3, V3, V3)
    assert max(sum(allocate(s, t).amps) for _ in [0]) == 30


def test_rotation_puts_a_single_phase_vehicle_on_its_grid_phase():
    # three 1-phase cars on RST, STR, TRS load L1, L2, L3: no sharing at all
    s = three(sub=(32, 32, 32))
    assert allocate(s, tick(s, V1, V1, V1)).amps == (32, 32, 32)
    # on RST, RST, RST they all load L1
    s = site([connector(0), connector(1), connector(2)], sub=(32, 32, 32))
    assert sorted(allocate(s, tick(s, V1, V1, V1)).amps) == [10, 11, 11]
    # ... and a wrong mapping is caught: all of them on grid L1 would exceed it
    assert "per_phase_sub_distribution" in ids(tick_violations(s, tick(s, V1, V1, V1),
                                                               (32, 0, 32)))


@pytest.mark.parametrize("rotation, phase", [("RST", 0), ("STR", 1), ("TRS", 2), ("RTS", 0),
                                             ("SRT", 1), ("TSR", 2)])
def test_each_rotation_maps_the_chargers_l1(rotation, phase):
    c = connector(0, rotation=rotation)
    assert c.phases(1) == (phase,) and c.phases(3) == (0, 1, 2)
    single = connector(0, rotation=rotation, phases="Single")
    assert single.phases(3) == (phase,)  # a single-phase system loads one phase whatever the car


def test_main_distribution_with_a_meter_including_the_sub_distribution():
    s = three(meter=True, main=(100, 100, 100), headroom=(5, 5, 5), including=True)
    # the meter reads 80 A on every phase, 30 A of which the three vehicles draw now
    vs = (Vehicle(3, drawn=10),) * 3
    t = Tick(vs, (80, 80, 80), frozenset(), frozenset(), None)
    amps = allocate(s, t).amps
    # building = 80 - 30 = 50 A; 100 - 5 - 50 = 45 A left for charging
    assert sum(amps) == 45 and tick_violations(s, t, amps) == []
    assert "main_distribution_with_meter" in ids(tick_violations(s, t, (16, 16, 16)))


def test_a_meter_excluding_the_sub_distribution_is_the_building_load():
    s = three(meter=True, main=(100, 100, 100), including=False)
    t = Tick((Vehicle(3, drawn=10),) * 3, (80, 80, 80), frozenset(), frozenset(), None)
    assert sum(allocate(s, t).amps) == 20


def test_a_failed_meter_uses_the_fallback():
    s = three(meter=True, main=(100, 100, 100), fallback=(70, 70, 70))
    t = Tick((V3,) * 3, None, frozenset(), frozenset(), None)
    amps = allocate(s, t).amps
    assert sum(amps) == 30 and tick_violations(s, t, amps) == []
    s = three(meter=True)  # the default fallback 9999 A: nothing until the meter is back
    assert allocate(s, Tick((V3,) * 3, None, frozenset(), frozenset(), None)).amps == (0, 0, 0)


def test_connector_hierarchy():
    s = site([connector(0, cap=16, maximum=32, installation=20)])
    t = tick(s, V3)
    assert allocate(s, t).amps == (16,)
    assert "connector_hierarchy" in ids(tick_violations(s, t, (17,)))
    assert allocate(s, tick(s, Vehicle(3, demand=10))).amps == (10,)
    assert "connector_hierarchy" in ids(tick_violations(s, tick(s, Vehicle(3, demand=10)), (11,)))


def test_configuration_order():
    good = site([connector(0, cap=16, maximum=32, installation=20)])
    assert config_violations(good) == []
    bad = site([connector(0, cap=16, maximum=16, installation=20)], sub=(63, 63, 63),
               op_sub=(70, 63, 63))
    found = [v.message for v in config_violations(bad) if v.invariant == "configuration_order"]
    assert len(found) == 2 and "Installation Current Limit 20 A" in found[0]
    assert "Operator EVSE Sub-Distribution Limit 70 A > EVSE Sub-Distribution Limit 63 A" in found[1]


def dual(single=True, capacity=32):
    from chargespec.dlm.site import Station
    from chargespec.errors import Where
    cs = [connector(0), connector(1, rotation="STR")]
    return site(cs, stations=[Station(0, "CP1", single, capacity, (0, 1), Where("t", 0))])


def test_single_supply_line():
    s = dual()
    t = tick(s, V3, V3)
    amps = allocate(s, t).amps
    assert amps == (16, 16) and tick_violations(s, t, amps) == []
    assert "single_supply_line" in ids(tick_violations(s, t, (20, 16)))
    # one-phase vehicles on different line phases do not share
    assert allocate(s, tick(s, V1, V1)).amps == (32, 32)
    assert allocate(dual(single=False), t).amps == (32, 31)


def test_zero_or_minimum():
    s = three(sub=(20, 20, 20), minimum=8)
    t = tick(s, V3, V3, V3)
    amps = allocate(s, t).amps
    assert amps == (10, 10, 0) and tick_violations(s, t, amps) == []  # 3 x 8 > 20: one waits
    assert "zero_or_minimum" in ids(tick_violations(s, t, (7, 7, 6)))


def test_a_connector_below_the_minimum_never_charges():
    s = site([connector(0, cap=6)], minimum=8)
    assert allocate(s, tick(s, V3)).amps == (0,)


def test_imbalance():
    s = site([connector(i) for i in range(3)], imbalance=True)
    t = tick(s, V1, V1, V1)  # three 1-phase cars on grid L1
    amps = allocate(s, t).amps
    assert sum(amps) == 20 and tick_violations(s, t, amps) == []
    assert "imbalance" in ids(tick_violations(s, t, (8, 8, 8)))
    # 3-phase vehicles are balanced: not limited by it
    assert sum(allocate(s, tick(s, V3, V3)).amps) == 63


def test_lost_master_uses_the_disconnected_limit_and_is_reserved():
    s = three(sub=(40, 40, 40), disconnected=10) if False else site(
        [connector(0, disconnected=10), connector(1, rotation="STR"), connector(2, rotation="TRS")],
        sub=(40, 40, 40))
    t = tick(s, V3, V3, V3, lost=[0])
    amps = allocate(s, t).amps
    assert amps[0] == 10 and sum(amps) <= 40 and tick_violations(s, t, amps) == []
    assert "lost_master_uses_disconnected_limit" in ids(tick_violations(s, t, (16, 12, 12)))
    # reserved on every phase the lost connector may load, even for a 1-phase car there
    t1 = tick(s, V1, V3, V3, lost=[0])
    assert sum(allocate(s, t1).amps[1:]) == 30


def test_fallback_safety():
    safe = three(sub=(63, 63, 63))
    assert config_violations(safe) == []
    unsafe = site([connector(i, disconnected=16) for i in range(6)], sub=(63, 63, 63))
    found = [v for v in config_violations(unsafe) if v.invariant == "fallback_safety"]
    assert len(found) == 3 and "= 96 A > " in found[0].message and "by 33 A" in found[0].message


def test_work_conserving_and_max_min_fair():
    s = three(sub=(40, 40, 40))
    t = tick(s, V3, V3, Vehicle(3, demand=8))
    amps = allocate(s, t).amps
    assert amps == (16, 16, 8) and tick_violations(s, t, amps) == []
    assert "work_conserving" in ids(tick_violations(s, t, (15, 16, 8)))
    assert "max_min_fair" in ids(tick_violations(s, t, (19, 13, 8)))


def test_fixed_point_and_reclaim():
    s = three(sub=(40, 40, 40))
    t = tick(s, V3, V3, V3)
    a = allocate(s, t).amps
    b = allocate(s, Tick(t.vehicles, t.meter, t.lost_master, frozenset(i for i, x in enumerate(a)
                                                                      if x), None)).amps
    assert fixed_point_violation(s, a, b) is None
    assert fixed_point_violation(s, (14, 13, 13), (13, 14, 13)).invariant == "fixed_point"
    # one leaves: the next tick gives its current to the others
    c = allocate(s, tick(s, V3, V3, None, served=[0, 1, 2])).amps
    assert c == (20, 20, 0)


def test_monotonicity_holds_for_the_same_served_connectors_only():
    s20 = site([connector(0), connector(1)], sub=(20, 20, 20), minimum=7)
    s13 = site([connector(0), connector(1)], sub=(13, 13, 13), minimum=7)
    s18 = site([connector(0), connector(1)], sub=(18, 18, 18), minimum=7)
    t = tick(s20, V3, V3)
    a20, a13, a18 = (allocate(x, t).amps for x in (s20, s13, s18))
    assert a20 == (10, 10) and a13 == (13, 0)  # DLM-MONOTONE: one is paused, the other rises
    assert monotonicity_violation(s20, s13, a20, a13) is None  # not the same served set
    assert monotonicity_violation(s20, s18, a20, a18) is None and a18 == (9, 9)
    assert monotonicity_violation(s20, s18, a20, (10, 8)) is None  # a remainder ampere moved
    assert monotonicity_violation(s20, s18, a20, (12, 6)).invariant == "monotonicity"


def test_priority_served_first_then_arrival_then_site_order():
    s = three(sub=(20, 20, 20), minimum=8)
    # C3 was charging, C1 and C2 arrived: C3 keeps its place, C2 arrived before C1
    t = tick(s, V3, V3, V3, served=[2], arrival=(5, 3, 0))
    assert allocate(s, t).amps == (0, 10, 10)


# ---------------------------------------------------------------- random sites

def _fallback_fits(s, t):
    reserve = {i: min(s.connectors[i].cap, s.connectors[i].disconnected_limit)
               for i in t.lost_master}
    limits, _ = site_limits(s, t, reserve)
    return all(lim.capacity >= 0 for lim in limits)


def check_random(s, t):
    assume(_fallback_fits(s, t))
    amps = allocate(s, t).amps
    assert tick_violations(s, t, amps) == [], (s, t, amps)
    # the same inputs next tick (who is served now follows from this tick): the same currents
    served = frozenset(i for i, a in enumerate(amps) if a and i not in t.lost_master)
    again = Tick(t.vehicles, t.meter, t.lost_master, served, t.arrival)
    assert fixed_point_violation(s, amps, allocate(s, again).amps) is None


@settings(max_examples=int(os.environ.get("CHARGESPEC_SITE_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(sites_and_ticks())
def test_every_invariant_on_random_sites(case):
    check_random(*case)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(sites_and_ticks(max_stations=8))
def test_every_invariant_on_10000_random_sites(case):
    check_random(*case)


def test_no_starvation():
    s = three(sub=(20, 20, 20), minimum=8)
    t = tick(s, V3, V3, V3, arrival=(0, 1, 2))
    amps = allocate(s, t).amps
    assert amps == (10, 10, 0) and tick_violations(s, t, amps) == []  # C3 waits: 24 A > 20 A
    # C2 waiting while its minimum fits beside C1's: a starved vehicle
    found = [v for v in tick_violations(s, t, (12, 0, 0)) if v.invariant == "no_starvation"]
    assert found and "C2 waits although its minimum 8 A fits" in found[0].message
    # the next tick after C1 leaves, C3 (the next to arrive) is served
    t2 = tick(s, None, V3, V3, served=[0, 1], arrival=(0, 1, 2))
    assert allocate(s, t2).amps == (0, 10, 10)
