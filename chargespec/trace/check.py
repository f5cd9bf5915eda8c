"""Judge an OCPP-J log against the spec: is there a run of the model, under the configuration,
that sends exactly the charge point's CALLs of the log, in order, given the central system's
frames as they came?

The log is split per connector (`split`): the central system's CALLs become the model's events
(RemoteStartTransaction -> `remote_start`, Reset -> `soft_reset`, ...; station requests reach
every connector), the CALLRESULTs that answer the charge point's Authorize, StartTransaction and
BootNotification become `authorize_conf`, `start_tx_conf`, `boot_conf`, and the charge point's
CALLs are what the model must send.  Which connector a frame is for: its connectorId; a
StopTransaction by the transactionId its StartTransaction got; an Authorize goes to the
connector of the next StartTransaction with that idTag; one no StartTransaction follows (a
refused card) to a connector without a running transaction, and, when that connector cannot
explain it, to the next one that can; a StopTransaction whose transactionId is not its
connector's running transaction (stopped already, or never given while the log shows every
start) is a frame no behaviour explains; BootNotification to every connector, and an accepted
BootNotification.conf's `interval` is a write of HeartbeatInterval (OCPP 1.6 §4.2), which a
later GetConfiguration shows.  Actions the spec does not model (Heartbeat, MeterValues, DataTransfer,
DiagnosticsStatusNotification, FirmwareStatusNotification, StatusNotification of connector 0)
are skipped and counted, and the model's messages of those actions are not expected.

Physical events never appear on the wire, so the search infers them (`PHYSICAL`: plug,
unplug, cable out, pilot changes, a card with an idTag the connector's next frames name (in
the reader's byte order the RFID Tag letter case setting implies, §5.3), power loss and return,
the timers; the error table's conditions and `RECOVERIES` in a second pass, for a connector
the first leaves unexplained): a set of nodes (configuration, model
state, CALLs the model sent that the log has not shown yet) advances frame by frame; before a
frame, up to `depth` hidden events may happen, those that send something only when what they
send is what the log shows next.  OCPP-J sends one CALL at a time, so the model's CALLs of a
step may reach the wire later, interleaved with the central system's frames, but always in the
model's order.

A charge point's CALL that no node can send, or a central system's CALLRESULT that no node
answers alike, is **the first frame no behaviour explains**: reported with what the spec allowed
there (the messages the surviving nodes could send next and the rules that send them).  Else the
log is **explained**, and the inferred events of one run are a scenario `chargespec simulate`
replays.  A mutation is flagged at the mutated frame, or at the first later frame where every
run that could have explained it has been ruled out (a dropped StatusNotification shows when
the next one comes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..models.types import Message, thaw
from .readers import Frame, Log

SKIPPED = frozenset({"Heartbeat", "MeterValues", "DataTransfer", "DiagnosticsStatusNotification",
                     "FirmwareStatusNotification"})
DEPTH = 3  # hidden events before one frame
HEX_UID = re.compile(r"(?:[0-9A-Fa-f]{2})+")  # a UID the letter case setting rewrites (§5.3)
MAX_NODES = 4000  # nodes kept per frame (the search is bounded, and says so)
# hidden events without fields
PHYSICAL = ("plug", "unplug", "cable_removed", "ev_request_charge", "ev_pause", "ev_ventilation",
            "pilot_short", "pilot_restored", "authorize_timeout", "connection_timeout",
            "hlc_timer", "power_loss", "power_return", "reservation_expired",
            "cache_expiry_timer", "boot_retry_timer")
# the error table's recoveries (with `error_raised` of each row: the second pass)
RECOVERIES = ("vehicle_error_cleared", "mcb_rearmed", "rcd_reconnected", "spd_replaced",
              "contactor_repaired", "backend_online", "ocpp_meter_recovered",
              "external_meter_recovered", "reader_recovered", "rcmb_reset_timer")
MODEL_FIELDS = {"Authorize": ("idTag",), "StartTransaction": ("connectorId", "idTag"),
                "StopTransaction": ("idTag", "reason"), "BootNotification": (),
                "StatusNotification": ("connectorId", "status", "errorCode", "info",
                                       "vendorErrorCode")}


@dataclass(frozen=True)
class Item:
    """One frame of a connector's log, as the search reads it."""

    frame: Frame
    event: Any = None  # the model's event (central-system CALL, or a result of the CP's CALL)
    label: str = ""
    result: dict[str, Any] | None = None  # the CALLRESULT a central-system CALL got
    call: tuple[str, dict[str, Any]] | None = None  # a charge point's CALL: action, fields


