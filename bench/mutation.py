"""Mutation analysis speed: how many spec mutants there are, how fast the committed vectors
kill them (mutants/s), and the time of the whole analysis as `chargespec mutate` runs it on
every core (goal: <= 60 s on 2 cores).

    python bench/mutation.py            # the kill analysis, then the full one (with searches)
    python bench/mutation.py --kill     # the kill analysis only
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

from chargespec.checkers import mutate
from chargespec.checkers.mutants import generate
from chargespec.models.step import Engine

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def main() -> None:
    t0 = time.perf_counter()
    engine = Engine()
    suite = mutate.load_suite(engine, [p for p in sorted(VECTORS.glob("*.json"))
                                       if p.name not in mutate.SESSION_FILES_SKIP])
    t1 = time.perf_counter()
    mutants = generate(engine.spec)
    t2 = time.perf_counter()
    kinds = collections.Counter(m.kind for m in mutants)
    print(f"suite: {len(suite.cases)} tests, {suite.steps} steps, loaded and replayed in "
          f"{t1 - t0:.2f} s")
    print(f"mutants: {len(mutants)} generated in {t2 - t1:.2f} s ("
          + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + ")")
    runs = [("kill analysis (no search)", False)]
    if "--kill" not in sys.argv:
        runs.append(("full analysis (with searches)", True))
    for label, search in runs:
        t = time.perf_counter()
        verdicts = mutate.analyse(engine, suite, mutants, search=search)
        s = time.perf_counter() - t
        status = collections.Counter(v.status for v in verdicts)
        print(f"{label}: {s:.1f} s wall, {len(mutants) / s:,.0f} mutants/s; "
              + ", ".join(f"{k} {n}" for k, n in sorted(status.items())))
    print(mutate.table(verdicts))


if __name__ == "__main__":
    main()
