"""Diagrams of the spec, as graphviz DOT and SVG: what a firmware team reads instead of §5.

- `machine_dot`: the session machine, every rule that does something as an edge between phases
  (the values of the control variable), labelled `event [guard] / messages` with guards rendered
  by the expression language's label back end, definitions folded back into their names.
- `projection_dot`: the session as it behaves under one configuration class (Only by
  RFID/RemoteStop, Free Charging mode 4, ...): only the rules that fire in an exhaustive
  exploration under that configuration, each guard specialised to it (`expr.specialize`), so
  what is left is what the vehicle, the card and the backend decide.
- `status_dot`: the OCPP connector-status transitions the model makes, drawn over OCPP 1.6's
  allowed table (spec/ocpp16_status_transitions.yaml).
- `site_dot`: a DLM site's phases: each connector's L1/L2/L3 wired to grid phases by its
  rotation (§7.8), the sub-distribution and supply-line limits.

DOT is written here by hand, in the spec's order, with no state highlighted, so the same spec
gives byte-identical DOT, and (with the same graphviz) the same SVG.  `highlight` (the
conformance report's failing path) is the one thing that marks edges.
"""

from __future__ import annotations

import json
from html import escape as html_escape
import textwrap
from typing import Any, Iterable, Mapping, Sequence

from chargespec.models.step import Engine
from chargespec.specmodel import Rule
from chargespec.dot import (CONFIG_CLASSES, NEXT_EVENT, SETTLES, ConfigClass,  # noqa: F401
                            guard_text, known_values, q, svg)

WRAP = 44  # columns of an edge label line


# ---------------------------------------------------------------------------------------------
# DOT text


def label_lines(lines: Iterable[str]) -> str:
    """A left-justified multi-line DOT label (each line escaped, ended by \\l)."""
    out = []
    for line in lines:
        out.append(line.replace("\\", "\\\\").replace('"', '\\"') + "\\l")
    return '"' + "".join(out) + '"'


