"""Message sequence charts: what a run of the session looks like on the wire, drawn the way the
OCPP specification explains its use cases.

A `Chart` is a run of the model, whatever it came from: a test of the vectors (its steps carry
the event, the rule and what was expected), a scenario file run by the engine, or a failing
test's observed outputs beside its expected ones (`chargespec conform --report`).  Three
lifelines: the vehicle, cable and user (physical events, cards, power, errors: arrows into the
charge point), the charge point, and the central system (its requests and its answers to the
charge point's CALLs as arrows in; the charge point's CALLs and its answers out, with their key
fields).  When the connector's status, contactor, lock or offered current changes, a box on the
charge point's lifeline says so; each step's rule and its manual section are a note at the
right.  Timers fire inside the charge point (a note on its lifeline).

Two back ends: `svg` (plain SVG drawn here: no script, no graphviz, every string escaped; the
full fields of a message in its `<title>` tooltip) and `mermaid` (`sequenceDiagram` for
Markdown pages, which GitHub and GitLab render).  Both are pure functions of the chart, so the
same chart gives byte-identical output.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

# the central system's requests and answers, as the model's events: event -> OCPP action and
# the message type (.req for its requests, .conf for its answers to the charge point's CALLs)
CENTRAL = {
    "remote_start": ("RemoteStartTransaction", "req"),
    "remote_stop": ("RemoteStopTransaction", "req"),
    "reserve_now": ("ReserveNow", "req"), "cancel_reservation": ("CancelReservation", "req"),
    "soft_reset": ("Reset", "req"), "hard_reset": ("Reset", "req"),
    "clear_cache": ("ClearCache", "req"), "change_availability": ("ChangeAvailability", "req"),
    "unlock_connector": ("UnlockConnector", "req"), "trigger_message": ("TriggerMessage", "req"),
    "get_configuration": ("GetConfiguration", "req"),
    "change_configuration": ("ChangeConfiguration", "req"),
    "get_local_list_version": ("GetLocalListVersion", "req"),
    "send_local_list": ("SendLocalList", "req"), "data_transfer": ("DataTransfer", "req"),
    "authorize_conf": ("Authorize", "conf"), "start_tx_conf": ("StartTransaction", "conf"),
    "boot_conf": ("BootNotification", "conf"),
}
# timers run out inside the charge point
TIMERS = frozenset({"authorize_timeout", "connection_timeout", "hlc_timer", "heartbeat_timer",
                    "meter_sample_timer", "boot_retry_timer", "reservation_expired",
                    "cache_expiry_timer", "rcmb_reset_timer"})
KEY_FIELDS = ("idTag", "reason", "status", "errorCode", "info", "type", "key", "value",
              "requestedMessage", "transaction", "id_tag", "reservation", "error", "uid")
SHOWN = ("status", "contactor", "lock", "offered_current", "duty_cycle")  # the state box


@dataclass(frozen=True)
class Message:
    kind: str  # "call" (the charge point's request) or "result" (its answer)
    action: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    event: str
    fields: Mapping[str, Any]
    rule: str | None
    manual: str | None  # the rule's manual section
    messages: tuple[Message, ...]
    observation: Mapping[str, Any]


@dataclass(frozen=True)
class Chart:
    title: str
    config: Mapping[str, Any]  # the parameters off their defaults
    initial: Mapping[str, Any]  # the observation before the first step
    steps: tuple[Step, ...]


def _manual(engine: Any, rule: str | None) -> str | None:
    if rule is None or engine is None:
        return None
    try:
        r = engine.machine.rule(rule)
    except Exception:  # noqa: BLE001 - a rule of another spec: no section to show
        return None
    ref = getattr(r, "ref", None)
    return getattr(ref, "manual", None)


def from_test(engine: Any, group: Mapping[str, Any], test: Mapping[str, Any],
              title: str | None = None) -> Chart:
    """The chart of one test of a vector file: its events, rules and expected outputs."""
    steps = []
    for s in test.get("steps", ()):
        ev = dict(s.get("event") or {})
        name = str(ev.pop("name", "?"))
        expect = s.get("expect") or {}
        steps.append(Step(name, ev, s.get("rule"), _manual(engine, s.get("rule")),
                          tuple(Message(str(m.get("kind")), str(m.get("action")),
                                        dict(m.get("fields") or {}))
                                for m in expect.get("messages") or ()),
                          {k: v for k, v in expect.items() if k != "messages"}))
    name = title or f"test {test.get('tcId')}: {test.get('comment', '')}"
    return Chart(name, dict(group.get("config") or {}), dict(group.get("initial") or {}),
                 tuple(steps))


def from_run(engine: Any, title: str, values: Mapping[str, Any], trace: Iterable[Any],
             initial: Any) -> Chart:
    """The chart of `engine.run`'s trace ((event, state, outputs) per step) from the
    `initial` state."""
    config = engine.config(dict(values))
    steps = []
    for ev, state, out in trace:
        steps.append(Step(ev.name, _plain(ev.as_dict()), out.rule, _manual(engine, out.rule),
                          tuple(Message(m.kind, m.action, _plain(dict(m.fields)))
                                for m in out.messages if m.kind in ("call", "result")),
                          _seen(out.observation, state)))
    return Chart(title, dict(values), _seen(engine.observe(config, initial), initial),
                 tuple(steps))


def _seen(observation: Any, state: Any) -> dict[str, Any]:
    """The observation, with the socket's lock (a state variable the vectors observe)."""
    out = _plain(observation.as_dict())
    if hasattr(state, "lock"):
        out["lock"] = state.lock
    return out


