"""`chargespec report` and `conform --report`: the page shows what the spec and the checks say,
traces every cited manual section to spec elements, checks and vectors, keeps measured times in
timing.js only, and escapes every string that comes from the spec or from an implementation.

The report is built once per run (the `built` fixture of conftest.py) from a copy of the spec
with markup planted in an interpretation, a manual section title and a variable's doc;
tests/test_browser.py opens the same build in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chargespec.loader import load_spec
from chargespec.models.step import Engine

REPO = Path(__file__).resolve().parent.parent

# what a hostile or careless spec edit could put into text the report shows
PLANTED = {
    "interpretations.yaml": ('decision: We cite "§7.3" for the single power line',
                             'decision: We cite "§7.3" <script>document.title=\'pwned\'</script>'
                             '<b id="injected">bold</b> for the single power line'),
    "manual.yaml": ('"§5.4": OCPP Whitelist',
                    '"§5.4": OCPP Whitelist <img src=x onerror="document.title=\'pwned\'">'),
    "session.yaml": ("doc: the controller has power (power_loss / power_return)",
                     'doc: the controller has power <i id="injected2">x</i>'),
}


def planted_spec(directory: Path) -> Path:
    dst = directory / "spec"
    shutil.copytree(REPO / "spec", dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for name, (old, new) in PLANTED.items():
        text = (dst / name).read_text()
        assert old in text, (name, old)
        (dst / name).write_text(text.replace(old, new, 1))
    return dst


def cited_sections(spec, lo: int = 4, hi: int = 9) -> set[str]:
    """Every manual section of §lo-§hi that some spec element cites with a `manual:` key (read
    from the YAML, independently of the report's own tracing)."""
    import yaml

    cited: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "manual" and isinstance(v, (str, list)):
                    cited.update([v] if isinstance(v, str) else [x for x in v
                                                                 if isinstance(x, str)])
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in Path(spec.directory).glob("*.yaml"):
        if path.name != "manual.yaml":
            walk(yaml.safe_load(path.read_text()))
    found = {s for text in cited for s in re.findall(r"§\d+(?:\.\d+)*(?:-[a-z]+)?", text)}
    return {s for s in found if s in spec.manual_sections and
            lo <= int(re.match(r"§(\d+)", s).group(1)) <= hi}


def test_the_traceability_matrix_lists_every_cited_section_of_4_to_9(built):
    c, files, _ = built
    summary = json.loads(files["summary.json"])
    rows = {r["section"]: r for r in summary["traceability"]}
    wanted = cited_sections(c.engine.spec)
    assert len(wanted) >= 15
    assert wanted <= set(rows)
    page = files["index.html"].decode()
    for s in wanted:
        assert f"<tr><td>{s}</td>" in page, s
    # each row leads somewhere: elements, and for the session's sections checks and vectors
    r51 = rows["§5.1"]
    assert r51["elements"]["rule"] and r51["vectors"] > 100
    assert any(x["name"].startswith("invariant ") and x["holds"] for x in r51["checks"])
    assert any(x["name"] == "determinism + completeness (Z3)" for x in r51["checks"])
    assert any(x["name"].startswith("DLM ") for x in rows["§7.4"]["checks"])


def test_every_planted_string_is_escaped(built):
    _, files, _ = built
    page = files["index.html"].decode()
    assert "document.title=&#x27;pwned&#x27;" in page
    assert "&lt;script&gt;" in page and "&lt;b id=&quot;injected&quot;&gt;" in page
    assert "&lt;img src=x onerror=" in page and "&lt;i id=&quot;injected2&quot;&gt;" in page
    for raw in ("<script>document", '<b id="injected"', "<img src=x", '<i id="injected2"'):
        assert raw not in page
    # the only scripts are ours: timing.js and the inline one at the end
    assert page.count("<script") == 2
    # nothing depends on where the repository is checked out
    for name, data in files.items():
        assert str(REPO) not in data.decode(), name


def test_the_summary_says_what_the_checks_found(built):
    c, files, _ = built
    s = json.loads(files["summary.json"])
    m = c.engine.machine
    assert s["machines"]["session"]["rules"] == len(m.rules)
    assert [i["id"] for i in s["invariants"]] == [i.id for i in m.invariants]
    assert all(i["holds"] for i in s["invariants"]) and s["proof"]["holds"]
    # state and step invariants, and the graph one through its recovery witnesses, are proved
    # for every configuration
    assert all(i["provedForEveryConfiguration"] is True for i in s["invariants"])
    assert s["induction"]["holds"] and s["stepProof"]["holds"] and s["recoveryProof"]["holds"]
    assert s["recoveryProof"]["invariants"] == ["no_dead_end"]
    assert all(r["holds"] for site in s["dlm"] for r in site["results"])
    assert s["vectors"]["session.json"] > 100
    assert s["coverage"]["errorRows"]["covered"] == len(c.engine.spec.errors)
    assert len(s["diagrams"]) == 23 and all(f"diagrams/{d}" in files for d in s["diagrams"])


def test_measured_figures_live_in_timing_js_only(built):
    _, files, _ = built
    page = files["index.html"].decode()
    keys = set(re.findall(r'data-timing="([^"]+)"', page))
    timing = files["timing.js"].decode()
    values = json.loads(timing.split("=", 1)[1].rstrip().rstrip(";"))
    assert keys and keys <= set(values)
    assert "THE ONE FILE" in files["README.md"].decode().upper()
    # the page itself carries no seconds or rates: only the placeholders timing.js fills
    assert not re.search(r"\d+\.\d+ s\b", page)
    assert not re.search(r"\d+ (states|steps)/s", page)
    for text in ("summary.json", "README.md"):
        assert not re.search(r"\d+\.\d+ s\b", files[text].decode())


def test_a_violated_invariant_is_shown_with_its_trace(built):
    """The page shows what the check found: a violation is FAILS with its shortest trace."""
    from dataclasses import replace

    from chargespec.report import build
    c, _, _ = built
    inv = c.engine.machine.invariants[0].id
    job = replace(c.check.jobs[0], violations=[(inv, "planted violation", ["plug", "rfid"])])
    check = replace(c.check, jobs=[job, *c.check.jobs[1:]])
    page = build(replace(c, check=check))["index.html"].decode()
    assert "FAILS" in page and "planted violation" in page and "plug ; rfid" in page
    assert "VIOLATIONS" in page


class MarkupAdapter:
    """An implementation that answers with markup in its status (and is wrong)."""

    name = 'evil <script>alert("adapter")</script>'

    def __init__(self):
        from chargespec.reference import Reference
        self.ref = Reference()
        self.observations = list(self.ref.observations)

    def reset(self, config):
        self.ref.reset(config)
        return True

    def step(self, event):
        obs = dict(self.ref.step(event))
        if event["name"] == "plug":
            obs["status"] = "<img src=x onerror=alert(1)>"
        return obs


def test_the_conformance_report_escapes_the_adapter_and_draws_the_failing_path(tmp_path):
    from chargespec.conform import load_vectors, run_file
    from chargespec.conform_html import render

    path = REPO / "vectors" / "stop_modes.json"
    doc = json.loads(path.read_text())
    doc["testGroups"] = doc["testGroups"][:1]
    doc["testGroups"][0]["tests"] = doc["testGroups"][0]["tests"][:12]
    doc["numberOfTests"] = 12
    small = tmp_path / "stop_modes.json"
    small.write_text(json.dumps(doc))
    outcomes = run_file(MarkupAdapter(), small)
    failed = [o for o in outcomes if o.status == "failed"]
    assert failed and all(o.step >= 1 for o in failed)
    page = render(outcomes, MarkupAdapter.name, {"stop_modes.json": load_vectors(small)})
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<script>alert("adapter")' not in page
    assert page.count("<script") == 1
    # by flag, with what a failure of the flag reveals; the divergence marked
    assert "what a failure reveals" in page and 'class="diff"' in page
    # the path is drawn: the edge of the first step in red with its step number
    assert page.count('<figure class="diagram"') == len(failed)
    assert "#c0392b" in page and re.search(r">step 1(,|<)", page)
    # and as sequence charts side by side: the reference's run, the implementation's last step
    assert page.count('<div class="sequence-pair">') == len(failed)
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="sequence"') == \
        2 * len(failed)
    assert "<b>expected</b>" in page and "<b>observed</b>" in page
