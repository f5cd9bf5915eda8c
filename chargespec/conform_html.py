"""`chargespec conform --report DIR`: a conformance run as one HTML page.

A summary by result, by file and by flag (with what a failure of that flag reveals, from the
vectors' notes); then every failure: the path of events to the first divergence as the
reference walks it (phase, rule, phase), the observations expected and observed side by side
with the differing ones marked, and the session machine's diagram with that path drawn in red
and its steps numbered.  Everything the adapter answered is escaped: an implementation under
test is input like any other.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from chargespec import __version__
from chargespec.htmlpage import esc, figure, page, table

DIAGRAMS = 25  # failures drawn with their path; the rest keep the side-by-side view


def path_steps(engine: Any, config: dict[str, Any], events: list[dict[str, Any]]
               ) -> list[tuple[str, str, str, str]]:
    """(event label, phase before, rule, phase after) of each step, on the reference."""
    c = engine.config(config)
    s = engine.initial(c)
    control = engine.machine.control
    out = []
    for ev in events:
        fields = dict(ev)
        e = engine.event(fields.pop("name"), **fields)
        c, s2, o = engine.advance(c, s, e)
        out.append((e.label(), getattr(s, control), o.rule, getattr(s2, control)))
        s = s2
    return out


def sequence_pair(engine: Any, o: Any) -> str:
    """The failing test's run up to the divergence as two message sequence charts: what the
    reference does (expected) and, the same but for the last step, what the implementation
    did (observed)."""
    from chargespec.sequence import Message, Step, from_run, side_by_side as pair
    config = engine.config(o.config)
    events = []
    for ev in o.path:
        fields = dict(ev)
        events.append(engine.event(fields.pop("name"), **fields))
    expected = from_run(engine, f"{o.file}#{o.tc_id} expected", o.config,
                        engine.run(config, events), engine.initial(config))
    seen = o.observed if isinstance(o.observed, dict) else {}
    said = seen.get("messages") if isinstance(seen.get("messages"), list) else []
    last = expected.steps[-1]
    messages = tuple(Message(str(m.get("kind", "call")), str(m.get("action", "?")),
                             m.get("fields") if isinstance(m.get("fields"), dict) else {})
                     for m in said if isinstance(m, dict))
    observation = {k: v for k, v in seen.items() if k != "messages"} or last.observation
    observed = type(expected)(f"{o.file}#{o.tc_id} observed", expected.config,
                              expected.initial, expected.steps[:-1] + (
                                  Step(last.event, last.fields, None, None, messages,
                                       observation),))
    return pair(expected, observed, f"step {o.step} on the wire: expected and observed")


def highlight(engine: Any, steps: list[tuple[str, str, str, str]]
              ) -> dict[tuple[str, str], list[int]]:
    """The edges of machine_dot the path takes, with the step numbers taking each."""
    from chargespec.diagrams import ANY

    phases = set(engine.machine.variables[engine.machine.control].type.values)
    marks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, (_, before, rid, after) in enumerate(steps, 1):
        r = engine.machine.rule(rid)
        if r.ignore:
            continue
        if set(r.sources) >= phases:
            key = (ANY, r.to or ANY)
        else:
            key = (before, r.to or before)
        marks[key].append(n)
    return dict(marks)


def side_by_side(expected: dict[str, Any], observed: dict[str, Any]) -> str:
    from chargespec.compare import labels

    cells = ['<div class="head">observation</div><div class="head">expected</div>'
             '<div class="head">observed</div>']
    for k in list(expected) + [k for k in observed if k not in expected]:
        e, v = expected.get(k, "(not in the vector)"), observed.get(k, "(nothing)")
        if k == "messages":
            e = labels(e) if isinstance(e, list) else e
            v = labels(v) if isinstance(v, list) else v
        diff = ' class="diff"' if e != v else ""
        cells.append(f"<div{diff}>{esc(k)}</div><div{diff}>{esc(_text(e))}</div>"
                     f"<div{diff}>{esc(_text(v))}</div>")
    return f'<div class="side">{"".join(cells)}</div>'


def _text(x: Any) -> str:
    return x if isinstance(x, str) else json.dumps(x, sort_keys=True)


def render(outcomes: list[Any], adapter: str, vectors: dict[str, dict[str, Any]],
           engine: Any | None = None) -> str:
    """The page; `vectors` (file name -> document) supplies the flags' notes."""
    from chargespec.diagrams import machine_dot, svg
    from chargespec.models.step import Engine

    engine = engine or Engine()
    counts = defaultdict(int)
    for o in outcomes:
        counts[o.status] += 1
    parts = ['<section id="summary"><h2>Summary</h2>']
    parts.append(f"<p>Adapter: <code>{esc(adapter)}</code>. {len(outcomes)} tests: "
                 + ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "acceptable",
                                                          "unsupported")) + ".</p>")
    by_file: dict[str, list[Any]] = defaultdict(list)
    for o in outcomes:
        by_file[o.file].append(o)
    cols = ("passed", "failed", "acceptable", "unsupported")
    parts.append(table(["file", *cols], [(f, *(sum(o.status == k for o in os_) for k in cols))
                                         for f, os_ in by_file.items()]))
    notes: dict[str, str] = {}
    for doc in vectors.values():
        for flag, note in doc.get("notes", {}).items():
            if isinstance(note, dict):
                text = f"{note.get('bugType', '')}: {note.get('description', '')}".strip(": ")
            else:
                text = str(note)
            notes.setdefault(flag, text)
    by_flag: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        for fl in o.flags:
            by_flag[fl][o.status] += 1
    parts.append("<h3>By flag</h3>")
    flag_rows = sorted(by_flag.items(), key=lambda kv: (-kv[1]["failed"], kv[0]))
    parts.append(table(["flag", *cols, "what a failure reveals"],
                       [(fl, *(v[k] for k in cols), notes.get(fl, ""))
                        for fl, v in flag_rows]))
    parts.append("</section>")

    failed = [o for o in outcomes if o.status == "failed"]
    parts.append(f'<section id="failures"><h2>Failures ({len(failed)})</h2>')
    if not failed:
        parts.append('<p class="ok">No test failed.</p>')
    for k, o in enumerate(failed):
        anchor = f"f{k}"
        parts.append(f'<h3 id="{anchor}">{esc(o.file)}#{esc(o.tc_id)}: {esc(o.comment)}</h3>')
        parts.append(f"<p><b>flags</b>: {esc(', '.join(o.flags))}<br><b>first divergence</b>: "
                     f"{esc(o.detail)}</p>")
        if not o.step:
            continue  # a crash or hang: the detail says it all
        parts.append(f"<p><b>configuration</b>: <code>{esc(json.dumps(o.config, sort_keys=True))}"
                     f"</code></p>")
        from chargespec.kinds import kind_of_config
        session = kind_of_config(o.config).name == "session"
        steps = path_steps(engine, o.config, o.path) if session else []
        if steps:
            parts.append(table(["step", "event", "phase", "rule (reference)", "phase after"],
                               [(n, ev, a, r, b) for n, (ev, a, r, b) in enumerate(steps, 1)]))
        else:
            parts.append("<p>events: " + esc(" -> ".join(o.events)) + "</p>")
        parts.append(side_by_side(o.expected, o.observed))
        if steps and k < DIAGRAMS:
            parts.append(sequence_pair(engine, o))
            dot = machine_dot(engine, highlight(engine, steps))
            parts.append(figure(svg(dot, f"failure {k}"), f"path-{anchor}",
                                "The session machine with the path to the divergence in red "
                                "(the step numbers on the edges)."))
    if len(failed) > DIAGRAMS:
        parts.append(f"<p class=\"muted\">Diagrams drawn for the first {DIAGRAMS} failures.</p>")
    parts.append("</section>")
    nav = [("summary", "Summary"), ("failures", f"Failures ({len(failed)})")]
    return page("chargespec conform", f"chargespec {__version__}: conformance run of "
                f"{adapter}", nav, "\n".join(parts))
