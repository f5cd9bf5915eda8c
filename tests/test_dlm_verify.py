"""Z3 on DLM sites: proofs, counterexamples in the site's terms, and max-min fairness by Optimize;
the `chargespec dlm` commands with their exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from chargespec.dlm.allocator import Tick, allocate
from chargespec.dlm.invariants import phase_loads
from chargespec.dlm.prove import max_min_fair, verify
from chargespec.dlm.site import load_site
from dlm_sites import connector, site, sites_and_ticks

EXAMPLES = Path(__file__).resolve().parent.parent / "spec" / "examples"


def statuses(results):
    return {r.invariant: r.status for r in results}


@pytest.mark.parametrize("name", ["dlm_building_100a", "dlm_station_63a"])
def test_the_manuals_scenarios_are_proved(spec, name):
    results = verify(load_site(spec, EXAMPLES / f"{name}.yaml"))
    assert all(r.ok for r in results), [(r.invariant, r.detail) for r in results if not r.ok]
    assert "Proved" in statuses(results).values()


def test_the_unsafe_site_has_a_readable_counterexample(spec):
    results = {r.invariant: r for r in verify(load_site(spec, EXAMPLES / "dlm_unsafe.yaml"))}
    fb = results["fallback_safety"]
    assert fb.status == "Counterexample"
    assert "after losing its master" in fb.detail and "by 33 A" in fb.detail
    # Z3 picks the phase (any of them is a counterexample: 3 x 16 A + the 1-phase vehicles)
    assert "= 63 A" in fb.detail and re.search(r"grid phase L[123] carries 96 A", fb.detail)


def test_a_metered_site_is_proved_for_every_reading_and_meter_failure():
    # the meter's readings and its failure are inputs too: while it fails, the true building
    # load may be anything up to the fallback, and the master still keeps the main fuse
    s = site([connector(0), connector(1, rotation="STR")], meter=True, main=(40, 40, 40),
             headroom=(3, 3, 3), fallback=(20, 20, 20), including=True)
    r = statuses(verify(s))
    assert r["main_distribution_with_meter"] == "Proved"
    assert r["per_phase_sub_distribution"] == "Proved"


def test_a_supply_line_against_the_fallback_of_its_two_connectors():
    from chargespec.dlm.site import Station
    from chargespec.errors import Where
    line = [Station(0, "CP1", True, 20, (0, 1), Where("t", 0))]
    s = site([connector(0, cap=32), connector(1, cap=32, rotation="STR")], stations=line)
    r = {x.invariant: x for x in verify(s)}
    assert r["configuration_order"].status == "Violated"  # installation 32 A > line 20 A
    assert "supply line of CP1, 20 A" in r["configuration_order"].detail
    assert r["single_supply_line"].status == "Proved"  # the master keeps it; 7 + 7 A fallback
    s = site([connector(0, cap=32, disconnected=16), connector(1, cap=32, rotation="STR",
                                                                 disconnected=16)], stations=line)
    r = {x.invariant: x for x in verify(s)}
    assert r["single_supply_line"].status == "Counterexample"
    assert "supply line of CP1, phase" in r["single_supply_line"].detail
    assert "32 A > 20 A" in r["single_supply_line"].detail


# ---------------------------------------------------------------- max-min fairness by Z3 Optimize

@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(sites_and_ticks(max_stations=3, lost=False))
def test_the_allocator_is_max_min_fair_like_z3_optimize(case):
    s, t = case
    assume(not s.external_meter_support and not s.current_imbalance_prevention)
    amps = allocate(s, t).amps
    served = {i for i, x in enumerate(amps) if x}
    assume(served)
    best = max_min_fair(s, t, served)
    assert sorted(amps) == sorted(best), (amps, best)


def test_z3_max_min_on_a_known_site():
    s = site([connector(0), connector(1, rotation="STR"), connector(2, rotation="TRS")],
             sub=(40, 40, 40))
    from chargespec.dlm.allocator import Vehicle
    t = Tick((Vehicle(3), Vehicle(1), Vehicle(3, demand=8)), (0, 0, 0), frozenset(),
             frozenset(), None)
    amps = allocate(s, t).amps
    assert sorted(max_min_fair(s, t, {0, 1, 2})) == sorted(amps)
    assert amps == (16, 16, 8)  # the 1-phase car (STR: grid L2) shares only L2
    assert [sum(a for _, a in ph) for ph in phase_loads(s, t, amps)] == [24, 40, 24]


# ---------------------------------------------------------------- the commands

def cli(*args):
    from incli import run_cli
    return run_cli(*args)


def test_dlm_verify_exit_codes(tmp_path):
    ok = cli("dlm", "verify", str(EXAMPLES / "dlm_building_100a.yaml"))
    assert ok.returncode == 0 and "Proved" in ok.stdout
    bad = cli("dlm", "verify", str(EXAMPLES / "dlm_unsafe.yaml"))
    assert bad.returncode == 1 and "Counterexample fallback_safety" in bad.stdout
    broken = tmp_path / "site.yaml"
    broken.write_text("site: x\nstations:\n  - name: A\n    connectors:\n"
                      "      - {name: A-1, phase_rotation: XYZ}\n")
    p = cli("dlm", "verify", str(broken))
    assert p.returncode == 2 and f"{broken}:5" in p.stderr and "phase_rotation" in p.stderr


def test_dlm_simulate_prints_a_table_and_checks_every_tick():
    p = cli("dlm", "simulate", str(EXAMPLES / "dlm_building_100a.yaml"),
            str(EXAMPLES / "dlm_scenario.yaml"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 invariant violation(s)" in p.stdout and "CP1-1" in p.stdout
    assert "7*" in p.stdout  # a controller without its master


def test_dlm_simulate_bad_scenario_names_file_and_line(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text("ticks:\n  - arrive: {NOPE: {}}\n")
    p = cli("dlm", "simulate", str(EXAMPLES / "dlm_building_100a.yaml"), str(sc))
    assert p.returncode == 2 and f"{sc}:2" in p.stderr and "unknown connector 'NOPE'" in p.stderr


@pytest.mark.parametrize("text, line, message", [
    ("site: x\nmaximum_current: 32\nstations: []\n", 2, "a connector or station parameter"),
    ("site: x\nstations:\n  - name: A\n    connectors: [{name: A-1}, {name: A-1}]\n", 4,
     "duplicate connector name 'A-1'"),
    ("site: x\nstations:\n  - name: A\n    single_power_line: 'On'\n    connectors: [{name: A-1}]\n",
     4, "needs two connectors"),
    ("site: x\nevse_sub_distribution_limit: [63, 63]\nstations:\n  - connectors: [{}]\n", 2,
     "one value per grid phase"),
    ("site: x\nstations:\n  - connectors: [{name: A-1, operator_current_limit: 81}]\n", 3,
     "operator_current_limit"),
])
def test_site_file_mistakes_name_the_line(spec, tmp_path, text, line, message):
    from chargespec.errors import SpecError
    f = tmp_path / "site.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as err:
        load_site(spec, f)
    assert str(err.value).startswith(f"{f}:{line}: ") and message in str(err.value)
