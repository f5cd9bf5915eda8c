"""Exploration speed: states and transitions per second of the BFS explorer (cold engine).

Prints, for the default configuration without the error model, for every pairwise
configuration, and for the error model (one row per behaviour, at most two errors at once):
states, transitions, seconds, states/s and transitions/s.  Each line starts from a fresh
engine, so the step function's memo table does not carry over.
"""

from __future__ import annotations

import platform
import time

from chargespec.checkers.explore import (REPRESENTATIVE_ERRORS, error_events, explore,
                                         max_errors, pairwise_configurations, session_events)
from chargespec.loader import load_spec
from chargespec.models.step import Engine


def measure(label: str, spec, runs) -> None:
    engine = Engine(spec)
    states = transitions = 0
    t0 = time.perf_counter()
    for config_values, events_of, bound in runs(engine):
        x = explore(engine, engine.config(config_values), events=events_of(engine), bound=bound)
        states += x.states
        transitions += x.transitions
    dt = time.perf_counter() - t0
    print(f"{label:<44} {states:>8} states {transitions:>9} transitions {dt:7.2f} s  "
          f"{states / dt:>9,.0f} states/s {transitions / dt:>10,.0f} transitions/s")


def main() -> int:
    spec = load_spec()
    print(f"chargespec bench/explore_speed.py  python {platform.python_version()}")
    measure("default config, session events", spec,
            lambda e: [({}, session_events, None)])
    measure("pairwise configs, session events", spec,
            lambda e: [(c.as_dict(), session_events, None) for c in pairwise_configurations(e)])
    errs = lambda e: session_events(e) + error_events(e, REPRESENTATIVE_ERRORS)  # noqa: E731
    measure("default config, 5 error rows, <= 2 at once", spec,
            lambda e: [({}, errs, max_errors(2))])
    measure("default config, all 15 rows, <= 1 at once", spec,
            lambda e: [({}, lambda e: session_events(e) + error_events(e), max_errors(1))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
