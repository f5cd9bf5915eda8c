"""Conformance runner speed: steps per second in-process and over stdio (goals: 50,000 and
10,000), on the committed vector files (the session concerns; DLM ticks are another kind of
step).  Over stdio: pipelined batch requests (the protocol's extension), and step by step.

    python bench/conform.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chargespec.conform import InProcess, Stdio, load_vectors, run_file

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FILES = ["session", "stop_modes", "free_charging", "authorization", "errors", "octt", "coverage"]


def measure(adapter, docs) -> tuple[int, int, float]:
    """One pass over the files as `chargespec conform` makes it (run_file)."""
    steps = tests = 0
    t0 = time.perf_counter()
    for path, doc in docs:
        for o in run_file(adapter, path, doc=doc):
            assert o.status == "passed", (path.name, o.tc_id, o.detail)
        for g in doc["testGroups"]:
            tests += len(g["tests"])
            steps += sum(len(t["steps"]) for t in g["tests"])
    return tests, steps, time.perf_counter() - t0


def report(label: str, adapter, docs, goal: int) -> None:
    """The first pass (the implementation meets every situation for the first time) and the
    second (what is left is the runner and the transport)."""
    for run in ("first pass", "second pass"):
        tests, steps, s = measure(adapter, docs)
        print(f"{label:<22} {run:<12} {tests} tests, {steps} steps in {s:.2f} s = "
              f"{steps / s:>9,.0f} steps/s (goal {goal:,})")


def main() -> None:
    docs = [(VECTORS / f"{f}.json", load_vectors(VECTORS / f"{f}.json")) for f in FILES]
    report("in-process reference", InProcess("reference"), docs, 50_000)
    stdio = Stdio([sys.executable, "-m", "chargespec.reference"])
    try:
        report("stdio, pipelined", stdio, docs, 10_000)
        stdio.batch = False
        report("stdio, step by step", stdio, docs, 10_000)
    finally:
        stdio.close()


if __name__ == "__main__":
    main()
