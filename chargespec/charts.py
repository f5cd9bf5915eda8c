"""The sequence charts the report shows: what each setting that changes the wire does on it.

A story is what the people and the vehicle do (plug, a card, the car asking for current, an
error and its repair, unplugging); the central system answers what the charge point asks as a
permissive backend would (every Authorize, StartTransaction and BootNotification accepted,
while it is reachable).  The same story under each value of a setting shows, side by side,
what that setting changes on the wire: one chart per Stop Transaction Mode (§5.1), per Free
Charging Mode (§5.2), per If-in-doubt setting (§5.1), per class of the error table (§9:
stopping, non-stopping, from the vehicle).  The OCTT cases come from vectors/octt.json as
they are (their central system answers as each case says).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from chargespec.sequence import Chart, from_run, from_test

CARD = "04a3b2c1d2e380"  # a 7-byte card UID as a reader gives it
ANSWERS = {"Authorize": "authorize_conf", "StartTransaction": "start_tx_conf",
           "BootNotification": "boot_conf"}


@dataclass(frozen=True)
class Story:
    slug: str
    group: str  # the report's heading it goes under
    title: str
    manual: str
    values: Mapping[str, Any]  # the configuration
    steps: tuple[tuple[str, Mapping[str, Any]], ...]


SESSION = (("plug", {}), ("rfid", {"uid": CARD}), ("ev_request_charge", {}),
           ("rfid", {"uid": CARD}), ("unplug", {}), ("cable_removed", {}))
FREE = (("plug", {}), ("rfid", {"uid": CARD}), ("ev_request_charge", {}), ("unplug", {}),
        ("cable_removed", {}))
DOUBT = (("error_raised", {"error": "backend_disconnected"}), ("plug", {}),
         ("rfid", {"uid": CARD}), ("ev_request_charge", {}), ("backend_online", {}),
         ("unplug", {}), ("cable_removed", {}))


def _error_story(error: str, recovery: str) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    return (("plug", {}), ("rfid", {"uid": CARD}), ("ev_request_charge", {}),
            ("error_raised", {"error": error}), (recovery, {}), ("unplug", {}),
            ("cable_removed", {}))


def stories(spec: Any) -> list[Story]:
    """Every story of the report, in its order."""
    out: list[Story] = []
    stop = spec.parameters["stop_transaction_mode"]
    for v in stop.values:
        out.append(Story(f"stop-{v}", "Stop Transaction Mode (§5.1)",
                         f"Stop Transaction Mode: {stop.labels[v]}", "§5.1",
                         {"stop_transaction_mode": v}, SESSION))
    free = spec.parameters["free_charging_mode"]
    for v in free.values:
        out.append(Story(f"free-{v}", "Free Charging Mode (§5.2)",
                         f"Free Charging, mode: {free.labels[v]}", "§5.2",
                         {"free_charging": True, "free_charging_mode": v}, FREE))
    doubt = spec.parameters["if_in_doubt_allow_charging"]
    for v in doubt.values:
        out.append(Story(f"doubt-{v}", "If in doubt allow charging (§5.1)",
                         f"If in doubt allow charging: {doubt.labels[v]} (backend offline, "
                         f"an unknown card)", "§5.1", {"if_in_doubt_allow_charging": v}, DOUBT))
    for slug, error, recovery, what in (
            ("error-stopping", "rcd_fault", "rcd_reconnected", "an error that stops the "
             "transaction (RCD fault)"),
            ("error-non-stopping", "spd_tripped", "spd_replaced", "an error that does not "
             "(SPD tripped)"),
            ("error-vehicle", "vehicle_signals_error", "vehicle_error_cleared", "an error of "
             "the vehicle (state E/F)")):
        out.append(Story(slug, "The error table (§9)", f"While charging, {what}", "§9", {},
                         _error_story(error, recovery)))
    return out


def run_story(engine: Any, story: Story) -> Chart:
    """The story under its configuration, the central system answering as it goes."""
    config = engine.config(dict(story.values))
    state = first = engine.initial(config)
    trace = []
    online = True

    def step(event: Any) -> None:
        nonlocal config, state
        config, state, out = engine.advance(config, state, event)
        trace.append((event, state, out))
        if not online:
            return
        for m in out.messages:  # answered in order, each before the next story event
            if m.kind == "call" and m.action in ANSWERS:
                step(engine.event(ANSWERS[m.action], status="Accepted"))

    for name, fields in story.steps:
        if name == "error_raised" and fields.get("error") == "backend_disconnected":
            online = False
        if name == "backend_online":
            online = True
        step(engine.event(name, **fields))
    setting = ", ".join(f"{k} = {v}" for k, v in story.values.items()) or "the defaults"
    return from_run(engine, f"{story.title} ({setting})", story.values, trace, first)


def octt_charts(engine: Any, doc: Mapping[str, Any]) -> list[tuple[str, str, Chart]]:
    """(slug, title, chart) of every test of vectors/octt.json."""
    out = []
    for group in doc.get("testGroups", ()):
        for test in group.get("tests", ()):
            name = str(test.get("octt") or test.get("tcId"))
            title = str(test.get("comment") or name)
            out.append((f"octt-{name}", title, from_test(engine, group, test, title=title)))
    return out


def stop_reasons(chart: Chart) -> list[str]:
    """The StopTransaction reasons a chart sends (what the stop-mode charts must show)."""
    return [str(m.fields.get("reason")) for s in chart.steps for m in s.messages
            if m.action == "StopTransaction" and m.kind == "call"]


def all_charts(engine: Any, octt: Mapping[str, Any] | None) -> list[tuple[str, str, str, Chart]]:
    """(group, slug, title, chart) of the report, stories first, then the OCTT cases."""
    out: list[tuple[str, str, str, Chart]] = [
        (s.group, s.slug, s.title, run_story(engine, s)) for s in stories(engine.spec)]
    if octt is not None:
        out += [("OCTT cases", slug, title, chart) for slug, title, chart
                in octt_charts(engine, octt)]
    return out


def groups(charts: Sequence[tuple[str, str, str, Chart]]) -> list[str]:
    return list(dict.fromkeys(g for g, *_ in charts))
