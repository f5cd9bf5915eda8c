"""`chargespec virtual-cp`: the reference model as an OCPP 1.6J charge point, a virtual
Powerstation TWO for central-system (CSMS) teams to test against.

One model state per connector (the manual's dual station: two by default), one configuration for
the station.  OCPP-J framing, schema validation and call/result matching are the `ocpp`
package's (`ocpp.v16.ChargePoint`, its `@on` routing, its official schemas) over `websockets`;
this module only translates:

- a central-system CALL becomes the model's event (RemoteStartTransaction -> `remote_start`,
  Reset -> `soft_reset` / `hard_reset`, ...) on the connector it addresses, or on every
  connector for the station's requests (Reset, ClearCache, SendLocalList, ChangeAvailability
  for connector 0, ...); the CALLRESULT is the model's `.conf` message, and the CALLs the step
  emits are sent after it;
- each CALL the model emits goes out one at a time (OCPP-J allows one outstanding CALL), with
  the fields a real charge point adds (timestamp, meter, transactionId: `ocpp16.to_payload`);
  its CALLRESULT becomes the model's `*_conf` event (Authorize -> `authorize_conf`,
  StartTransaction -> `start_tx_conf`, BootNotification -> `boot_conf`), whose CALLs follow;
- the station's own messages (BootNotification, Heartbeat) go out once, not once per connector;
  StatusNotification carries the connector's own id.

Physical events (plug, card, pilot, power, errors) come on a control channel: JSON lines on
stdin, the adapter protocol's vocabulary (`schema/ADAPTER.md`) with a `connector` field, so the
same process can serve as the conformance runner's driver; `settle` answers once nothing is
queued or in flight (quiescence), `observe` gives a connector's observation.

Choices the manual and OCPP leave open (recorded in ADAPTER.md's OCPP-J section):
RemoteStartTransaction without connectorId goes to the lowest-numbered free connector (Available
or Preparing) with a vehicle plugged in, else the lowest free one, else connector 1; a
SendLocalList of several entries is answered Failed (the model's list holds one entry:
LOCAL-AUTH-LIST); ReserveNow for connector 0 is Rejected; the connection-timeout,
reservation-expiry and cache timers are control-channel events (`connection_timeout`, ...);
the Heartbeat runs on the interval the central system gives, scaled by `--time-scale`; the
meter counts the offered current on three phases at 230 V while the vehicle draws.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result

from . import ocpp16
from .models.step import Engine
from .models.types import Message, thaw

NO_ID_TAG = "NONE"  # the model's SendLocalList names one idTag; an empty list names none
CONTROL_LINE_LIMIT = 64 * 1024  # bytes per control line
FRAME_LIMIT = 1 << 20  # bytes per websocket frame
CALL_TIMEOUT = 30.0  # seconds the central system has to answer a CALL
STATION_CALLS = {"BootNotification", "Heartbeat", "DataTransfer", "DiagnosticsStatusNotification",
                 "FirmwareStatusNotification"}
# central-system requests addressed to the station: applied to every connector, answered once
STATION_REQUESTS = {"clear_cache", "soft_reset", "hard_reset", "data_transfer",
                    "get_local_list_version", "send_local_list"}
POWER_EVENTS = {"power_loss", "power_return"}  # control events for every connector at once
# the CALLRESULT of a charge point's CALL -> the model's event (None: acknowledged only)
CONF_EVENTS = {"Authorize": "authorize_conf", "StartTransaction": "start_tx_conf",
               "BootNotification": "boot_conf"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FrameLog:
    """Every frame, one JSON line each: {"time", "direction" ("send" | "receive"), "frame"} -
    the log `chargespec trace` reads.  Written and flushed line by line."""

    def __init__(self, path: Path | None):
        self.file = open(path, "a", encoding="utf-8") if path is not None else None

    def write(self, direction: str, frame: str) -> None:
        if self.file is not None:
            self.file.write(json.dumps({"time": now(), "direction": direction,
                                        "frame": frame}) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class LoggedConnection:
    """The websocket as `ocpp.ChargePoint` uses it (`send`, `recv`), each frame logged."""

    def __init__(self, ws: Any, log: FrameLog, on_call: Callable[[], None] = lambda: None):
        self.ws, self.log, self.on_call = ws, log, on_call

    async def send(self, frame: str) -> None:
        self.log.write("send", frame)
        await self.ws.send(frame)
        if frame.lstrip().startswith("[2"):
            self.on_call()  # the quiescence signal counts the CALLs on the wire

    async def recv(self) -> str:
        frame = await self.ws.recv()
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        self.log.write("receive", text)
        return text


@dataclass
class Connector:
    """One connector's model state and what the wire adds to it."""

    number: int
    state: Any
    transaction_id: int | None = None
    reservation_id: int | None = None
    meter_wh: int = 0
    last: Any = None  # the observation after its last step
    since: float | None = None  # the clock at the last meter reading

    def meter(self, clock: float) -> None:
        """The energy register (Wh): the offered current on three phases at 230 V while the
        contactor supplies and the vehicle draws (pilot C or D), since the last reading
        (`clock`: seconds)."""
        if self.since is not None and self.last is not None and self.last.supplying \
                and self.last.pilot in ("C", "D"):
            self.meter_wh += round(3 * 230 * self.last.offered_current * (clock - self.since)
                                   / 3600)
        self.since = clock


