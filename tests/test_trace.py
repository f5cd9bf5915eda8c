"""`chargespec trace` (chargespec/trace/): logs written by the virtual charge point are
explained; each mutation of such a log is flagged at the mutated frame or the first frame after
it that rules out every run (a dropped message shows when the one after it comes); the three
log forms are read alike and every broken line is reported with its number."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from chargespec.cli import main
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


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record(path: Path, steps, config: dict | None = None) -> Path:
    """The virtual charge point's frame log of `steps`, the runner as its central system."""
    port = _free_port()
    extra = "".join(f" --set {k}={('On' if v else 'Off') if isinstance(v, bool) else v}"
                    for k, v in (config or {}).items())
    driver = (f"{sys.executable} -m chargespec virtual-cp --csms ws://127.0.0.1:{port} --id CP1"
              f" --connectors 1 --log {path}{extra}")
    adapter = make_adapter(f"ocppj:listen=127.0.0.1:{port},id=CP1,keys=driver,"
                           f"driver=stdio:{driver}", timeout=5.0)
    try:
        for name, fields in steps:
            try:  # an answer to a CALL this configuration does not send: left out
                adapter.step({"name": name, **fields})
            except StepUnsupported:
                continue
    finally:
        adapter.close()
    return path


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.fixture(scope="module")
def session_log(tmp_path_factory):
    return record(tmp_path_factory.mktemp("trace") / "session.jsonl", SESSION)


def verdict(engine, path: Path, **config):
    log = read_log(path)
    assert log.problems == []
    verdicts, _, _ = check(engine, engine.config(config), log)
    assert len(verdicts) == 1
    return verdicts[0], log


def test_a_virtual_charge_point_session_is_explained(engine, session_log):
    v, log = verdict(engine, session_log)
    assert v.explained, (v.why, v.allowed)
    run = [label for label, _ in v.events]
    # the physical events the wire never shows are inferred, in order
    assert run.index("rfid(CARD_A)") < run.index("authorize_conf(Accepted)")
    assert "remote_start(CARD_B)" in run and "remote_stop(2)" in run
    assert log.format == "jsonl"


@pytest.mark.parametrize("config", [
    {"stop_transaction_mode": "OnlyByRfidOrRemoteStop"},
    {"send_authorize_for_remote_start": False,
     "status_notification_strategy": "OccupiedOnAuthorizedOrPlugged"},
])
def test_logs_under_other_configurations_are_explained_under_them(engine, tmp_path, config):
    path = record(tmp_path / "log.jsonl", SESSION, config)
    v, _ = verdict(engine, path, **config)
    assert v.explained, (v.why, v.allowed)


