"""`chargespec trace`: frames/s checking long logs.

    python bench/trace.py [--sessions N] [--day] [--infer]

Records N card-and-remote sessions (two transactions each) of `chargespec virtual-cp` with the
runner as its central system (the frame log of `--log`), then checks the log under the
configuration it ran with and prints frames, seconds and frames/s.

`--day` writes the 24-hour log of a busy two-connector station in the `ocpp` logger's form
(`busy_day`: 200 transactions, card and remote sessions on both connectors overlapping, a
refused card now and then, MeterValues every few seconds while charging, hourly Heartbeats:
about 100,000 frames), checks it with the factory configuration (goal of issue 22: <= 10 s on
2 cores) and, with `--infer`, infers the configuration (goal: <= 60 s).  The sessions follow
the hand-written spec/examples/trace_ps2_day.log, not the model.
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


def busy_day(transactions: int = 200, sample: int = 3) -> str:
    """The day's log text: `transactions` sessions alternating between the two connectors
    (each connector busy about 80 % of the day), MeterValues every `sample` seconds while a
    connector charges, a Heartbeat every hour."""
    import datetime as dt
    import json
    day = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    pairs: list[tuple[float, list, list]] = []  # (time, CALL, answer): one exchange
    ids = iter(range(1, 10**7))

    def cp(t: float, action: str, payload: dict, answer: dict) -> None:
        uid = str(next(ids))
        pairs.append((t, [2, uid, action, payload], [3, uid, answer]))

    def cs(t: float, action: str, payload: dict, answer: dict) -> None:
        uid = f"cs-{next(ids)}"
        pairs.append((t, [2, uid, action, payload], [3, uid, answer]))

    def stamp(t: float) -> str:
        return (day + dt.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def status(t: float, c: int, s: str) -> None:
        cp(t, "StatusNotification", {"connectorId": c, "errorCode": "NoError", "status": s,
                                     "timestamp": stamp(t)}, {})

    cp(1, "BootNotification", {"chargePointVendor": "Bender GmbH Co. KG",
                               "chargePointModel": "CC613"},
       {"currentTime": stamp(1), "interval": 3600, "status": "Accepted"})
    for c in (1, 2):
        status(2 + c, c, "Available")
    for h in range(1, 24):
        cp(h * 3600 + 0.5, "Heartbeat", {}, {"currentTime": stamp(h * 3600)})
    per = transactions // 2
    slot = 86000 / per
    meter = {1: 1_000_000, 2: 2_000_000}
    tx = 5000
    for k in range(per):
        for c in (1, 2):
            t = 60 + k * slot + (c - 1) * slot / 3
            tag = f"04{k:06x}{c:02x}a1b2c3"
            remote = (k + c) % 4 == 0
            if k % 9 == 4:  # a card the central system refuses first
                cp(t, "Authorize", {"idTag": "5c1e9a03"}, {"idTagInfo": {"status": "Invalid"}})
                t += 20
            if remote:
                tag = f"APP{k:05d}{c}"
                cs(t, "RemoteStartTransaction", {"connectorId": c, "idTag": tag},
                   {"status": "Accepted"})
            cp(t + 1, "Authorize", {"idTag": tag}, {"idTagInfo": {"status": "Accepted"}})
            tx += 1
            cp(t + 2, "StartTransaction", {"connectorId": c, "idTag": tag,
                                           "meterStart": meter[c], "timestamp": stamp(t)},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": tx})
            status(t + 3, c, "Preparing")
            status(t + 15, c, "Charging")
            end = t + 0.8 * slot
            u = t + 15 + sample
            while u < end - 5:
                meter[c] += 28
                cp(u, "MeterValues", {"connectorId": c, "transactionId": tx, "meterValue": [
                    {"timestamp": stamp(u), "sampledValue": [
                        {"value": str(meter[c]), "measurand": "Energy.Active.Import.Register",
                         "unit": "Wh"}]}]}, {})
                u += sample
            if remote:
                cs(end, "RemoteStopTransaction", {"transactionId": tx}, {"status": "Accepted"})
                cp(end + 1, "StopTransaction", {"meterStop": meter[c], "timestamp": stamp(end),
                                                "transactionId": tx, "reason": "Remote"}, {})
            else:
                cp(end + 1, "StopTransaction", {"meterStop": meter[c], "timestamp": stamp(end),
                                                "transactionId": tx,
                                                "reason": "EVDisconnected"}, {})
            status(end + 2, c, "Finishing")
            status(end + 30, c, "Available")
    pairs.sort(key=lambda p: p[0])
    lines = []
    for t, call, answer in pairs:
        when = (day + dt.timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        inbound = not str(call[1]).startswith("cs-")
        for msg, word in ((call, "receive message" if inbound else "send"),
                          (answer, "send" if inbound else "receive message")):
            lines.append(f"{when} INFO:ocpp:PS2-0042: {word} "
                         f"{json.dumps(msg, separators=(',', ':'))}")
    return "\n".join(lines) + "\n"


def bench_day(infer_too: bool) -> None:
    engine = Engine()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.log"
        path.write_text(busy_day())
        t0 = time.perf_counter()
        log = read_log(path)
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        verdicts, skipped, _ = check(engine, engine.config(), log)
        s = time.perf_counter() - t0
        starts = sum(1 for f in log.frames if f.kind == 2 and f.action == "StartTransaction")
        n = len(log.frames)
        print(f"busy day: {n} frames, {starts} transactions, 2 connectors "
              f"({skipped.get('MeterValues', 0)} MeterValues skipped); read in {read:.1f} s, "
              f"checked in {s:.1f} s = {n / s:.0f} frames/s (read and check: {read + s:.1f} s); "
              f"explained: {[v.explained for v in verdicts]}")
        if infer_too:
            from chargespec.trace.infer import infer
            t0 = time.perf_counter()
            res = infer(engine, log, {}, 3)
            s = time.perf_counter() - t0
            print(f"--infer-config: {s:.1f} s, {res.checks} configurations checked, "
                  f"{len(res.open)} parameters left open, explained: {res.config is not None}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--day", action="store_true", help="the busy dual-station day instead")
    ap.add_argument("--infer", action="store_true", help="with --day: --infer-config too")
    args = ap.parse_args()
    if args.day:
        bench_day(args.infer)
        return
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