@dataclass(frozen=True)
class Node:
    config: Any
    state: Any
    pending: tuple[tuple[str, tuple, Any], ...]  # CALLs the model sent, not yet on the wire:
    # (action, fields, the time they were queued: seconds, or None when the log has no times)
    trail: Any = None  # (event label, event, parent trail, frame line): the inferred run,
    # newest first; the line is the frame the event came before (hidden) or with (observed)


@dataclass
class Verdict:
    connector: int
    explained: bool
    frames: int  # the connector's frames read
    events: list[tuple[str, Any]] = field(default_factory=list)  # the run: (label, event)
    frame: Frame | None = None  # the first unexplained one
    why: str = ""
    allowed: list[str] = field(default_factory=list)  # what the spec allowed there
    bounded: bool = False  # the node set was cut at MAX_NODES somewhere
    lines: list[int] = field(default_factory=list)  # per event: the frame line it preceded
    items: list[Item] = field(default_factory=list, repr=False)  # the connector's frames
    warm: bool = False  # the log began mid-run: the state before it was inferred
    # past the first unexplained frame (check(resync=True)): the frames no behaviour explains
    # after it, (line, why), each found checking on from an idle point; those points' lines;
    # whether the last stretch was explained to the end of the log
    later: list[tuple[int, str]] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    tail_explained: bool = False