def _frames(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, entries: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path


def _find(entries, action: str, nth: int = 0, **fields) -> int:
    hits = [i for i, e in enumerate(entries)
            if (m := json.loads(e["frame"]))[0] == 2 and m[2] == action
            and all(m[3].get(k) == v for k, v in fields.items())]
    return hits[nth]


def _edit(entries, i: int, **fields) -> list[dict]:
    out = [dict(e) for e in entries]
    m = json.loads(out[i]["frame"])
    m[3].update(fields)
    out[i]["frame"] = json.dumps(m)
    return out


def _mutations(entries):
    """(name, mutated log entries, the 1-based line of the mutated frame)."""
    fin = _find(entries, "StatusNotification", status="Finishing")
    stop = _find(entries, "StopTransaction")
    start = _find(entries, "StartTransaction")
    charging = _find(entries, "StatusNotification", status="Charging")
    yield "status swapped", _edit(entries, charging, status="SuspendedEVSE"), charging + 1
    yield "stop reason changed", _edit(entries, stop, reason="Local"), stop + 1
    yield "Finishing dropped", entries[:fin] + entries[fin + 2:], fin + 1
    extra = [dict(e) for e in entries[start:start + 2]]
    yield "extra StartTransaction", entries[:start + 2] + extra + entries[start + 2:], start + 3
    yield "idTag changed", _edit(entries, start, idTag="CARD_X"), start + 1
    # the StopTransaction (and its answer) before the Charging that came before it
    swapped = entries[:charging] + entries[stop:stop + 2] + entries[charging:stop] \
        + entries[stop + 2:]
    yield "frames reordered", swapped, charging + 1


def test_every_mutation_of_the_log_is_flagged_at_or_after_the_mutated_frame(engine, session_log,
                                                                             tmp_path):
    """Flagged where it becomes certain: the mutated frame itself, or (a dropped frame) the
    first one after it that no run explains."""
    entries = _frames(session_log)
    for name, mutated, line in _mutations(entries):
        v, log = verdict(engine, _write(tmp_path / "m.jsonl", mutated))
        assert not v.explained, name
        assert v.frame.line >= line - 1, (name, v.frame.line, line)
        assert v.frame.line <= line + 2, (name, v.frame.line, line)
        assert v.allowed, name  # what the spec allowed there


def test_the_ocpp_logger_and_generic_forms_read_as_the_json_lines(engine, session_log,
                                                                  tmp_path):
    entries = _frames(session_log)
    # the central system's ocpp logger (its perspective: it receives the CP's CALLs)
    logger = tmp_path / "csms.log"
    logger.write_text("".join(
        f"{e['time']} INFO:ocpp:CP1: "
        f"{'receive message' if e['direction'] == 'send' else 'send'} {e['frame']}\n"
        for e in entries))
    generic = tmp_path / "generic.log"
    generic.write_text("".join(
        f"{e['time']} {'CP->CS' if e['direction'] == 'send' else 'CS->CP'} {e['frame']}\n"
        for e in entries))
    arrows = tmp_path / "arrows.log"
    arrows.write_text("".join(f"[{e['time']}] {'->' if e['direction'] == 'send' else '<-'} "
                              f"{e['frame']}\n" for e in entries))
    base = read_log(session_log)
    for path in (logger, generic, arrows):
        log = read_log(path)
        assert log.format == "text" and log.problems == []
        # the same frames, so the same verdict
        assert [(f.kind, f.action, f.origin, f.payload) for f in log.frames] == \
            [(f.kind, f.action, f.origin, f.payload) for f in base.frames]
    v, _ = verdict(engine, logger)
    assert v.explained


def test_broken_lines_are_reported_by_number_and_skipped(tmp_path, engine):
    path = tmp_path / "broken.log"
    path.write_text("\n".join([
        '2026-12-01T10:00:00Z CP->CS [2,"b1","BootNotification",{"chargePointVendor":"x",'
        '"chargePointModel":"y"}]',
        "a line with no frame",
        '2026-12-01T10:00:01Z CS->CP [3,"b1",{"status":"Accepted","currentTime":'
        '"2026-12-01T10:00:01Z","interval":300}]',
        '2026-12-01T10:00:02Z CP->CS [2,"h1","Heartbeat",{}',
        '2026-12-01T10:00:03Z CS->CP [3,"nobody",{}]',
        '2026-12-01T10:00:04Z CP->CS [2,"x1","FancyVendorThing",{}]',
        '2026-12-01T10:00:05Z CS->CP [4,"x1","NotImplemented","no",{}]',
        '2026-12-01T10:00:06Z CP->CS ' + "[" * 5000 + "]" * 5000,
        '2026-12-01T10:00:07Z CP->CS [2,"s1","StatusNotification",{"connectorId":1,'
        '"errorCode":"NoError","status":"Available"}]',
    ]) + "\n")
    log = read_log(path)
    assert [p.line for p in log.problems] == [2, 4, 5, 8]
    assert "no OCPP-J frame" in log.problems[0].message
    assert "not valid JSON" in log.problems[1].message
    assert "no CALL 'nobody'" in log.problems[2].message
    assert "OCPP-J" in log.problems[3].message or "deep" in log.problems[3].message
    verdicts, skipped, _ = check(engine, engine.config(), log)
    assert skipped == {"FancyVendorThing": 1}
    assert verdicts[0].explained
    # the command: problems on stderr, --strict makes them fatal
    assert main(["trace", str(path)]) == 0
    assert main(["trace", str(path), "--strict"]) == 2


def test_the_command_exits_as_every_command_and_writes_the_run(session_log, tmp_path, capsys):
    scenario = tmp_path / "run.yaml"
    assert main(["trace", str(session_log), "--scenario", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "connector 1: explained" in out
    # the inferred run replays: the same StopTransaction reasons as the log
    assert main(["simulate", str(scenario), "--json"]) == 0
    replay = json.loads(capsys.readouterr().out)
    reasons = [m["fields"]["reason"] for s in replay["steps"] for m in s["messages"]
               if m["action"] == "StopTransaction"]
    assert reasons == ["EVDisconnected", "Remote"]
    bad = _write(tmp_path / "bad.jsonl", _edit(_frames(session_log),
                                                _find(_frames(session_log), "StopTransaction"),
                                                reason="Local"))
    assert main(["trace", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["explained"] is False and doc["connectors"][0]["line"] > 1
    assert any("EVDisconnected" in a for a in doc["connectors"][0]["allowed"])
    assert main(["trace", str(tmp_path / "missing.log")]) == 2
    assert main(["trace", str(session_log), "--set", "stop_transaction_mode=Sometimes"]) == 2


# ---------------------------------------------------------------- a random run, explained
CENTRAL = {"remote_start", "remote_stop", "soft_reset", "clear_cache"}


def simulated_log(engine, config, events) -> list[dict]:
    """The frame log (charge point's perspective) of the virtual charge point's Station under
    `events`, with a central system that accepts everything and answers at once: each queued
    CALL goes out, is answered, and its answer is the model's event, as `virtual-cp` does."""
    from chargespec.virtual_cp import CONF_EVENTS, Station
    st = Station.start(engine, config, 1)
    st.reboot(config)
    entries: list[dict] = []
    uid = iter(range(10**6))
    tx = iter(range(1, 10**6))

    def frame(direction: str, msg: list) -> None:
        entries.append({"time": "2026-12-01T00:00:00Z", "direction": direction,
                        "frame": json.dumps(msg)})

    def flush() -> None:
        while st.outbox:
            n, m = st.outbox.pop(0)
            u = f"c{next(uid)}"
            frame("send", [2, u, m.action, st.payload(n, m)])
            body: dict = {}
            if m.action == "BootNotification":
                body = {"status": "Accepted", "currentTime": "2026-12-01T00:00:00Z",
                        "interval": 300}
            elif m.action == "Authorize":
                body = {"idTagInfo": {"status": "Accepted"}}
            elif m.action == "StartTransaction":
                t = next(tx)
                st.connectors[n].transaction_id = t
                body = {"transactionId": t, "idTagInfo": {"status": "Accepted"}}
            elif m.action == "Heartbeat":
                body = {"currentTime": "2026-12-01T00:00:00Z"}
            frame("receive", [3, u, body])
            if m.action in CONF_EVENTS:
                st.apply([n], CONF_EVENTS[m.action], status=body.get("status") or "Accepted")

    flush()
    for name, fields in events:
        if name in CENTRAL and not any(c.state.powered for c in st.connectors.values()):
            continue  # a station that is off has no connection: the request never reaches it
        if name in CENTRAL:
            u = f"s{next(uid)}"
            c = st.connectors[1]
            if name == "remote_start":
                frame("receive", [2, u, "RemoteStartTransaction",
                                  {"connectorId": 1, "idTag": fields["id_tag"]}])
            elif name == "remote_stop":
                frame("receive", [2, u, "RemoteStopTransaction",
                                  {"transactionId": c.transaction_id or 999}])
                fields = {"transaction": "current" if c.transaction_id else "other"}
            elif name == "soft_reset":
                frame("receive", [2, u, "Reset", {"type": "Soft"}])
            else:
                frame("receive", [2, u, "ClearCache", {}])
            results = st.apply([1], name, **fields)
            body = dict(results[0].fields) if results else {}
            frame("send", [3, u, {k: v for k, v in body.items() if v is not None}])
        else:
            st.apply([1], name, **fields)
        flush()
    return entries


EVENTS = [("plug", {}), ("unplug", {}), ("cable_removed", {}), ("ev_request_charge", {}),
          ("ev_pause", {}), ("rfid", {"uid": "CARD_A"}), ("rfid", {"uid": "CARD_B"}),
          ("remote_start", {"id_tag": "CARD_A"}), ("remote_stop", {}), ("power_loss", {}),
          ("power_return", {}), ("connection_timeout", {}), ("soft_reset", {}),
          ("clear_cache", {})]


@pytest.mark.parametrize("examples", [4, pytest.param(100, marks=pytest.mark.slow)])
def test_a_random_run_of_the_virtual_charge_point_is_explained_under_its_configuration(
        engine, tmp_path_factory, examples):
    """For all configurations of the settings that change what goes on the wire (stop mode,
    Local Pre Authorize, the StatusNotification strategy, Authorize for remote start) and
    random physical and central-system events, the run's log is explained (4 examples in
    make test, 100 in make test-slow: each check takes about half a second).  It found at
    once that a station that is off must not answer a RemoteStart: its log generator's bug,
    not the checker's."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=examples, deadline=None, database=None)
    @given(config=st.fixed_dictionaries({
        "stop_transaction_mode": st.sampled_from(["Normal", "NormalModeDRcd",
                                                  "OnlyByRfidOrRemoteStop"]),
        "local_pre_authorize": st.booleans(),
        "status_notification_strategy": st.sampled_from(["OccupiedOnCharging",
                                                         "OccupiedOnAuthorizedOrPlugged"]),
        "send_authorize_for_remote_start": st.booleans()}),
        events=st.lists(st.sampled_from(EVENTS), max_size=12))
    def prop(config, events):
        path = tmp_path_factory.mktemp("rand") / "log.jsonl"
        _write(path, simulated_log(engine, engine.config(config), events))
        v, _ = verdict(engine, path, **config)
        assert v.explained, (config, events, v.why, v.frame, v.allowed[:3])
    prop()


def test_get_configuration_answers_pin_the_parameters_they_show(engine, tmp_path):
    """--infer-config starts from what the log's GetConfiguration answers show (before any
    ChangeConfiguration): those parameters are not searched."""
    from chargespec.trace.infer import log_pins
    path = tmp_path / "getconf.log"
    path.write_text("\n".join([
        '2026-12-01T10:00:00Z CS->CP [2,"g1","GetConfiguration",{"key":["ConnectionTimeOut",'
        '"LocalPreAuthorize","NoSuchKey"]}]',
        '2026-12-01T10:00:01Z CP->CS [3,"g1",{"configurationKey":[{"key":"ConnectionTimeOut",'
        '"readonly":false,"value":"90"},{"key":"LocalPreAuthorize","readonly":false,'
        '"value":"true"}],"unknownKey":["NoSuchKey"]}]',
        '2026-12-01T10:00:02Z CS->CP [2,"c1","ChangeConfiguration",{"key":"ConnectionTimeOut",'
        '"value":"30"}]',
        '2026-12-01T10:00:03Z CP->CS [3,"c1",{"status":"Accepted"}]',
        '2026-12-01T10:00:04Z CS->CP [2,"g2","GetConfiguration",{"key":["ConnectionTimeOut"]}]',
        '2026-12-01T10:00:05Z CP->CS [3,"g2",{"configurationKey":[{"key":"ConnectionTimeOut",'
        '"readonly":false,"value":"30"}]}]']) + "\n")
    log = read_log(path)
    assert log.problems == []
    assert log_pins(engine, log) == {"vehicle_connection_timeout": 90,
                                     "local_pre_authorize": True}


@pytest.mark.slow  # about 40 configurations checked against the log: a minute
def test_infer_config_narrows_the_stop_mode_to_those_the_log_allows(engine, session_log):
    """The session log (factory defaults: Normal) ends its first transaction with a
    StopTransaction(EVDisconnected) at an unplug: the inference explains the log, keeps the
    true stop mode among the consistent ones and rules out "Only by RFID or RemoteStop" (an
    unplug never stops there) with the frame that did; what the wire cannot show stays open
    (Normal and Normal-with-RCD look alike here)."""
    from chargespec.trace.infer import infer
    res = infer(engine, read_log(session_log), {}, 3)
    assert res.config is not None
    consistent = res.open.get("stop_transaction_mode") or \
        [res.determined["stop_transaction_mode"][0]]
    assert "Normal" in consistent and "OnlyByRfidOrRemoteStop" not in consistent
    # a parameter the log fixes is named with the frame that ruled out its other values
    assert all(line > 0 for _, line in res.determined.values())
    assert res.determined["free_charging"][0] is False
    # the page shows the configuration: determined (by line) and open
    out = session_log.parent / "inferred"
    assert main(["trace", str(session_log), "--infer-config", "--report", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "<td>free_charging</td><td>False</td><td>line " in page
    assert "<td>stop_transaction_mode</td><td>any of " in page


def test_the_report_draws_the_log_with_the_inferred_events_and_the_bad_frame(session_log,
                                                                             tmp_path):
    """--report DIR: one self-contained page; inferred events dashed from the vehicle's
    lifeline, the first unexplained frame red, what the log holds escaped (an idTag with
    markup in it stays text)."""
    entries = _frames(session_log)
    stop = _find(entries, "StopTransaction")
    bad = _edit(entries, stop, reason="Local")
    auth = _find(bad, "Authorize")
    planted = '<script>alert(1)</script>'
    bad = _edit(bad, auth, idTag=planted)
    path = _write(tmp_path / "bad.jsonl", bad)
    out = tmp_path / "report"
    assert main(["trace", str(path), "--report", str(out)]) == 1
    page = (out / "index.html").read_text()
    assert planted not in page and "&lt;script&gt;" in page
    assert "<script" not in page.lower()
    assert 'stroke-dasharray="5,4"' in page  # inferred events
    assert page.count('stroke="#c00"') == 1  # the one unexplained frame
    assert "the first frame no behaviour explains" in page
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_a_day_in_the_ocpp_loggers_format_is_explained(engine, capsys):
    """spec/examples/trace_day_ocpp.log: a day of a charger (six sessions of two transactions,
    a Heartbeat and a MeterValues every few frames) as the central system's `ocpp` logger wrote
    it, with the websockets server's own lines in between: those are reported by number and
    skipped, Heartbeat and MeterValues are counted and skipped, the rest is explained."""
    path = Path(__file__).resolve().parents[1] / "spec" / "examples" / "trace_day_ocpp.log"
    log = read_log(path)
    assert log.format == "text"
    assert [(p.line, p.message) for p in log.problems] == [
        (1, "no OCPP-J frame on this line"), (2, "no OCPP-J frame on this line")]
    verdicts, skipped, _ = check(engine, engine.config(), log)
    assert skipped["Heartbeat"] == skipped["MeterValues"] > 30
    assert verdicts[0].explained
    assert sum(label.startswith("remote_stop") for label, _ in verdicts[0].events) == 6
    assert main(["trace", str(path)]) == 0
    assert "2: no OCPP-J frame" in capsys.readouterr().err


def test_lag_bounds_how_late_a_queued_call_may_go_out(engine):
    """In the day log frames are minutes apart, so a CALL the model queued behind another (the
    StatusNotification behind a StartTransaction awaiting its answer) goes out minutes after it
    was queued: explained without a bound and with --lag of a day, not with --lag 60."""
    from chargespec.trace.check import seconds
    assert seconds("2026-11-30 06:02:17,000") == seconds("2026-11-30T06:02:17Z")
    assert seconds("2026-11-30T07:02:17+01:00") == seconds("2026-11-30T06:02:17Z")
    assert seconds("yesterday") is None and seconds(None) is None
    path = Path(__file__).resolve().parents[1] / "spec" / "examples" / "trace_day_ocpp.log"
    log = read_log(path)
    assert check(engine, engine.config(), log, lag=86400)[0][0].explained
    late = check(engine, engine.config(), log, lag=60)[0][0]
    assert not late.explained and late.frame.action == "StatusNotification"
    assert main(["trace", str(path), "--lag", "-1"]) == 2


PS2_DAY = Path(__file__).resolve().parents[1] / "spec" / "examples" / "trace_ps2_day.log"


def test_a_hand_written_day_of_a_dual_station_is_explained(engine):
    """spec/examples/trace_ps2_day.log, written by hand from the manual and OCPP 1.6 (not by
    the virtual charge point): a two-connector station seen from a central system built on the
    `ocpp` package, 05:58 to 23:30 - boot, GetConfiguration and ChangeConfiguration, two
    interleaved sessions (card; remote start and stop), a refused 4-byte card then a 10-byte
    one stopped by the same card, a DataTransfer the central system answers with a CALLERROR,
    hourly Heartbeats, MeterValues every 15 minutes, a nightly soft Reset after which the
    charge point numbers its messages from 1 again.  Every connector is explained; the
    central system's own log lines are reported by number."""
    log = read_log(PS2_DAY)
    assert log.format == "text" and len(log.frames) == 212
    assert [p.line for p in log.problems] == [1, 2, 3, 30, 73, 131, 207, 210, 211, 212, 213]
    verdicts, skipped, notes = check(engine, engine.config(), log)
    assert skipped == {"Heartbeat": 17, "MeterValues": 45, "DataTransfer": 1,
                       "StatusNotification (connector 0)": 2} and notes == []
    assert [(v.connector, v.explained) for v in verdicts] == [(1, True), (2, True)]
    one, two = ([label for label, _ in v.events] for v in verdicts)
    refused = one.index("rfid(5c1e9a03)")
    assert one[refused + 1] == "authorize_conf(Invalid)"
    assert one.count("rfid(04d9e8f7a6b5c4d3e2f1)") == 2  # start, then stop with the same card
    assert "remote_start(APP7F3A9C)" in two and "remote_stop(48212)" in two
    assert "get_configuration" in one and "get_configuration" not in two  # the station's
    for run in (one, two):  # an accepted BootNotification.conf's interval is HeartbeatInterval
        assert run.count("heartbeat_interval(3600)") == 2 and run.count("soft_reset") == 1


def _ps2_edit(tmp_path: Path, where: str, old: str | None, new: str | None) -> tuple[Path, int]:
    """The day log with `old` replaced by `new` on the first line containing `where` (the line
    and its answer dropped when `new` is None); the edited line's number."""
    lines = PS2_DAY.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if where in line)
    if new is None:
        del lines[n:n + 2]
    else:
        lines[n] = lines[n].replace(old, new, 1)
    path = tmp_path / "day.log"
    path.write_text("\n".join(lines) + "\n")
    return path, n + 1


@pytest.mark.parametrize("where, old, new, connector, shift", [
    ('"status":"SuspendedEV"', "SuspendedEV", "SuspendedEVSE", 1, 0),  # a status swapped
    ('"reason":"Remote"', "Remote", "Local", 2, 0),  # a stop reason changed
    ('"idTag":"5c1e9a03"', "5c1e9a03", "5C1E9A03", 1, 0),  # the letter case broken
    ('"transactionId":48213,"reason"', "48213", "48299", 1, 0),  # a stop for another tx
    ('"connectorId":2,"errorCode":"NoError","status":"Finishing"', None, None, 2, 0),  # dropped:
    # shows at the next StatusNotification of connector 2, which takes the dropped one's line
])
def test_mutations_of_the_hand_written_day_are_flagged(engine, tmp_path, where, old, new,
                                                        connector, shift):
    path, line = _ps2_edit(tmp_path, where, old, new)
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    bad = [v for v in verdicts if not v.explained]
    assert [v.connector for v in bad] == [connector]
    assert bad[0].frame.line == line + shift


def test_the_boot_intervals_heartbeat_is_what_get_configuration_then_shows(engine, tmp_path):
    """The day's GetConfiguration answers HeartbeatInterval 3600, the interval the
    BootNotification.conf before it gave (OCPP 1.6 §4.2).  With another interval in the
    BootNotification.conf, that answer is the first frame no behaviour explains, and the report
    names the key and both values; the letter case the idTags show is one the check honours."""
    path, _ = _ps2_edit(tmp_path, '"interval":3600', '"interval":3600', '"interval":300')
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    assert not verdicts[0].explained and verdicts[0].frame.action == "GetConfiguration"
    assert any("HeartbeatInterval='300' (the charge point: '3600')" in a
               for a in verdicts[0].allowed)
    log = read_log(PS2_DAY)
    upper = check(engine, engine.config({"rfid_tag_letter_case": "UpperCase"}), log)[0]
    assert not upper[0].explained and upper[0].frame.action == "Authorize"
    reversed_ = check(engine, engine.config({"rfid_tag_letter_case": "LowerCaseReversed"}),
                      log)[0]
    assert all(v.explained for v in reversed_)  # the reader saw the bytes the other way round
    assert "rfid(80e3d2c1b2a304)" in [label for label, _ in reversed_[0].events]


def _ps2_insert(tmp_path: Path, after: str, lines: list[str]) -> Path:
    text = PS2_DAY.read_text().splitlines()
    k = next(i for i, line in enumerate(text) if after in line)
    text[k + 2:k + 2] = lines  # after that CALL and its answer
    path = tmp_path / "day.log"
    path.write_text("\n".join(text) + "\n")
    return path


def test_a_card_no_transaction_follows_goes_to_the_connector_that_explains_it(engine, tmp_path):
    """A refused card's Authorize names no connector.  At 14:32 connector 1 is Finishing (no
    transaction; it ignores cards) and connector 2 idle: tried at connector 1 first (the lower
    number among those without a transaction), it is explained at connector 2.  At 09:12
    connector 2 is Finishing and connector 1 charges (another card is ignored then, §5.1):
    neither explains it, and it is reported where it was tried first."""
    refused = ['2026-11-30 14:32:00,100 INFO:ocpp:PS2-0042: receive message '
               '[2,"900","Authorize",{"idTag":"deadbeef"}]',
               '2026-11-30 14:32:00,300 INFO:ocpp:PS2-0042: send '
               '[3,"900",{"idTagInfo":{"status":"Invalid"}}]']
    path = _ps2_insert(tmp_path, '"status":"Finishing","timestamp":"2026-11-30T14:31:18Z"',
                       refused)
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    assert all(v.explained for v in verdicts)
    assert "rfid(deadbeef)" in [label for label, _ in verdicts[1].events]
    assert "rfid(deadbeef)" not in [label for label, _ in verdicts[0].events]
    path = _ps2_insert(tmp_path, '"status":"Finishing","timestamp":"2026-11-30T09:11:36Z"',
                       [line.replace("14:32", "09:12") for line in refused])
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    assert [(v.connector, v.explained) for v in verdicts] == [(1, True), (2, False)]
    assert verdicts[1].frame.payload == {"idTag": "deadbeef"}


def test_a_found_run_is_followed_under_another_configuration_without_a_search(engine):
    """--infer-config confirms a parameter's other value by following the run it found (no
    search): it holds where the setting changes nothing the log shows, and fails where it does
    (UpperCase writes the cards' idTags in capitals)."""
    from chargespec.trace.check import Checker
    verdicts, _, _ = check(engine, engine.config(), read_log(PS2_DAY))

    def follows(**values):
        return [Checker(engine, engine.config(values), ()).follow(v) for v in verdicts]
    assert follows() == [True, True]
    assert follows(lock_actuator_only_if_authorized=True) == [True, True]
    assert follows(rfid_tag_letter_case="UpperCase") == [False, False]
    assert follows(stop_transaction_mode="StopOnlyByDisconnecting")[0] is False  # the card stop


def test_the_benchmarks_busy_day_is_explained(engine, tmp_path):
    """bench/trace.py --day's generator at a tenth of the size: two connectors overlapping,
    refused cards while the other connector charges, remote sessions: explained."""
    import importlib.util
    where = Path(__file__).resolve().parents[1] / "bench" / "trace.py"
    spec = importlib.util.spec_from_file_location("bench_trace", where)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    busy_day = bench.busy_day
    path = tmp_path / "day.log"
    path.write_text(busy_day(transactions=20, sample=120))
    log = read_log(path)
    assert log.problems == []
    verdicts, skipped, _ = check(engine, engine.config(), log)
    assert [v.explained for v in verdicts] == [True, True]
    assert sum(f.action == "StartTransaction" for f in log.frames if f.kind == 2) == 20


AUTHORIZE = '[2,"5","Authorize",{"idTag":"04a3b2c1d2e380"}]'
ACCEPTED = '[3,"5",{"idTagInfo":{"status":"Accepted"}}]'


@pytest.mark.parametrize("name, text", [
    ("steve.log",  # a Java central system's WebSocket logger
     f"[INFO ] 2026-11-30 06:47:05,118 de.rwth.idsg.steve.ocpp.ws.WebSocketLogger "
     f"(WebSocketLogger.java:53) - [chargeBoxId=PS2-0042, sessionId=7f3a] Received: {AUTHORIZE}\n"
     f"[INFO ] 2026-11-30 06:47:05,402 de.rwth.idsg.steve.ocpp.ws.WebSocketLogger "
     f"(WebSocketLogger.java:57) - [chargeBoxId=PS2-0042, sessionId=7f3a] Sent: {ACCEPTED}\n"),
    ("export.csv",  # a spreadsheet export: quoted frames, their quotes doubled
     "time,direction,frame,note\n"
     f'2026-11-30 06:47:05,received,"{AUTHORIZE.replace(chr(34), chr(34) * 2)}",card\n'
     f'2026-11-30 06:47:06,sent,"{ACCEPTED.replace(chr(34), chr(34) * 2)}",\n'),
    ("other.jsonl",  # another tool's JSON lines: other keys, the frame as a string or array
     json.dumps({"timestamp": "2026-11-30T06:47:05Z", "dir": "incoming", "message": AUTHORIZE})
     + "\n" + json.dumps({"@timestamp": "2026-11-30T06:47:06Z", "way": "outgoing",
                          "payload": json.loads(ACCEPTED)}) + "\n"),
])
def test_other_tools_logs_read_as_ours(tmp_path, name, text):
    """Logs of a central system's side written by other software read to the same frames:
    the Authorize from the charge point, its answer from the central system."""
    path = tmp_path / name
    path.write_text(text)
    log = read_log(path)
    assert [(f.kind, f.action, f.origin, f.payload) for f in log.frames] == [
        (2, "Authorize", "cp", {"idTag": "04a3b2c1d2e380"}),
        (3, "Authorize", "cs", {"idTagInfo": {"status": "Accepted"}})]
    assert all(f.time and f.time.startswith("2026-11-30") for f in log.frames)
    assert [p.line for p in log.problems] == ([1] if name.endswith(".csv") else [])


def test_a_callerror_to_a_request_the_spec_answers_is_flagged_at_the_request(engine, tmp_path):
    """The Powerstation TWO answers RemoteStartTransaction (§5.1); a charge point that
    answers it with a CALLERROR did not take it: flagged at the request, the error named."""
    path = tmp_path / "day.log"
    text = PS2_DAY.read_text().splitlines()
    k = next(i for i, t in enumerate(text) if '"RemoteStartTransaction"' in t)
    text[k + 1] = text[k + 1].split("[3,")[0] + \
        '[4,"7e4d9b1a-2c6f-4a83-b5e0-9f1d3a6c8e27","NotImplemented","",{}]'
    path.write_text("\n".join(text) + "\n")
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    bad = [v for v in verdicts if not v.explained]
    assert [v.connector for v in bad] == [2] and bad[0].frame.line == k + 1
    assert "'CALLERROR': 'NotImplemented'" in bad[0].why


def test_a_frame_for_no_connector_of_the_station_is_noted(engine, tmp_path):
    text = PS2_DAY.read_text().replace('"connectorId":2,"errorCode":"NoError","status":"Finishing"',
                                       '"connectorId":null,"errorCode":"NoError","status":"Finishing"', 1)
    path = tmp_path / "day.log"
    path.write_text(text)
    _, _, notes = check(engine, engine.config(), read_log(path))
    assert any("connectorId None is none of the station's connectors [1, 2]" in n for n in notes)


def test_a_log_cut_out_of_a_longer_one_begins_mid_run(engine, tmp_path, capsys):
    """Field logs seldom begin at the boot.  The day from 07:29 on (connector 1 charging since
    06:47, its StartTransaction before the log): the state before the first frame is inferred
    from events whose messages came before the log, and the rest is checked as usual - a
    changed stop reason in the cut is still flagged at its frame."""
    lines = PS2_DAY.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if "07:29:51,300" in line)
    path = tmp_path / "cut.log"
    path.write_text("\n".join(lines[k:]) + "\n")
    verdicts, _, notes = check(engine, engine.config(), read_log(path))
    assert all(v.explained and v.warm for v in verdicts)
    assert any(label.startswith("before the log: ") for label, _ in verdicts[0].events)
    assert any("48211, which no StartTransaction in the log got" in n for n in notes)
    assert main(["trace", str(path)]) == 0
    assert "the log begins mid-run" in capsys.readouterr().out
    bad = [line.replace('"reason":"Remote"', '"reason":"Local"') for line in lines[k:]]
    path.write_text("\n".join(bad) + "\n")
    verdicts, _, _ = check(engine, engine.config(), read_log(path))
    wrong = [v for v in verdicts if not v.explained]
    assert [v.connector for v in wrong] == [2]
    assert wrong[0].frame.payload.get("reason") == "Local"
    assert not check(engine, engine.config(), read_log(PS2_DAY))[0][0].warm  # from its boot


def test_a_frame_printed_over_several_lines_is_read_as_one(tmp_path):
    """A logger that pretty-prints JSON spreads a frame over lines: joined until its brackets
    close (the lines that start a new record are never taken), read as one frame at its first
    line; a frame cut short is still reported at its line."""
    path = tmp_path / "pretty.log"
    path.write_text(
        "2026-11-30 06:47:05,118 INFO:ocpp:PS2-0042: receive message [\n  2,\n  \"5\",\n"
        "  \"Authorize\",\n  {\n    \"idTag\": \"04a3b2c1d2e380\"\n  }\n]\n"
        f"2026-11-30 06:47:05,402 INFO:ocpp:PS2-0042: send {ACCEPTED}\n"
        "2026-11-30 06:47:06,000 INFO:ocpp:PS2-0042: receive message [2, \"6\", "
        "\"StartTransaction\", {\"connectorId\": 1,\n"
        "2026-11-30 06:47:07,000 INFO:ocpp:PS2-0042: send [3, \"6\", {\"transactionId\": 1}]\n")
    log = read_log(path)
    assert [(f.line, f.kind, f.action, f.origin) for f in log.frames] == [
        (1, 2, "Authorize", "cp"), (9, 3, "Authorize", "cs")]
    assert [p.line for p in log.problems] == [10, 11]
    many = tmp_path / "unfinished.log"  # every line opens a frame that never closes
    many.write_text('[2,"0","Authorize",{"idTag": [\n' * 5000)
    assert len(read_log(many).problems) == 5000


def test_every_session_of_a_long_log_is_judged_past_the_first_deviation(engine, tmp_path):
    """A log with a deviation in the morning on connector 2 (a wrong stop reason) and one at
    noon on connector 1 (a wrong status): each flagged at its frame, and past each the check
    resumes where the connector is idle again, the later sessions explained to the end; a
    second deviation on the same connector after an idle point is found too."""
    text = PS2_DAY.read_text().replace('"reason":"Remote"', '"reason":"Local"', 1)
    text = text.replace('"status":"Preparing","timestamp":"2026-11-30T12:10:40Z"',
                        '"status":"SuspendedEVSE","timestamp":"2026-11-30T12:10:40Z"', 1)
    path = tmp_path / "two.log"
    path.write_text(text)
    verdicts, _, _ = check(engine, engine.config(), read_log(path), resync=True)
    one, two = verdicts
    assert one.frame.payload.get("status") == "SuspendedEVSE" and one.later == []
    assert two.frame.payload.get("reason") == "Local" and two.later == []
    assert one.tail_explained and two.tail_explained and one.resumed and two.resumed
    # connector 2's afternoon session with a wrong reason too: found after the idle point
    text = text.replace('"transactionId":48214,"reason":"EVDisconnected"',
                        '"transactionId":48214,"reason":"Local"', 1)
    path.write_text(text)
    verdicts, _, _ = check(engine, engine.config(), read_log(path), resync=True)
    later = verdicts[1].later
    assert len(later) == 1 and "reason=Local" in later[0][1]
    assert later[0][0] == next(n for n, line in enumerate(text.splitlines(), 1)
                               if '"transactionId":48214,"reason":"Local"' in line)
    assert main(["trace", str(path)]) == 1