def wrap(text: str, width: int = WRAP, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [""]


def rule_label(engine: Engine, rule: Rule, guard: str | None) -> list[str]:
    lines = wrap(" | ".join(rule.events) + (f" [{guard}]" if guard else ""))
    sent = [e.message for e in rule.emit if e.message] + \
           [e.indication for e in rule.emit if e.indication]
    if sent:
        lines += wrap("/ " + ", ".join(dict.fromkeys(sent)))
    return lines


ANY = "any"  # the node standing for every phase (rules `from: "*"`)


def _phases(engine: Engine) -> list[str]:
    return list(engine.machine.variables[engine.machine.control].type.values)


def _graph_head(name: str, title: str) -> list[str]:
    return [f"digraph {q(name)} {{",
            f"  graph [label={q(title)}, labelloc=t, fontname=Helvetica, fontsize=16, "
            f"rankdir=LR, nodesep=0.5, ranksep=1.1, newrank=true];",
            "  node [fontname=Helvetica, fontsize=12, shape=box, style=\"rounded,filled\", "
            "fillcolor=\"#eef3fb\", color=\"#2b4c7e\"];",
            "  edge [fontname=Helvetica, fontsize=9, color=\"#2b4c7e\", arrowsize=0.7];"]


def _edge_groups(engine: Engine, items: Iterable[tuple[str, str, Rule, str | None]]
                 ) -> dict[tuple[str, str], list[tuple[Rule, str | None]]]:
    groups: dict[tuple[str, str], list[tuple[Rule, str | None]]] = {}
    for src, dst, rule, guard in items:
        bucket = groups.setdefault((src, dst), [])
        if all(r.id != rule.id for r, _ in bucket):
            bucket.append((rule, guard))
    return groups


def _draw(engine: Engine, name: str, title: str, phases: Sequence[str],
          groups: Mapping[tuple[str, str], list[tuple[Rule, str | None]]],
          legend: list[str], highlight: Mapping[tuple[str, str], list[int]] | None = None
          ) -> str:
    init = engine.machine.variables[engine.machine.control].initial
    init_value = getattr(init, "value", None)
    lines = _graph_head(name, title)
    for p in phases:
        extra = ", penwidth=2.5" if p == init_value else ""
        lines.append(f"  {q(p)} [id={q('phase_' + p)}, label={q(p)}{extra}];")
    if any(ANY in k for k in groups):
        lines.append(f"  {q(ANY)} [id=\"phase_any\", label=\"any phase\", shape=box, "
                     f"style=\"rounded,dashed\", fillcolor=white];")
    order = {p: i for i, p in enumerate([ANY, *phases])}
    highlight = highlight or {}
    for (src, dst) in sorted(groups, key=lambda k: (order[k[0]], order[k[1]])):
        text: list[str] = []
        for rule, guard in groups[(src, dst)]:
            text += rule_label(engine, rule, guard)
        steps = highlight.get((src, dst))
        attrs = [f"id={q(f'edge_{src}_{dst}')}", f"label={label_lines(text)}",
                 f"tooltip={q(', '.join(r.id for r, _ in groups[(src, dst)]))}"]
        if steps:
            attrs += ["color=\"#c0392b\"", "fontcolor=\"#c0392b\"", "penwidth=3",
                      f"xlabel={q('step ' + ', '.join(map(str, steps)))}"]
        lines.append(f"  {q(src)} -> {q(dst)} [{', '.join(attrs)}];")
    lines += _legend(legend)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(entries: list[str]) -> list[str]:
    return ["  subgraph cluster_legend {",
            "    label=\"legend\"; fontsize=11; style=dashed; color=\"#888888\";",
            f"    legend [id=\"legend\", shape=note, style=filled, fillcolor=\"#fffbe6\", "
            f"color=\"#888888\", fontsize=10, label={label_lines(entries)}];",
            "  }"]


LEGEND_MACHINE = [
    "box: a phase (the control variable); bold: initial",
    "edge: rules that move between two phases, or",
    "  stay in one and change the extended state",
    "label: event | event [guard] / messages sent",
    "'any phase': rules that apply in every phase",
]


def machine_dot(engine: Engine, highlight: Mapping[tuple[str, str], list[int]] | None = None
                ) -> str:
    """The whole session machine: every rule that is not an explicit ignore."""
    phases = _phases(engine)
    items = []
    ignored = 0
    for r in engine.machine.rules:
        if r.ignore:
            ignored += 1
            continue
        guard = guard_text(engine, r.when)
        if set(r.sources) >= set(phases):
            items.append((ANY, r.to or ANY, r, guard))
        else:
            items += [(s, r.to or s, r, guard) for s in r.sources]
    m = engine.machine
    legend = LEGEND_MACHINE + [f"{ignored} explicit ignore rules (nothing to do) not drawn",
                               f"{len(m.rules)} rules in {m.file}"]
    return _draw(engine, m.name, f"{m.title} ({m.file})", phases, _edge_groups(engine, items),
                 legend, highlight)


def projection_transitions(engine: Engine, config: Any,
                           statuses: set[tuple[str, str]] | None = None,
                           status_edges: set[tuple[str, str, str, str]] | None = None
                           ) -> set[tuple[str, str, str]]:
    """(phase, rule, phase) of every transition of an exhaustive exploration under `config`,
    with the session's events and the backend going offline and back (If in doubt, §5.1); the
    other error rows are left to the error table."""
    from chargespec.checkers.explore import explore, session_events

    control = engine.machine.control
    ignore = {r.id for r in engine.machine.rules if r.ignore}
    seen: set[tuple[str, str, str]] = set()

    def record(config: Any, s: Any, ev: Any, s2: Any, out: Any) -> None:
        if out.rule not in ignore:
            seen.add((getattr(s, control), out.rule, getattr(s2, control)))
        if statuses is not None and s.status != s2.status:
            statuses.add((s.status, s2.status))
        if status_edges is not None and s.status != s2.status and out.rule not in ignore:
            if engine.observe(config, s).status == s2.status:
                # the status kept in the state before was stale (the state's own observation
                # is already the new one): it settles on whatever event comes next
                status_edges.add((s.status, NEXT_EVENT, SETTLES, s2.status))
            else:
                status_edges.add((s.status, ev.name, out.rule, s2.status))

    from chargespec.checkers.check import inoperative_bound
    events = session_events(engine) + [
        engine.event("error_raised", error="backend_disconnected"), engine.event("backend_online")]
    # as the check's explorations: an Inoperative connector or a transaction without energy
    # only with every limit granted and an empty cache (their phases and rules are the same)
    explore(engine, config, {"record": record}, events=events, skip_unchanged=True,  # type: ignore
            bound=inoperative_bound)
    return seen


def projection_dot(engine: Engine, cls: ConfigClass,
                   transitions: set[tuple[str, str, str]]) -> str:
    config = engine.config(dict(cls.values))
    known = known_values(engine, config)
    phases = [p for p in _phases(engine)
              if any(p in (a, c) for a, _, c in transitions) or p == _phases(engine)[0]]
    items = []
    for src, rid, dst in sorted(transitions, key=lambda t: (
            _phases(engine).index(t[0]), t[1], _phases(engine).index(t[2]))):
        r = engine.machine.rule(rid)
        if src == dst and set(r.sources) >= set(_phases(engine)):
            src = dst = ANY  # housekeeping that stays in any phase: drawn once
        items.append((src, dst, r, guard_text(engine, r.when, known)))
    # keep the spec's rule order inside each edge
    rank = {r.id: i for i, r in enumerate(engine.machine.rules)}
    groups = {k: sorted(v, key=lambda x: rank[x[0].id])
              for k, v in _edge_groups(engine, items).items()}
    setting = ", ".join(f"{k} = {v}" for k, v in cls.values.items()) or "the defaults"
    legend = ["box: a phase; bold: initial; edges as in the whole machine",
              "guards specialised to this configuration:",
              "  only what the vehicle, card and backend decide",
              "only rules that fire in an exhaustive exploration",
              "  with the session's events and the backend going",
              "  offline and back (no other error events)",
              f"configuration: {setting}"]
    return _draw(engine, f"session-{cls.slug}", f"{cls.title} ({cls.manual})", phases, groups,
                 [line for entry in legend for line in wrap(entry, 56)])


def status_transitions(engine: Engine, config: Any, events: list[Any],
                       bound: Any = None) -> set[tuple[str, str]]:
    """(old status, new status) of every status change in an exhaustive exploration."""
    from chargespec.checkers.explore import explore

    seen: set[tuple[str, str]] = set()

    def record(config: Any, s: Any, ev: Any, s2: Any, out: Any) -> None:
        if s.status != s2.status:
            seen.add((s.status, s2.status))

    explore(engine, config, {"record": record}, events=events, bound=bound,  # type: ignore
            skip_unchanged=True)
    return seen


def status_dot(engine: Engine, used: set[tuple[str, str]],
               possible: frozenset[tuple[str, str]] | None = None) -> str:
    """The OCPP 1.6 status table, each allowed change drawn by what the model does with it:
    made (`used`, the explorations' changes), possible only (`possible`: some rule makes it
    from a state the invariants allow, checkers/status_relation.py), or never made (no rule
    does, under any configuration)."""
    table = engine.spec.status_table
    possible = frozenset(used) if possible is None else possible
    lines = ["digraph \"ocpp16-status\" {",
             "  graph [label=\"OCPP 1.6 connector status: the transitions the model makes, over "
             "the allowed table (§4.9 of OCPP 1.6)\", labelloc=t, fontname=Helvetica, "
             "fontsize=16, layout=circo];",
             "  node [fontname=Helvetica, fontsize=12, shape=box, style=\"rounded,filled\", "
             "fillcolor=\"#eef3fb\", color=\"#2b4c7e\"];",
             "  edge [arrowsize=0.7];"]
    for s in table.statuses:
        lines.append(f"  {q(s)} [id={q('status_' + s)}];")
    pairs = sorted({(a, b) for a in table.statuses for b in table.allowed.get(a, ())} | used
                   | possible,
                   key=lambda p: (table.statuses.index(p[0]), table.statuses.index(p[1])))
    for a, b in pairs:
        ok, made = table.permits(a, b), (a, b) in used
        if (a, b) in table.via:  # the table lacks it; reported through `via`
            style = (f"color=\"#2b4c7e\", style=dashed, penwidth=2, "
                     f"label={q('via ' + table.via[(a, b)])}"
                     + ("" if made or (a, b) in possible else ", color=\"#bbbbbb\""))
        elif made and ok:
            style = "color=\"#2b4c7e\", penwidth=2"
        elif ok and (a, b) in possible:
            style = "color=\"#2b4c7e\", style=dotted, penwidth=2"
        elif ok:
            style = "color=\"#bbbbbb\", style=dashed"
        else:
            style = ("color=\"#c0392b\", penwidth=3, label=\"NOT ALLOWED\""
                     + ("" if made else ", style=dotted"))
        lines.append(f"  {q(a)} -> {q(b)} [id={q(f'status_{a}_{b}')}, {style}];")
    allowed = sum(len(v) for v in table.allowed.values())
    lines += _legend(["solid blue: allowed by OCPP 1.6, made in the explorations",
                      "dotted blue: allowed, made by some rule from a state the invariants "
                      "allow (Z3), not met by the explorations",
                      "dashed grey: allowed, never made: no rule makes it under any "
                      "configuration (Z3)",
                      "red: made (dotted: possible), not allowed (a violation)",
                      "dashed blue 'via X': not in the table, reported through X (two "
                      "StatusNotifications; spec/ocpp16_status_transitions.yaml)",
                      f"{sum(1 for p in used if table.permits(*p))} of {allowed} allowed "
                      f"transitions made, {sum(1 for p in possible if table.permits(*p))} "
                      f"possible"])
    lines.append("}")
    return "\n".join(lines) + "\n"


def site_dot(site: Any, rotations: Mapping[str, tuple[int, int, int]]) -> str:
    """A DLM site: grid phases, stations and connectors, each connector's L1/L2/L3 wired to the
    grid phase its rotation puts them on (§7.8)."""
    grid = ("L1", "L2", "L3")
    title = f"DLM site {site.name!r} ({site.file}): phase rotation (§7.8) and limits (§7.4)"
    lines = ["digraph \"dlm-site\" {",
             f"  graph [label={q(title)}, labelloc=t, fontname=Helvetica, fontsize=16, "
             f"rankdir=LR, nodesep=0.25, ranksep=1.4];",
             "  node [fontname=Helvetica, fontsize=11, shape=box, style=\"rounded,filled\", "
             "fillcolor=\"#eef3fb\", color=\"#2b4c7e\"];",
             "  edge [arrowsize=0.6];"]
    limit = "/".join(map(str, site.evse_sub_distribution_limit))
    lines.append("  subgraph cluster_grid {")
    lines.append(f"    label={q(f'EVSE sub-distribution {limit} A')}; style=filled; "
                 f"fillcolor=\"#f7f7f7\"; color=\"#888888\";")
    colours = ("#8e5a2b", "#222222", "#7f8c8d")  # IEC 60446 brown, black, grey
    for i, g in enumerate(grid):
        lines.append(f"    {q('grid-' + g)} [id={q('grid_' + g)}, label={q('grid ' + g)}, "
                     f"fillcolor={q(colours[i])}, fontcolor=white];")
    lines.append("    {rank=same; " + " -> ".join(q("grid-" + g) for g in grid) + " [style=invis];}")
    lines.append("  }")
    for st in site.stations:
        lines.append(f"  subgraph {q('cluster_station_' + str(st.index))} {{")
        supply = (f", single supply line {st.supply_line_capacity} A"
                  if st.single_power_line else "")
        lines.append(f"    label={q(st.name + supply)}; style=rounded; color=\"#2b4c7e\";")
        for ci in st.connectors:
            c = site.connectors[ci]
            head = html_escape(f"{c.name}: {c.phase_rotation} ({c.phases_connected})")
            sub = html_escape(f"max {c.maximum_current} A, disconnected {c.disconnected_limit} A")
            ports = "".join(f'<TR><TD PORT="L{k + 1}" BGCOLOR="{colours[gp]}"><FONT '
                            f'COLOR="white" POINT-SIZE="9">L{k + 1} on grid {grid[gp]}</FONT>'
                            f'</TD></TR>'
                            for k, gp in enumerate(rotations[c.phase_rotation]))
            lines.append(f"    {q('conn-' + c.name)} [id={q('conn_' + c.name)}, shape=plaintext, "
                         f"style=\"\", label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" "
                         f"CELLSPACING=\"2\" BGCOLOR=\"#eef3fb\" COLOR=\"#2b4c7e\">"
                         f"<TR><TD>{head}</TD></TR>"
                         f"<TR><TD><FONT POINT-SIZE=\"9\">{sub}</FONT></TD></TR>"
                         f"{ports}</TABLE>>];")
        lines.append("  }")
    for c in site.connectors:
        for k, gp in enumerate(rotations[c.phase_rotation]):
            lines.append(f"  {q('conn-' + c.name)}:L{k + 1}:e -> {q('grid-' + grid[gp])}:w "
                         f"[id={q(f'wire_{c.name}_L{k + 1}')}, color={q(colours[gp])}"
                         + (", penwidth=2.2" if k == 0 else "") + "];")
    lines += _legend(["connector: name, rotation (phases connected), currents",
                      "edge: the connector's Lk on a grid phase (colour);",
                      "  bold: L1, which a 1-phase vehicle loads",
                      "rotations spread 1-phase vehicles over the grid (§7.8)"])
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SVG


# ---------------------------------------------------------------------------------------------
# Everything `chargespec diagrams` writes

_STATE: dict[str, Any] = {}


def _explore_class(k: int) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]],
                                    set[tuple[str, str, str, str]]]:
    engine: Engine = _STATE["engine"]
    statuses: set[tuple[str, str]] = set()
    edges: set[tuple[str, str, str, str]] = set()
    found = projection_transitions(engine, engine.config(dict(CONFIG_CLASSES[k].values)),
                                   statuses, edges)
    return found, statuses, edges


