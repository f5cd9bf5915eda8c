"""DLM speed: the reference allocator per tick, and Z3 verification per site.

Sites are synthetic but realistic: dual stations (every third with one supply line), phases
rotated RST/STR/TRS in turn, a sub-distribution of 12 A per connector and phase, a third of the
vehicles single-phase, some with a demand below the limit, the External Meter on.  Goals
(issue 5): <= 5 ms per tick at 1,000 connectors; <= 10 s to verify 50 charge points.
"""

from __future__ import annotations

import platform
import random
import time
from statistics import median

from chargespec.dlm.allocator import Tick, Vehicle, allocate
from chargespec.dlm.prove import verify
from chargespec.dlm.site import site_from_doc
from chargespec.loader import load_spec
from chargespec.yamlread import parse_yaml

ROTATIONS = ["RST", "STR", "TRS"]


def site_yaml(connectors: int, meter: bool = True) -> str:
    stations = []
    for s in range(0, connectors, 2):
        members = [f"      - {{name: C{i + 1}, phase_rotation: {ROTATIONS[i % 3]}}}"
                   for i in range(s, min(s + 2, connectors))]
        line = ("    single_power_line: 'On'\n    supply_line_capacity: 32\n"
                if len(members) == 2 and (s // 2) % 3 == 0 else "")
        stations.append(f"  - name: S{s // 2 + 1}\n{line}    connectors:\n" + "\n".join(members))
    limit = min(9999, max(16, 12 * connectors))
    text = (f"site: bench {connectors}\n"
            f"evse_sub_distribution_limit: [{limit}, {limit}, {limit}]\n"
            f"operator_evse_sub_distribution_limit: [{limit}, {limit}, {limit}]\n"
            f"minimum_current_limit: 6\n"
            f"defaults: {{disconnected_limit: 6}}\n")
    if meter:
        text += (f"external_meter_support: 'On'\n"
                 f"main_distribution_limit: [{min(9999, limit + 50)}, {min(9999, limit + 50)}, {min(9999, limit + 50)}]\n"
                 f"external_load_fallback: [40, 40, 40]\n")
    return text + "stations:\n" + "\n".join(stations) + "\n"


def make_site(spec, connectors: int, meter: bool = True):
    return site_from_doc(spec, parse_yaml(site_yaml(connectors, meter), "<bench>"), "<bench>")


def ticks(site, count: int, rng: random.Random) -> list[Tick]:
    out = []
    for _ in range(count):
        vs = []
        for _c in site.connectors:
            if rng.random() < 0.7:
                vs.append(Vehicle(1 if rng.random() < 0.33 else 3,
                                  rng.choice([None, None, 16, 10])))
            else:
                vs.append(None)
        served = frozenset(i for i in range(len(vs)) if rng.random() < 0.5)
        out.append(Tick(tuple(vs), (rng.randint(0, 40),) * 3, frozenset(), served, None))
    return out


def main() -> None:
    spec = load_spec()
    rng = random.Random(7)
    print(f"chargespec bench/dlm.py  python {platform.python_version()}  "
          f"{platform.machine()}")
    for n in (10, 100, 1000):
        site = make_site(spec, n)
        sample = ticks(site, 40 if n < 1000 else 20, rng)
        times = []
        for t in sample:
            t0 = time.perf_counter()
            allocate(site, t)
            times.append(time.perf_counter() - t0)
        print(f"allocator, {n:>5} connectors     median {median(times) * 1000:8.2f} ms/tick  "
              f"max {max(times) * 1000:8.2f} ms  (goal <= 5 ms at 1,000)")
    for n in (5, 20, 50):
        site = make_site(spec, n)
        t0 = time.perf_counter()
        results = verify(site)
        dt = time.perf_counter() - t0
        states = ", ".join(sorted({r.status for r in results}))
        print(f"Z3 verify, {n:>3} charge points   {dt:8.2f} s  ({len(results)} invariants: "
              f"{states})  (goal <= 10 s at 50)")


if __name__ == "__main__":
    main()
