"""Rendering a run of the session machine as a step-by-step text table (and as JSON).

One row per step: the event, the rule that fired, then every observation a person watching a
charge point would look at (connector status, contactor, lock, offered current and duty cycle,
LED), followed by the OCPP messages sent in that step, one per line.
"""

from __future__ import annotations

from typing import Any, Sequence

from chargespec.models.types import Event, Outputs, to_jsonable

COLUMNS = (("#", 3), ("event", 32), ("rule", 38), ("status", 13), ("contactor", 9),
           ("lock", 6), ("offered", 7), ("duty", 6), ("led", 15))


def render(trace: Sequence[tuple[Event, Any, Outputs]], initial_observation: Any,
           initial_state: Any) -> str:
    lines = [_row(COLUMNS, [c for c, _ in COLUMNS]), _row(COLUMNS, ["-" * w for _, w in COLUMNS])]
    o = initial_observation
    lines.append(_row(COLUMNS, ["0", "(initial)", "", o.status, o.contactor, initial_state.lock,
                                f"{o.offered_current} A", f"{o.duty_cycle:g}%", o.led]))
    for i, (ev, state, out) in enumerate(trace, 1):
        o = out.observation
        lines.append(_row(COLUMNS, [str(i), ev.label(), out.rule, o.status, o.contactor,
                                    state.lock, f"{o.offered_current} A", f"{o.duty_cycle:g}%",
                                    o.led]))
        pad = " " * (COLUMNS[0][1] + 2)
        for m in out.messages:
            arrow = "<- " if m.kind == "result" else "-> "
            lines.append(f"{pad}{arrow}{m.label()}")
        for ind in out.indications:
            lines.append(f"{pad}** {ind.name}")
    return "\n".join(lines)


def _row(cols: Sequence[tuple[str, int]], values: Sequence[str]) -> str:
    cells = []
    for (_, w), v in zip(cols, values):
        v = str(v)
        cells.append(v if len(v) <= w else v[: w - 1] + "…")
        cells[-1] = cells[-1].ljust(w)
    return "  ".join(cells).rstrip()


def to_json(trace: Sequence[tuple[Event, Any, Outputs]]) -> list[dict[str, Any]]:
    return [{"event": {"name": ev.name, **ev.as_dict()}, "state": to_jsonable(s.as_dict()), **out.to_json()}
            for ev, s, out in trace]