def _plain(v: Any) -> Any:
    """Frozen values (tuples of pairs) as plain JSON-like ones."""
    from chargespec.models.types import thaw
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items() if x is not None}
    return thaw(v)


# ---------------------------------------------------------------------------------------------
# what each arrow says

DEPTH = 4  # nesting of a field value written out (deeper: "...": a chart is for reading)


def _value(v: Any, depth: int = 0) -> str:
    if isinstance(v, (list, tuple, Mapping)) and depth >= DEPTH:
        return "…"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, depth + 1) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_value(x, depth + 1)}" for k, x in v.items()) + "}"
    return str(v)


def _fields(fields: Mapping[str, Any], keys: Iterable[str] = KEY_FIELDS) -> str:
    """The key fields (an errorCode of NoError left to the tooltip)."""
    return ", ".join(f"{k}={_value(fields[k])}" for k in keys if k in fields
                     and not (k == "errorCode" and fields[k] == "NoError"))


def _all_fields(fields: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in fields.items())


def event_text(step: Step) -> tuple[str, str, str]:
    """(who sends it: ev / cs / timer, the short label, the full label) of a step's event."""
    full = f"{step.event}({_all_fields(step.fields)})" if step.fields else step.event
    if step.event in CENTRAL:
        action, kind = CENTRAL[step.event]
        fields = dict(step.fields)
        if step.event in ("soft_reset", "hard_reset"):
            fields = {"type": "Soft" if step.event == "soft_reset" else "Hard"}
        short = f"{action}.{kind}" + (f"({_fields(fields)})" if _fields(fields) else "")
        return "cs", short, full
    if step.event in TIMERS:
        return "timer", f"timer: {step.event}", full
    return "ev", (f"{step.event}({_fields(step.fields)})" if _fields(step.fields)
                  else step.event), full


def message_text(m: Message) -> tuple[str, str]:
    """(the short label, the full label) of a charge point's message."""
    kind = ".conf" if m.kind == "result" else ""
    short = f"{m.action}{kind}" + (f"({_fields(m.fields)})" if _fields(m.fields) else "")
    return short, f"{m.action}{kind}({_all_fields(m.fields)})"


def state_text(obs: Mapping[str, Any]) -> str:
    """The state box: status, contactor, lock, offered current and duty cycle."""
    parts = [str(obs.get("status", "?"))]
    if "contactor" in obs:
        parts.append(f"contactor {obs['contactor']}")
    if "lock" in obs:
        parts.append(f"lock {obs['lock']}")
    if "offered_current" in obs:
        duty = obs.get("duty_cycle")
        parts.append(f"{obs['offered_current']} A" + (f" / {duty} %" if duty is not None else ""))
    return " · ".join(parts)


def rows(chart: Chart) -> list[dict[str, Any]]:
    """The chart's rows, top to bottom: the initial state, then per step its event, the
    messages, the new state when it changed."""
    out: list[dict[str, Any]] = [{"kind": "state", "text": state_text(chart.initial),
                                  "tip": _all_fields(chart.initial)}]
    before = chart.initial
    for n, s in enumerate(chart.steps, 1):
        who, short, full = event_text(s)
        note = " ".join(x for x in (s.manual, s.rule) if x)
        out.append({"kind": who, "text": short, "tip": f"step {n}: {full}", "note": note,
                    "step": n})
        for m in s.messages:
            short, full = message_text(m)
            out.append({"kind": m.kind, "text": short, "tip": full})
        if any(s.observation.get(k) != before.get(k) for k in SHOWN):
            out.append({"kind": "state", "text": state_text(s.observation),
                        "tip": _all_fields(s.observation)})
        before = s.observation
    return out


# ---------------------------------------------------------------------------------------------
# SVG

ROW = 24
X_EV, X_CP, X_CS, X_NOTE = 120, 450, 780, 830
WIDTH = 1120
TEXT = 52  # characters of an arrow's label (the rest in the tooltip)


