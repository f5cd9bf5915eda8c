"""Steps per second: the step function against the transitions machine, on the same events.

Both engines run the same random event sequences (fixed seed) under a spread of configurations
(the pairwise set).  Three figures for the step function:
  warm   the memo table already holds every (config, state, event) of the run: table lookups;
  cold   a fresh engine: every new situation is computed from the rules (and checked for
         determinism), then remembered;
  nomemo memoization off: every step interprets the rules (the cost of one rule evaluation).
and one for the transitions machine (GraphMachine-capable `transitions.Machine` driven through
`trigger`).  The ratio warm / transitions is the figure the issue asks for (goal >= 50x).

Run: .venv/bin/python bench/step_speed.py [--steps N]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time

from chargespec.checkers.explore import all_events, pairwise_configurations
from chargespec.loader import load_spec
from chargespec.models.machine import TransitionsMachine
from chargespec.models.step import Engine


def sequences(engine: Engine, n_steps: int, seed: int = 20261124):
    rng = random.Random(seed)
    configs = pairwise_configurations(engine)
    events = all_events(engine)
    per = max(1, n_steps // len(configs))
    return [(c, [rng.choice(events) for _ in range(per)]) for c in configs]


def time_step(engine: Engine, work) -> tuple[int, float]:
    n = 0
    t0 = time.perf_counter()
    for config, events in work:
        s = engine.initial(config)
        step = engine.step
        for ev in events:
            s, _ = step(config, s, ev)
        n += len(events)
    return n, time.perf_counter() - t0


def time_transitions(engine: Engine, work) -> tuple[int, float]:
    n = 0
    elapsed = 0.0
    for config, events in work:
        tm = TransitionsMachine(engine.compiled, config)  # construction not timed
        t0 = time.perf_counter()
        for ev in events:
            tm.fire(ev)
        elapsed += time.perf_counter() - t0
        n += len(events)
    return n, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200_000)
    args = ap.parse_args()
    spec = load_spec()
    engine = Engine(spec)
    work = sequences(engine, args.steps)
    # the transitions machine is slow: time it on a tenth of the steps, same sequences' prefix
    small = [(c, evs[: max(1, len(evs) // 10)]) for c, evs in work]

    cold_n, cold_t = time_step(engine, work)          # fills the memo table
    warm_n, warm_t = time_step(engine, work)          # pure lookups
    nomemo = Engine(spec, memo=False)
    nm_n, nm_t = time_step(nomemo, small)
    tr_n, tr_t = time_transitions(engine, small)

    rate = lambda n, t: n / t if t else float("inf")  # noqa: E731
    warm, cold, nm, tr = rate(warm_n, warm_t), rate(cold_n, cold_t), rate(nm_n, nm_t), rate(tr_n, tr_t)
    print(f"chargespec bench/step_speed.py  python {platform.python_version()}  "
          f"{platform.machine()}  configs={len(work)}")
    print(f"step function, warm (memo hit)   {warm:12,.0f} steps/s  ({warm_n:,} steps)")
    print(f"step function, cold (first run)  {cold:12,.0f} steps/s  ({cold_n:,} steps, "
          f"{len(engine._memo or {}):,} situations memoized)")
    print(f"step function, no memo           {nm:12,.0f} steps/s  ({nm_n:,} steps)")
    print(f"transitions.Machine              {tr:12,.0f} steps/s  ({tr_n:,} steps)")
    print(f"ratio step (warm) / transitions  {warm / tr:12,.1f} x   (goal >= 50 x)")
    print(f"ratio step (no memo) / transitions {nm / tr:10,.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
