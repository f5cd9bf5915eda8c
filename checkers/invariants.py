"""The invariants of a machine (its `invariants:`) as checks the explorer runs.

`state` invariants are expressions of the spec, evaluated on every reachable state with its
observations (once per state: they are marked `per_state`, and the explorer calls them on the
initial state and on each state when it is first reached).  `step` invariants are the named checks below: properties of a transition (the
state before and after, the event, the messages sent) that expressions of one state cannot
say.  `graph` invariants look at the whole reachable state graph (no dead end).  Each check
returns None or a message; the explorer adds the configuration and the shortest trace.
"""

from __future__ import annotations

from typing import Any, Callable

from chargespec.expr import PythonBackend, listed, names
from chargespec.models.step import Engine
from chargespec.models.types import Event, Outputs

StepCheck = Callable[[Engine, Any, Any, Event, Any, Outputs], "str | None"]

# OCPP 1.6 §7.36: the reason of a StopTransaction by what caused it
STOP_REASONS = {
    "unplug": "EVDisconnected", "cable_removed": "EVDisconnected", "rfid": "Local",
    "remote_stop": "Remote", "power_return": "PowerLoss", "start_tx_conf": "DeAuthorized",
    "unlock_connector": "UnlockCommand", "hard_reset": "HardReset", "error_raised": "Other",
    "ev_ventilation": "Other",
}
FIXED_TAG_MODES = ("FullFixedRfidWithAuth", "FullFixedRfidWithoutAuth")


def _sent(out: Outputs, action: str) -> list[dict[str, Any]]:
    return [m.as_dict() for m in out.messages if m.action == action and m.kind == "call"]


def status_change_in_ocpp_table(engine, config, s, ev, s2, out):
    if not engine.spec.status_table.permits(s.status, s2.status):
        return f"status {s.status} -> {s2.status} is not allowed by OCPP 1.6 §4.9"
    return None


_SILENCED: dict[tuple[int, Any, str], bool] = {}


def _silenced(engine, config, action: str) -> bool:
    key = (id(engine), config, action)
    hit = _SILENCED.get(key)
    if hit is None:
        hit = _SILENCED[key] = any(when(None, config, None, None) and ("*" in drop or
                                                                      action in drop)
                                   for drop, when in engine.compiled.filters)
    return hit


def start_stop_pairing(engine, config, s, ev, s2, out):
    begins = s.session != "transaction" and s2.session == "transaction"
    ends = s.session == "transaction" and s2.session != "transaction"
    if not (begins or ends or out.messages):
        return None
    starts, stops = len(_sent(out, "StartTransaction")), len(_sent(out, "StopTransaction"))
    want_start = 1 if begins and not _silenced(engine, config, "StartTransaction") else 0
    want_stop = 1 if ends and not _silenced(engine, config, "StopTransaction") else 0
    if (starts, stops) != (want_start, want_stop):
        return (f"{starts} StartTransaction and {stops} StopTransaction sent as the session goes "
                f"{s.session} -> {s2.session}")
    return None


def stop_reason(engine, config, s, ev, s2, out):
    for stop in _sent(out, "StopTransaction"):
        want = STOP_REASONS.get(ev.name)
        if stop.get("reason") != want:
            return f"StopTransaction reason {stop.get('reason')} on {ev.label()}, expected {want}"
    return None


def mode_1_sends_nothing(engine, config, s, ev, s2, out):
    if config.free_charging and config.free_charging_mode == "NoOcpp" and out.messages:
        return f"Free Charging mode 1 sent {', '.join(m.label() for m in out.messages)}"
    return None


def modes_2_3_send_no_transactions(engine, config, s, ev, s2, out):
    if config.free_charging and config.free_charging_mode in ("StatusNotifWithoutAuth",
                                                             "StatusNotifWithAuth"):
        bad = [m.label() for m in out.messages
               if m.action in ("Authorize", "StartTransaction", "StopTransaction")]
        if bad:
            return f"Free Charging {config.free_charging_mode} sent {', '.join(bad)}"
    return None


def free_charging_id_tags(engine, config, s, ev, s2, out):
    if not config.free_charging:
        return None
    if config.free_charging_mode in FIXED_TAG_MODES:
        for action in ("StartTransaction", "StopTransaction"):
            for m in _sent(out, action):
                if "idTag" in m and m["idTag"] != config.free_charging_rfid_tag:
                    return (f"{action} idTag {m['idTag']!r} in {config.free_charging_mode}, not "
                            f"the fixed tag {config.free_charging_rfid_tag!r}")
    if config.free_charging_mode == "FullAnyRfid":
        for m in _sent(out, "StartTransaction"):
            if m["idTag"] != s2.card:
                return f"StartTransaction idTag {m['idTag']!r} is not the card {s2.card!r}"
    return None


def rfid_only_unplug_keeps_transaction(engine, config, s, ev, s2, out):
    if config.stop_transaction_mode == "OnlyByRfidOrRemoteStop" and \
            ev.name in ("unplug", "cable_removed") and s.session == "transaction" and \
            s2.session != "transaction":
        return f"{ev.label()} ended a transaction under Only by RFID/RemoteStop"
    return None


