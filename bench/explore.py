"""`chargespec check` speed: the Z3 proofs, and the CI and full exploration profiles.

Prints, per profile: seconds of the determinism/completeness proof, configurations, states,
transitions, states/s and transitions/s (CPU, summed over the worker processes) and the wall
time on this machine's cores.  Goals (issue 6): full <= 60 s and CI <= 15 s on 2 cores.
"""

from __future__ import annotations

import os
import platform

from chargespec.checkers.check import run
from chargespec.loader import load_spec


def main() -> None:
    spec = load_spec()
    print(f"chargespec bench/explore.py  python {platform.python_version()}  "
          f"{os.cpu_count()} cores")
    for profile, goal in (("ci", 15), ("full", 60)):
        r = run(spec, profile)
        states = sum(j.states for j in r.jobs)
        trans = sum(j.transitions for j in r.jobs)
        cpu = sum(j.seconds for j in r.jobs)
        print(f"{profile:<5} proof {r.proof.seconds:5.2f} s ({r.proof.queries} queries)  "
              f"{len(r.jobs):>3} configurations  {states:>8,} states  {trans:>10,} transitions  "
              f"{states / cpu:>7,.0f} states/s  {trans / cpu:>8,.0f} transitions/s (CPU)  "
              f"wall {r.seconds:6.1f} s (goal <= {goal} s)  {'ok' if r.ok else 'VIOLATIONS'}")


if __name__ == "__main__":
    main()
