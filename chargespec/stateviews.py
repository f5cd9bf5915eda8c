"""State diagrams small enough to read at a glance, with the details one hover away.

The whole-machine picture (diagrams.machine_dot) is complete and correct, and unreadable: 125
rules on a dozen edges, each carrying a block of guards.  These views keep the picture to names
and put everything else where a reader looks for it next:

- `status_view`: the OCPP 1.6 connector statuses as states, under one configuration class
  (diagrams.CONFIG_CLASSES), with the status changes an exhaustive exploration makes there;
  an edge says only which events make the change.  Its tooltip (the SVG `<title>`) and the
  table under the picture give, per event, the rule, its guard specialised to the class, the
  messages sent and the manual section.
- `phase_overview`: the session's phases (the control variable's values) with an edge wherever
  some rule moves from one to another, labelled by the events that do.
- `phase_view`: one phase and every rule that leaves it or stays in it, grouped by target.

House rules, checked by the tests: no edge label longer than `LABEL` characters (the names that
do not fit become "+N", all of them in the tooltip), no picture wider than `MAX_WIDTH_PX`
(graphviz's `size` scales a larger layout down).  `mermaid_state` writes the same views as
Mermaid `stateDiagram-v2`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from chargespec.dot import (CONFIG_CLASSES, NEXT_EVENT, SETTLES, ConfigClass, guard_text,
                            known_values, q, svg as render)
from chargespec.sequence import mermaid_text

LABEL = 40  # characters of an edge label
MAX_WIDTH_PX = 1400  # at 100 % zoom (96 px per inch)
SIZE = "14.4,40"  # graphviz inches: 14.4 in = 1,382 px at 96 dpi


@dataclass(frozen=True)
class Edge:
    """One drawn edge: its ends, and per event the rules (with their detail) that make it."""

    src: str
    dst: str
    events: tuple[str, ...]
    details: tuple[tuple[str, str, str, str, str], ...]  # (event, rule, guard, sends, manual)

    def label(self) -> str:
        return short_label(self.events)

    def tooltip(self) -> str:
        return "\n".join(f"{ev}: {rule}" + (f" [{guard}]" if guard else "")
                         + (f" / {sends}" if sends else "") + (f" ({manual})" if manual else "")
                         for ev, rule, guard, sends, manual in self.details)


def short_label(names: Sequence[str], limit: int = LABEL) -> str:
    """The names, comma-separated, within `limit` characters: those that do not fit as +N."""
    shown: list[str] = []
    for k, name in enumerate(names):
        rest = len(names) - k - 1
        text = ", ".join(shown + [name]) + (f" +{rest}" if rest else "")
        if len(text) > limit:
            more = len(names) - len(shown)
            if shown:
                return ", ".join(shown) + f" +{more}"
            tail = f" +{more - 1}" if more > 1 else ""
            return name[:limit - 1 - len(tail)] + "…" + tail
        shown.append(name)
    return ", ".join(shown)


def _rule_detail(engine: Any, rule_id: str, known: Mapping[str, Any] | None
                 ) -> tuple[str, str, str]:
    if rule_id == SETTLES:
        return "", "StatusNotification", "§4"
    r = engine.machine.rule(rule_id)
    guard = guard_text(engine, r.when, known) or ""
    sends = ", ".join(dict.fromkeys(e.message or e.indication or "" for e in r.emit
                                    if e.message or e.indication))
    ref = getattr(r, "ref", None)
    manual = getattr(ref, "manual", None) or str(ref or "")
    return guard, sends, manual


def _kind(event: str) -> int:
    """The order events are named on an edge: the vehicle and cable, the card, the central
    system, then timers and the rest (what a reader looks for first); a status settling on the
    next event last."""
    from chargespec.sequence import CENTRAL, TIMERS
    if event == NEXT_EVENT:
        return 5
    if event in VEHICLE:
        return 0
    if event == "rfid":
        return 1
    if event in CENTRAL:
        return 2
    return 4 if event in TIMERS else 3


VEHICLE = frozenset({"plug", "unplug", "cable_removed", "ev_request_charge", "ev_pause",
                     "ev_ventilation", "pilot_short", "pilot_restored"})


def _edges(engine: Any, found: Iterable[tuple[str, str, str, str]],
           known: Mapping[str, Any] | None) -> list[Edge]:
    """Edges from (src, event, rule, dst) facts, in a stable order."""
    by: dict[tuple[str, str], dict[tuple[str, str], None]] = {}
    for src, event, rule, dst in found:
        by.setdefault((src, dst), {})[(event, rule)] = None
    rank = {r.id: i for i, r in enumerate(engine.machine.rules)}
    # an event that makes a change on few edges says more about it than one that makes the
    # same change on many (a status that settles on whatever event comes next): named first
    spread: dict[str, int] = {}
    for pairs in by.values():
        for ev in {ev for ev, _ in pairs}:
            spread[ev] = spread.get(ev, 0) + 1
    events_order = {name: i for i, name in enumerate(engine.machine.events)}
    out = []
    for (src, dst) in sorted(by):
        pairs = sorted(by[(src, dst)], key=lambda p: (_kind(p[0]), spread[p[0]],
                                                       events_order.get(p[0], 999),
                                                       rank.get(p[1], 999)))
        details = tuple((ev, rule, *_rule_detail(engine, rule, known)) for ev, rule in pairs)
        out.append(Edge(src, dst, tuple(dict.fromkeys(ev for ev, _ in pairs)), details))
    return out


def _dot(name: str, title: str, nodes: Sequence[str], edges: Sequence[Edge],
         initial: str | None, rankdir: str = "LR", concentrate: bool = False) -> str:
    merge = ", concentrate=true" if concentrate else ""
    lines = [f"digraph {q(name)} {{",
             f"  graph [label={q(title)}, labelloc=t, fontname=Helvetica, fontsize=15, "
             f"rankdir={rankdir}, nodesep=0.25, ranksep=0.45{merge}, size=\"{SIZE}\"];",
             "  node [fontname=Helvetica, fontsize=12, shape=box, style=\"rounded,filled\", "
             "fillcolor=\"#eef3fb\", color=\"#2b4c7e\"];",
             "  edge [fontname=Helvetica, fontsize=10, color=\"#2b4c7e\", arrowsize=0.7];"]
    for n in nodes:
        extra = ", penwidth=2.5" if n == initial else ""
        lines.append(f"  {q(n)} [id={q('s_' + n)}{extra}];")
    for k, e in enumerate(edges):
        lines.append(f"  {q(e.src)} -> {q(e.dst)} [id=\"e{k}\", label={q(e.label())}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_EDGE_TITLE = re.compile(r'(<g id="(e\d+)" class="edge">\s*<title>)(.*?)(</title>)', re.S)


def with_tooltips(svg_text: str, edges: Sequence[Edge]) -> str:
    """Graphviz titles an edge `a->b`; the reader wants the rules: each edge's `<title>` (what
    a browser shows on hover) becomes its rules, guards, messages and sources (set here rather
    than as graphviz's `tooltip`, which would write them twice)."""
    def sub(m: re.Match[str]) -> str:
        k = int(m.group(2)[1:])
        text = edges[k].tooltip() if k < len(edges) else m.group(3)
        return m.group(1) + html.escape(text) + m.group(4)
    return _EDGE_TITLE.sub(sub, svg_text)


@dataclass(frozen=True)
class View:
    """One readable picture: its DOT, its edges (for the table and the tooltips) and title."""

    name: str
    title: str
    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    initial: str | None
    dot: str

    def svg(self) -> str:
        return with_tooltips(render(self.dot, self.name), self.edges)

    def rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        """The table under the picture: from, to, event, rule, guard, sends, manual."""
        return [(e.src, e.dst, *d) for e in self.edges for d in e.details]


def status_view(engine: Any, cls: ConfigClass,
                found: Iterable[tuple[str, str, str, str]]) -> View:
    """The connector statuses under `cls`: `found` are the (status, event, rule, status)
    changes its exploration made."""
    known = known_values(engine, engine.config(dict(cls.values)))
    edges = _edges(engine, found, known)
    order = list(engine.spec.status_table.statuses)
    used = {x for e in edges for x in (e.src, e.dst)} | {"Available"}
    nodes = tuple(s for s in order if s in used) + tuple(sorted(used - set(order)))
    name = f"status-{cls.slug}"
    title = f"Connector status: {cls.title} ({cls.manual})"
    return View(name, title, nodes, tuple(edges), "Available",
                _dot(name, title, nodes, edges, "Available", "TB", concentrate=True))


def _phase_facts(engine: Any) -> list[tuple[str, str, str, str]]:
    m = engine.machine
    phases = list(m.variables[m.control].type.values)
    out = []
    for r in m.rules:
        if r.ignore:
            continue
        for src in r.sources:
            if src not in phases:
                continue
            for ev in r.events:
                out.append((src, ev, r.id, r.to or src))
    return out


def phase_overview(engine: Any) -> View:
    """The phases, an edge wherever a rule moves between two of them (staying: in the phase
    pages)."""
    m = engine.machine
    phases = tuple(m.variables[m.control].type.values)
    facts = [f for f in _phase_facts(engine) if f[0] != f[3]]
    edges = _edges(engine, facts, None)
    init = getattr(m.variables[m.control].initial, "value", None)
    title = f"The session's phases ({m.file}): an edge = the events that move between them"
    return View("phases", title, phases, tuple(edges), init,
                _dot("phases", title, phases, edges, init, "TB"))


def phase_view(engine: Any, phase: str) -> View:
    """One phase: the rules that leave it (an edge per target phase) and those that stay (a
    loop), each edge labelled by its events."""
    facts = [f for f in _phase_facts(engine) if f[0] == phase]
    edges = _edges(engine, facts, None)
    nodes = tuple(dict.fromkeys([phase] + [e.dst for e in edges]))
    name = f"phase-{phase}"
    title = f"Phase {phase}: {len({f[2] for f in facts})} rules"
    return View(name, title, nodes, tuple(edges), phase, _dot(name, title, nodes, edges, phase))


def mermaid_state(view: View) -> str:
    """A view as Mermaid `stateDiagram-v2` (state names are the spec's identifiers)."""
    out = ["stateDiagram-v2", f"    %% {mermaid_text(view.title)}"]
    if view.initial is not None:
        out.append(f"    [*] --> {view.initial}")
    for n in view.nodes:
        if n != view.initial:
            out.append(f"    {n}")
    for e in view.edges:
        out.append(f"    {e.src} --> {e.dst} : {mermaid_text(e.label())}")
    return "\n".join(out) + "\n"


def class_slugs() -> list[str]:
    return [c.slug for c in CONFIG_CLASSES]
