"""`--adapter ocppj:...`: the conformance runner as the charge point's central system.

    chargespec conform vectors/*.json \\
        --adapter "ocppj:listen=127.0.0.1:9000,id=CP1,driver=stdio:COMMAND"

The runner listens on loopback (`ws://HOST:PORT/<id>`, subprotocol ocpp1.6; another address
only with `remote=yes`), starts the driver, and waits for the charge point (`connect=SECONDS`,
30).  Framing, call/result matching and schema validation are the `ocpp` package's: the server
side is an `ocpp.v16.ChargePoint` whose `@on` handlers record each CALL the charge point sends.

Per test: the driver (`driver=stdio:COMMAND`, a program speaking the JSON-lines protocol of
ADAPTER.md) takes the parameters without a writable OCPP key (`reset`: the charge point reboots;
its BootNotification is accepted and what follows acknowledged, until the wire is quiet); the
keyed ones off their default go as ChangeConfiguration (`keys=ocpp`, the default; `keys=driver`
gives the driver everything).  A step ends on the driver's quiescence signal when its hello
offers one (`_settle`), else after a quiet wire.  Per step:

- a central-system event becomes its CALL (remote_start -> RemoteStartTransaction on connector
  1, reserve_now -> ReserveNow, clear_cache -> ClearCache, soft_reset -> Reset Soft, ...); the
  charge point's CALLRESULT is the step's `.conf` message;
- `authorize_conf`, `start_tx_conf`, `boot_conf` answer the charge point's pending CALL with the
  vector's status (a step with no such CALL pending fails: the charge point did not send it);
- every other event (plug, card, pilot, power, errors, timers) goes to the driver; a driver
  that answers `unsupported` makes the test unsupported;
- the charge point's CALLs until it is quiet (the quiescence signal, or `settle=SECONDS` of a
  quiet wire, 0.3) are the step's messages: StatusNotification, StopTransaction, MeterValues
  and Heartbeat are acknowledged at
  once; Authorize, StartTransaction and BootNotification wait for the vector's answer (OCPP-J's
  one outstanding CALL per direction).  Fields the model does not decide (timestamp, meter,
  transactionId; an idTag on StopTransaction where the vector pins none) are dropped, OCPP's
  defaults applied (a StopTransaction without reason is Local); connectors other than 1 and
  actions the spec does not model (DataTransfer from the charge point, ...) are listed on stderr
  and ignored; Heartbeat and MeterValues count only in a step that asks for them;
- the other observations (status, contactor, ...) are the driver's `observe` answer after the
  wire is quiet, when it has one (chargespec virtual-cp does); else only `messages` is shown.

A CALLERROR, a schema-invalid frame, a second CALL while one is outstanding, or a charge point
that disconnects costs that test with the reason, never the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from .conform import (LOST, WAITING, AdapterError, StepUnsupported, Stdio, Transport,
                      parse_command, register_transport)

SETTLE = 0.3  # seconds of a quiet wire that end a step
CONNECT = 30.0  # seconds for the charge point to connect
ANSWERED_LATER = {"Authorize": "authorize_conf", "StartTransaction": "start_tx_conf",
                  "BootNotification": "boot_conf"}
# the fields the model decides, per action (OCPP 1.6 edge fields dropped: ocpp16.EDGE_FIELDS)
MODEL_FIELDS = {"Authorize": ("idTag",), "StartTransaction": ("connectorId", "idTag"),
                "StopTransaction": ("idTag", "reason"), "BootNotification": (),
                "Heartbeat": (), "MeterValues": ("connectorId",),
                "StatusNotification": ("connectorId", "status", "errorCode", "info",
                                       "vendorErrorCode"),
                "DiagnosticsStatusNotification": ("status",),
                "FirmwareStatusNotification": ("status",)}
REBOOTING = {"power_loss", "power_return", "soft_reset", "hard_reset"}  # may reconnect
ASKED_FOR = {"Heartbeat": ("heartbeat_timer", "trigger_message"),
             "MeterValues": ("meter_sample_timer", "trigger_message")}


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    cp_id: str
    driver: list[str] | None
    settle: float
    connect: float
    keys: str = "ocpp"  # parameters with an OCPP key: set by ChangeConfiguration, or "driver"


def parse(rest: str) -> Options:
    """`listen=HOST:PORT,id=ID,driver=stdio:COMMAND[,settle=S][,connect=S][,remote=yes]`;
    the driver goes last (its command may hold commas)."""
    opts: dict[str, str] = {}
    head, sep, driver = rest.partition("driver=")
    for part in head.split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in ("listen", "id", "settle", "connect", "remote",
                                            "keys"):
            raise AdapterError(f"ocppj: unknown option {part.strip()[:40]!r} (listen=HOST:PORT,"
                               f" id=ID, settle=S, connect=S, remote=yes, keys=ocpp|driver, "
                               f"driver=stdio:CMD)")
        opts[key.strip()] = value.strip()
    host, _, port = opts.get("listen", "127.0.0.1:9000").rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise AdapterError(f"ocppj: listen={opts.get('listen')!r} is not HOST:PORT")
    if host not in ("127.0.0.1", "localhost", "::1") and opts.get("remote") != "yes":
        raise AdapterError(f"ocppj: listening on {host} needs remote=yes (loopback by default)")
    cp_id = opts.get("id", "CP1")
    if not cp_id or "/" in cp_id or len(cp_id) > 48:
        raise AdapterError(f"ocppj: id={cp_id!r}: 1-48 characters, no '/'")
    command = None
    if sep:
        scheme, colon, cmd = driver.strip().partition(":")
        if scheme != "stdio" or not colon:
            raise AdapterError("ocppj: driver=stdio:COMMAND")
        command = parse_command(cmd)
    try:
        settle, connect = float(opts.get("settle", SETTLE)), float(opts.get("connect", CONNECT))
    except ValueError:
        raise AdapterError("ocppj: settle and connect are seconds") from None
    if not (0 < settle <= 60 and 0 < connect <= 3600):
        raise AdapterError("ocppj: settle in (0, 60], connect in (0, 3600] seconds")
    keys = opts.get("keys", "ocpp")
    if keys not in ("ocpp", "driver"):
        raise AdapterError("ocppj: keys=ocpp (ChangeConfiguration for the parameters with an "
                           "OCPP key) or keys=driver (the driver sets every parameter)")
    return Options(host, int(port), cp_id, command, settle, connect, keys)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _project(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    keep = MODEL_FIELDS.get(action, ())
    out = {k: payload[k] for k in keep if k in payload}
    if action == "StopTransaction":
        out.setdefault("reason", "Local")  # OCPP 1.6 §7.43: absent means Local
    return out


class OcppJ:
    """The adapter: reset(config), step(event), observations, close() (conform's interface)."""

    def __init__(self, opts: Options, timeout: float):
        import websockets
        from ocpp.routing import on
        from ocpp.v16 import ChargePoint

        self.opts, self.timeout = opts, timeout
        # fields OCPP lets a charge point add where the vector does not pin them (the runner
        # drops them then: conform.unpinned)
        self.optional_fields = {"StopTransaction": {"idTag"}}
        self.engine: Any = None  # the embedded spec's, for the OCPP keys (keys=ocpp)
        self.defaults: Any = None
        self.name = f"ocppj {opts.cp_id}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cs: Any = None
        self.connected = threading.Event()
        self.inbox: list[tuple[str, dict[str, Any]]] = []  # the step's CALLs from the CP
        self.pending: dict[str, asyncio.Future] = {}  # action -> the answer it waits for
        self.errors: list[str] = []
        self.last_frame = 0.0
        self.calls_in = 0  # CALL frames read from the charge point (the quiescence count)
        # a step that cuts the power or reboots (and a reset between tests) may close the
        # connection: a charger that is off has none; a CALL to it goes unanswered
        self.may_disconnect = True
        self.lost: str | None = None  # the CALL awaiting its answer when the connection closed
        self.transaction_id = 0
        self.reservation_id = 0
        self.ignored: set[str] = set()
        self.waiting: str | None = None  # the charge point's CALL awaiting the vector's answer
        adapter = self

        class Server(ChargePoint):
            async def route_message(self, raw: str) -> None:
                adapter.last_frame = adapter.loop.time()
                try:
                    msg = json.loads(raw)
                except ValueError:
                    adapter.errors.append(f"a frame that is not JSON: {raw[:120]!r}")
                    return
                if isinstance(msg, list) and msg[:1] == [2] and len(msg) == 4 and \
                        isinstance(msg[2], str) and isinstance(msg[3], dict):
                    # the official schema with RFC 3339 timestamps (ocpp16), which the `ocpp`
                    # package does not check; a CALL it refuses is answered with a CALLERROR
                    from . import ocpp16
                    if ocpp16.schema(msg[2], "call") is not None:
                        broken = ocpp16.validation_errors(msg[2], "call", msg[3])
                        if broken:
                            adapter.errors.append(f"{msg[2]} breaks the OCPP 1.6 schema: "
                                                  f"{'; '.join(broken)[:300]}")
                if isinstance(msg, list) and msg[:1] == [2]:
                    adapter.calls_in += 1
                    # a CALL is handled in its own task: an answer that waits for the vector
                    # must not hold up the CALLRESULTs of the runner's own CALLs
                    if adapter.waiting is not None:
                        adapter.errors.append(f"a second CALL while one is outstanding "
                                              f"({adapter.waiting}): {raw[:120]}")
                    if msg[2] in ANSWERED_LATER:
                        adapter.waiting = msg[2]
                    asyncio.ensure_future(ChargePoint.route_message(self, raw))
                    return
                await ChargePoint.route_message(self, raw)

        def handler(action: str):
            async def handle(self: Any, **kw: Any) -> Any:
                from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
                from ocpp.v16 import call_result
                payload = snake_to_camel_case(kw)
                adapter.inbox.append((action, payload))
                adapter.last_frame = adapter.loop.time()
                if action in ANSWERED_LATER:
                    fut = adapter.loop.create_future()
                    adapter.pending[action] = fut
                    body = await fut
                else:
                    body = {"currentTime": _now()} if action == "Heartbeat" else {}
                return getattr(call_result, action)(**camel_to_snake_case(body))
            handle.__name__ = f"on_{action}"
            return on(action)(handle)

        for action in ("Authorize", "StartTransaction", "BootNotification", "StopTransaction",
                       "StatusNotification", "Heartbeat", "MeterValues", "DataTransfer",
                       "DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            setattr(Server, f"on_{action}", handler(action))
        self.Server = Server

        async def serve(ws: Any) -> None:
            if ws.request.path.strip("/") != opts.cp_id:
                await ws.close(1008, "unknown charge point id")
                return
            server = self.cs = Server(opts.cp_id, ws, response_timeout=timeout)
            self.connected.set()
            try:
                await server.start()
            except websockets.exceptions.ConnectionClosed:
                if self.cs is server:  # not replaced by a newer connection
                    self.cs = None
                    # its unanswered CALLs went with it
                    waited = [a for a, fut in self.pending.items() if not fut.done()]
                    if waited and self.lost is None:
                        self.lost = waited[0]
                    for fut in self.pending.values():
                        fut.cancel()
                    self.pending.clear()
                    self.waiting = None
                    if not self.may_disconnect:
                        self.errors.append("the charge point disconnected")

        async def listen() -> Any:
            return await websockets.serve(serve, opts.host, opts.port,
                                          subprotocols=["ocpp1.6"], max_size=1 << 20)
        try:
            self.server = self._run(listen(), 10)
        except (OSError, AdapterError) as exc:
            self.close()
            raise AdapterError(f"ocppj: cannot listen on {opts.host}:{opts.port}: {exc}"
                               ) from None
        self.driver = Stdio(opts.driver, timeout) if opts.driver else None
        if not self.connected.wait(opts.connect):
            self.close()
            raise AdapterError(f"ocppj: no charge point connected to ws://{opts.host}:"
                               f"{opts.port}/{opts.cp_id} within {opts.connect:g} s")
        self._answer_boot(opts.connect)
        self.observations = ["messages"]
        if self.driver is not None and self._observe() is not None:
            self.observations = [*[k for k in self.driver.observations if k != "messages"],
                                 "messages"]

    # ---- plumbing
    def _run(self, coro: Any, timeout: float) -> Any:
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
        except TimeoutError:
            raise AdapterError(f"no answer within {timeout:g} s") from None

    def _quiet(self) -> None:
        """Wait until no frame came for `settle` seconds (at most the step timeout)."""
        async def wait() -> None:
            end = self.loop.time() + self.timeout
            while self.loop.time() < end:
                idle = self.loop.time() - self.last_frame
                if idle >= self.opts.settle:
                    return
                await asyncio.sleep(self.opts.settle - idle)
        self._run(wait(), self.timeout + 1)

    def _reconnect(self) -> None:
        """Without a quiescence signal: wait (at most `connect` seconds) for a charge point
        that closed its connection to power off or reboot to connect again."""
        async def back() -> None:
            end = self.loop.time() + self.opts.connect
            while self.cs is None and self.loop.time() < end:
                await asyncio.sleep(0.01)
        self._run(back(), self.opts.connect + 1)
        self.last_frame = self.loop.time()

    def _settle(self) -> None:
        """The end of a step: the driver's quiescence signal when it has one, else a quiet
        wire for `settle` seconds.  With the signal, the charge point says how many CALLs it
        has written and which one (if any) awaits its answer; the step is over once the runner
        has read them all and that answer is one the runner holds back for the vector
        (Authorize, StartTransaction, BootNotification).  A CALL answered at once (a
        StatusNotification) means the charge point goes on: ask again."""
        if self.driver is None or not self.driver.quiescence:
            self._quiet()
            return
        deadline = time.monotonic() + self.timeout

        async def read_up_to(count: int, left: float) -> bool:
            end = self.loop.time() + left
            while self.calls_in < count:
                if self.loop.time() > end:
                    return False
                await asyncio.sleep(0.001)
            return True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            answer = self.driver._ask({"type": "settle", "timeout": round(min(left, 60), 3),
                                       "answered": False}, left + 1)
            sent, waiting = answer.get("sent"), answer.get("waiting")
            if answer.get("type") != "quiet" or not isinstance(sent, int):
                if answer.get("type") == "busy":
                    break
                raise AdapterError(f"settle answered {str(answer)[:200]!r}")
            if not self._run(read_up_to(sent, max(left, 0.01)), left + 1):
                break
            if waiting is None:
                return
            fut = self.pending.get(waiting)
            if fut is not None and not fut.done():
                return
            time.sleep(0.0005)  # the answer is on its way to the charge point
        raise AdapterError(f"the charge point did not settle within {self.timeout:g} s")

    def _answer(self, action: str, body: dict[str, Any]) -> bool:
        if self.waiting == action:
            self.waiting = None
        fut = self.pending.pop(action, None)
        if fut is None or fut.done():
            return False
        self.loop.call_soon_threadsafe(fut.set_result, body)
        return True

    def _answer_boot(self, wait: float) -> None:
        """Wait (at most `wait` seconds) for the BootNotification of a (re)boot, accept it and
        every BootNotification that follows, acknowledge the rest, until the wire is quiet
        (after the connection and after each reset)."""
        async def boot_pending() -> bool:
            end = self.loop.time() + wait
            while self.loop.time() < end:
                fut = self.pending.get("BootNotification")
                if fut is not None and not fut.done():
                    return True
                await asyncio.sleep(0.01)
            return False
        if self.driver is not None and self.driver.quiescence:
            # the charge point says when it is quiet: with no BootNotification then, it has
            # no backend to register with (Connection Type no backend, Free Charging without
            # OCPP) and every step shows that it sends nothing
            self._settle()
            if "BootNotification" not in self.pending:
                self.inbox.clear()
                self.errors.clear()
                return
        elif not self._run(boot_pending(), wait + 1):
            raise AdapterError(f"no BootNotification within {wait:g} s of the (re)boot")
        for _ in range(50):
            if not self._answer("BootNotification", {"status": "Accepted",
                                                     "currentTime": _now(), "interval": 300}):
                break
            self.last_frame = self.loop.time()
            self._settle()
        self.inbox.clear()
        self.errors.clear()

    def _observe(self) -> dict[str, Any] | None:
        assert self.driver is not None
        try:
            answer = self.driver._ask({"type": "observe", "connector": 1})
        except AdapterError:
            return None
        obs = answer.get("observation") if answer.get("type") == "observation" else None
        return obs if isinstance(obs, dict) else None

    def _call(self, payload: Any) -> dict[str, Any]:
        from ocpp.charge_point import serialize_as_dict, snake_to_camel_case
        if self.cs is None:
            raise AdapterError("the charge point is not connected")
        try:
            answer = self._run(self.cs.call(payload, suppress=False), self.timeout + 1)
        except AdapterError:
            raise AdapterError(f"{type(payload).__name__}: no CALLRESULT within "
                               f"{self.timeout:g} s") from None
        except Exception as exc:  # a CALLERROR, or a result breaking the schema
            raise AdapterError(f"{type(payload).__name__}: {type(exc).__name__}: {exc}"
                               ) from None
        return snake_to_camel_case(serialize_as_dict(answer))

    # ---- the adapter interface
    def reset(self, config: dict[str, Any]) -> bool:
        if self.driver is None:
            return False  # nothing can set the configuration or reboot the charge point
        # the previous test's unanswered CALLs: answered (Invalid; a BootNotification
        # Accepted), so the charge point is not left waiting after its reboot; what it sends
        # then is answered the same way, until the wire goes quiet
        self.may_disconnect = True
        self.last_frame = self.loop.time()
        self._settle()
        for _ in range(20):
            if not self.pending:
                break
            self.transaction_id += 1
            for action in list(self.pending):
                self._answer(action, {"status": "Accepted", "currentTime": _now(),
                                      "interval": 300}
                             if action == "BootNotification" else
                             {"idTagInfo": {"status": "Invalid"},
                              **({"transactionId": self.transaction_id}
                                 if action == "StartTransaction" else {})})
            self.waiting = None
            self.last_frame = self.loop.time()
            self._settle()
        else:
            raise AdapterError("the charge point kept sending after the test's end")
        self.waiting = None
        rest, keyed = self._split(config)
        if not self.driver.reset(rest):
            return False
        self._answer_boot(max(self.timeout, 5.0))
        if keyed:
            self._change_configuration(keyed)
        return True

    def _split(self, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The parameters the driver sets, and the OCPP keys ChangeConfiguration sets (key ->
        value on the wire): with `keys=ocpp`, each writable key's parameter (its value other
        than the spec's default; the driver's reset restores the defaults)."""
        if self.opts.keys != "ocpp":
            return config, {}
        from .configkeys import render
        from .conform import embedded_spec
        from .models.step import Engine
        if self.engine is None:
            self.engine = Engine(embedded_spec())
            self.defaults = self.engine.config({})
        table = self.engine.spec.configuration_keys
        try:
            full = self.engine.config(config)
        except Exception:  # noqa: BLE001 - a parameter the spec does not know: the driver's
            return config, {}
        rest, keyed = {}, {}
        for name, value in config.items():
            key = table.by_parameter().get(name) if table is not None else None
            if key is None or key.readonly:
                rest[name] = value
            elif getattr(full, name) != getattr(self.defaults, name):
                keyed[key.name] = render(key, full)
        return rest, keyed

    def _change_configuration(self, keyed: dict[str, str]) -> None:
        """Each key by ChangeConfiguration; RebootRequired: a soft Reset after the last one.  A
        charge point without a connection, or one that does not accept a value the spec
        allows, cannot take the test's configuration: unsupported."""
        from ocpp.v16 import call
        if self.cs is None:
            raise StepUnsupported(f"the configuration sets {', '.join(sorted(keyed))} by "
                                  f"ChangeConfiguration, and the charge point is not connected")
        reboot = False
        for key, value in keyed.items():
            status = self._call(call.ChangeConfiguration(key=key, value=value)).get("status")
            if status == "RebootRequired":
                reboot = True
            elif status != "Accepted":
                raise StepUnsupported(f"ChangeConfiguration({key}={value}) answered {status}: "
                                      f"the charge point does not take the test's "
                                      f"configuration")
        self.last_frame = self.loop.time()
        self._settle()
        if reboot:
            self._call(call.Reset(type="Soft"))
            self._answer_boot(max(self.timeout, 5.0))
        self.inbox.clear()
        if self.errors:
            problems, self.errors = self.errors[:], []
            raise AdapterError("while configuring: " + "; ".join(problems)[:600])

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        name = event.get("name")
        self.inbox.clear()
        self.lost = None
        self.last_frame = self.loop.time()  # the quiet window counts from the step's start
        # offline since an earlier power cut: its CALLs go unanswered until the power returns
        offline = self.cs is None and self.may_disconnect
        if not offline:
            self.may_disconnect = name in REBOOTING
        results: list[dict[str, Any]] = []
        call = self._central_call(event)
        if call is not None and offline:
            # a charge point that is off, or speaks no OCPP, has no connection: what the
            # model does with the request (nothing when off; a reset without OCPP is the web
            # interface's) cannot be asked over the wire
            raise StepUnsupported(f"{name}: the charge point has no OCPP-J connection (it is "
                                  f"off, or its configuration speaks no OCPP)")
        elif call is not None:
            body = self._call(call)
            action = type(call).__name__
            results.append({"action": action, "kind": "result",
                            "fields": {k: v for k, v in body.items() if v is not None
                                       and k in ("status", "listVersion", "configurationKey",
                                                "unknownKey")}})
        elif name in ("authorize_conf", "start_tx_conf", "boot_conf"):
            action = next(a for a, e in ANSWERED_LATER.items() if e == name)
            status = event.get("status")
            body: dict[str, Any] = {"idTagInfo": {"status": status}}
            if action == "StartTransaction":
                self.transaction_id += 1
                body["transactionId"] = self.transaction_id
            if action == "BootNotification":
                body = {"status": status, "currentTime": _now(), "interval": 300}
            if not self._answer(action, body):
                # a CALLRESULT without its CALL cannot be sent over OCPP-J (had the charge
                # point owed that CALL, the step before would have failed on its messages)
                raise StepUnsupported(f"{name}: no {action} pending; a CALLRESULT without "
                                      f"its CALL cannot go over OCPP-J")
        elif name == "authorize_timeout":
            fut = self.pending.pop("Authorize", None)  # never answered: the CP gives up
            if self.waiting == "Authorize":
                self.waiting = None
            if fut is not None and not fut.done():
                self.loop.call_soon_threadsafe(fut.cancel)
            self._drive(event)
        else:
            self._drive(event)
        if self.cs is None and name in ("power_return", "soft_reset", "hard_reset") \
                and not (self.driver is not None and self.driver.quiescence):
            self._reconnect()
        self._settle()
        if self.errors:
            problems, self.errors = self.errors[:], []
            raise AdapterError("; ".join(problems)[:600])
        observation = (self._observe() or {}) if len(self.observations) > 1 else {}
        messages = results + self._wire_messages(name)
        out = {**{k: v for k, v in observation.items() if k != "messages"},
               "messages": messages}
        waiting = [a for a, fut in self.pending.items() if not fut.done()]
        if waiting:
            out[WAITING] = waiting[0]
        elif self.lost is not None:
            out[WAITING], out[LOST] = self.lost, True
        return out

    def _drive(self, event: dict[str, Any]) -> None:
        if self.driver is None:
            raise StepUnsupported(f"no driver for the physical event {event.get('name')}")
        self.driver.step(event)  # StepUnsupported passes up: the test is unsupported

    def _wire_messages(self, event_name: Any) -> list[dict[str, Any]]:
        out = []
        for action, payload in self.inbox:
            if action not in MODEL_FIELDS:
                self._ignore(action)
                continue
            if action in ASKED_FOR and event_name not in ASKED_FOR[action]:
                continue
            if payload.get("connectorId", 1) not in (0, 1) and action == "StatusNotification":
                continue  # a connector the test does not use
            out.append({"action": action, "kind": "call", "fields": _project(action, payload)})
        return out

    def _ignore(self, action: str) -> None:
        if action not in self.ignored:
            self.ignored.add(action)
            print(f"ocppj: {action} from the charge point is not modelled: ignored",
                  file=sys.stderr)

    def _central_call(self, event: dict[str, Any]) -> Any:
        """The CALL a central-system event is, or None."""
        from ocpp.v16 import call
        name, f = event.get("name"), event
        if name == "remote_start":
            return call.RemoteStartTransaction(id_tag=f["id_tag"], connector_id=1)
        if name == "remote_stop":
            start = self.pending.get("StartTransaction")
            if f.get("transaction") == "current" and start is not None and not start.done():
                raise StepUnsupported("remote_stop: the transaction has no id yet (its "
                                      "StartTransaction is unanswered), so no RemoteStop can "
                                      "name it")
            tx = self.transaction_id if f.get("transaction") == "current" else \
                self.transaction_id + 1000
            return call.RemoteStopTransaction(transaction_id=tx)
        if name == "reserve_now":
            self.reservation_id += 1
            expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            return call.ReserveNow(connector_id=1, expiry_date=expiry, id_tag=f["id_tag"],
                                   reservation_id=self.reservation_id)
        if name == "cancel_reservation":
            rid = self.reservation_id if f.get("reservation") == "current" else \
                self.reservation_id + 1000
            return call.CancelReservation(reservation_id=rid)
        if name in ("soft_reset", "hard_reset"):
            return call.Reset(type="Soft" if name == "soft_reset" else "Hard")
        simple = {"clear_cache": call.ClearCache, "unlock_connector": None,
                  "get_local_list_version": call.GetLocalListVersion}
        if name == "unlock_connector":
            return call.UnlockConnector(connector_id=1)
        if name in simple:
            return simple[name]()
        if name == "change_availability":
            return call.ChangeAvailability(connector_id=1, type=f["type"])
        if name == "trigger_message":
            return call.TriggerMessage(requested_message=f["requested"], connector_id=1
                                       if f["requested"] in ("StatusNotification",
                                                             "MeterValues") else None)
        if name == "data_transfer":
            return call.DataTransfer(vendor_id="chargespec")
        if name == "get_configuration":
            return call.GetConfiguration(key=list(f.get("key") or []))
        if name == "change_configuration":
            return call.ChangeConfiguration(key=f["key"], value=f["value"])
        if name == "send_local_list":
            entries: list[dict[str, Any]] = []
            if f["entry"] == "Removed":
                entries = [{"idTag": f["id_tag"]}]
            elif f["entry"] != "NoEntry":
                entries = [{"idTag": f["id_tag"], "idTagInfo": {"status": f["entry"]}}]
            return call.SendLocalList(list_version=f["version"], update_type=f["update"],
                                      local_authorization_list=entries)
        return None

    def close(self) -> None:
        if getattr(self, "driver", None) is not None:
            self.driver.close()
            self.driver = None
        server = getattr(self, "server", None)
        self.server = None

        async def shut() -> None:
            if server is not None:
                server.close()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            if tasks:  # let them finish their cancellation (a second at most)
                await asyncio.wait(tasks, timeout=1.0)
        if self.loop.is_running():
            try:
                self._run(shut(), 5)
            except AdapterError:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


register_transport(Transport(
    "ocppj", parse, lambda opts, timeout, max_line: OcppJ(opts, timeout),
    "ocppj:listen=HOST:PORT,id=ID,driver=stdio:COMMAND, the runner as the charge point's "
    "OCPP 1.6J central system"))
