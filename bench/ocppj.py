"""The conformance runner over OCPP-J: tests/s and steps/s with `chargespec virtual-cp` as both
the charge point and its driver, over loopback; each step ends on the virtual charge point's
quiescence signal (goal of issue 21: the whole vector set within 3 minutes on 2 cores).

    python bench/ocppj.py [FILE ...] [--tests N]

Prints passed / unsupported / failed, the seconds, tests/s and steps/s per file and in all.
Default: every vector file, every test.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import chargespec.ocppj  # noqa: F401 - registers the transport
from chargespec.conform import load_vectors, make_adapter, run_file

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*", default=[
        p.stem for p in sorted(VECTORS.glob("*.json"))
        if p.stem not in ("coverage-report", "manifest")])
    ap.add_argument("--settle", type=float, default=0.1,
                    help="the quiet window of drivers without the quiescence signal")
    ap.add_argument("--tests", type=int, default=10**6, help="tests per file (the first N)")
    args = ap.parse_args()
    port = free_port()
    driver = (f"{sys.executable} -m chargespec virtual-cp --csms ws://127.0.0.1:{port} "
              f"--id CP1 --connectors 1")
    adapter = make_adapter(f"ocppj:listen=127.0.0.1:{port},id=CP1,settle={args.settle},"
                           f"driver=stdio:{driver}", timeout=5.0)
    total: Counter = Counter()
    t_all = time.perf_counter()
    n_tests = n_steps = 0
    try:
        for name in args.files:
            path = VECTORS / f"{name}.json"
            doc = load_vectors(path)
            left = args.tests
            for g in doc["testGroups"]:
                g["tests"] = g["tests"][:max(left, 0)]
                left -= len(g["tests"])
            doc["testGroups"] = [g for g in doc["testGroups"] if g["tests"]]
            steps = sum(len(t["steps"]) for g in doc["testGroups"] for t in g["tests"])
            t0 = time.perf_counter()
            outcomes = list(run_file(adapter, path, doc=doc))
            s = time.perf_counter() - t0
            count = Counter(o.status for o in outcomes)
            total.update(count)
            n_tests, n_steps = n_tests + len(outcomes), n_steps + steps
            print(f"{name}: {len(outcomes)} tests, {steps} steps in {s:.1f} s = "
                  f"{len(outcomes) / s:.1f} tests/s, {steps / s:.1f} steps/s; "
                  f"{dict(sorted(count.items()))}")
    finally:
        adapter.close()
    s = time.perf_counter() - t_all
    print(f"all: {n_tests} tests, {n_steps} steps in {s:.1f} s = {n_tests / s:.1f} tests/s, "
          f"{n_steps / s:.1f} steps/s; {dict(sorted(total.items()))}")


if __name__ == "__main__":
    main()