def _explore_status(k: int) -> set[tuple[str, str]]:
    engine: Engine = _STATE["engine"]
    values, events, bound = _STATE["status_jobs"][k]
    return status_transitions(engine, engine.config(values), events, bound)


def status_jobs(engine: Engine, errors_only: bool = False
                ) -> list[tuple[dict[str, Any], list[Any], Any]]:
    """The explorations whose status changes the OCPP picture shows (besides the projections'):
    the check's CI configurations (unless the caller has them), and the error model under each
    stop mode (one error at a time)."""
    from chargespec.checkers.check import (ERROR_CONFIGS, answer_only_events, jobs_for,
                                           unregistered_bound)
    from chargespec.checkers.explore import REPRESENTATIVE_ERRORS, error_events, max_errors
    from chargespec.checkers.explore import session_events

    jobs, _ = jobs_for(engine, "ci")
    out = [] if errors_only else [(j.values, j.events, j.bound) for j in jobs]
    # no status changes under an event that only answers, nor (but to send nothing) under an
    # error before the BootNotification is accepted: the check's error model bounds them so
    answers = answer_only_events(engine)
    quiet = [e for e in session_events(engine)
             if e.name not in ("set_operator_limit", "set_load_limit") and e.name not in answers]
    events = quiet + error_events(engine, REPRESENTATIVE_ERRORS)
    out += [(c, events, unregistered_bound(max_errors(1))) for c, _ in ERROR_CONFIGS]
    return out


