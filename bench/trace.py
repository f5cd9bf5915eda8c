"""`chargespec trace`: frames/s checking a long log of the virtual charge point.

    python bench/trace.py [--sessions N]

Records N card-and-remote sessions (two transactions each) of `chargespec virtual-cp` with the
runner as its central system (the frame log of `--log`), then checks the log under the
configuration it ran with and prints frames, seconds and frames/s (goal of issue 22: 100,000
frames in 10 s with a given configuration).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

import chargespec.ocppj  # noqa: F401 - registers the transport
from chargespec.conform import StepUnsupported, make_adapter
from chargespec.models.step import Engine
from chargespec.trace.check import check
from chargespec.trace.readers import read_log

SESSION = [("plug", {}), ("rfid", {"uid": "CARD_A"}), ("authorize_conf", {"status": "Accepted"}),
           ("start_tx_conf", {"status": "Accepted"}), ("ev_request_charge", {}),
           ("ev_pause", {}), ("unplug", {}), ("cable_removed", {}),
           ("plug", {}), ("remote_start", {"id_tag": "CARD_B"}),
           ("authorize_conf", {"status": "Accepted"}), ("start_tx_conf", {"status": "Accepted"}),
           ("ev_request_charge", {}), ("remote_stop", {"transaction": "current"}),
           ("unplug", {}), ("cable_removed", {})]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record(path: Path, sessions: int) -> None:
    port = free_port()
    driver = (f"{sys.executable} -m chargespec virtual-cp --csms ws://127.0.0.1:{port} "
              f"--id CP1 --connectors 1 --log {path}")
    adapter = make_adapter(f"ocppj:listen=127.0.0.1:{port},id=CP1,keys=driver,"
                           f"driver=stdio:{driver}", timeout=5.0)
    try:
        for _ in range(sessions):
            for name, fields in SESSION:
                try:
                    adapter.step({"name": name, **fields})
                except StepUnsupported:
                    continue
    finally:
        adapter.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.jsonl"
        t0 = time.perf_counter()
        record(path, args.sessions)
        recorded = time.perf_counter() - t0
        engine = Engine()
        t0 = time.perf_counter()
        log = read_log(path)
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        verdicts, _, _ = check(engine, engine.config(), log)
        s = time.perf_counter() - t0
    n = len(log.frames)
    print(f"{n} frames ({args.sessions * 2} transactions; recorded in {recorded:.1f} s), read in "
          f"{read:.2f} s, checked in {s:.1f} s = {n / s:.0f} frames/s; explained: "
          f"{all(v.explained for v in verdicts)}")


if __name__ == "__main__":
    main()
