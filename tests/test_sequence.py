"""Diagrams people read (issue 23): message sequence charts from vectors, scenarios and
stories; readable state views (names on edges, details in tooltips and tables, bounded label
length and width); Mermaid for Markdown, checked by a small grammar.  The pictures' rendering
in Chromium is tests/test_browser.py's (the report holds every new picture)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chargespec.charts import CARD, all_charts, run_story, stop_reasons, stories
from chargespec.cli import main
from chargespec.diagrams import CONFIG_CLASSES, guard_text
from chargespec.sequence import Chart, Message, Step, from_test, mermaid, mermaid_text, svg
from chargespec.stateviews import LABEL, MAX_WIDTH_PX, mermaid_state, short_label, status_view

REPO = Path(__file__).resolve().parents[1]
DIAGRAMS = REPO / "reports" / "diagrams"
SEQUENCES = REPO / "reports" / "sequences"

# what each Stop Transaction Mode gives when the driver holds the card again while charging,
# then unplugs (§5.1): the card stops it unless only disconnecting may
STOP_REASON = {"Normal": "Local", "NormalModeDRcd": "Local", "OnlyByRfidOrRemoteStop": "Local",
               "StopOnlyByDisconnecting": "EVDisconnected"}


@pytest.mark.parametrize("mode", sorted(STOP_REASON))
def test_the_chart_of_each_stop_mode_shows_the_reason_that_mode_gives(engine, mode):
    story = next(s for s in stories(engine.spec) if s.slug == f"stop-{mode}")
    chart = run_story(engine, story)
    assert stop_reasons(chart) == [STOP_REASON[mode]]
    picture = svg(chart)
    assert f"StopTransaction(reason={STOP_REASON[mode]}" in picture
    assert f"reason={STOP_REASON[mode]}" in mermaid(chart)
    committed = (SEQUENCES / f"stop-{mode}.svg").read_text()
    assert committed == svg(chart, f"stop-{mode}")  # what the report shows is this chart


def test_every_story_runs_with_a_central_system_that_answers(engine):
    """Every Authorize and StartTransaction of a story is answered while the backend is
    reachable; with the backend away (If in doubt) nothing is answered until it is back."""
    for story in stories(engine.spec):
        chart = run_story(engine, story)
        asked = [m.action for s in chart.steps for m in s.messages if m.kind == "call"]
        answered = [s.event for s in chart.steps if s.event.endswith("_conf")]
        if not story.slug.startswith("doubt"):
            assert answered.count("authorize_conf") == asked.count("Authorize"), story.slug
            assert answered.count("start_tx_conf") == asked.count("StartTransaction"), story.slug
    off = run_story(engine, next(s for s in stories(engine.spec) if s.slug == "doubt-Off"))
    assert stop_reasons(off) == []  # an unknown card offline, doubt off: no transaction
    on = run_story(engine, next(s for s in stories(engine.spec) if s.slug == "doubt-On"))
    assert stop_reasons(on) == ["EVDisconnected"]


def test_a_chart_draws_lifelines_events_messages_states_and_sections(engine):
    chart = run_story(engine, stories(engine.spec)[0])
    picture = svg(chart, "x")
    for lifeline in ("vehicle · cable · user · site", "charge point", "central system"):
        assert lifeline in picture
    assert picture.count('<g class="ev">') == sum(s.event in ("plug", "rfid", "unplug",
                                                              "ev_request_charge",
                                                              "cable_removed")
                                                  for s in chart.steps)
    assert f"Authorize(idTag={CARD})" in picture and "Authorize.conf(status=Accepted)" in picture
    assert "Charging · contactor closed · lock closed · 32 A / 53.3 %" in picture
    assert "§5.1 same_card_stops_transaction" in picture  # the rule and its section
    assert 'marker-end="url(#x-arrow)"' in picture and 'id="x-arrow"' in picture
    assert "<script" not in picture


def test_a_vector_test_and_a_scenario_are_charted_by_the_command(tmp_path, capsys):
    out = tmp_path / "t.svg"
    assert main(["diagrams", "--sequence", f"{REPO}/vectors/stop_modes.json#17", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    doc = json.loads((REPO / "vectors" / "stop_modes.json").read_text())
    test = next((g, t) for g in doc["testGroups"] for t in g["tests"] if t["tcId"] == 17)
    for step in test[1]["steps"]:
        assert step["event"]["name"] in out.read_text()
    assert main(["diagrams", "--sequence", f"{REPO}/spec/examples/stop_modes.yaml", "--set",
                 "stop_transaction_mode=OnlyByRfidOrRemoteStop", "--format", "mermaid"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("sequenceDiagram\n") and re.search(
        r"CP->>CS: StopTransaction\(idTag=0a0e9b83, reason=Local\)", text)
    assert main(["diagrams", "--sequence", f"{REPO}/vectors/stop_modes.json#999999"]) == 2
    assert main(["diagrams", "--sequence", f"{REPO}/vectors/stop_modes.json#17", "--set",
                 "stop_transaction_mode=Normal"]) == 2  # a test has its own configuration
    assert main(["diagrams", "--set", "stop_transaction_mode=Normal"]) == 2
    assert main(["diagrams", "--sequence", str(tmp_path / "missing.yaml")]) == 2
    svg_out, mmd_out = tmp_path / "run.svg", tmp_path / "run.mmd"
    assert main(["simulate", f"{REPO}/spec/examples/stop_modes.yaml", "--svg", str(svg_out),
                 "--mermaid", str(mmd_out)]) == 0
    assert "StopTransaction(reason=EVDisconnected)" in svg_out.read_text()
    check_sequence_mermaid(mmd_out.read_text())


NASTY = '</text><script>alert("x")</script>; #1 %% end: <b>'


def test_every_string_from_the_spec_or_an_implementation_is_escaped():
    chart = Chart(NASTY, {}, {"status": NASTY}, (Step(
        "rfid", {"uid": NASTY}, NASTY, NASTY,
        (Message("call", NASTY, {"idTag": NASTY}), Message("result", "Reset", {"status": NASTY})),
        {"status": NASTY, "contactor": "open"}),))
    picture = svg(chart, NASTY)
    assert "<script" not in picture and "</text><script" not in picture
    assert 'id="' + NASTY not in picture  # the id is reduced to safe characters
    text = mermaid(chart)
    check_sequence_mermaid(text)
    assert "<script" not in text and ";" not in text.replace("#59;", "").replace(
        "#60;", "").replace("#62;", "").replace("#34;", "").replace("#35;", "").replace(
        "#37;", "").replace("#58;", "").replace("#123;", "").replace("#125;", "")


def test_failing_expected_and_observed_charts_stand_side_by_side(engine):
    from chargespec.sequence import side_by_side
    doc = json.loads((REPO / "vectors" / "stop_modes.json").read_text())
    group, test = doc["testGroups"][0], doc["testGroups"][0]["tests"][5]
    expected = from_test(engine, group, test)
    observed = Chart(expected.title, expected.config, expected.initial, tuple(
        Step(s.event, s.fields, s.rule, s.manual, (Message("call", "<Bogus>", {}),),
             s.observation) for s in expected.steps))
    html = side_by_side(expected, observed, "test 6")
    assert html.count("<svg") == 2 and "&lt;Bogus&gt;" in html and "<Bogus>" not in html


# ---- Mermaid: a small grammar of what we write ----------------------------------------------

ENTITY = re.compile(r"#\d+;")
SAFE_TEXT = re.compile(r"[^;#<>{}%\"\n]*")


def _text_ok(text: str) -> bool:
    return SAFE_TEXT.fullmatch(ENTITY.sub("", text)) is not None and text.strip() != ""


def check_sequence_mermaid(text: str) -> None:
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    declared: set[str] = set()
    for line in lines[1:]:
        if m := re.fullmatch(r"    participant (\w+) as (.+)", line):
            declared.add(m.group(1))
            continue
        if m := re.fullmatch(r"    title (.+)", line):
            assert _text_ok(m.group(1)), line
            continue
        m = re.fullmatch(r"    Note (?:over|left of|right of) (\w+): (.+)", line) or \
            re.fullmatch(r"    (\w+)(?:->>|-->>)(\w+): (.+)", line)
        assert m, f"not a line of our sequenceDiagram: {line!r}"
        *who, said = m.groups()
        assert set(who) <= declared, line
        assert _text_ok(said), line


def check_state_mermaid(text: str, nodes: set[str] | None = None) -> None:
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    names: set[str] = set()
    for line in lines[1:]:
        if line.startswith("    %% "):
            assert "\n" not in line
            continue
        if m := re.fullmatch(r"    \[\*\] --> ([A-Za-z_]\w*)", line):
            names.add(m.group(1))
            continue
        if m := re.fullmatch(r"    ([A-Za-z_]\w*)", line):
            names.add(m.group(1))
            continue
        m = re.fullmatch(r"    ([A-Za-z_]\w*) --> ([A-Za-z_]\w*) : (.+)", line)
        assert m, f"not a line of our stateDiagram-v2: {line!r}"
        assert {m.group(1), m.group(2)} <= names, f"{line!r}: a state never declared"
        assert _text_ok(m.group(3)) and len(m.group(3)) <= 3 * LABEL, line
    if nodes is not None:
        assert names == nodes


def test_every_committed_mermaid_file_parses():
    states = sorted(DIAGRAMS.glob("*.mmd"))
    charts = sorted(SEQUENCES.glob("*.mmd"))
    assert len(states) == 13 and len(charts) > 60
    for f in states:
        check_state_mermaid(f.read_text())
    for f in charts:
        check_sequence_mermaid(f.read_text())


def test_mermaid_text_escapes_what_its_grammar_reads():
    assert mermaid_text("a;b#c:d<e>f") == "a#59;b#35;c#58;d#60;e#62;f"
    assert mermaid_text("two\nlines") == "two lines"


# ---- readable state views --------------------------------------------------------------------

def _width_px(svg_text: str) -> float:
    m = re.search(r'<svg width="([0-9.]+)pt"', svg_text)
    assert m, "a graphviz SVG gives its width in pt"
    return float(m.group(1)) * 96 / 72


VIEWS = ["phases", *(f"phase-{p}" for p in ("idle", "authorizing", "authorized", "transaction",
                                            "finishing", "provisional")),
         *(f"status-{c.slug}" for c in CONFIG_CLASSES)]


@pytest.mark.parametrize("name", VIEWS)
def test_each_view_keeps_its_labels_short_and_its_width_in_bounds(name):
    import html
    dot = (DIAGRAMS / f"{name}.dot").read_text()
    edges = re.findall(r'"([^"]+)" -> "([^"]+)" \[id="e(\d+)", label="((?:[^"\\]|\\.)*)"\]',
                       dot)
    assert edges and all(len(label) <= LABEL for *_, label in edges)
    picture = (DIAGRAMS / f"{name}.svg").read_text()
    assert _width_px(picture) <= MAX_WIDTH_PX
    titles = dict(re.findall(r'<g id="e(\d+)" class="edge">\s*<title>(.*?)</title>', picture,
                             re.S))
    assert len(titles) == len(edges)  # every edge has its tooltip
    tip_of = {(src, dst): html.unescape(titles[k]) for src, dst, k, _ in edges}
    rows = json.loads((DIAGRAMS / f"{name}.json").read_text())["rows"]
    assert {(r[0], r[1]) for r in rows} == set(tip_of)
    for src, dst, event, rule, guard, sends, source in rows:
        line = next(t for t in tip_of[(src, dst)].split("\n")
                    if t.startswith(f"{event}: {rule}"))
        assert (f"[{guard}]" in line) == bool(guard)  # the guard text is one hover away
        assert not source or line.endswith(f"({source})")
        assert not sends or f"/ {sends}" in line


def test_the_status_view_tooltip_carries_the_specialised_guard(engine):
    facts = {("Available", "authorize_conf", "authorize_accepted_plugged", "Preparing"),
             ("Preparing", "ev_request_charge", "ev_request_charge", "Charging")}
    view = status_view(engine, CONFIG_CLASSES[0], facts)
    assert [e.label() for e in view.edges] == ["authorize_conf", "ev_request_charge"]
    rule = engine.machine.rule("authorize_accepted_plugged")
    known = None
    from chargespec.diagrams import known_values
    known = known_values(engine, engine.config({}))
    assert f"[{guard_text(engine, rule.when, known)}]" in view.edges[0].tooltip()
    picture = view.svg()
    assert "authorize_accepted_plugged" in re.search(
        r'<g id="e0" class="edge">\s*<title>(.*?)</title>', picture, re.S).group(1)
    check_state_mermaid(mermaid_state(view), {"Available", "Preparing", "Charging"})


def test_a_label_that_does_not_fit_names_what_it_leaves_out():
    names = ["ev_request_charge", "ev_ventilation", "pilot_restored", "heartbeat_timer"]
    label = short_label(names)
    assert len(label) <= LABEL and label.endswith("+2") and label.startswith("ev_request_charge")
    assert short_label(["a" * 60]) == "a" * (LABEL - 1) + "…"
    assert short_label(["plug"]) == "plug"


def test_the_report_charts_every_story_and_octt_case(engine):
    doc = json.loads((REPO / "vectors" / "octt.json").read_text())
    charts = all_charts(engine, doc)
    octt = [c for c in charts if c[0] == "OCTT cases"]
    assert len(octt) == doc["numberOfTests"]
    assert len(charts) - len(octt) == len(stories(engine.spec)) == 16
    for _, slug, _, chart in charts:
        assert (SEQUENCES / f"{slug}.svg").read_text() == svg(chart, slug)
        assert (SEQUENCES / f"{slug}.mmd").read_text() == mermaid(chart)


def test_the_readmes_embed_mermaid_that_is_what_the_tools_write():
    """README.md embeds two generated Mermaid files as they are (so the forge renders them and
    they never drift); vectors/README.md (generated) embeds two tests."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert blocks == [(DIAGRAMS / "phases.mmd").read_text(),
                      (SEQUENCES / "stop-StopOnlyByDisconnecting.mmd").read_text()]
    vectors = re.findall(r"```mermaid\n(.*?)```", (REPO / "vectors" / "README.md").read_text(),
                         re.S)
    assert len(vectors) == 2
    for block in vectors:
        check_sequence_mermaid(block)


def test_a_deeply_nested_field_is_cut_not_a_crash():
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    chart = Chart("t", {}, {}, (Step("rfid", {"uid": deep}, None, None,
                                     (Message("call", "DataTransfer", {"data": deep}),), {}),))
    assert "…" in svg(chart) and "…" in mermaid(chart)