def build(engine: Engine, sites: Sequence[Any] = (), workers: int | None = None,
          status_seen: set[tuple[str, str]] | None = None) -> dict[str, str]:
    """File name -> text of every diagram, DOT and SVG (the SVG rendered from that DOT).
    `status_seen`: the status changes of the check's CI explorations, when the caller ran
    them (`chargespec report`), so they are not explored twice."""
    from chargespec.parallel import parallel_map

    _STATE["engine"] = engine
    _STATE["status_jobs"] = sjobs = status_jobs(engine, errors_only=status_seen is not None)
    # one pool for both kinds of exploration: the class pictures, then the status table's
    tasks = [("relation", 0)] + [("class", k) for k in range(len(CONFIG_CLASSES))] + \
            [("status", k) for k in range(len(sjobs))]
    possible, *results = parallel_map(_task, tasks, workers)
    from chargespec.stateviews import mermaid_state, phase_overview, phase_view, status_view

    dots: dict[str, str] = {"session": machine_dot(engine)}
    views = [phase_overview(engine)] + [phase_view(engine, p) for p in _phases(engine)]
    used: set[tuple[str, str]] = set(status_seen or ())
    for k, cls in enumerate(CONFIG_CLASSES):
        found, statuses, status_edges = results[k]
        dots[f"session-{cls.slug}"] = projection_dot(engine, cls, found)
        used |= statuses
        views.append(status_view(engine, cls, status_edges))
    used = used.union(*results[len(CONFIG_CLASSES):])
    dots["ocpp16-status"] = status_dot(engine, used, possible)
    rotations = engine.spec.dlm.rotations if engine.spec.dlm else {}
    for site in sites:
        slug = site_slug(site)
        dots[slug] = site_dot(site, rotations)
    files: dict[str, str] = {}
    for name, text in dots.items():
        files[f"{name}.dot"] = text
        files[f"{name}.svg"] = svg(text, name)
    for view in views:  # the readable views: tooltips in the SVG, and Mermaid
        files[f"{view.name}.dot"] = view.dot
        files[f"{view.name}.svg"] = view.svg()
        files[f"{view.name}.mmd"] = mermaid_state(view)
        files[f"{view.name}.json"] = json.dumps(
            {"title": view.title, "columns": ["from", "to", "event", "rule", "guard", "sends",
                                              "source"], "rows": view.rows()}, indent=1) + "\n"
    return files


def mermaid_files(engine: Engine) -> dict[str, str]:
    """`chargespec diagrams --format mermaid`: the readable state views as Mermaid."""
    return {k: v for k, v in build(engine).items() if k.endswith(".mmd")}


def site_slug(site: Any) -> str:
    """dlm-<the site file's stem>: spec/examples/dlm_building_100a.yaml -> dlm-building-100a"""
    stem = site.file.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".yaml")
    return "dlm-" + stem.removeprefix("dlm_").replace("_", "-")


def _task(task: tuple[str, int]) -> Any:
    kind, k = task
    if kind == "relation":  # the status changes any configuration can make (Z3)
        from chargespec.checkers.status_relation import status_changes
        return status_changes(_STATE["engine"].spec).possible
    return _explore_class(k) if kind == "class" else _explore_status(k)