def _fields(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    out = {k: payload[k] for k in MODEL_FIELDS.get(action, ()) if k in payload}
    if action == "StopTransaction":
        out.setdefault("reason", "Local")  # OCPP 1.6 §7.43: absent means Local
    return out


def _label(action: str, fields: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return f"{action}({inner})"


def split(engine: Any, log: Log, place: dict[str, int] | None = None,
          floating: dict[str, list[int]] | None = None
          ) -> tuple[dict[int, list[Item]], dict[str, int], list[str]]:
    """Each connector's items, the count of skipped actions, and notes (frames the split could
    not place).  An Authorize no StartTransaction follows (a refused card, a card that stopped
    a transaction) names no connector: it goes to one with no running transaction, else the
    first, unless `place` (Authorize uid -> connector) says otherwise; `floating` collects
    such uids with the connectors they may go to, in the order tried."""
    ev = engine.event
    frames = log.frames
    results = {f.uid: f for f in frames if f.kind in (3, 4) and f.origin == "cp"}
    connectors = sorted({f.payload.get("connectorId") for f in frames if f.kind == 2
                         and f.action in ("StatusNotification", "StartTransaction")
                         and isinstance(f.payload.get("connectorId"), int)
                         and f.payload.get("connectorId") > 0} or {1})
    items: dict[int, list[Item]] = {c: [] for c in connectors}
    skipped: dict[str, int] = {}
    notes: list[str] = []
    tx_of: dict[Any, int] = {}  # transactionId -> connector
    current_tx: dict[int, Any] = {}  # connector -> its running transactionId
    started: set[Any] = set()  # connectors whose StartTransaction the log has shown
    auth_at: dict[str, int] = {}  # Authorize uid -> connector
    start_at: dict[str, int] = {}  # StartTransaction uid -> connector

    def skip(action: str) -> None:
        skipped[action] = skipped.get(action, 0) + 1

    def add(cs: Iterable[Any], item: Item) -> None:
        placed = False
        for c in cs:
            if c in items:
                items[c].append(item)
                placed = True
        if not placed:
            notes.append(f"line {item.frame.line}: {item.label}: connectorId "
                         f"{item.frame.payload.get('connectorId')!r} is none of the station's "
                         f"connectors {connectors} (not checked)")

    for i, f in enumerate(frames):
        if f.kind == 2 and f.origin == "cp":
            a, p = f.action or "", f.payload
            if a in SKIPPED or (a == "StatusNotification" and p.get("connectorId") == 0):
                skip(a if a != "StatusNotification" else "StatusNotification (connector 0)")
                continue
            if a not in MODEL_FIELDS:
                skip(a)
                continue
            fields = _fields(a, p)
            if a in ("StatusNotification", "StartTransaction"):
                targets = [p.get("connectorId")]
                fields["connectorId"] = 1  # the model's connector is always 1
                if a == "StartTransaction":
                    start_at[f.uid] = p.get("connectorId")
                    started.add(p.get("connectorId"))
            elif a == "StopTransaction":
                tx = p.get("transactionId")
                c = tx_of.get(tx)
                if c is not None and current_tx.get(c) == tx:
                    del current_tx[c]
                elif c is None and [k for k in connectors if k not in started]:
                    # the log may have begun during this transaction
                    c = [k for k in connectors if k not in started][0]
                    started.add(c)
                    if len(connectors) > 1:
                        notes.append(f"line {f.line}: StopTransaction of transaction {tx!r}, "
                                     f"which no StartTransaction in the log got: taken for "
                                     f"connector {c}")
                else:  # stopped already, or never given while every start is in the log
                    c = c if c is not None else next(iter(current_tx), connectors[0])
                    fields["transactionId"] = f"{tx} (not a running transaction)"
                targets = [c]
            elif a == "Authorize":
                c = next((g.payload.get("connectorId") for g in frames[i + 1:]
                          if g.kind == 2 and g.action == "StartTransaction"
                          and g.payload.get("idTag") == p.get("idTag")), None)
                if c not in items:
                    order = [k for k in connectors if k not in current_tx] + \
                        [k for k in connectors if k in current_tx]
                    if floating is not None and len(order) > 1:
                        floating[f.uid] = order
                    c = (place or {}).get(f.uid, order[0])
                auth_at[f.uid] = c
                targets = [c]
            else:  # BootNotification: the station's
                targets = connectors
            add(targets, Item(f, call=(a, fields), label=_label(a, fields)))
        elif f.kind == 3 and f.origin == "cs":  # the central system answers the CP
            a, p = f.action, f.payload
            info = p.get("idTagInfo")
            status = (info.get("status") if isinstance(info, dict) else None) \
                if a != "BootNotification" else p.get("status")
            if a in ANSWERS and not _answer_ok(engine, a, status):
                notes.append(f"line {f.line}: {a}.conf with status {status!r}, not one OCPP "
                             f"1.6 allows: not an answer the model can take (skipped)")
                continue
            if a == "Authorize":
                add([auth_at.get(f.uid, connectors[0])],
                    Item(f, ev("authorize_conf", status=status), f"authorize_conf({status})"))
            elif a == "StartTransaction":
                c = start_at.get(f.uid, connectors[0])
                tx_of[p.get("transactionId")] = c
                current_tx[c] = p.get("transactionId")
                add([c], Item(f, ev("start_tx_conf", status=status), f"start_tx_conf({status})"))
            elif a == "BootNotification":
                add(connectors, Item(f, ev("boot_conf", status=status), f"boot_conf({status})"))
                beat = heartbeat_write(engine, p)
                if beat is not None:
                    add(connectors, Item(f, beat, f"heartbeat_interval({p.get('interval')})"))
        elif f.kind == 2 and f.origin == "cs":
            got = _central_event(engine, f, connectors, current_tx)
            if got is None:
                skip(f.action or "?")
                continue
            targets, event, label = got
            answer = results.get(f.uid)
            result = None if answer is None else answer.payload if answer.kind == 3 else {
                "CALLERROR": answer.payload.get("errorCode")}  # a request it did not take
            add(targets, Item(f, event, label, result=result))
        # CALLERRORs and results of skipped CALLs: nothing for the model
    return items, skipped, notes


def heartbeat_write(engine: Any, payload: dict[str, Any]) -> Any:
    """An accepted BootNotification.conf's `interval` as the write of HeartbeatInterval it is
    (OCPP 1.6 §4.2: the charge point SHALL adjust its heartbeat interval to it; a later
    GetConfiguration shows the new value), or None (not accepted, no interval, 0 = the charge
    point's own choice, or a spec without the key)."""
    table = getattr(engine.spec, "configuration_keys", None)
    interval = payload.get("interval")
    if (table is None or table.find(HEARTBEAT_KEY) is None or payload.get("status") != "Accepted"
            or isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0):
        return None
    try:
        return engine.event("change_configuration", key=HEARTBEAT_KEY, value=str(interval))
    except Exception:  # noqa: BLE001 - a value the key cannot hold: left to the answer
        return None


HEARTBEAT_KEY = "HeartbeatInterval"
ANSWERS = {"Authorize": "authorize_conf", "StartTransaction": "start_tx_conf",
           "BootNotification": "boot_conf"}


def _answer_ok(engine: Any, action: str, status: Any) -> bool:
    try:
        engine.event(ANSWERS[action], status=status)
        return True
    except Exception:  # noqa: BLE001 - a status out of the event's domain
        return False


def _central_event(engine: Any, f: Frame, connectors: list[int], current_tx: dict[int, Any]
                   ) -> tuple[list[int], Any, str] | None:
    """The model's event for a central-system CALL, and the connectors it reaches."""
    a, p, ev = f.action, f.payload, engine.event
    conn = p.get("connectorId")
    one = [conn] if conn in connectors else [connectors[0]]
    every = list(connectors)
    try:
        if a == "RemoteStartTransaction":
            return one, ev("remote_start", id_tag=p.get("idTag")), \
                f"remote_start({p.get('idTag')})"
        if a == "RemoteStopTransaction":
            tx = p.get("transactionId")
            hit = [c for c, t in current_tx.items() if t == tx]
            return (hit or [connectors[0]]), ev("remote_stop", transaction="current" if hit
                                                else "other"), f"remote_stop({tx})"
        if a == "ReserveNow":
            return one, ev("reserve_now", id_tag=p.get("idTag")), f"reserve_now({p.get('idTag')})"
        if a == "CancelReservation":
            return every, ev("cancel_reservation", reservation="current"), "cancel_reservation"
        if a == "Reset":
            name = "hard_reset" if p.get("type") == "Hard" else "soft_reset"
            return every, ev(name), name
        if a == "ClearCache":
            return every, ev("clear_cache"), "clear_cache"
        if a == "ChangeAvailability":
            return (every if conn == 0 else one), ev("change_availability", type=p.get("type")), \
                f"change_availability({p.get('type')})"
        if a == "UnlockConnector":
            return one, ev("unlock_connector"), "unlock_connector"
        if a == "TriggerMessage":
            return (one if conn else [connectors[0]]), \
                ev("trigger_message", requested=p.get("requestedMessage")), \
                f"trigger_message({p.get('requestedMessage')})"
        if a == "GetConfiguration":
            return [connectors[0]], ev("get_configuration", key=list(p.get("key") or [])), \
                "get_configuration"
        if a == "ChangeConfiguration":
            return every, ev("change_configuration", key=p.get("key"), value=p.get("value")), \
                f"change_configuration({p.get('key')}={p.get('value')})"
        if a == "GetLocalListVersion":
            return [connectors[0]], ev("get_local_list_version"), "get_local_list_version"
    except Exception:  # noqa: BLE001 - a field out of the model's domain: not modelled
        return None
    return None  # SendLocalList, charging profiles, diagnostics, firmware: not modelled here


class Checker:
    """The search over one connector's items under one configuration."""

    def __init__(self, engine: Any, config: Any, id_tags: Iterable[str], depth: int = DEPTH,
                 errors: bool = True, lag: float | None = None):
        self.engine, self.config, self.depth = engine, config, depth
        self._moves: dict[tuple[Any, Any, Any], list] = {}
        self.line = 0  # the line of the frame being explained
        self.now: float | None = None  # ... and its time (seconds), when the log has times
        self.lag = lag  # seconds a queued CALL may wait before it goes out (None: no bound)
        ev = engine.event
        self.hidden = [(n, ev(n)) for n in PHYSICAL if n in engine.machine.events]
        # the cards: one per idTag of the log, tried only where the connector's next frames
        # name it (`window`): a card shows on the wire (Authorize, StartTransaction,
        # StopTransaction) or changes nothing the log can see, and a log names hundreds
        self.cards: dict[str, tuple[str, Any]] = {}
        self.window: tuple[str, ...] = ()
        letter_case = getattr(config, "rfid_tag_letter_case", None)
        for tag in sorted(set(id_tags)):
            uid = reader_uid(tag, letter_case)
            try:
                self.cards[tag] = (f"rfid({uid})", ev("rfid", uid=uid))
            except Exception:  # noqa: BLE001 - an idTag the model's card field cannot hold
                continue
        if errors:
            self.hidden += [(n, ev(n)) for n in RECOVERIES if n in engine.machine.events]
            for name in _error_names(engine):
                self.hidden.append((f"error_raised({name})", ev("error_raised", error=name)))

    def start(self, warm: bool = False) -> list[Node]:
        """The states the log may begin in: the station on or off (a log from its boot), or,
        `warm`, also every state up to WARM_DEPTH events away, their messages sent before
        the log began (a log cut out of a longer one: its first session began before it)."""
        c = self.config
        on = self.engine.initial(c)
        _, off, _ = self.engine.advance(c, on, self.engine.event("power_loss"))
        nodes = [Node(c, on, ()), Node(c, off, (), ("power_loss",
                                                      self.engine.event("power_loss"), None, 0))]
        if not warm:
            return nodes
        ev = self.engine.event
        events = list(self.hidden) + [self.cards[t] for t in self.window if t in self.cards]
        for t in self.window:
            try:
                events.append((f"remote_start({t})", ev("remote_start", id_tag=t)))
            except Exception:  # noqa: BLE001 - an idTag the event cannot hold
                pass
        events += [(f"{name}(Accepted)", ev(name, status="Accepted"))
                   for name in ("authorize_conf", "start_tx_conf", "boot_conf")]
        seen = {(n.config, n.state) for n in nodes}
        frontier = list(nodes)
        for _ in range(WARM_DEPTH):
            nxt = []
            for node in frontier:
                for label, event in events:
                    cfg, state, _ = self.engine.advance(node.config, node.state, event)
                    if (cfg, state) in seen:
                        continue
                    seen.add((cfg, state))
                    new = Node(cfg, state, (), (f"before the log: {label}", event, node.trail, 0))
                    nodes.append(new)
                    nxt.append(new)
                    if len(nodes) >= MAX_NODES:
                        return nodes
            frontier = nxt
        return nodes

    def _queued(self, sent: tuple) -> tuple:
        return tuple((a, f, self.now) for a, f in sent)

    def _sent(self, out: Any) -> tuple[tuple[str, tuple], ...]:
        return tuple((m.action, m.fields) for m in out.messages
                     if m.kind == "call" and m.action not in SKIPPED)

    def _step(self, node: Node, label: str, event: Any) -> tuple[Node, Any]:
        config, state, out = self.engine.advance(node.config, node.state, event)
        return Node(config, state, node.pending + self._queued(self._sent(out)),
                    (label, event, node.trail, self.line)), out

    def moves(self, config: Any, state: Any) -> list[tuple[str, Any, Any, Any, tuple]]:
        """The hidden events that do something from `state`: (label, event, configuration,
        state, CALLs sent), computed once per (configuration, state)."""
        got = self._moves_of(config, state, None)
        for tag in self.window:
            got = got + self._moves_of(config, state, tag)
        return got

    def _moves_of(self, config: Any, state: Any, tag: str | None) -> list:
        """The moves of the hidden events without a card (None), or of the card `tag`."""
        key = (config, state, tag)
        got = self._moves.get(key)
        if got is None:
            got = []
            events = self.hidden if tag is None else \
                [self.cards[tag]] if tag in self.cards else []
            for label, event in events:
                cfg, new, out = self.engine.advance(config, state, event)
                sent = self._sent(out)
                if sent or new != state or cfg != config:
                    got.append((label, event, cfg, new, sent))
            if len(self._moves) > 400_000:
                self._moves.clear()
            self._moves[key] = got
        return got

    def closure(self, nodes: list[Node], want: tuple[str, dict] | None) -> list[Node]:
        """The nodes, and those `depth` hidden events away whose sent CALLs, queued behind the
        node's, stay consistent with `want` (the CALL the log shows next; None: an event comes
        next, so only silent hidden events)."""
        seen = {(n.config, n.state, n.pending) for n in nodes}
        out, frontier = list(nodes), list(nodes)
        for _ in range(self.depth):
            nxt = []
            for node in frontier:
                if node.pending:
                    continue  # its queued CALLs go out first: the log must show them
                for label, event, cfg, state, sent in self.moves(node.config, node.state):
                    if sent and (want is None or not _matches(sent[0], want)):
                        continue
                    new = Node(cfg, state, self._queued(sent),
                               (label, event, node.trail, self.line))
                    key = (new.config, new.state, new.pending)
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(new)
                    if not new.pending:
                        nxt.append(new)
                    if len(out) >= MAX_NODES:
                        return out
            frontier = nxt
        return out

    def feed(self, nodes: list[Node], item: Item) -> list[Node]:
        """The nodes that explain `item`."""
        if item.call is not None:
            out = []
            for node in self.closure(nodes, item.call):
                if node.pending and _matches(node.pending[0], item.call):
                    queued = node.pending[0][2]
                    if self.lag is not None and queued is not None and self.now is not None \
                            and self.now - queued > self.lag:
                        continue  # queued too long ago for --lag
                    out.append(Node(node.config, node.state, node.pending[1:], node.trail))
            return _dedup(out)
        out = []
        for node in self.closure(nodes, None):
            new, outputs = self._step(node, item.label, item.event)
            if item.result is not None:
                res = next((m for m in outputs.messages if m.kind == "result"), None)
                if res is None or not _result_matches(res, item.result):
                    continue
            out.append(new)
        return _dedup(out)

    def allowed(self, nodes: list[Node], item: Item) -> list[str]:
        """What the spec allowed at `item`: the next CALLs the nodes could send (queued or after
        a hidden event, with its rule and manual section), or the answers to the event."""
        seen: dict[str, None] = {}
        spec_rules = {r.id: r for r in getattr(self.engine.machine, "rules", ())}

        def rule_note(rule: str) -> str:
            r = spec_rules.get(rule)
            ref = getattr(r, "ref", None)
            manual = getattr(ref, "manual", None) or getattr(r, "manual", None)
            return f"rule {rule}" + (f", {manual}" if manual else "")

        for node in nodes[:200]:
            if node.pending:
                seen[f"{_label(node.pending[0][0], dict(thaw_pairs(node.pending[0][1])))} "
                     f"(already queued)"] = None
                continue
            if item.call is None and item.event is not None:
                _, out = self._step(node, item.label, item.event)
                res = next((m for m in out.messages if m.kind == "result"), None)
                if res is not None:
                    diff = _result_diff(res, item.result or {})
                    seen[f"{res.action}.conf with {diff} ({rule_note(out.rule)})"
                         if diff else f"{res.label()} ({rule_note(out.rule)})"] = None
                continue
            for label, event in self.hidden + [self.cards[t] for t in self.window
                                               if t in self.cards]:
                _, out = self._step(node, label, event)
                sent = self._sent(out)
                if sent:
                    seen[f"{_label(sent[0][0], dict(thaw_pairs(sent[0][1])))} after {label} "
                         f"({rule_note(out.rule)})"] = None
            if len(seen) > 40:
                break
        return list(seen)[:12]

    def run(self, connector: int, items: list[Item]) -> Verdict:
        windows = _windows(items)
        self.window = windows[0] if windows else ()
        warm = starts_mid_run(items)
        nodes = self.start(warm)
        bounded = len(nodes) >= MAX_NODES
        for k, item in enumerate(items):
            self.window = windows[k]
            self.line = item.frame.line
            self.now = seconds(item.frame.time)
            after = self.feed(nodes, item)
            if len(after) >= MAX_NODES:
                bounded = True
                after = after[:MAX_NODES]
            if not after:
                what = (f"the charge point sent {item.label}" if item.call is not None else
                        f"{item.label}: the charge point answered {item.result}")
                best = min(nodes, key=lambda n: len(n.pending))
                return Verdict(connector, False, k, _events(best.trail), item.frame,
                               f"no behaviour explains this frame: {what}",
                               self.allowed(nodes, item), bounded, _lines(best.trail),
                               warm=warm)
            nodes = after
        best = min(nodes, key=lambda n: len(n.pending))
        return Verdict(connector, True, len(items), _events(best.trail), bounded=bounded,
                       lines=_lines(best.trail), items=items, warm=warm)

    def later(self, items: list[Item], first: int) -> tuple[list[tuple[int, str]], list[int],
                                                              bool]:
        """Past the unexplained item `first`: after the next point where the connector is idle
        again (its StatusNotification Available, or a BootNotification) the check starts anew,
        as on a log that begins mid-run; each frame no behaviour explains is recorded and the
        check resumes at the next idle point (RESYNCS at most).  (deviations, the lines it
        resumed at, whether the last stretch reached the end.)"""
        deviations: list[tuple[int, str]] = []
        resumed: list[int] = []
        i, tail = first + 1, False
        while i < len(items) and len(deviations) < RESYNCS:
            j = next((m for m in range(i, len(items)) if _idle_point(items[m])), None)
            if j is None:
                break
            resumed.append(items[j].frame.line)
            j += 1  # the idle point is where the two agree again: checked from the frame after
            if j >= len(items):
                tail = True
                break
            windows = _windows(items[j:])
            self.window = windows[0]
            nodes = self.start(warm=True)
            failed = None
            for m in range(j, len(items)):
                item = items[m]
                self.window = windows[m - j]
                self.line, self.now = item.frame.line, seconds(item.frame.time)
                after = self.feed(nodes, item)[:MAX_NODES]
                if not after:
                    failed = m
                    break
                nodes = after
            if failed is None:
                tail = True
                break
            item = items[failed]
            what = (f"the charge point sent {item.label}" if item.call is not None else
                    f"{item.label}: the charge point answered {item.result}")
            deviations.append((item.frame.line, f"no behaviour explains this frame: {what}"))
            i = failed + 1
        return deviations, resumed, tail

    def follow(self, verdict: Verdict) -> bool:
        """Whether the run an explained verdict found (under another configuration) explains
        its frames under this one too: the same events at the same frames, the same CALLs in
        the same order, the same answers.  No search: one step per event (`--infer-config`
        confirms a parameter value with it before searching anew)."""
        run = list(zip(verdict.events, verdict.lines))
        node = self.start()[0]
        while run and run[0][1] == 0:  # before the first frame: power, or a run before the log
            node, _ = self._step(node, *run[0][0])
            node = Node(node.config, node.state, (), node.trail)
            run = run[1:]
        k = 0
        for item in verdict.items:
            self.line, self.now = item.frame.line, seconds(item.frame.time)
            while k < len(run) and run[k][1] == item.frame.line and not (
                    item.event is not None and run[k][0] == (item.label, item.event)):
                if node.pending:
                    return False  # a hidden event while CALLs wait: the search allows none
                node, _ = self._step(node, *run[k][0])
                k += 1
            if item.call is not None:
                if not node.pending or not _matches(node.pending[0], item.call):
                    return False
                queued = node.pending[0][2]
                if self.lag is not None and queued is not None and self.now is not None \
                        and self.now - queued > self.lag:
                    return False
                node = Node(node.config, node.state, node.pending[1:], node.trail)
                continue
            if k >= len(run) or run[k][0] != (item.label, item.event):
                return False
            node, out = self._step(node, item.label, item.event)
            k += 1
            if item.result is not None:
                res = next((m for m in out.messages if m.kind == "result"), None)
                if res is None or not _result_matches(res, item.result):
                    return False
        return k == len(run)


WINDOW = 16  # items of a connector ahead whose idTags the hidden cards are drawn from
WARM_DEPTH = 6  # events before a log that begins mid-run (plug, card, answers, charging ...)
RESYNCS = 50  # deviations recorded past a connector's first


def _idle_point(item: Item) -> bool:
    """Where a connector is idle again: it reports Available, or the station boots."""
    return item.call is not None and (item.call[0] == "BootNotification" or (
        item.call[0] == "StatusNotification" and item.call[1].get("status") == "Available"))


def starts_mid_run(items: list[Item]) -> bool:
    """A connector's log that does not begin with the station's boot: its first CALL from the
    charge point is another message (the log was cut out of a longer one)."""
    first = next((item for item in items if item.call is not None), None)
    return first is not None and first.call[0] != "BootNotification"


def _windows(items: list[Item]) -> list[tuple[str, ...]]:
    """Per item: the idTags the charge point's CALLs among the next WINDOW items name."""
    tags = [str(item.call[1].get("idTag")) if item.call is not None
            and item.call[1].get("idTag") is not None else None for item in items]
    out = []
    for k in range(len(items)):
        out.append(tuple(sorted({t for t in tags[k:k + WINDOW] if t is not None})))
    return out


def seconds(time: str | None) -> float | None:
    """A log's timestamp as seconds (RFC 3339, or `YYYY-MM-DD HH:MM:SS[,.]fff` as the Python
    logger writes it, taken as UTC); None when absent or unreadable."""
    import datetime as dt
    if not time:
        return None
    text = time.strip().replace(",", ".").replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def thaw_pairs(pairs: tuple) -> list[tuple[str, Any]]:
    return [(k, thaw(v)) for k, v in pairs if v is not None]


def _matches(sent: tuple, want: tuple[str, dict[str, Any]]) -> bool:
    action, pairs = sent[0], sent[1]
    if action != want[0]:
        return False
    model = dict(thaw_pairs(pairs))
    if action == "StopTransaction" and "idTag" not in model:
        return {k: v for k, v in want[1].items() if k != "idTag"} == model
    if action == "StatusNotification":  # info and vendorErrorCode: compared when the model sets them
        return all(want[1].get(k) == v for k, v in model.items()) and \
            want[1].get("status") == model.get("status")
    return model == want[1]


def _result_matches(res: Message, payload: dict[str, Any]) -> bool:
    model = dict(thaw_pairs(res.fields))
    for k, v in model.items():
        got = payload.get(k)
        if k == "configurationKey" and isinstance(got, list):
            strip = [{"key": x.get("key"), "readonly": x.get("readonly"), "value": x.get("value")}
                     for x in got if isinstance(x, dict)]
            if strip != v:
                return False
        elif got != v:
            return False
    return True


def _result_diff(res: Message, payload: dict[str, Any]) -> str:
    """Where the charge point's answer differs from the model's, in words (configuration keys
    one by one: a GetConfiguration.conf is long)."""
    model = dict(thaw_pairs(res.fields))
    out = []
    for k, v in model.items():
        got = payload.get(k)
        if k == "configurationKey" and isinstance(got, list):
            theirs = {str(x.get("key")): x for x in got if isinstance(x, dict)}
            for entry in v:
                e = dict(entry)
                t = theirs.get(str(e.get("key")))
                if t is None:
                    out.append(f"{e.get('key')}={e.get('value')!r} (the charge point did not "
                               f"list it)")
                elif (t.get("value"), t.get("readonly")) != (e.get("value"), e.get("readonly")):
                    out.append(f"{e.get('key')}={e.get('value')!r} (the charge point: "
                               f"{t.get('value')!r})")
        elif got != v:
            out.append(f"{k}={v!r} (the charge point: {got!r})")
    return ", ".join(out)


def _dedup(nodes: list[Node]) -> list[Node]:
    seen, out = set(), []
    for n in nodes:
        key = (n.config, n.state, n.pending)
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def _events(trail: Any) -> list[tuple[str, Any]]:
    out = []
    while trail is not None:
        label, event, trail, _ = trail
        out.append((label, event))
    return out[::-1]


def _lines(trail: Any) -> list[int]:
    """The frame line each event of the run came before or with (0: before the log)."""
    out = []
    while trail is not None:
        _, _, trail, line = trail
        out.append(line)
    return out[::-1]


def _error_names(engine: Any) -> list[str]:
    """The error table's rows (the values of error_raised's field)."""
    d = engine.machine.events.get("error_raised")
    for f in getattr(d, "fields", ()):
        values = getattr(f.type, "values", None)
        if f.name == "error" and values:
            return [str(v) for v in values]
    return []


def reader_uid(tag: str, letter_case: Any) -> str:
    """The card, in the reader's byte order, that the charge point writes as `tag` under
    RFID Tag letter case (§5.3): a hex idTag's bytes reversed back under the Reversed settings;
    the case is left as the log has it (a rendering that changes it cannot explain the frame,
    and the search finds that)."""
    if isinstance(letter_case, str) and letter_case.endswith("Reversed") \
            and HEX_UID.fullmatch(tag):
        return "".join(tag[i:i + 2] for i in range(len(tag) - 2, -1, -2))
    return tag


def id_tags(log: Log) -> set[str]:
    """The idTags the log names (the cards the hidden `rfid` events may present)."""
    tags = set()
    for f in log.frames:
        if isinstance(f.payload, dict):
            for k in ("idTag",):
                v = f.payload.get(k)
                if isinstance(v, str) and 0 < len(v) <= 20:
                    tags.add(v)
    return tags


_CHECKERS: dict[tuple, Checker] = {}  # by (engine, configuration, idTags, depth): its moves


def check(engine: Any, config: Any, log: Log, depth: int = DEPTH, lag: float | None = None,
          resync: bool = False) -> tuple[list[Verdict], dict[str, int], list[str]]:
    """Every connector's verdict, the skipped actions, the split's notes.  `resync`: past a
    connector's first unexplained frame, check on from each point where it is idle again
    (`Checker.later`), so that every deviation of a long log is found, each session judged."""
    tags = frozenset(id_tags(log))

    def checker(errors: bool) -> Checker:
        key = (id(engine), config, tags, depth, errors, lag)
        got = _CHECKERS.get(key)
        if got is None or got.engine is not engine:
            if len(_CHECKERS) > 16:
                _CHECKERS.clear()
            got = _CHECKERS[key] = Checker(engine, config, tags, depth, errors, lag)
        return got
    # two passes: without the error table's conditions and recoveries (some twenty-five hidden
    # events, most of them silent, that multiply the states the search keeps), then, for a
    # connector that pass leaves unexplained, with them.  Sound: an explanation found without
    # them is one; the verdict "unexplained" always comes from the full pass.
    def judge(c: int, its: list[Item]) -> Verdict:
        v = checker(False).run(c, its)
        return v if v.explained else checker(True).run(c, its)

    floating: dict[str, list[int]] = {}
    items, skipped, notes = split(engine, log, floating=floating)
    verdicts = {c: judge(c, its) for c, its in sorted(items.items())}
    # an Authorize that names no connector, where it is the first frame its connector cannot
    # explain: tried at each other connector it may belong to, kept where it is explained (the
    # two connectors judged anew); where none explains it, it stays, and is reported, at the
    # first connector
    place: dict[str, int] = {}
    tried: set[str] = set()
    while True:
        bad = next((v for v in verdicts.values() if not v.explained and v.frame is not None
                    and v.frame.action == "Authorize" and v.frame.uid in floating
                    and v.frame.uid not in tried), None)
        if bad is None:
            break
        uid = bad.frame.uid
        tried.add(uid)
        for other in floating[uid]:
            if other == bad.connector:
                continue
            again, _, _ = split(engine, log, {**place, uid: other})
            trial = {c: judge(c, again[c]) for c in (bad.connector, other)}
            moved = trial[other]
            if moved.explained or moved.frame is None or moved.frame.uid != uid:
                place[uid] = other
                verdicts.update(trial)
                items[bad.connector], items[other] = again[bad.connector], again[other]
                break
    if resync:  # the frames after the first unexplained one, from each idle point on
        for v in verdicts.values():
            if not v.explained and v.frame is not None:
                # as the verdicts: without the error table first, a deviation only from the
                # full pass
                got = checker(False).later(items[v.connector], v.frames)
                if got[0]:
                    got = checker(True).later(items[v.connector], v.frames)
                v.later, v.resumed, v.tail_explained = got
    return [verdicts[c] for c in sorted(verdicts)], skipped, notes
