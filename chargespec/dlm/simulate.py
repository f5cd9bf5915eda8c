"""Several DLM ticks: a scenario of arrivals, departures, meter readings and master failures.

A scenario file lists ticks; each tick changes what differs from the tick before (vehicles
arrive or leave, the meter reads or fails, controllers lose or regain the master) and may repeat.
`run` keeps what the allocator needs from the past (who was served, when each vehicle began to
wait), allocates every tick and checks every `scope: tick` invariant and the fixed point of a
repeated tick.

    title: two cars, then a third
    ticks:
      - arrive: {CP1-1: {phases: 3}, CP2-1: {phases: 1, demand: 16}}
        meter: [30, 20, 25]
        repeat: 2
      - arrive: {CP3-1: {}}
      - meter: failed
      - lose_master: [CP3-1]
      - leave: [CP1-1]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chargespec.errors import SpecError, Where
from chargespec.yamlread import MDict, MList, read_yaml

from .allocator import Tick, Vehicle, allocate
from .invariants import Violation, fixed_point_violation, tick_violations
from .site import Site

MAX_REPEAT = 10_000   # repeats of one tick
MAX_TICKS = 100_000   # ticks of a scenario, repeats counted (a DLM tick is about 50 us)
_TICK_KEYS = ("arrive", "leave", "meter", "lose_master", "master_back", "repeat", "note")


@dataclass(frozen=True)
class Step:
    number: int
    tick: Tick
    amps: tuple[int, ...]
    violations: tuple[Violation, ...]
    note: str
    line: int


@dataclass(frozen=True)
class ScenarioTick:
    changes: MDict
    line: int


def load_scenario(site: Site, path: Path | str) -> tuple[str, list[ScenarioTick]]:
    file = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, MDict) or not isinstance(doc.get("ticks"), MList):
        raise SpecError(Where(file, getattr(doc, "line", 1) or 1),
                        "a DLM scenario is a mapping with `ticks:`, a list of ticks")
    for key in doc:
        if key not in ("title", "ticks"):
            raise SpecError(Where(file, doc.key_lines[key]), f"unknown key {key!r} (title, ticks)")
    names = {c.name for c in site.connectors}
    ticks = []
    total = 0
    for k, t in enumerate(doc["ticks"]):
        line = doc["ticks"].item_lines[k]
        if t is None:
            t = MDict()
            t.key_lines = {}
        if not isinstance(t, MDict):
            raise SpecError(Where(file, line), "a tick is a mapping of changes (or empty)")
        for key in t:
            kw = Where(file, t.key_lines[key])
            if key not in _TICK_KEYS:
                raise SpecError(kw, f"unknown tick key {key!r} ({', '.join(_TICK_KEYS)})")
            value = t[key]
            if key == "arrive":
                if not isinstance(value, MDict):
                    raise SpecError(kw, "arrive: maps connector names to vehicles")
                for name, v in value.items():
                    _check_name(name, names, Where(file, value.key_lines[name]))
                    _vehicle(v, Where(file, value.key_lines[name]))
            elif key in ("leave", "lose_master", "master_back"):
                if not isinstance(value, list):
                    raise SpecError(kw, f"{key}: is a list of connector names")
                for name in value:
                    _check_name(name, names, kw)
            elif key == "meter":
                if value != "failed" and not (isinstance(value, list) and len(value) == 3 and all(
                        type(x) is int and x >= 0 for x in value)):
                    raise SpecError(kw, "meter: [L1, L2, L3] readings in A, or `failed`")
            elif key == "repeat" and not (type(value) is int and 1 <= value <= MAX_REPEAT):
                raise SpecError(kw, f"repeat: a whole number from 1 to {MAX_REPEAT:,}")
        ticks.append(ScenarioTick(t, line))
        total += t.get("repeat", 1)
        if total > MAX_TICKS:
            raise SpecError(Where(file, line), f"more than {MAX_TICKS:,} ticks in all "
                                               f"(repeats counted)")
    return str(doc.get("title", Path(file).stem)), ticks


def _check_name(name: Any, names: set[str], where: Where) -> None:
    if not isinstance(name, str):
        raise SpecError(where, f"a connector name is a string like "
                               f"{min(names) if names else 'CP1-1'}, not {str(name)[:40]}")
    if name not in names:
        raise SpecError(where, f"unknown connector {name!r} (site: {', '.join(sorted(names))})")


def _vehicle(v: Any, where: Where) -> Vehicle:
    if v is None:  # `CP1-1:` alone: a three-phase vehicle that takes what it is offered
        v = {}
    if not isinstance(v, dict):
        raise SpecError(where, "a vehicle is a mapping: {phases: 1|3, demand: A, drawn: A}")
    unknown = set(v) - {"phases", "demand", "drawn"}
    if unknown:
        raise SpecError(where, f"unknown vehicle key(s) {sorted(unknown)} (phases, demand, drawn)")
    phases = v.get("phases", 3)
    if type(phases) is not int or phases not in (1, 3):
        raise SpecError(where, "phases: 1 or 3")
    for key in ("demand", "drawn"):
        if key in v and not (type(v[key]) is int and v[key] >= 0):
            raise SpecError(where, f"{key}: a current in A (a whole number >= 0)")
    return Vehicle(phases, v.get("demand"), v.get("drawn", 0))


def run(site: Site, ticks: list[ScenarioTick], file: str = "<scenario>") -> list[Step]:
    """Allocate every tick, carrying over the scenario's state and the allocator's history."""
    index = {c.name: c.index for c in site.connectors}
    n = len(site.connectors)
    vehicles: list[Vehicle | None] = [None] * n
    arrival = [0] * n
    meter: tuple[int, int, int] | None = (0, 0, 0)  # until the scenario gives a reading
    lost: set[int] = set()
    served: frozenset[int] = frozenset()
    steps: list[Step] = []
    number = 0
    for st in ticks:
        t = st.changes
        for name in t.get("leave", []):
            vehicles[index[name]] = None
        for name, v in (t.get("arrive") or {}).items():
            vehicles[index[name]] = _vehicle(v, Where(file, st.line))
            arrival[index[name]] = number
        if "meter" in t:
            meter = None if t["meter"] == "failed" else tuple(t["meter"])  # type: ignore[assignment]
        lost |= {index[x] for x in t.get("lose_master", [])}
        lost -= {index[x] for x in t.get("master_back", [])}
        previous: tuple[int, ...] | None = None
        for r in range(t.get("repeat", 1)):
            tick = Tick(tuple(vehicles), meter, frozenset(lost), served, tuple(arrival))
            amps = allocate(site, tick).amps
            found = tick_violations(site, tick, amps)
            if previous is not None:
                fp = fixed_point_violation(site, previous, amps)
                if fp is not None:
                    found.append(fp)
            steps.append(Step(number, tick, amps, tuple(found), str(t.get("note", "")), st.line))
            served = frozenset(i for i, a in enumerate(amps) if a)
            # what a vehicle draws next tick: what it is offered (for an including meter)
            vehicles = [None if v is None else replace(v, drawn=min(
                amps[i], v.demand if v.demand is not None else amps[i]))
                for i, v in enumerate(vehicles)]
            previous = amps
            number += 1
    return steps


def table(site: Site, steps: list[Step]) -> str:
    names = [c.name for c in site.connectors]
    width = max(6, *(len(x) for x in names))
    head = "tick  " + "  ".join(x.rjust(width) for x in names) + "  meter / notes"
    rows = [head, "-" * len(head)]
    for s in steps:
        cells = []
        for i, a in enumerate(s.amps):
            v = s.tick.vehicles[i]
            mark = "" if v is None else ("*" if i in s.tick.lost_master else
                                         ("" if v.phases == 3 else "'"))
            cells.append((f"{a}{mark}" if v is not None else "-").rjust(width))
        meter = "" if not site.external_meter_support else (
            "meter failed" if s.tick.meter is None else f"meter {list(s.tick.meter)}")
        notes = "; ".join(x for x in [meter, s.note] if x)
        rows.append(f"{s.number:<4}  " + "  ".join(cells) + f"  {notes}")
        for v in s.violations:
            rows.append(f"      VIOLATION {v}")
    rows.append("")
    rows.append("A: current offered; - no vehicle; ' a 1-phase vehicle; * controller without "
                "its master (Disconnected Limit)")
    return "\n".join(rows)
