"""The virtual Powerstation TWO (chargespec/virtual_cp.py) against a central system written
here with the `ocpp` package's own ChargePoint and routing, over loopback WebSocket: it boots,
registers, answers the central system's calls as the model does, sends the model's CALLs one at
a time with the fields a real charge point adds, and every frame it sends is valid against the
official OCPP 1.6 schemas."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result

from chargespec import ocpp16
from chargespec.virtual_cp import open_station

TIMEOUT = 10.0


class CentralSystem(ChargePoint):
    """A small CSMS: records every CALL, answers as told (Accepted by default)."""

    def __init__(self, *args: Any, boot_status: str = "Accepted", auth: str = "Accepted",
                 **kw: Any):
        super().__init__(*args, **kw)
        self.calls: list[tuple[str, dict]] = []
        self.boot_status, self.auth = boot_status, auth
        self.next_tx = 40

    @on("BootNotification")
    def boot(self, **kw):
        self.calls.append(("BootNotification", kw))
        return call_result.BootNotification(current_time="2026-12-01T00:00:00Z", interval=300,
                                            status=self.boot_status)

    @on("StatusNotification")
    def status(self, **kw):
        self.calls.append(("StatusNotification", kw))
        return call_result.StatusNotification()

    @on("Heartbeat")
    def heartbeat(self, **kw):
        self.calls.append(("Heartbeat", kw))
        return call_result.Heartbeat(current_time="2026-12-01T00:00:00Z")

    @on("Authorize")
    def authorize(self, **kw):
        self.calls.append(("Authorize", kw))
        return call_result.Authorize(id_tag_info={"status": self.auth})

    @on("StartTransaction")
    def start_tx(self, **kw):
        self.calls.append(("StartTransaction", kw))
        self.next_tx += 1
        return call_result.StartTransaction(transaction_id=self.next_tx,
                                            id_tag_info={"status": "Accepted"})

    @on("StopTransaction")
    def stop_tx(self, **kw):
        self.calls.append(("StopTransaction", kw))
        return call_result.StopTransaction()

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]

    def statuses(self, connector: int) -> list[str]:
        return [kw["status"] for a, kw in self.calls
                if a == "StatusNotification" and kw["connector_id"] == connector]


async def _session(engine, body, connectors: int = 2, log=None, line_amps=None, **csms_kw):
    """Serve a CentralSystem on 127.0.0.1 (a free port), connect the virtual charge point,
    run body(cp, csms), close everything."""
    ready: asyncio.Future = asyncio.get_running_loop().create_future()
    sent_frames: list[str] = []

    async def handler(ws):
        cs = CentralSystem(ws.request.path.strip("/"), ws, **csms_kw)
        ready.set_result(cs)
        try:
            await cs.start()
        except websockets.exceptions.ConnectionClosed:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        cp, ws, tasks, frames = await open_station(f"ws://127.0.0.1:{port}", "CP1", engine,
                                                   engine.config(), connectors, log,
                                                   line_amps=line_amps)
        original = cp._connection.send

        async def spy(frame: str) -> None:
            sent_frames.append(frame)
            await original(frame)
        cp._connection.send = spy
        try:
            cs = await asyncio.wait_for(ready, TIMEOUT)
            assert await cp.settle(TIMEOUT)
            await body(cp, cs)
            assert await cp.settle(TIMEOUT)
            await asyncio.sleep(0.05)
        finally:
            for t in tasks:
                t.cancel()
            await ws.close()
            frames.close()
    return cp, cs, sent_frames


def run_session(engine, body, **kw):
    return asyncio.run(asyncio.wait_for(_session(engine, body, **kw), 60))


async def _event(cp, connector: int, name: str, **fields) -> dict:
    answer = await cp.control({"type": "event", "connector": connector,
                               "event": {"name": name, **fields}})
    assert answer["type"] == "observation", answer
    assert await cp.settle(TIMEOUT)
    return answer


def _valid_frames(frames: list[str]) -> None:
    """Every CALL the charge point sent is valid against the official schema (with the RFC 3339
    timestamps `ocpp16` checks); the `ocpp` package validates its CALLRESULTs before sending."""
    calls = [json.loads(raw) for raw in frames]
    for _, _, action, payload in (m for m in calls if m[0] == 2):
        assert not ocpp16.validation_errors(action, "call", payload), (action, payload)
    assert any(m[0] == 2 for m in calls)


def test_it_boots_registers_and_reports_each_connector(engine):
    async def body(cp, cs):
        pass
    cp, cs, frames = run_session(engine, body)
    assert cs.actions()[0] == "BootNotification"
    assert cs.actions().count("BootNotification") == 1  # the station's, not one per connector
    boot = cs.calls[0][1]
    assert boot["charge_point_vendor"] and boot["charge_point_model"]
    # after the acceptance, each connector's status (BOOT-REGISTRATION)
    assert cs.statuses(1) == ["Available"] and cs.statuses(2) == ["Available"]
    assert cp.heartbeat_interval == 300
    _valid_frames(frames)


def test_a_card_session_runs_over_the_wire(engine):
    async def body(cp, cs):
        await _event(cp, 2, "plug")
        answer = await _event(cp, 2, "rfid", uid="CARD_A")
        assert [m["action"] for m in answer["observation"]["messages"]] == ["Authorize"]
        await _event(cp, 2, "ev_request_charge")
        assert cp.station.connectors[2].transaction_id == 41
        assert cp.station.connectors[2].last.contactor == "closed"
        assert cp.station.connectors[1].last.status == "Available"  # the other connector
        await _event(cp, 2, "rfid", uid="CARD_A")  # the same card ends it (Normal mode)
    cp, cs, frames = run_session(engine, body)
    acts = [a for a in cs.actions() if a not in ("BootNotification", "StatusNotification")]
    assert acts == ["Authorize", "StartTransaction", "StopTransaction"]  # the card is known
    start = next(kw for a, kw in cs.calls if a == "StartTransaction")
    assert start["connector_id"] == 2 and start["id_tag"] == "CARD_A"
    stop = next(kw for a, kw in cs.calls if a == "StopTransaction")
    assert stop["transaction_id"] == 41 and stop["reason"] == "Local"
    assert stop["meter_stop"] >= start["meter_start"]
    assert "Charging" in cs.statuses(2) and cs.statuses(1) == ["Available"]
    _valid_frames(frames)


def test_the_central_systems_calls_are_answered_as_the_model_does(engine):
    answers: dict[str, Any] = {}

    async def body(cp, cs):
        answers["unknown key"] = await cs.call(call.GetConfiguration(key=["NoSuchKey"]))
        answers["read"] = await cs.call(call.GetConfiguration(key=["LocalPreAuthorize"]))
        answers["change"] = await cs.call(call.ChangeConfiguration(key="LocalPreAuthorize",
                                                                   value="true"))
        answers["read back"] = await cs.call(call.GetConfiguration(key=["LocalPreAuthorize"]))
        answers["stop nothing"] = await cs.call(call.RemoteStopTransaction(transaction_id=7))
        answers["inoperative"] = await cs.call(call.ChangeAvailability(connector_id=1,
                                                                       type="Inoperative"))
        answers["bad connector"] = await cs.call(call.UnlockConnector(connector_id=9))
        answers["list"] = await cs.call(call.SendLocalList(
            list_version=3, update_type="Full",
            local_authorization_list=[{"idTag": "CARD_A", "idTagInfo": {"status": "Accepted"}}]))
        answers["version"] = await cs.call(call.GetLocalListVersion())
        answers["vendor"] = await cs.call(call.DataTransfer(vendor_id="acme"))
    cp, cs, frames = run_session(engine, body)
    assert answers["unknown key"].unknown_key == ["NoSuchKey"]
    assert answers["read"].configuration_key[0]["value"] == "false"
    assert answers["change"].status == "Accepted"
    assert answers["read back"].configuration_key[0]["value"] == "true"
    assert answers["stop nothing"].status == "Rejected"
    assert answers["inoperative"].status == "Accepted"
    assert cs.statuses(1)[-1] == "Unavailable" and cs.statuses(2) == ["Available"]
    assert answers["bad connector"].status == "NotSupported"
    assert answers["list"].status == "Accepted" and answers["version"].list_version == 3
    assert answers["vendor"].status == "UnknownVendorId"
    _valid_frames(frames)


def test_a_remote_start_without_connector_goes_to_the_plugged_one(engine):
    async def body(cp, cs):
        await _event(cp, 2, "plug")
        result = await cs.call(call.RemoteStartTransaction(id_tag="CARD_B"))
        assert result.status == "Accepted"
        assert await cp.settle(TIMEOUT)
    cp, cs, _ = run_session(engine, body)
    start = next(kw for a, kw in cs.calls if a == "StartTransaction")
    assert start["connector_id"] == 2 and start["id_tag"] == "CARD_B"


def test_nothing_but_boot_notification_until_accepted(engine):
    async def body(cp, cs):
        await _event(cp, 1, "plug")
        await _event(cp, 1, "rfid", uid="CARD_A")
    cp, cs, _ = run_session(engine, body, boot_status="Pending")
    assert set(cs.actions()) == {"BootNotification"}


def test_a_reset_reboots_the_station_once(engine):
    async def body(cp, cs):
        result = await cs.call(call.Reset(type="Soft"))
        assert result.status == "Accepted"
        assert await cp.settle(TIMEOUT)
    cp, cs, _ = run_session(engine, body)
    assert cs.actions().count("BootNotification") == 2  # power on, then the reset


def test_the_control_channel_answers_bad_requests_and_goes_on(engine):
    async def body(cp, cs):
        for bad in ({"type": "event", "connector": 5, "event": {"name": "plug"}},
                    {"type": "event", "connector": 1, "event": {"name": "no_such_event"}},
                    {"type": "event", "connector": 1, "event": {"name": "rfid"}},
                    {"type": "event", "connector": True, "event": {"name": "plug"}},
                    {"type": "event", "connector": 1, "event": "plug"},
                    {"type": "dance"}):
            answer = await cp.control(bad)
            assert answer["type"] == "error" and answer["message"], bad
        assert (await cp.control({"type": "hello"}))["observations"]
        assert (await cp.control({"type": "observe", "connector": 2}))["observation"]["status"] \
            == "Available"
    run_session(engine, body)


def test_the_frame_log_holds_every_frame(engine, tmp_path):
    log = tmp_path / "frames.jsonl"

    async def body(cp, cs):
        await _event(cp, 1, "plug")
    run_session(engine, body, log=log)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {x["direction"] for x in lines} == {"send", "receive"}
    assert json.loads(lines[0]["frame"])[2] == "BootNotification"
    assert all(x["time"].endswith("Z") for x in lines)


def test_the_command_says_when_the_central_system_cannot_be_reached(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    run = subprocess.run([sys.executable, "-m", "chargespec", "virtual-cp", "--csms",
                          f"ws://127.0.0.1:{port}", "--connect-timeout", "2", "--no-control"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "cannot connect" in run.stderr
    bad = subprocess.run([sys.executable, "-m", "chargespec", "virtual-cp", "--csms",
                          "http://127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--csms" in bad.stderr


@pytest.mark.parametrize("connectors", [1])
def test_a_single_connector_station(engine, connectors):
    async def body(cp, cs):
        pass
    cp, cs, _ = run_session(engine, body, connectors=connectors)
    assert sorted(cp.station.connectors) == [1] and cs.statuses(1) == ["Available"]


def test_the_meter_counts_the_energy_supplied(engine):
    from chargespec.virtual_cp import Station
    clock = [0.0]
    st = Station.start(engine, engine.config(), 1)
    st.clock = lambda: clock[0]
    for name, fields in (("plug", {}), ("rfid", {"uid": "CARD_A"}),
                         ("authorize_conf", {"status": "Accepted"}),
                         ("start_tx_conf", {"status": "Accepted"}), ("ev_request_charge", {})):
        st.apply([1], name, **fields)
    c = st.connectors[1]
    assert c.last.supplying and c.last.offered_current == 32
    clock[0] = 3600.0  # an hour at 32 A on three phases
    st.apply([1], "ev_pause")
    assert c.meter_wh == 3 * 230 * 32
    clock[0] = 7200.0  # paused: nothing more
    st.apply([1], "ev_request_charge")
    assert c.meter_wh == 3 * 230 * 32


def test_the_command_serves_a_central_system_with_physical_events_on_stdin(tmp_path):
    """`chargespec virtual-cp` as a user runs it: the control channel on stdin, answers on
    stdout, the frame log written, exit 0 at `bye`."""
    log = tmp_path / "frames.jsonl"

    async def main():
        seen: list[str] = []
        done = asyncio.Event()

        async def handler(ws):
            cs = CentralSystem(ws.request.path.strip("/"), ws)
            task = asyncio.create_task(cs.start())
            while "Authorize" not in cs.actions():
                await asyncio.sleep(0.02)
            seen.extend(cs.actions())
            done.set()
            await asyncio.sleep(0.5)
            task.cancel()

        async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as srv:
            port = srv.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chargespec", "virtual-cp", "--csms",
                f"ws://127.0.0.1:{port}/ocpp", "--id", "CP7", "--connectors", "1",
                "--log", str(log), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            lines = [{"type": "settle", "timeout": 5}, "not json",
                     {"type": "event", "connector": 1, "event": {"name": "plug"}},
                     {"type": "event", "connector": 1, "event": {"name": "rfid",
                                                                "uid": "CARD_A"}},
                     {"type": "settle", "timeout": 5}]
            text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
            proc.stdin.write(text.encode())
            await proc.stdin.drain()
            await asyncio.wait_for(done.wait(), 20)
            proc.stdin.write(b'{"type": "bye"}\n')
            await proc.stdin.drain()
            out, err = await asyncio.wait_for(proc.communicate(), 20)
            return proc.returncode, out.decode(), err.decode(), seen

    code, out, err, seen = asyncio.run(main())
    answers = [json.loads(x) for x in out.splitlines()]
    assert code == 0, err
    assert [a["type"] for a in answers] == ["quiet", "error", "observation", "observation",
                                            "quiet"]
    assert answers[3]["observation"]["messages"][0]["action"] == "Authorize"
    assert seen[:1] == ["BootNotification"] and "Authorize" in seen
    frames = [json.loads(x) for x in log.read_text().splitlines()]
    assert json.loads(frames[0]["frame"])[2] == "BootNotification"


def test_the_shared_line_is_split_when_the_second_connector_starts(engine):
    """The dual station on one 32 A line (§7.3, `--line-amps 32`): connector 1 charges alone at
    32 A; when connector 2 starts, a DLM tick lowers connector 1 to 16 A and gives 2 the other
    16 A; when 2 stops, 1 gets the line back."""
    from chargespec.virtual_cp import Station, line_site
    st = Station.start(engine, engine.config(), 2)
    st.site = line_site(engine, 2, 32)

    def start(n: int) -> None:
        for name, fields in (("plug", {}), ("rfid", {"uid": f"CARD_{'AB'[n - 1]}"}),
                             ("authorize_conf", {"status": "Accepted"}),
                             ("start_tx_conf", {"status": "Accepted"}),
                             ("ev_request_charge", {})):
            st.apply([n], name, **fields)
            st.rebalance()
    start(1)
    c1, c2 = st.connectors[1], st.connectors[2]
    assert c1.last.offered_current == 32 and c1.last.supplying
    start(2)
    assert (c1.last.offered_current, c2.last.offered_current) == (16, 16)
    assert c1.state.load_limit == 16
    st.apply([2], "unplug")
    st.rebalance()
    assert c1.last.offered_current == 32


def test_the_shared_line_is_split_over_the_wire(engine):
    """The same over OCPP-J: two connectors on a 32 A line, a central system answering every
    Authorize and StartTransaction; connector 2's start lowers connector 1's offered current
    (its PWM with it), the meter readings never go back, and 2's stop gives the line back."""
    seen: dict[str, tuple] = {}

    async def offered(cp, n):
        obs = (await cp.control({"type": "observe", "connector": n}))["observation"]
        return obs["offered_current"], obs["duty_cycle"]

    async def body(cp, cs):
        for n, card in ((1, "CARD_A"), (2, "CARD_B")):
            for name, fields in (("plug", {}), ("rfid", {"uid": card}),
                                 ("ev_request_charge", {})):
                await _event(cp, n, name, **fields)
            seen[f"after {n}"] = (await offered(cp, 1), await offered(cp, 2))
        await _event(cp, 2, "unplug")
        seen["after 2 stops"] = (await offered(cp, 1),)
    cp, cs, _ = run_session(engine, body, line_amps=32)
    assert seen["after 1"][0][0] == 32
    assert seen["after 2"][0][0] == 16 and seen["after 2"][1][0] == 16
    assert seen["after 2"][0][1] < seen["after 1"][0][1]  # a lower duty cycle on the pilot
    assert seen["after 2 stops"][0][0] == 32
    assert [a for a in cs.actions() if a == "StartTransaction"] == ["StartTransaction"] * 2
    stops = [kw for a, kw in cs.calls if a == "StopTransaction"]
    starts = [kw for a, kw in cs.calls if a == "StartTransaction"]
    assert stops and all(s["meter_stop"] >= starts[1]["meter_start"] for s in stops)
