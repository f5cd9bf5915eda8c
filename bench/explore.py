"""`chargespec check` speed: the Z3 proofs, and the CI and full exploration profiles.

Prints, per profile: seconds of the determinism/completeness proof, configurations, states,
transitions, states/s and transitions/s (CPU, summed over the worker processes) and the wall
time on this machine's cores; then our explorer against SPIN on the same exported model (one
configuration, the same states): our time with every invariant against pan's run (-O2, its stack
and hash table sized to the model: -m100000 -w20, deeper when needed; pan's own "elapsed time"
is printed beside it), and against SPIN's whole run (spin -a, gcc, pan).  Goals (issue 6): full <= 60 s and CI <= 15 s on 2
cores; our time <= 5x SPIN's.
"""

from __future__ import annotations

import os
import platform
import re

import tempfile
import time

from chargespec.checkers.check import explorer_checks, run
from chargespec.checkers.explore import explore, pairwise_configurations, session_events
from chargespec.checkers.promela import export, run_spin
from chargespec.checkers.status_relation import status_changes
from chargespec.loader import load_spec
from chargespec.models.step import Engine


def main() -> None:
    spec = load_spec()
    print(f"chargespec bench/explore.py  python {platform.python_version()}  "
          f"{os.cpu_count()} cores")
    for profile, goal in (("ci", 15), ("full", 60)):
        r = run(spec, profile)
        states = sum(j.states for j in r.jobs)
        trans = sum(j.transitions for j in r.jobs)
        cpu = sum(j.seconds for j in r.jobs)
        ind = r.induction
        print(f"{profile:<5} induction (state invariants, every configuration) "
              f"{ind.seconds:5.2f} s ({ind.queries} queries, "
              f"{'proved' if ind.ok else 'NOT INDUCTIVE'})")
        print(f"{profile:<5} step invariants (every configuration) {r.steps.seconds:5.2f} s "
              f"({r.steps.queries} queries, {'proved' if r.steps.ok else 'NOT PROVED'})")
        print(f"{profile:<5} no dead end (recovery witnesses, every configuration) "
              f"{r.recovery.seconds:5.2f} s ({r.recovery.queries} queries, "
              f"{'proved' if r.recovery.ok else 'NOT PROVED'})")
        print(f"{profile:<5} proof {r.proof.seconds:5.2f} s ({r.proof.queries} queries)  "
              f"{len(r.jobs):>3} configurations  {states:>8,} states  {trans:>10,} transitions  "
              f"{states / cpu:>7,.0f} states/s  {trans / cpu:>8,.0f} transitions/s (CPU)  "
              f"wall {r.seconds:6.1f} s (goal <= {goal} s)  {'ok' if r.ok else 'VIOLATIONS'}")
    t0 = time.perf_counter()
    rel = status_changes(spec)
    print(f"status changes any configuration can make (Z3): {len(rel.possible)} in "
          f"{time.perf_counter() - t0:.2f} s ({rel.queries} queries)")
    for label, values in (("default", None), ("pairwise #10", 9)):
        engine = Engine(spec)  # cold: no memo from before
        config = engine.config() if values is None else pairwise_configurations(engine)[values]
        events = session_events(engine)
        t0 = time.perf_counter()
        ours = explore(engine, config, explorer_checks(engine), events=events,
                       skip_unchanged=True)
        mine = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            spin = run_spin(export(engine, config, events), tmp, optimize="-O2")
        said = re.search(r"elapsed time ([0-9.e+-]+)", spin["output"])
        print(f"vs SPIN, {label:<13} {ours.states:>6} states (SPIN {spin['states']})  ours "
              f"{mine:6.2f} s  pan {spin['pan_seconds']:6.3f} s ({mine / spin['pan_seconds']:5.1f}x;"
              f" pan says {said.group(1) if said else '?'} s)"
              f"  spin+gcc+pan {spin['total_seconds']:6.2f} s "
              f"({mine / spin['total_seconds']:4.2f}x)  (goal <= 5x)")


if __name__ == "__main__":
    main()