@dataclass
class Station:
    """The model side of the virtual charge point: the configuration, the connectors, and the
    CALLs waiting to go out.  Pure bookkeeping, no I/O: `apply` steps the model."""

    engine: Engine
    config: Any
    connectors: dict[int, Connector] = field(default_factory=dict)
    outbox: list[tuple[int, Message]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic  # seconds; tests give their own
    site: Any = None  # the shared power line (§7.3) as a DLM site, or None
    arrival: dict[int, int] = field(default_factory=dict)  # connector -> when it began to want
    served: frozenset[int] = frozenset()  # connectors the last DLM tick gave current
    ticks: int = 0

    @classmethod
    def start(cls, engine: Engine, config: Any, count: int) -> "Station":
        st = cls(engine, config)
        for n in range(1, count + 1):
            state = engine.initial(config)
            st.connectors[n] = Connector(n, state, last=engine.observe(config, state))
        return st

    def reboot(self, config: Any) -> None:
        """Every connector back to its initial state under `config`, nothing queued, then
        powered on: BootNotification (BOOT-REGISTRATION)."""
        self.config = config
        self.outbox.clear()
        for c in self.connectors.values():
            c.state = self.engine.initial(config)
            c.last = self.engine.observe(config, c.state)
            c.transaction_id = c.reservation_id = None
        for n in self.connectors:
            self.apply([n], "power_loss")
        self.apply(sorted(self.connectors), "power_return")

    def apply(self, targets: list[int], name: str, **fields: Any) -> list[Message]:
        """The event on each connector of `targets`; their CALLs are queued (the station's own
        once), and the results answering the central system are returned (the first
        connector's, for a station request)."""
        event = self.engine.event(name, **fields)
        results: list[Message] = []
        queued_station: set[str] = set()
        for n in targets:
            c = self.connectors[n]
            c.meter(self.clock())
            self.config, c.state, out = self.engine.advance(self.config, c.state, event)
            c.last = out.observation
            for m in out.messages:
                if m.kind == "result":
                    if n == targets[0]:
                        results.append(m)
                    continue
                if m.action in STATION_CALLS:
                    if m.action in queued_station:
                        continue
                    queued_station.add(m.action)
                self.outbox.append((n, m))
        return results

    def rebalance(self) -> None:
        """One DLM tick over the shared line (§7.3): the allocator (chargespec.dlm) splits the
        line between the connectors with a transaction, and each gets its share as the model's
        `set_load_limit` (the grant it reads); idle connectors keep theirs."""
        if self.site is None:
            return
        from .dlm.allocator import Tick, Vehicle
        from .dlm.allocator import allocate
        numbers = sorted(self.connectors)
        wanting = [n for n in numbers if self.connectors[n].state.session == "transaction"]
        for n in wanting:
            self.arrival.setdefault(n, self.ticks)
        for n in list(self.arrival):
            if n not in wanting:
                del self.arrival[n]
        self.ticks += 1
        tick = Tick(tuple(Vehicle() if n in wanting else None for n in numbers),
                    served=frozenset(numbers.index(n) for n in self.served),
                    arrival=tuple(self.arrival.get(n, 0) for n in numbers))
        amps = allocate(self.site, tick).amps
        self.served = frozenset(n for n, a in zip(numbers, amps) if a > 0)
        for n, a in zip(numbers, amps):
            if n in wanting and self.connectors[n].state.load_limit != a:
                self.apply([n], "set_load_limit", amps=min(a, 80))

    def payload(self, n: int, m: Message) -> dict[str, Any]:
        """The full OCPP payload of a model CALL from connector `n`."""
        c = self.connectors[n]
        c.meter(self.clock())
        fields = thaw_fields(m)
        if "connectorId" in fields:
            fields["connectorId"] = n
        edge = ocpp16.Edge(timestamp=now(), meter_wh=c.meter_wh,
                           transaction_id=c.transaction_id if c.transaction_id is not None else 0)
        return ocpp16.to_payload(m.action, "call", fields, edge)


def line_site(engine: Engine, connectors: int, amps: int) -> Any:
    """The station's single power line (§7.3) as a DLM site: one station, `connectors`
    connectors, `amps` per phase for the line (the EVSE sub-distribution limit)."""
    from .dlm.site import site_from_doc
    from .yamlread import parse_yaml
    where = "(virtual-cp --line-amps)"
    text = (f"site: virtual Powerstation TWO\nevse_sub_distribution_limit: "
            f"[{amps}, {amps}, {amps}]\nstations:\n  - name: PS2\n    connectors:\n"
            + "".join(f"      - {{name: C{n}}}\n" for n in range(1, connectors + 1)))
    return site_from_doc(engine.spec, parse_yaml(text, where), where)


def thaw_fields(m: Message) -> dict[str, Any]:
    return {k: thaw(v) for k, v in m.fields if v is not None}


def result_payload(m: Message | None) -> dict[str, Any]:
    return {} if m is None else thaw_fields(m)


class VirtualChargePoint(ChargePoint):
    """The station behind an OCPP-J connection (see the module's docstring)."""

    def __init__(self, cp_id: str, connection: Any, station: Station,
                 time_scale: float = 1.0, response_timeout: float = CALL_TIMEOUT):
        super().__init__(cp_id, connection, response_timeout=response_timeout)
        self.station = station
        self.time_scale = time_scale
        self.wake = asyncio.Event()
        self.busy = 0  # CALLs in flight
        self.heartbeat_interval: float | None = None
        self.lock = asyncio.Lock()
        self.errors: list[str] = []
        self.inflight: tuple[str, asyncio.Task] | None = None  # the CALL awaiting its answer
        self.inflight_mark = 0  # CALL frames written before the one in flight
        self.calls = 0  # CALL frames written so far, over every connection
        self.linking = False  # a connection being opened or closed
        self.offline = False  # closed on purpose: the station is off or speaks no OCPP
        self.link: Callable[[], Any] | None = None  # opens a connection (open_station's)
        self.reader: asyncio.Task | None = None  # the task reading the connection
        self.closed_by_peer: asyncio.Future | None = None  # set when the central system
        # closes the connection (the end of `run`); our own closing is not that

    # ---- the charge point's CALLs, one at a time
    async def sender(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.station.outbox and not self.offline and not self.linking:
                n, m = self.station.outbox.pop(0)
                self.busy += 1
                self.inflight_mark = self._calls_written()
                task = asyncio.create_task(self._send_call(n, m))
                self.inflight = (m.action, task)
                try:
                    await asyncio.wait([task])
                finally:
                    self.inflight = None
                    self.busy -= 1

    async def _send_call(self, n: int, m: Message) -> None:
        payload = self.station.payload(n, m)
        cls = getattr(call, m.action)
        try:
            answer = await self.call(cls(**camel_to_snake_case(payload)), suppress=False)
        except asyncio.TimeoutError:
            self.errors.append(f"{m.action}: no answer within {self._response_timeout} s")
            if m.action == "Authorize":
                async with self.lock:
                    self.station.apply([n], "authorize_timeout")
            return
        except Exception as exc:  # a CALLERROR or an answer breaking the schema
            self.errors.append(f"{m.action}: {type(exc).__name__}: {exc}")
            return
        body = snake_to_camel_case(_as_dict(answer))
        async with self.lock:
            self._conf(n, m, body)
            self.station.rebalance()
        self.wake.set()

    def _conf(self, n: int, m: Message, body: dict[str, Any]) -> None:
        c = self.station.connectors[n]
        name = CONF_EVENTS.get(m.action)
        if m.action == "BootNotification":
            self.heartbeat_interval = float(body.get("interval") or 0) or None
            for k in self.station.connectors:  # the registration is the station's
                self.station.apply([k], "boot_conf", status=body["status"])
            return
        if m.action == "StartTransaction":
            c.transaction_id = body.get("transactionId")
        if m.action == "StopTransaction":
            c.transaction_id = None
        if name is not None:
            status = (body.get("idTagInfo") or {}).get("status", "Invalid")
            self.station.apply([n], name, status=status)

    async def heartbeat(self) -> None:
        while True:
            interval = self.heartbeat_interval or 60.0
            await asyncio.sleep(max(interval * self.time_scale, 0.01))
            async with self.lock:
                self.station.apply([1], "heartbeat_timer")
            self.wake.set()

    def _calls_written(self) -> int:
        return self.calls

    def _count_call(self) -> None:
        self.calls += 1

    def should_be_online(self) -> bool:
        """The station keeps its OCPP-J connection while some connector is powered and it
        speaks OCPP (not Free Charging mode 1, "No OCPP"); a station that is off or silent has
        none, as a real one, so a central system's CALL then goes unanswered."""
        st = self.station
        silent = st.config.free_charging and st.engine.spec.policies["free_charging"].rows[
            st.config.free_charging_mode].values["ocpp"] == "none"
        return not silent and any(c.state.powered for c in st.connectors.values())

    async def relink(self) -> None:
        """Open or close the connection as `should_be_online` says (after every change of
        the model's state).  Going offline drops what was queued and the CALL in flight: an
        unpowered charger's queue is in its memory (the model queues the StopTransaction of a
        transaction cut by the power loss at the power return)."""
        want = self.should_be_online()
        if want == (not self.offline) or self.linking or self.link is None:
            return
        self.linking = True
        try:
            if not want:
                self.offline = True
                self.station.outbox.clear()
                if self.inflight is not None:
                    self.inflight[1].cancel()
                if self.reader is not None:
                    self.reader.cancel()
                    await asyncio.wait([self.reader], timeout=1.0)
                    self.reader = None
                await self._connection.ws.close()
            else:
                try:
                    ws = await self.link()
                except Exception as exc:  # the central system cannot be reached again
                    self.errors.append(f"cannot connect again: {exc or type(exc).__name__}")
                    if self.closed_by_peer is not None and not self.closed_by_peer.done():
                        self.closed_by_peer.set_exception(exc)
                    return
                self._connection = LoggedConnection(ws, self._connection.log, self._count_call)
                self.reader = asyncio.create_task(self.read())
                self.offline = False
        finally:
            self.linking = False
            self.wake.set()

    async def read(self) -> None:
        """Read the connection until it closes; a close the station did not ask for ends
        `run` (the central system went away)."""
        import websockets
        try:
            await self.start()
        except websockets.exceptions.ConnectionClosed as exc:
            if not self.offline and self.closed_by_peer is not None \
                    and not self.closed_by_peer.done():
                self.closed_by_peer.set_exception(exc)

    def waiting_for(self) -> str | None:
        """The action of the CALL in flight once its frame is on the wire (the charge point
        then does nothing more until the central system answers), else None."""
        if self.inflight is None or self._calls_written() <= self.inflight_mark:
            return None
        return self.inflight[0]

    async def settle(self, timeout: float, answered: bool = True) -> bool:
        """Wait until nothing is queued or in flight (True), or `timeout` seconds (False).
        With `answered=False` a CALL on the wire awaiting the central system's answer counts
        as quiet too: the charge point can do nothing more without input."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.linking or (self.station.outbox and not self.offline) or self.busy:
            if not answered and self.waiting_for() is not None:
                return True
            if loop.time() > end:
                return False
            await asyncio.sleep(0.002)
        return True

    # ---- the central system's CALLs
    def _request(self, targets: list[int], name: str, **fields: Any) -> dict[str, Any]:
        results = self.station.apply(targets, name, **fields)
        self.station.rebalance()
        self.wake.set()
        return result_payload(results[0] if results else None)

    def _connector(self, connector_id: Any) -> list[int]:
        if connector_id in (None, 0):
            return sorted(self.station.connectors)
        return [connector_id] if connector_id in self.station.connectors else []

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any):
        async with self.lock:
            targets = [connector_id] if connector_id is not None else [self._pick()]
            if targets[0] not in self.station.connectors:
                return call_result.RemoteStartTransaction(status="Rejected")
            return call_result.RemoteStartTransaction(
                **_snake(self._request(targets, "remote_start", id_tag=id_tag)))

    def _pick(self) -> int:
        """RemoteStartTransaction without connectorId: the lowest-numbered free connector with
        a vehicle plugged in (pilot not A), else the lowest free one, else connector 1."""
        free = [n for n, c in sorted(self.station.connectors.items())
                if c.last is not None and c.last.status in ("Available", "Preparing")]
        plugged = [n for n in free if self.station.connectors[n].last.pilot != "A"]
        return (plugged or free or [1])[0]

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, transaction_id: int, **_: Any):
        async with self.lock:
            for n, c in sorted(self.station.connectors.items()):
                if c.transaction_id is not None and c.transaction_id == transaction_id:
                    return call_result.RemoteStopTransaction(
                        **_snake(self._request([n], "remote_stop", transaction="current")))
            return call_result.RemoteStopTransaction(
                **_snake(self._request([1], "remote_stop", transaction="other")))

    @on("ReserveNow")
    async def on_reserve_now(self, connector_id: int, id_tag: str, reservation_id: int,
                             **_: Any):
        async with self.lock:
            if connector_id not in self.station.connectors:  # connector 0: not supported
                return call_result.ReserveNow(status="Rejected")
            answer = self._request([connector_id], "reserve_now", id_tag=id_tag)
            if answer.get("status") == "Accepted":
                self.station.connectors[connector_id].reservation_id = reservation_id
            return call_result.ReserveNow(**_snake(answer))

    @on("CancelReservation")
    async def on_cancel_reservation(self, reservation_id: int, **_: Any):
        async with self.lock:
            for n, c in sorted(self.station.connectors.items()):
                if c.reservation_id == reservation_id:
                    answer = self._request([n], "cancel_reservation", reservation="current")
                    if answer.get("status") == "Accepted":
                        c.reservation_id = None
                    return call_result.CancelReservation(**_snake(answer))
            return call_result.CancelReservation(
                **_snake(self._request([1], "cancel_reservation", reservation="other")))

    @on("ClearCache")
    async def on_clear_cache(self, **_: Any):
        async with self.lock:
            return call_result.ClearCache(**_snake(self._request(self._connector(0),
                                                                 "clear_cache")))

    @on("Reset")
    async def on_reset(self, type: str, **_: Any):
        async with self.lock:
            name = "hard_reset" if type == "Hard" else "soft_reset"
            return call_result.Reset(**_snake(self._request(self._connector(0), name)))

    @on("ChangeAvailability")
    async def on_change_availability(self, connector_id: int, type: str, **_: Any):
        async with self.lock:
            targets = self._connector(connector_id)
            if not targets:
                return call_result.ChangeAvailability(status="Rejected")
            # connector 0: each connector's answer; Scheduled if any must wait, as OCPP says
            answers = [self._request([n], "change_availability", type=type).get("status")
                       for n in targets]
            status = "Scheduled" if "Scheduled" in answers else answers[0] or "Rejected"
            return call_result.ChangeAvailability(status=status)

    @on("UnlockConnector")
    async def on_unlock_connector(self, connector_id: int, **_: Any):
        async with self.lock:
            if connector_id not in self.station.connectors:
                return call_result.UnlockConnector(status="NotSupported")
            return call_result.UnlockConnector(
                **_snake(self._request([connector_id], "unlock_connector")))

    @on("TriggerMessage")
    async def on_trigger_message(self, requested_message: str, connector_id: int | None = None,
                                 **_: Any):
        async with self.lock:
            targets = self._connector(connector_id)
            if not targets:
                return call_result.TriggerMessage(status="Rejected")
            if requested_message != "StatusNotification":
                targets = targets[:1]
            return call_result.TriggerMessage(**_snake(self._request(
                targets, "trigger_message", requested=requested_message)))

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str, **_: Any):
        async with self.lock:
            return call_result.DataTransfer(**_snake(self._request([1], "data_transfer")))

    @on("GetConfiguration")
    async def on_get_configuration(self, key: list[str] | None = None, **_: Any):
        async with self.lock:
            answer = self._request([1], "get_configuration", key=list(key or []))
            return call_result.GetConfiguration(**_snake(answer))

    @on("ChangeConfiguration")
    async def on_change_configuration(self, key: str, value: str, **_: Any):
        async with self.lock:
            answer = self._request([1], "change_configuration", key=key, value=value)
            return call_result.ChangeConfiguration(**_snake(answer))

    @on("GetLocalListVersion")
    async def on_get_local_list_version(self, **_: Any):
        async with self.lock:
            return call_result.GetLocalListVersion(
                **_snake(self._request([1], "get_local_list_version")))

    @on("SendLocalList")
    async def on_send_local_list(self, list_version: int, update_type: str,
                                 local_authorization_list: list | None = None, **_: Any):
        async with self.lock:
            entries = local_authorization_list or []
            targets = self._connector(0)
            if len(entries) > 1:  # the model's list holds one entry (LOCAL-AUTH-LIST)
                return call_result.SendLocalList(status="Failed")
            if not entries:  # an empty list: a Full update empties it
                return call_result.SendLocalList(**_snake(self._request(
                    targets, "send_local_list", update=update_type, version=list_version,
                    id_tag=NO_ID_TAG, entry="NoEntry")))
            item = camel_to_snake_case(entries[0]) if isinstance(entries[0], dict) else {}
            info = item.get("id_tag_info") or {}
            entry = info.get("status", "Removed") if isinstance(info, dict) else "Removed"
            return call_result.SendLocalList(**_snake(self._request(
                targets, "send_local_list", update=update_type, version=list_version,
                id_tag=str(item.get("id_tag", NO_ID_TAG)), entry=entry)))

    # ---- physical events and observations (the control channel)
    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request.get("type")
        if kind == "hello":
            return {"type": "hello", "name": "chargespec virtual-cp", "quiescence": True,
                    "observations": [*observation_names(self.station.engine), "messages"]}
        if kind == "reset":  # the runner's driver: this configuration, then a reboot
            values = request.get("config")
            try:
                config = self.station.engine.config(values if isinstance(values, dict) else {})
            except Exception as exc:  # an unknown parameter, a value out of its domain
                return {"type": "unsupported", "reason": str(exc)[:300]}
            if self.inflight is not None:
                self.inflight[1].cancel()  # a reboot forgets the CALL awaiting its answer
            async with self.lock:
                self.station.reboot(config)
            await self.relink()
            self.wake.set()
            return {"type": "ready"}
        if kind == "settle":
            wait = request.get("timeout", 5.0)
            if isinstance(wait, bool) or not isinstance(wait, (int, float)) \
                    or not 0 <= wait <= 60:
                return {"type": "error", "message": "settle's timeout: 0 to 60 seconds"}
            # "answered": false (the runner's) - a CALL awaiting the central system's answer
            # counts as quiet; by default settle waits for the answer too
            answered = request.get("answered", True) is not False
            quiet = await self.settle(float(wait), answered=answered)
            # the quiescence signal: how many CALLs are on the wire, and the one awaiting its
            # answer; the runner is settled once it has read that many and holds that answer
            return {"type": "quiet" if quiet else "busy", "sent": self._calls_written(),
                    "waiting": self.waiting_for() if quiet else None}
        n = request.get("connector", 1)
        if not isinstance(n, int) or isinstance(n, bool) or n not in self.station.connectors:
            return {"type": "error", "message": f"no connector {n!r}"}
        c = self.station.connectors[n]
        if kind == "observe":
            return {"type": "observation", "connector": n, "observation": _observation(c.last)}
        if kind != "event":
            return {"type": "error", "message": f"unknown request type {kind!r}"}
        event = request.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            return {"type": "error", "message": "an event is {\"name\": ..., fields}"}
        fields = {k: v for k, v in event.items() if k != "name"}
        if event["name"] == "authorize_timeout" and self.inflight is not None \
                and self.inflight[0] == "Authorize":
            self.inflight[1].cancel()  # the charge point stops waiting for Authorize.conf
        async with self.lock:
            try:
                before = len(self.station.outbox)
                # the supply is the station's: a power cut or return reaches every connector
                targets = sorted(self.station.connectors) if event["name"] in POWER_EVENTS \
                    else [n]
                self.station.apply(targets, event["name"], **fields)
                self.station.rebalance()
            except Exception as exc:  # an unknown event, a field out of its domain
                return {"type": "error", "message": str(exc)}
            sent = [{"action": m.action, "kind": m.kind, "fields": thaw_fields(m)}
                    for _, m in self.station.outbox[before:]]
        await self.relink()
        self.wake.set()
        return {"type": "observation", "connector": n,
                "observation": {**_observation(c.last), "messages": sent}}


def observation_names(engine: Engine) -> list[str]:
    return sorted(engine.observe(engine.config(), engine.initial(engine.config())).as_dict())


def _observation(obs: Any) -> dict[str, Any]:
    return {} if obs is None else {k: thaw(v) for k, v in obs.as_dict().items()}


def _as_dict(payload: Any) -> dict[str, Any]:
    from ocpp.charge_point import serialize_as_dict
    return serialize_as_dict(payload)


def _snake(payload: dict[str, Any]) -> dict[str, Any]:
    return camel_to_snake_case(payload)


async def control_loop(cp: VirtualChargePoint, reader: asyncio.StreamReader,
                       write: Callable[[str], None]) -> None:
    """The control channel: one JSON request per line, one JSON answer per line; a bad line
    is answered with an error and the loop goes on; end of input ends it."""
    while True:
        try:
            line = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            write(json.dumps({"type": "error", "message":
                              f"control line longer than {CONTROL_LINE_LIMIT} bytes"}))
            continue
        if not line:
            return
        try:
            request = json.loads(line)
        except ValueError as exc:  # also not UTF-8
            write(json.dumps({"type": "error", "message": f"not JSON: {exc}"}))
            continue
        except RecursionError:
            write(json.dumps({"type": "error", "message": "JSON nested too deep"}))
            continue
        if not isinstance(request, dict):
            write(json.dumps({"type": "error", "message": "a request is a JSON object"}))
            continue
        if request.get("type") == "bye":
            return
        write(json.dumps(await cp.control(request)))


async def open_station(url: str, cp_id: str, engine: Engine, config: Any, connectors: int = 2,
                       log: Path | None = None, time_scale: float = 1.0,
                       connect_timeout: float = 10.0, line_amps: int | None = None
                       ) -> tuple[VirtualChargePoint, Any, list[asyncio.Task], FrameLog]:
    """Connect to the central system at `url` + "/" + `cp_id` (OCPP-J: the path ends with the
    charge point's id; subprotocol ocpp1.6), power the station on (the model's power return
    sends BootNotification: BOOT-REGISTRATION) and start serving.  OSError, TimeoutError or a
    websockets error when the central system cannot be reached."""
    import websockets

    frames = FrameLog(log)
    target = url.rstrip("/") + "/" + cp_id
    try:
        ws = await asyncio.wait_for(websockets.connect(target, subprotocols=["ocpp1.6"],
                                                       open_timeout=connect_timeout,
                                                       max_size=FRAME_LIMIT),
                                    connect_timeout + 1)
    except BaseException:
        frames.close()
        raise
    station = Station.start(engine, config, connectors)
    if line_amps is not None:
        station.site = line_site(engine, connectors, line_amps)
    cp = VirtualChargePoint(cp_id, LoggedConnection(ws, frames), station, time_scale)
    cp._connection.on_call = cp._count_call

    async def link() -> Any:
        return await asyncio.wait_for(websockets.connect(
            target, subprotocols=["ocpp1.6"], open_timeout=connect_timeout,
            max_size=FRAME_LIMIT), connect_timeout + 1)
    cp.link = link
    cp.closed_by_peer = asyncio.get_running_loop().create_future()
    station.reboot(config)
    cp.reader = asyncio.create_task(cp.read())
    await cp.relink()  # a station that speaks no OCPP closes the connection at once
    tasks = [asyncio.ensure_future(cp.closed_by_peer), asyncio.create_task(cp.sender()),
             asyncio.create_task(cp.heartbeat())]
    cp.wake.set()
    return cp, ws, tasks, frames


async def run(url: str, cp_id: str, engine: Engine, config: Any, connectors: int = 2,
              log: Path | None = None, time_scale: float = 1.0, control: bool = True,
              connect_timeout: float = 10.0, line_amps: int | None = None) -> int:
    """`chargespec virtual-cp`: serve until the control channel closes (stdin's end or `bye`)
    or the connection does.  Exit 0, 1 on a failure of the connection, 2 when the central
    system cannot be reached."""
    import websockets

    try:
        cp, ws, tasks, frames = await open_station(url, cp_id, engine, config, connectors, log,
                                                   time_scale, connect_timeout, line_amps)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
        print(f"chargespec virtual-cp: cannot connect to {url.rstrip('/')}/{cp_id}: "
              f"{exc or type(exc).__name__}", file=sys.stderr)
        return 2
    if control:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=CONTROL_LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        def write(text: str) -> None:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        tasks.append(asyncio.create_task(control_loop(cp, reader, write)))
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    if cp.reader is not None:
        cp.reader.cancel()
    await cp._connection.ws.close()
    frames.close()
    for line in cp.errors:
        print(f"chargespec virtual-cp: {line}", file=sys.stderr)
    for t in done:
        exc = t.exception()
        if isinstance(exc, websockets.exceptions.ConnectionClosed):
            print(f"chargespec virtual-cp: the central system closed the connection ({exc})",
                  file=sys.stderr)
            return 1
        if exc is not None:
            print(f"chargespec virtual-cp: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0