def doubt_off_refuses_unknown_cards(engine, config, s, ev, s2, out):
    if ev.name != "rfid" or s.session != "idle" or config.free_charging or \
            config.if_in_doubt_allow_charging != "Off" or not s.powered:
        return None
    online = config.connection_type != "NoBackend" and "backend_disconnected" not in s.errors
    if online:
        return None
    uid = engine.compiled.normalize(config, ev).as_dict()["uid"]
    number = 2 if config.master_slave_mode == "Slave" else 1
    known = (config.enable_local_whitelist and listed(uid, config.local_whitelist, number)) or (
        config.enable_ocpp_whitelist and config.local_authorize_offline and uid in s.cache)
    if not known and s2.session in ("authorized", "transaction"):
        return f"an unknown card {uid!r} was authorized offline with If in doubt Off"
    return None


# The configurations under which a step check can fail (the others skip it)
APPLIES: dict[str, Callable[[Any], bool]] = {
    "mode_1_sends_nothing": lambda c: c.free_charging and c.free_charging_mode == "NoOcpp",
    "modes_2_3_send_no_transactions": lambda c: c.free_charging and c.free_charging_mode in (
        "StatusNotifWithoutAuth", "StatusNotifWithAuth"),
    "free_charging_id_tags": lambda c: c.free_charging and c.free_charging_mode in (
        *FIXED_TAG_MODES, "FullAnyRfid"),
    "rfid_only_unplug_keeps_transaction":
        lambda c: c.stop_transaction_mode == "OnlyByRfidOrRemoteStop",
    "doubt_off_refuses_unknown_cards":
        lambda c: not c.free_charging and c.if_in_doubt_allow_charging == "Off",
}

STEP_CHECKS: dict[str, StepCheck] = {f.__name__: f for f in (
    status_change_in_ocpp_table, start_stop_pairing, stop_reason, mode_1_sends_nothing,
    modes_2_3_send_no_transactions, free_charging_id_tags, rfid_only_unplug_keeps_transaction,
    doubt_off_refuses_unknown_cards)}
GRAPH_CHECKS = ("available_reachable",)


def explorer_checks(engine: Engine) -> dict[str, Callable]:
    """The machine's state and step invariants as checks for `explore`."""
    m = engine.machine
    unknown = [i.check for i in m.invariants if i.kind == "step" and i.check not in STEP_CHECKS]
    unknown += [i.check for i in m.invariants if i.kind == "graph" and i.check not in GRAPH_CHECKS]
    if unknown:
        raise ValueError(f"invariants name unknown checks: {', '.join(unknown)}")
    checks: dict[str, Callable] = {}
    be = python_backend(engine)
    for inv in m.invariants:
        if inv.kind == "state":
            fn = be.visit(inv.expr)

            def state_check(config, s, ev, s2, out, fn=fn, inv=inv):
                if not fn(s2, config, None, out.observation):
                    return f"invariant {inv.id} fails in {s2!r}: {inv.doc}"
                return None
            state_check.per_state = True  # type: ignore[attr-defined]
            checks[inv.id] = state_check
        elif inv.kind == "step":
            step = STEP_CHECKS[inv.check]  # type: ignore[index]

            def step_check(config, s, ev, s2, out, step=step, inv=inv):
                msg = step(engine, config, s, ev, s2, out)
                return None if msg is None else f"invariant {inv.id}: {msg}"
            step_check.applies = APPLIES.get(inv.check)  # type: ignore[attr-defined, arg-type]
            checks[inv.id] = step_check
    return checks


def python_backend(engine: Engine, state_first: bool = False) -> PythonBackend:
    """The Python back end over (state, configuration, event, observation); a kept
    observation is read from the observation, or with `state_first` from the state."""
    compiled = engine.compiled

    def resolver(name: str):
        if name in compiled.index and (state_first or name not in compiled.obs_names):
            return lambda s, c, e, o: getattr(s, name)
        if name in compiled.obs_names:
            return lambda s, c, e, o: getattr(o, name)
        if name in engine.spec.parameters:
            return lambda s, c, e, o: getattr(c, name)
        value = engine.spec.constants[name][1]
        return lambda s, c, e, o: value

    order = {v: i for t, _ in engine.spec.constants.values() if hasattr(t, "domain")
             for i, v in enumerate(t.domain)}  # type: ignore[attr-defined]
    return PythonBackend(resolver, order)


def graph_goal(engine: Engine, inv: Any, config: Any) -> Callable[[Any], bool]:
    """A graph invariant's goal (its `expr`) as a test of a state under `config`."""
    fn = python_backend(engine, state_first=True).visit(inv.expr)
    compiled = engine.compiled
    if names(inv.expr) & (set(compiled.obs_names) - set(compiled.index)):
        return lambda s: bool(fn(s, config, None, engine.observe(config, s)))
    return lambda s: bool(fn(s, config, None, None))


def dead_ends(predecessors: dict[Any, set[Any]], states: Any, goal: Callable[[Any], bool]
              ) -> list[Any]:
    """The reachable states from which no path leads to a state that meets `goal` (the state
    graph backwards from the goal states; `predecessors` from `explore`)."""
    good = {s for s in states if goal(s)}
    frontier = list(good)
    while frontier:
        s = frontier.pop()
        for p in predecessors.get(s, ()):
            if p not in good:
                good.add(p)
                frontier.append(p)
    return [s for s in states if s not in good]
