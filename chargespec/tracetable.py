"""Rendering a run of the session machine as a step-by-step text table (and as JSON).

One row per step: the event, the rule that fired, then every value a conformance vector
observes (the machine's `observed:`, in its order: connector status, contactor, lock, offered
current and duty cycle, LED), followed by the OCPP messages and indications of that step, one
per line.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from chargespec.models.types import Event, Outputs, to_jsonable

LEAD = (("#", 3), ("event", 32), ("rule", 38))
# how each observed key is shown (heading, width, format); a key not listed: its name, as is
SHOWN: dict[str, tuple[str, int, Callable[[Any], str]]] = {
    "status": ("status", 13, str), "contactor": ("contactor", 9, str), "lock": ("lock", 6, str),
    "offered_current": ("offered", 7, lambda v: f"{v} A"),
    "duty_cycle": ("duty", 6, lambda v: f"{v:g}%"), "led": ("led", 15, str)}


def _columns(machine: Any) -> list[tuple[str, str, str, int, Callable[[Any], str]]]:
    """(name, heading, width, format) of each observed key that is a value (messages and
    indications are lines under the row), in the machine's `observed:` order."""
    out = []
    for o in machine.observed:
        if o.source in ("observation", "state"):
            heading, width, fmt = SHOWN.get(o.name, (o.name, max(len(o.name), 10), str))
            out.append((o.name, o.source, heading, width, fmt))
    return out


def render(machine: Any, trace: Sequence[tuple[Event, Any, Outputs]], initial_observation: Any,
           initial_state: Any) -> str:
    """The run as a table: one row per step with the observed values, the step's messages and
    indications on lines under it."""
    cols = _columns(machine)
    widths = list(LEAD) + [(heading, width) for _, _, heading, width, _ in cols]

    def values(obs: Any, state: Any) -> list[str]:
        return [fmt(getattr(obs if source == "observation" else state, name))
                for name, source, _, _, fmt in cols]
    lines = [_row(widths, [c for c, _ in widths]), _row(widths, ["-" * w for _, w in widths])]
    lines.append(_row(widths, ["0", "(initial)", ""]
                      + values(initial_observation, initial_state)))
    for i, (ev, state, out) in enumerate(trace, 1):
        lines.append(_row(widths, [str(i), ev.label(), out.rule]
                          + values(out.observation, state)))
        pad = " " * (LEAD[0][1] + 2)
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
