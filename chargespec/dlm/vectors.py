"""DLM conformance vectors (dlm.json): the reference allocation of each tick, and its invariants.

A group is one example site of `spec/examples/` (its document, as JSON, under `config.dlm`); a
test is a sequence of ticks, each a self-contained `dlm_tick` event (every vehicle, the meter,
the connectors that lost their master, those served in the previous tick and the order of
arrival) answered by the allocation `{"amps": [...]}` in site order.  The reference allocation is
`valid`; an implementation that answers another allocation that keeps every tick invariant of
spec/dlm.yaml (limits, connector hierarchy, 0-or-minimum, work conservation, no starvation) is
`acceptable`, because the manual fixes the safety of an allocation, not its exact shares.

The ticks are the example scenario and, per site, seeded pseudo-random ticks (fixed seed, so the
file is byte-identical on re-generation) that reach the corners: meter failed, lost masters,
single-phase vehicles, demands below the minimum.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from chargespec import __version__
from chargespec.specmodel import Spec
from chargespec.yamlread import parse_yaml, read_yaml

from .allocator import Tick, Vehicle, allocate
from .invariants import tick_violations
from .site import PHASES, Site, site_from_doc

SCHEMA = "vectors.schema.json"
SITES = ("dlm_station_63a.yaml", "dlm_building_100a.yaml")
SCENARIOS = {"dlm_building_100a.yaml": "dlm_scenario.yaml"}
RANDOM_TICKS = 40


def tick_json(t: Tick) -> dict[str, Any]:
    return {"name": "dlm_tick",
            "vehicles": [None if v is None else {"phases": v.phases, "demand": v.demand,
                                                 "drawn": v.drawn} for v in t.vehicles],
            "meter": None if t.meter is None else list(t.meter),
            "lost_master": sorted(t.lost_master), "served": sorted(t.served),
            "arrival": None if t.arrival is None else list(t.arrival)}


def tick_from_json(ev: dict[str, Any]) -> Tick:
    vehicles = tuple(None if v is None else Vehicle(int(v.get("phases", 3)), v.get("demand"),
                                                    int(v.get("drawn", 0)))
                     for v in ev["vehicles"])
    meter = ev.get("meter")
    arrival = ev.get("arrival")
    return Tick(vehicles, None if meter is None else tuple(meter),  # type: ignore[arg-type]
                frozenset(ev.get("lost_master", ())), frozenset(ev.get("served", ())),
                None if arrival is None else tuple(arrival))


def site_from_json(spec: Spec, doc: dict[str, Any], file: str = "<dlm config>") -> Site:
    """A site from the JSON a vector carries (JSON is YAML: one parser, one set of checks)."""
    return site_from_doc(spec, parse_yaml(json.dumps(doc), file), file)


def _examples(spec: Spec) -> Path:
    return Path(spec.directory) / "examples"


def _random_ticks(site: Site, seed: str) -> list[Tick]:
    rng = random.Random(seed)
    n = len(site.connectors)
    ticks = []
    served: frozenset[int] = frozenset()
    for _ in range(RANDOM_TICKS):
        vehicles = tuple(None if rng.random() < 0.3 else Vehicle(
            rng.choice((1, 3, 3)), rng.choice((None, None, 4, 10, 16, 32)),
            rng.randrange(0, 20)) for _ in range(n))
        meter = None if rng.random() < 0.15 else tuple(rng.randrange(0, 40) for _ in range(3))
        lost = frozenset(i for i in range(n) if rng.random() < 0.1)
        arrival = tuple(rng.sample(range(n), n))
        t = Tick(vehicles, meter, lost, served, arrival)  # type: ignore[arg-type]
        served = frozenset(i for i, a in enumerate(allocate(site, t).amps) if a)
        ticks.append(t)
    return ticks


def rotation_mutants(site: Site) -> list[tuple[str, Site]]:
    """A connector wired with another phase rotation, one per grid phase its L1 could land on
    instead (the allocation reads a rotation only through that phase: a 3-phase vehicle loads
    all three wherever they land), as (label, the site so wired)."""
    import dataclasses
    out = []
    for c in site.connectors:
        for p in range(3):
            if p == c.grid[0]:
                continue
            grid = (p, *[q for q in c.grid if q != p])  # L1 on grid phase p
            wrong = dataclasses.replace(c, grid=grid)  # type: ignore[arg-type]
            connectors = tuple(wrong if x.index == c.index else x for x in site.connectors)
            out.append((f"{c.name} with L1 on grid {PHASES[p]} (wired {c.phase_rotation}: "
                        f"{PHASES[c.grid[0]]})", dataclasses.replace(site, connectors=connectors)))
    return out


ROTATION_KILLS = 2  # ticks that tell each rotation mutant apart (one is one change away from none)


def told_apart(mutant: Site, site: Site, ticks: list[Tick]) -> int:
    """How many ticks allocate differently on the mis-wired site."""
    return sum(allocate(mutant, t).amps != allocate(site, t).amps for t in ticks)


def _rotation_ticks(site: Site, ticks: list[Tick], seed: str
                    ) -> tuple[list[tuple[str, Tick]], list[str]]:
    """For every rotation mutant fewer than ROTATION_KILLS ticks tell apart, ticks that do: a 1-phase
    vehicle at that connector and the grid phases loaded unequally (other 1-phase vehicles,
    the building meter), found by a seeded search; and the labels of those none was found for
    (equivalent on this site: e.g. every phase with the same headroom whatever the load)."""
    rng = random.Random(seed)
    n = len(site.connectors)
    added: list[tuple[str, Tick]] = []
    missing: list[str] = []
    for label, mutant in rotation_mutants(site):
        have = told_apart(mutant, site, ticks + [t for _, t in added])
        if have >= ROTATION_KILLS:
            continue
        target = next(c.index for c, w in zip(site.connectors, mutant.connectors)
                      if c.grid != w.grid)
        for _ in range(400):
            vehicles = tuple(
                Vehicle(1, rng.choice((None, 16, 32)), 0) if i == target
                else (None if rng.random() < 0.5 else
                      Vehicle(rng.choice((1, 1, 3)), rng.choice((None, 6, 10, 16, 32)), 0))
                for i in range(n))
            meter = tuple(rng.choice((0, 0, 5, 20, 40, 60)) for _ in range(3)) \
                if site.external_meter_support else None
            t = Tick(vehicles, meter, frozenset(), frozenset(),  # type: ignore[arg-type]
                     tuple(rng.sample(range(n), n)))
            if told_apart(mutant, site, [t]):
                added.append((label, t))
                have += 1
                if have >= ROTATION_KILLS:
                    break
        else:
            missing.append(label)
    return added, missing


def _step(site: Site, t: Tick) -> dict[str, Any]:
    amps = allocate(site, t).amps
    bad = tick_violations(site, t, amps)
    if bad:  # the reference must keep its own invariants; a vector never pins a violation
        raise AssertionError(f"reference allocation {amps} violates {bad[0]}")
    return {"event": tick_json(t), "expect": {"amps": list(amps)}, "rule": "allocate"}


def document(spec: Spec) -> dict[str, Any]:
    from .simulate import load_scenario, run
    groups = []
    tc = 0
    tight = 0
    rotations: dict[str, Any] = {"total": 0, "uncovered": []}
    for name in SITES:
        path = _examples(spec) / name
        doc = read_yaml(path)
        site = site_from_doc(spec, doc, f"spec/examples/{name}")
        tests = []
        scenario: list[Tick] = []
        if name in SCENARIOS:
            spath = _examples(spec) / SCENARIOS[name]
            title, ticks = load_scenario(site, spath)
            scenario = [s.tick for s in run(site, ticks, str(spath))]
            steps = [_step(site, t) for t in scenario]
            tc += 1
            tests.append({"tcId": tc, "comment": f"scenario: {title}", "flags": ["§7"],
                          "rules": ["allocate"], "manual": ["§7"], "steps": steps,
                          "result": "valid"})
        randoms = _random_ticks(site, name)
        wiring, untold = _rotation_ticks(site, scenario + randoms, f"rotation:{name}")
        rotations["total"] += len(rotation_mutants(site))
        rotations["uncovered"] += [f"{name}: {u}" for u in untold]
        for k, t in enumerate(randoms):
            step = _step(site, t)
            alloc = allocate(site, t)
            full = [lim.name for lim in alloc.limits
                    if sum(step["expect"]["amps"][i] for i in lim.members) >= lim.capacity]
            tight += bool(full)
            tc += 1
            tests.append({"tcId": tc, "comment": f"seeded tick {k + 1}"
                          + (f"; at capacity: {', '.join(sorted(set(full))[:3])}" if full else ""),
                          "flags": ["DLM-FAIRNESS"] if not t.lost_master else ["§7.7"],
                          "rules": ["allocate"], "manual": ["§7"], "steps": [step],
                          "result": "valid"})
        for label, t in wiring:
            tc += 1
            tests.append({"tcId": tc, "comment": f"phase rotation told apart: {label}",
                          "flags": ["DLM-ROTATION"], "rules": ["allocate"],
                          "manual": ["§7.6", "§7.8"], "steps": [_step(site, t)],
                          "result": "valid"})
        groups.append({"type": "dlm", "config": {"dlm": json.loads(json.dumps(doc))},
                       "initial": {"amps": [0] * len(site.connectors)}, "tests": tests})
    notes = {
        "§7": {"bugType": "the allocation breaks a limit of the manual",
               "description": spec.manual_sections.get("§7", "Dynamic load management"),
               "manual": ["§7"]},
        "§7.7": {"bugType": "a connector that lost its master is not held to the Disconnected "
                         "Limit", "description": spec.manual_sections.get("§7.7", "§7.7"),
                 "manual": ["§7.7"]},
        "DLM-ROTATION": {"bugType": "a single-phase vehicle loads another grid phase than the "
                                    "connector's phase rotation puts its L1 on",
                         "description": "§7.8 Phase Rotation: the rotation of each connector "
                                        "maps the charge point's L1, L2, L3 to grid phases; "
                                        "§7.6 a single-phase vehicle loads L1 only",
                         "manual": ["§7.6", "§7.8"]},
        "DLM-FAIRNESS": {"bugType": "the allocation differs from the reference; acceptable when "
                                    "it keeps every invariant",
                         "description": " ".join(spec.interpretations["DLM-FAIRNESS"]
                                                 .decision.split()),
                         "manual": list(spec.interpretations["DLM-FAIRNESS"].manual)},
    }
    return {
        "algorithm": "chargespec dlm: the allocation of every tick",
        "schema": SCHEMA,
        "specVersion": spec.version,
        "generatorVersion": __version__,
        "numberOfTests": tc,
        "observations": ["amps"],
        "acceptable": "an allocation other than `expect` that keeps every tick invariant "
                      "of spec/dlm.yaml",
        "notes": notes,
        "testGroups": groups,
        "coverage": {"sites": len(groups), "ticks": sum(len(t["steps"]) for g in groups
                                                        for t in g["tests"]),
                     "ticksWithALimitAtCapacity": tight,
                     "rotationsToldApartTwice": {
                         "total": rotations["total"],
                         "covered": rotations["total"] - len(rotations["uncovered"]),
                         "uncovered": rotations["uncovered"]}},
    }


_SITES: dict[tuple[int, str], Any] = {}


def judge(spec: Spec, config: dict[str, Any], event: dict[str, Any], amps: list[int]
          ) -> list[str]:
    """The invariants an allocation breaks for one tick ([] = acceptable)."""
    key = (id(spec), json.dumps(config["dlm"], sort_keys=True))
    site = _SITES.get(key)
    if site is None:  # a run judges many ticks of few sites
        site = _SITES[key] = site_from_json(spec, config["dlm"])
    t = tick_from_json(event)
    if len(amps) != len(site.connectors):
        return [f"{len(amps)} currents for {len(site.connectors)} connectors"]
    return [str(v) for v in tick_violations(site, t, tuple(int(a) for a in amps))]