def _cut(text: str, n: int = TEXT) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def svg(chart: Chart, ident: str = "seq", width: int = WIDTH) -> str:
    """The chart as a standalone SVG document (inline in HTML as it is; `ident` keeps its
    arrowhead's id apart from other charts on the same page)."""
    e = html.escape
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", ident)
    body = rows(chart)
    height = 70 + ROW * len(body)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
           f'font-size="12">',
           f'<title>{e(chart.title)}</title>',
           f'<defs><marker id="{ident}-arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>']
    for x, name in ((X_EV, "vehicle · cable · user · site"), (X_CP, "charge point"),
                    (X_CS, "central system")):
        out.append(f'<rect x="{x - 80}" y="6" width="160" height="22" rx="3" fill="#eef" '
                   f'stroke="#446"/><text x="{x}" y="21" text-anchor="middle" '
                   f'font-weight="bold">{e(name)}</text>')
        out.append(f'<line x1="{x}" y1="28" x2="{x}" y2="{height - 8}" stroke="#99a" '
                   f'stroke-dasharray="2,3"/>')
    for i, r in enumerate(body):
        y = 52 + ROW * i
        tip = f"<title>{e(r['tip'])}</title>"
        k = r["kind"]
        if k == "state":
            out.append(f'<g class="state">{tip}<rect x="{X_CP - 190}" y="{y - 14}" width="380" '
                       f'height="19" rx="9" fill="#ffd" stroke="#aa6"/><text x="{X_CP}" '
                       f'y="{y}" text-anchor="middle" font-size="11">{e(_cut(r["text"], 66))}'
                       f'</text></g>')
            continue
        if k == "timer":
            out.append(f'<g class="timer">{tip}<text x="{X_CP + 8}" y="{y}" '
                       f'font-style="italic" fill="#555">{e(_cut(r["text"]))}</text></g>')
        else:
            a, b = {"ev": (X_EV, X_CP), "cs": (X_CS, X_CP), "call": (X_CP, X_CS),
                    "result": (X_CP, X_CS)}[k]
            dash = ' stroke-dasharray="6,4"' if k == "result" else ""
            colour = {"ev": "#063", "cs": "#036", "call": "#000", "result": "#000"}[k]
            out.append(f'<g class="{k}">{tip}<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" '
                       f'stroke="{colour}"{dash} marker-end="url(#{ident}-arrow)"/>'
                       f'<text x="{(a + b) // 2}" y="{y - 5}" text-anchor="middle" '
                       f'fill="{colour}">{e(_cut(r["text"]))}</text></g>')
        if r.get("note"):
            out.append(f'<text class="note" x="{X_NOTE}" y="{y}" fill="#666" '
                       f'font-size="11">{e(_cut(r["note"], 44))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def side_by_side(expected: Chart, observed: Chart, title: str) -> str:
    """Two charts next to each other (a failing test: what the vector expects, what the
    implementation did), scaled to one page width."""
    e = html.escape
    left, right = svg(expected, "expected"), svg(observed, "observed")
    return (f'<div class="sequence-pair"><p>{e(title)}</p><div style="display:flex;gap:1em">'
            f'<div style="flex:1;overflow:auto"><p><b>expected</b></p>{left}</div>'
            f'<div style="flex:1;overflow:auto"><p><b>observed</b></p>{right}</div></div></div>')


# ---------------------------------------------------------------------------------------------
# Mermaid

def mermaid_text(text: str) -> str:
    """Text for a Mermaid label: the characters its grammar reads (`;` ends a statement, `#`
    starts an entity, `:` separates, angle brackets become HTML) as entity codes, one line."""
    out = []
    for ch in " ".join(str(text).split()):
        if ch in "#;:<>{}%\"":
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def mermaid(chart: Chart) -> str:
    """The chart as a Mermaid `sequenceDiagram`."""
    m = mermaid_text
    out = ["sequenceDiagram", f"    title {m(chart.title)}",
           "    participant EV as vehicle, cable, user, site",
           "    participant CP as charge point", "    participant CS as central system"]
    for r in rows(chart):
        k = r["kind"]
        if k == "state":
            out.append(f"    Note over CP: {m(r['text'])}")
            continue
        if k == "timer":
            out.append(f"    Note left of CP: {m(r['text'])}")
        else:
            arrow = {"ev": "EV->>CP", "cs": "CS->>CP", "call": "CP->>CS",
                     "result": "CP-->>CS"}[k]
            out.append(f"    {arrow}: {m(r['text'])}")
        if r.get("note"):
            out.append(f"    Note right of CS: {m(r['note'])}")
    return "\n".join(out) + "\n"
