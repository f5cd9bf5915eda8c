"""Many DLM ticks (Hypothesis stateful): vehicles come and go, meters read and fail, limits are
lowered; every tick keeps every invariant, a repeated tick is a fixed point, lowering a limit
with the same vehicles served raises nobody, freed current is reclaimed at once, and a waiting
vehicle is served as soon as its minimum fits behind those ahead of it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chargespec.dlm.allocator import Tick, Vehicle, allocate
from chargespec.dlm.invariants import (fixed_point_violation, monotonicity_violation,
                                       tick_violations)
from dlm_sites import sites


class Ticks(RuleBasedStateMachine):
    @initialize(s=sites(max_stations=4))
    def start(self, s):
        self.site = s
        n = len(s.connectors)
        self.vehicles = [None] * n
        self.arrival = [0] * n
        self.meter = (0, 0, 0)
        self.served = frozenset()
        self.now = 0
        self.amps = (0,) * n
        self.tick()

    def current(self):
        return Tick(tuple(self.vehicles), self.meter, frozenset(), self.served, tuple(self.arrival))

    def tick(self):
        t = self.current()
        self.amps = allocate(self.site, t).amps
        self.last = t
        self.served = frozenset(i for i, a in enumerate(self.amps) if a)
        self.now += 1

    @rule(data=st.data())
    def arrive(self, data):
        free = [i for i, v in enumerate(self.vehicles) if v is None]
        if not free:
            return
        i = data.draw(st.sampled_from(free))
        self.vehicles[i] = Vehicle(data.draw(st.sampled_from([1, 3])),
                                   data.draw(st.one_of(st.none(), st.integers(6, 32))))
        self.arrival[i] = self.now
        self.tick()

    @rule(data=st.data())
    def leave(self, data):
        present = [i for i, v in enumerate(self.vehicles) if v is not None]
        if not present:
            return
        i = data.draw(st.sampled_from(present))
        before = self.amps
        self.vehicles[i] = None
        self.tick()
        # reclaim: nobody loses current when a vehicle leaves (same others served), but for
        # the one ampere of a rounding remainder that may move (DLM-MONOTONE)
        if {j for j, a in enumerate(before) if a and j != i} == set(self.served):
            assert all(self.amps[j] >= before[j] - 1 for j in self.served), (before, self.amps)
            assert sum(self.amps) >= sum(before) - before[i]

    @rule(reading=st.tuples(*[st.integers(0, 120)] * 3) | st.none())
    def meter_reads(self, reading):
        self.meter = reading
        self.tick()

    @rule()
    def same_inputs_again(self):
        before = self.amps
        self.tick()
        assert fixed_point_violation(self.site, before, self.amps) is None

    @rule(phase=st.integers(0, 2), by=st.integers(1, 20))
    def lower_the_sub_distribution(self, phase, by):
        s = self.site
        op = list(s.operator_evse_sub_distribution_limit)
        op[phase] = max(0, op[phase] - by)
        lowered = replace(s, operator_evse_sub_distribution_limit=tuple(op))
        t = self.current()
        before = allocate(s, t).amps
        after = allocate(lowered, t).amps
        assert monotonicity_violation(s, lowered, before, after) is None
        self.site = lowered
        self.tick()

    @invariant()
    def every_tick_invariant_holds(self):
        if hasattr(self, "last"):
            assert tick_violations(self.site, self.last, self.amps) == [], (self.last, self.amps)


Ticks.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None,
                                   suppress_health_check=list(HealthCheck))
test_many_ticks = Ticks.TestCase


def test_the_committed_ticks_tell_every_miswired_connector_apart_twice():
    """A connector wired with another phase rotation (its L1 on another grid phase) allocates
    differently on at least two ticks of dlm.json: a charge point that reads the rotation
    wrongly fails, and still would if one tick changed.  Also: the criterion is not vacuous
    (a site whose phases are all alike could tell nothing apart)."""
    import json
    from pathlib import Path

    from chargespec.dlm.vectors import ROTATION_KILLS, rotation_mutants, site_from_json, \
        tick_from_json, told_apart
    from chargespec.loader import load_spec
    spec = load_spec()
    doc = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "dlm.json").read_text())
    mutants = connectors = 0
    for group in doc["testGroups"]:
        site = site_from_json(spec, group["config"]["dlm"])
        ticks = [tick_from_json(s["event"]) for t in group["tests"] for s in t["steps"]]
        connectors += len(site.connectors)
        for label, wrong in rotation_mutants(site):
            mutants += 1
            assert told_apart(wrong, site, ticks) >= ROTATION_KILLS, label
        assert told_apart(site, site, ticks) == 0  # the site as wired tells nothing apart
    assert mutants == 2 * connectors >= 16  # L1 on each of the two other grid phases
    assert doc["coverage"]["rotationsToldApartTwice"]["uncovered"] == []
