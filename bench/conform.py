"""Conformance runner speed: steps per second in-process and over stdio (goals: 50,000 and
10,000), on the committed vector files.

    python bench/conform.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chargespec.conform import InProcess, Stdio, load_vectors, run_test

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FILES = ["session", "stop_modes", "free_charging", "authorization", "errors", "octt", "coverage"]


def measure(adapter, docs) -> tuple[int, int, float]:
    steps = tests = 0
    t0 = time.perf_counter()
    for name, doc in docs:
        for g in doc["testGroups"]:
            for t in g["tests"]:
                o = run_test(adapter, name, doc, g, t)
                assert o.status == "passed", (name, t["tcId"], o.detail)
                steps += len(t["steps"])
                tests += 1
    return tests, steps, time.perf_counter() - t0


def main() -> None:
    docs = [(f"{f}.json", load_vectors(VECTORS / f"{f}.json")) for f in FILES]
    ref = InProcess("reference")
    measure(ref, docs[:1])  # warm the reference's caches as a long run would
    tests, steps, s = measure(ref, docs)
    print(f"in-process: {tests} tests, {steps} steps in {s:.2f} s = {steps / s:,.0f} steps/s "
          f"(goal 50,000)")
    stdio = Stdio([sys.executable, "-m", "chargespec.models.stdio"])
    try:
        tests, steps, s = measure(stdio, docs)
    finally:
        stdio.close()
    print(f"stdio:      {tests} tests, {steps} steps in {s:.2f} s = {steps / s:,.0f} steps/s "
          f"(goal 10,000)")


if __name__ == "__main__":
    main()
