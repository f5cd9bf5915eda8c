"""`chargespec report`: the spec, its proofs and its vectors as one HTML page a firmware team
reads instead of the manual, and an auditor reads to trust the proofs.

`build` runs what the page shows (the checker's CI profile with each invariant timed, the DLM
proofs of the example sites, the diagrams) and reads the committed vectors and their coverage
report; it returns every file of reports/:

  index.html     self-contained: inline CSS, script and SVG; relative links only
  summary.json   the same figures for machines (verdicts, counts, coverage, traceability)
  diagrams/      DOT and SVG of every diagram (`chargespec diagrams` writes the same)
  README.md      what the folder holds
  timing.js      THE ONE FILE THAT CHANGES BETWEEN RUNS: seconds and rates measured while
                 generating; index.html fills its figures from it, the drift check skips it

Everything else is byte-identical on re-generation from the same spec and vectors (and the
same graphviz), which `chargespec report --check` verifies in CI.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from chargespec import __version__
from chargespec.errors import InputError
from chargespec.verdicts import Proved
from chargespec.expr import to_label
from chargespec.htmlpage import esc, figure, page, table, timing, verdict
from chargespec.models.step import Engine

TIMING_FILE = "timing.js"
SITES = ("spec/examples/dlm_building_100a.yaml", "spec/examples/dlm_station_63a.yaml")
SECTION = re.compile(r"§\d+(?:\.\d+)*(?:-[a-z]+)?")


@dataclass
class Collected:
    """What the page shows, gathered once; `timing` holds every measured figure."""

    engine: Engine
    check: Any
    sites: list[tuple[Any, list[Any]]]  # (site, DLM proof results)
    vectors: dict[str, dict[str, Any]]  # file -> vector document
    coverage: dict[str, Any]
    diagrams: dict[str, str]
    timing: dict[str, str] = field(default_factory=dict)


def collect(engine: Engine, vectors_dir: Path, root: Path | None = None,
            progress: Callable[[str], None] | None = None, workers: int | None = None,
            profile: str = "ci", diagrams: dict[str, str] | None = None) -> Collected:
    """Run and read what the page shows.  `profile` is the checker's (the committed report:
    ci); `diagrams`, when given, are used instead of drawing them again."""
    from chargespec.checkers.check import run
    from chargespec.diagrams import build as build_diagrams
    from chargespec.dlm.prove import verify
    from chargespec.loader import default_spec_dir

    say = progress or (lambda text: None)
    root = root or default_spec_dir().parent
    t_all = time.perf_counter()
    vectors, coverage = read_vectors(vectors_dir)
    say("checking (proofs + CI explorations, each invariant timed) ...")
    check = run(engine.spec, profile, workers=workers, progress=say, timed=True)
    sites = []
    for site in example_sites(engine.spec, root):
        sites.append((site, verify(site)))
    say("drawing the diagrams ...")
    t0 = time.perf_counter()
    if diagrams is None:
        seen = set().union(*(j.status_changes for j in check.jobs))
        diagrams = build_diagrams(engine, [s for s, _ in sites], workers, status_seen=seen)
    t_diagrams = time.perf_counter() - t0
    c = Collected(engine, check, sites, vectors, coverage, diagrams)
    c.timing = measure(c, t_diagrams)
    c.timing["report.seconds"] = f"{time.perf_counter() - t_all:.1f} s"
    return c


def example_sites(spec: Any, root: Path | None = None) -> list[Any]:
    """The example DLM sites the report proves and draws, named by their path in the
    repository (not where it is checked out: the report must not depend on that)."""
    from dataclasses import replace

    from chargespec.dlm.site import load_site
    from chargespec.loader import default_spec_dir

    root = root or default_spec_dir().parent
    return [replace(load_site(spec, root / rel), file=rel) for rel in SITES]


def read_vectors(directory: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The vector documents the manifest lists, and the coverage report."""
    manifest = directory / "manifest.json"
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        coverage = json.loads((directory / "coverage-report.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: missing (run `chargespec vectors --out "
                         f"{directory}` first)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{manifest}: not a vector manifest ({exc})") from None
    docs = {}
    for name, info in sorted(listed.items()):
        if info.get("numberOfTests"):
            path = directory / name
            try:
                docs[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read a vector file ({exc})") from None
    return docs, coverage


def measure(c: Collected, diagram_seconds: float) -> dict[str, str]:
    """Every figure that depends on the machine and the moment: for timing.js only."""
    t: dict[str, str] = {}
    ch = c.check
    t["check.seconds"] = f"{ch.seconds:.1f} s"
    t["proof.seconds"] = f"{ch.proof.seconds:.2f} s"
    if ch.induction is not None:
        t["induction.seconds"] = f"{ch.induction.seconds:.1f} s"
    if ch.steps is not None:
        t["steps.seconds"] = f"{ch.steps.seconds:.1f} s"
    if ch.recovery is not None:
        t["recovery.seconds"] = f"{ch.recovery.seconds:.1f} s"
    states = sum(j.states for j in ch.jobs)
    secs = sum(j.seconds for j in ch.jobs)
    t["explore.seconds"] = f"{secs:.1f} s"
    trans = sum(j.transitions for j in ch.jobs)
    t["explore.rate"] = (f"{states / secs:,.0f} states/s, {trans / secs:,.0f} transitions/s"
                         if secs else "-")
    spent: dict[str, float] = defaultdict(float)
    for j in ch.jobs:
        for k, v in j.check_seconds.items():
            spent[k] += v
    for inv in c.engine.machine.invariants:
        t[f"invariant.{inv.id}"] = f"{spent.get(inv.id, 0.0):.3f} s"
    for site, results in c.sites:
        for r in results:
            t[f"dlm.{site_key(site)}.{r.invariant}"] = f"{r.seconds:.2f} s"
    t["diagrams.seconds"] = f"{diagram_seconds:.1f} s"
    t["bench.step"] = f"{step_rate(c.engine):,.0f} steps/s"
    t["bench.conform"] = f"{conform_rate(c.vectors):,.0f} steps/s"
    t["generated"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return t


def step_rate(engine: Engine, seconds: float = 0.5) -> float:
    """The pure step function over a fixed session, repeated for `seconds`."""
    config = engine.config({})
    evs = [engine.event("plug"), engine.event("rfid", uid="0a0e9b83"),
           engine.event("authorize_conf", status="Accepted"),
           engine.event("start_tx_conf", status="Accepted"), engine.event("ev_request_charge"),
           engine.event("unplug"), engine.event("cable_removed")]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = engine.initial(config)
        for ev in evs:
            s, _ = engine.step(config, s, ev)
        n += len(evs)
    return n / (time.perf_counter() - t0)


def conform_rate(vectors: dict[str, dict[str, Any]]) -> float:
    """The conformance runner, in process, on the reference over one vector file."""
    from chargespec.conform import InProcess, run_test

    doc = vectors.get("session.json") or next(iter(vectors.values()), None)
    if doc is None:
        return 0.0
    adapter = InProcess("reference")
    steps, t0 = 0, time.perf_counter()
    for group in doc["testGroups"]:
        for test in group["tests"]:
            run_test(adapter, "session.json", doc, group, test)
            steps += len(test["steps"])
    return steps / (time.perf_counter() - t0)


def site_key(site: Any) -> str:
    from chargespec.diagrams import site_slug
    return site_slug(site)


# ---------------------------------------------------------------------------------------------
# Traceability: manual section -> spec elements -> invariants and proofs -> vector ids


def sections_of(text: str | Iterable[str] | None) -> list[str]:
    if text is None:
        return []
    if not isinstance(text, str):
        text = " ".join(text)
    return SECTION.findall(text)


def _ref_sections(spec: Any, ref: Any) -> list[str]:
    """The sections a Ref cites: its own, else its interpretation's (or erratum's)."""
    out = sections_of(ref.manual)
    if not out and ref.interpretation:
        src = spec.interpretations.get(ref.interpretation) or spec.errata.get(ref.interpretation)
        if src is not None:
            out = list(src.manual)
    return out


def trace_elements(spec: Any) -> dict[str, dict[str, list[str]]]:
    """section -> kind of element -> element ids citing it."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def add(sections: Iterable[str], kind: str, ident: str) -> None:
        for s in dict.fromkeys(sections):
            if ident not in out[s][kind]:
                out[s][kind].append(ident)

    for p in spec.parameters.values():
        add(sections_of(p.manual), "parameter", p.id)
    for m in spec.machines.values():
        for v in m.variables.values():
            add(_ref_sections(spec, v.ref), "variable", v.name)
        for ev in m.events.values():
            add(_ref_sections(spec, ev.ref), "event", ev.name)
        for d in m.definitions.values():
            add(_ref_sections(spec, d.ref), "definition", d.name)
        for r in m.rules:
            add(_ref_sections(spec, r.ref), "rule", r.id)
        for o in m.observations:
            add(_ref_sections(spec, o.ref), "observation", o.name)
        for n in m.notify:
            add(_ref_sections(spec, n.ref), "notification", n.id)
        for f in m.filters:
            add(_ref_sections(spec, f.ref), "filter", f.id)
    for e in spec.errors.values():
        add(_ref_sections(spec, e.ref), "error row", e.id)
    for pol in spec.policies.values():
        for row in pol.rows.values():
            add(_ref_sections(spec, row.ref), "policy row", f"{pol.name}:{row.key}")
    for lc in spec.lint.values():
        add(_ref_sections(spec, lc.ref), "lint check", lc.id)
    for i in spec.interpretations.values():
        add(i.manual, "interpretation", i.id)
    for er in spec.errata.values():
        add(er.manual, "erratum", er.id)
    return out


def trace_invariants(c: Collected) -> dict[str, list[tuple[str, bool | None]]]:
    """section -> (invariant or proof, verdict)."""
    spec = c.engine.spec
    out: dict[str, list[tuple[str, bool | None]]] = defaultdict(list)
    broken = {v[0] for v in c.check.violations}
    for inv in c.engine.machine.invariants:
        every = _inductive(c.check, inv)
        name = f"invariant {inv.id}" + (" (every configuration, Z3)" if every else "")
        for s in dict.fromkeys(_ref_sections(spec, inv.ref)):
            out[s].append((name, inv.id not in broken))
    rule_sections = {s for r in c.engine.machine.rules for s in _ref_sections(spec, r.ref)}
    for s in sorted(rule_sections):
        out[s].append(("determinism + completeness (Z3)", c.check.proof.ok))
    if spec.dlm:
        for inv in spec.dlm.invariants.values():
            results = [r for _, rs in c.sites for r in rs if r.invariant == inv.id]
            ok = all(r.ok for r in results) if results else None
            for s in dict.fromkeys(_ref_sections(spec, inv.ref)):
                out[s].append((f"DLM {inv.id}" + (" (Z3, example sites)" if results else ""),
                               ok))
    return out


def trace_vectors(vectors: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """section -> ids (file#tcId) of the vectors whose tests exercise it."""
    out: dict[str, list[str]] = defaultdict(list)
    for name, doc in vectors.items():
        for g in doc["testGroups"]:
            for t in g["tests"]:
                for s in dict.fromkeys(t.get("manual", [])):
                    out[s].append(f"{name.removesuffix('.json')}#{t['tcId']}")
    return out


def id_ranges(ids: list[str]) -> str:
    """file#1, file#2, file#3, file#7 -> file#1-3, #7 (per file, in order)."""
    by_file: dict[str, list[int]] = defaultdict(list)
    for i in ids:
        f, _, n = i.partition("#")
        by_file[f].append(int(n))
    parts = []
    for f, ns in by_file.items():
        ns = sorted(set(ns))
        runs, start, prev = [], ns[0], ns[0]
        for n in ns[1:] + [None]:  # type: ignore[list-item]
            if n is not None and n == prev + 1:
                prev = n
                continue
            runs.append(f"{start}" if start == prev else f"{start}-{prev}")
            if n is not None:
                start = prev = n
        parts.append(f"{f}#" + ",".join(runs))
    return "; ".join(parts)


def traceability(c: Collected) -> list[dict[str, Any]]:
    spec = c.engine.spec
    elements, invs, vecs = trace_elements(spec), trace_invariants(c), trace_vectors(c.vectors)
    rows = []
    for sec, title in spec.manual_sections.items():
        if sec not in elements and sec not in invs and sec not in vecs:
            continue
        rows.append({"section": sec, "title": title,
                     "elements": {k: v for k, v in elements.get(sec, {}).items()},
                     "checks": [{"name": n, "holds": ok} for n, ok in invs.get(sec, [])],
                     "vectors": len(vecs.get(sec, [])),
                     "vectorIds": id_ranges(vecs[sec]) if vecs.get(sec) else ""})
    return rows


# ---------------------------------------------------------------------------------------------
# summary.json


def _inductive(check: Any, inv: Any) -> bool | None:
    """True: proved for every configuration; False: not proved (not inductive); None: no
    proof covers it (a graph invariant without a recovery witness: the explorer's verdict is
    the only one)."""
    proof = {"state": check.induction, "step": check.steps,
             "graph": check.recovery}.get(inv.kind)
    if proof is None or inv.id not in proof.invariants:
        return None
    return isinstance(proof.verdicts.get(inv.id), Proved)


def summary(c: Collected, trace: list[dict[str, Any]]) -> dict[str, Any]:
    spec, m, ch = c.engine.spec, c.engine.machine, c.check
    broken = defaultdict(list)
    for inv, msg, tr in ch.violations:
        broken[inv].append({"message": msg, "trace": tr})
    return {
        "generator": f"chargespec {__version__}",
        "specVersion": spec.version,
        "timing": f"{TIMING_FILE} (measured figures; the one file that changes between runs)",
        "machines": {name: {"file": mm.file, "variables": len(mm.variables),
                            "events": len(mm.events), "rules": len(mm.rules),
                            "ignoreRules": sum(r.ignore for r in mm.rules),
                            "observations": len(mm.observations),
                            "invariants": len(mm.invariants)}
                     for name, mm in spec.machines.items()},
        "proof": {"property": "determinism + completeness", "machine": ch.proof.machine,
                  "holds": ch.proof.ok, "stateEventPairs": ch.proof.buckets,
                  "queries": ch.proof.queries, "findings": [str(f) for f in ch.proof.findings],
                  "unknown": list(ch.proof.unknown)},
        "exploration": {"profile": ch.profile, "configurations": len(ch.jobs),
                        "pairCoverage": round(ch.pair_coverage, 4),
                        "distinguishableConfigurations": ch.distinguishable,
                        "states": sum(j.states for j in ch.jobs),
                        "transitions": sum(j.transitions for j in ch.jobs)},
        "invariants": [{"id": i.id, "kind": i.kind, "manual": i.ref.manual,
                        "interpretation": i.ref.interpretation, "holds": i.id not in broken,
                        "assumedByProofs": i.assume,
                        "provedForEveryConfiguration": _inductive(ch, i),
                        "violations": broken.get(i.id, [])} for i in m.invariants],
        "induction": None if ch.induction is None else {
            "holds": ch.induction.ok, "queries": ch.induction.queries,
            "failures": dict(ch.induction.failures), "unknown": dict(ch.induction.unknown)},
        "stepProof": None if ch.steps is None else {
            "holds": ch.steps.ok, "queries": ch.steps.queries,
            "failures": dict(ch.steps.failures), "unknown": dict(ch.steps.unknown)},
        "recoveryProof": None if ch.recovery is None else {
            "holds": ch.recovery.ok, "invariants": list(ch.recovery.invariants),
            "failures": dict(ch.recovery.failures), "unknown": dict(ch.recovery.unknown)},
        "dlm": [{"site": site.name, "file": site.file,
                 "results": [{"invariant": r.invariant, "status": r.status, "holds": r.ok,
                              "detail": r.detail} for r in results]}
                for site, results in c.sites],
        "coverage": c.coverage,
        "vectors": {name: doc["numberOfTests"] for name, doc in c.vectors.items()},
        "diagrams": sorted(n for n in c.diagrams if n.endswith(".svg")),
        "traceability": trace,
        "interpretations": sorted(spec.interpretations),
        "errata": sorted(spec.errata),
    }


# ---------------------------------------------------------------------------------------------
# index.html

NAV = [("overview", "Overview"), ("wire", "On the wire"), ("views", "State views"),
       ("machines", "Machines"), ("policies", "Policy tables"),
       ("errors", "Error table"), ("invariants", "Invariants & proofs"), ("dlm", "DLM"),
       ("coverage", "Coverage"), ("traceability", "Traceability"),
       ("interpretations", "Interpretations & errata"), ("bench", "Benchmarks")]


def _code(text: Any) -> str:
    return f"<code>{esc(text)}</code>"


def _fig(c: Collected, name: str, caption: str) -> str:
    return figure(c.diagrams[f"{name}.svg"], f"fig-{name}", caption, f"diagrams/{name}.svg")


@dataclass
class _Page:
    """What every section of the report's page reads: the collected results, the invariants
    the explorations broke, the number of tests, the rule coverage, the traceability rows."""

    c: Collected
    trace: list[dict[str, Any]]
    parts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec, self.m, self.ch = self.c.engine.spec, self.c.engine.machine, self.c.check
        self.broken: dict[str, list[Any]] = defaultdict(list)
        for inv, msg, tr in self.ch.violations:
            self.broken[inv].append((msg, tr))
        self.tests = sum(d["numberOfTests"] for d in self.c.vectors.values())
        self.cov = self.c.coverage.get("rules", {})


def _overview(pg: _Page) -> None:
    """The overview: verdict cards."""
    c, spec, m, ch, broken, tests, cov = pg.c, pg.spec, pg.m, pg.ch, pg.broken, pg.tests, pg.cov
    p = pg.parts.append
    ok_all = ch.ok and all(r.ok for _, rs in c.sites for r in rs)
    p('<section id="overview"><h2>Overview</h2>')
    p(f"<p>The Powerstation TWO (Bender CC613-class controller) as an executable specification: "
      f"spec version {_code(spec.version)}, {len(spec.files)} spec documents. Everything below "
      f"is generated from <code>spec/</code> and <code>vectors/</code>; measured times come from "
      f"<code>{TIMING_FILE}</code> (generated {timing('generated')}).</p>")
    cards = [("rules", sum(len(mm.rules) for mm in spec.machines.values())),
             ("invariants", f"{len(m.invariants) - len(broken)} / {len(m.invariants)} hold"),
             ("determinism + completeness", "proved" if ch.proof.ok
              else "FAILED" if ch.proof.findings else "UNKNOWN"),
             ("states explored (CI profile)", f"{sum(j.states for j in ch.jobs):,}"),
             ("conformance vectors", f"{tests:,}"),
             ("rules fired by the vectors", f"{cov.get('fired', '?')} / {cov.get('total', '?')}"),
             ("verdict", "all checks hold" if ok_all else "VIOLATIONS")]
    p('<div class="cards">' + "".join(
        f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in cards) + "</div>")
    p("</section>")


def report_charts(c: Collected) -> list[tuple[str, str, str, Any]]:
    """The sequence charts of the report: (group, slug, title, chart)."""
    from chargespec.charts import all_charts
    return all_charts(c.engine, c.vectors.get("octt.json"))


def _wire(pg: _Page) -> None:
    """What each setting that changes the wire does on it: message sequence charts."""
    from chargespec.charts import groups, stop_reasons
    from chargespec.sequence import svg as chart_svg
    p = pg.parts.append
    charts = report_charts(pg.c)
    p('<section id="wire"><h2>On the wire</h2>')
    p("<p>Message sequence charts, the way the OCPP specification explains its use cases: the "
      "vehicle, cable, user and site on the left, the charge point in the middle (its status, "
      "contactor, lock and offered current in the yellow boxes whenever they change), the "
      "central system on the right; each step's rule and manual section at the far right. "
      "The same story under each value of a setting shows what the setting changes; the "
      "central system accepts whatever it is asked while it is reachable. Hover an arrow for "
      "all of its fields. Each chart is also in <code>sequences/</code> as SVG and as Mermaid "
      "(<code>.mmd</code>, for Markdown).</p>")
    for group in groups(charts):
        its = [ch for ch in charts if ch[0] == group]
        p(f"<h3>{esc(group)}</h3>")
        if group == "OCTT cases":
            p("<p>Every OCA compliance-tool case the vectors mirror (vectors/octt.json), as the "
              "test expects it:</p>")
            p(table(["case", "chart"], [
                (title, f'<a href="sequences/{esc(slug)}.svg">SVG</a> '
                        f'<a href="sequences/{esc(slug)}.mmd">Mermaid</a>')
                for _, slug, title, _ in its], raw=(1,)))
            continue
        for _, slug, title, chart in its:
            reasons = stop_reasons(chart)
            caption = title + (f" - StopTransaction reason: {', '.join(reasons)}" if reasons
                               else " - no transaction")
            p(f'<figure class="sequence" id="seq-{esc(slug)}"><figcaption>{esc(caption)} '
              f'<a href="sequences/{esc(slug)}.svg">SVG</a> '
              f'<a href="sequences/{esc(slug)}.mmd">Mermaid</a></figcaption>'
              f'{chart_svg(chart, f"seq-{slug}")}</figure>')
    p("</section>")


def _views(pg: _Page) -> None:
    """Readable state views: names on the edges, details in tooltips and tables."""
    from chargespec.diagrams import CONFIG_CLASSES
    c = pg.c
    p = pg.parts.append
    head = ["from", "to", "event", "rule", "guard", "sends", "source"]
    p('<section id="views"><h2>State views</h2>')
    p("<p>Small pictures with only event names on their edges; hover an edge for its rules, "
      "guards, messages and manual sections, or read the table under the picture. "
      "<code>diagrams/*.mmd</code> holds each as Mermaid <code>stateDiagram-v2</code>.</p>")
    p("<h3>The session's phases</h3>")
    p(_fig(c, "phases", "The phases of the session (the control variable) and the events "
                        "that move between them (phases.svg)."))
    phases = list(pg.m.variables[pg.m.control].type.values)
    for ph in phases:
        p(f"<h4>Phase {esc(ph)}</h4>")
        p(_fig(c, f"phase-{ph}", f"Every rule that leaves {ph} or stays in it, by target."))
        p("<details><summary>Its rules</summary>" + table(head, _view_rows(c, f"phase-{ph}"))
          + "</details>")
    p("<h3>Connector status per configuration class</h3>")
    for cls in CONFIG_CLASSES:
        name = f"status-{cls.slug}"
        p(_fig(c, name, f"OCPP 1.6 connector status: {cls.title} ({cls.manual}). {cls.doc}"))
        p("<details><summary>The changes, rule by rule</summary>"
          + table(head, _view_rows(c, name)) + "</details>")
    p("</section>")


def _view_rows(c: Collected, name: str) -> list[tuple[str, ...]]:
    """A view's table: diagrams/<name>.json, written with its picture."""
    return [tuple(r) for r in json.loads(c.diagrams[f"{name}.json"])["rows"]]


def _machines(pg: _Page) -> None:
    """The machines and their diagrams."""
    c, spec = pg.c, pg.spec
    p = pg.parts.append
    from chargespec.diagrams import CONFIG_CLASSES, guard_text
    p('<section id="machines"><h2>Machines</h2>')
    for mm in spec.machines.values():
        p(f"<h3>{esc(mm.name)}: {esc(mm.title)}</h3>")
        p(f"<p>{len(mm.variables)} variables, {len(mm.events)} events, {len(mm.rules)} rules "
          f"({sum(r.ignore for r in mm.rules)} explicit ignores), {len(mm.observations)} "
          f"observations; defined in {_code(mm.file)}. Its phases are the values of "
          f"{_code(mm.control)}.</p>")
        p(_fig(c, mm.name, f"The whole machine ({mm.name}.svg / {mm.name}.dot)."))
        p("<details><summary>Variables</summary>" + table(
            ["variable", "type", "initial", "source", "meaning"],
            [(v.name, v.type.describe(), guard_text(c.engine, v.initial) or "True", str(v.ref),
              v.doc) for v in mm.variables.values()]) + "</details>")
        p("<details><summary>Events</summary>" + table(
            ["event", "fields", "source", "meaning"],
            [(e.name, ", ".join(f.name for f in e.fields), str(e.ref), e.doc)
             for e in mm.events.values()]) + "</details>")
        p("<details><summary>Rules</summary>" + table(
            ["rule", "from", "on", "when", "to", "sends", "source", "spec line"],
            [(r.id, ", ".join(r.sources) if len(r.sources) < 6 else "*", ", ".join(r.events),
              guard_text(c.engine, r.when) or "", "(ignore)" if r.ignore else (r.to or "(same)"),
              ", ".join(e.message or e.indication or "" for e in r.emit), str(r.ref),
              f"{r.where.file}:{r.where.line}") for r in mm.rules]) + "</details>")
    p("<h3>The session under each configuration class</h3>")
    p("<p>Each picture is an exhaustive exploration under one configuration: only the rules that "
      "fire, their guards specialised to the configuration.</p>")
    for cls in CONFIG_CLASSES:
        name = f"session-{cls.slug}"
        p(_fig(c, name, f"{cls.title} ({cls.manual}). {cls.doc}"))
    p("<h3>OCPP 1.6 connector status</h3>")
    p(_fig(c, "ocpp16-status", "The status changes the model makes (solid: explorations of "
                               "the CI profile and of the error model; dotted: some rule makes "
                               "it under some configuration, per Z3, no exploration met it; "
                               "dashed grey: no rule makes it under any configuration), over "
                               "OCPP 1.6's allowed table."))
    table_ = spec.status_table
    p("<details><summary>The allowed table as data (spec/ocpp16_status_transitions.yaml)"
      "</summary>" + table(["from \\ to", *table_.statuses],
                           [(a, *("allowed" if b in table_.allowed.get(a, ()) else ""
                                  for b in table_.statuses)) for a in table_.statuses])
      + (" <p>Not in the table, made through a status it allows (two StatusNotifications in "
         "one step): " + ", ".join(f"{esc(a)} &rarr; {esc(b)} via {esc(v)}"
                                   for (a, b), v in sorted(table_.via.items())) + ".</p>"
         if table_.via else "")
      + "</details>")
    p("</section>")


def _policies(pg: _Page) -> None:
    """The policy tables (Free Charging, If in doubt)."""
    spec = pg.spec
    p = pg.parts.append
    p('<section id="policies"><h2>Policy tables</h2>')
    for pol in spec.policies.values():
        param = spec.parameters[pol.key]
        p(f"<h3>{esc(pol.title)} ({_code(pol.file)})</h3>")
        p(table([param.ui_name, *pol.columns, "source"],
                [(param.labels.get(k, k), *(row.values.get(col, "") for col in pol.columns),
                  str(row.ref)) for k, row in pol.rows.items()]))
        p("<ul>" + "".join(f"<li>{_code(col)}: {esc(doc)}</li>" for col, doc in pol.docs.items())
          + "</ul>")
    p("</section>")


def _error_table(pg: _Page) -> None:
    """The error table of §9."""
    spec = pg.spec
    p = pg.parts.append
    p('<section id="errors"><h2>Error table (§9)</h2>')
    p(table(["row", "error", "OCPP errorCode", "vendor code", "activation", "stops transaction",
             "status while active", "recovery", "keeps lock"],
            [(e.row, e.id, e.ocpp_error_code, e.vendor_error_code or "", e.activation,
              "yes" if e.stops_transaction else "no", e.status_while_active,
              f"{e.recovery_kind}: {', '.join(e.recovery_by)}", "yes" if e.keeps_lock else "no")
             for e in spec.errors.values()]))
    p("</section>")


def _proofs(pg: _Page) -> None:
    """The invariants and the proofs' verdicts."""
    m, ch, broken = pg.m, pg.ch, pg.broken
    p = pg.parts.append
    p('<section id="invariants"><h2>Invariants &amp; proofs</h2>')
    pr = ch.proof
    p(f"<p>Determinism and completeness of {_code(pr.machine)} (Z3, every configuration, every "
      f"state the variables' domains allow, every event field value): "
      f"{verdict(pr.ok, 'proved' if pr.ok else 'FAILED' if pr.findings else 'UNKNOWN')}, "
      f"{pr.buckets:,} (state, event) pairs, {pr.queries:,} queries, {timing('proof.seconds')}."
      f"</p>")
    for f in [*pr.findings, *(f"unknown: {u}" for u in pr.unknown)]:
        p(f"<p class=\"bad\">{esc(f)}</p>")
    ind = ch.induction
    if ind is not None:
        p(f"<p>The {len(ind.invariants)} state invariants, for every configuration at once (Z3 "
          f"induction: they hold initially, and every rule keeps them): "
          f"{verdict(ind.ok, 'proved' if ind.ok else 'NOT INDUCTIVE')}, {ind.queries} queries, "
          f"{timing('induction.seconds')}. Those marked <em>assumed</em> strengthen the "
          f"induction and let the determinism proof ignore unreachable states; each is proved "
          f"and explored like the others.</p>")
        for inv_id, why in [*ind.failures, *ind.unknown]:
            p(f"<p class=\"bad\">{esc(inv_id)}: {esc(why)}</p>")
    sp = ch.steps
    if sp is not None:
        p(f"<p>The {len(sp.invariants)} step invariants, for every configuration at once (Z3: "
          f"every rule on every event, from every state the state invariants allow, keeps "
          f"them): {verdict(sp.ok, 'proved' if sp.ok else 'NOT PROVED')}, {sp.queries} "
          f"queries, {timing('steps.seconds')}.</p>")
        for inv_id, why in [*sp.failures, *sp.unknown]:
            p(f"<p class=\"bad\">{esc(inv_id)}: {esc(why)}</p>")
    rp = ch.recovery
    for inv in (i for i in m.invariants if rp is not None and i.id in rp.invariants):
        ok = isinstance(rp.verdicts.get(inv.id), Proved)
        wit = "; ".join(f"{esc(w.doc or 'every state')}: {len(w.events)} events"
                        for w in inv.recovery)
        p(f"<p>{_code(inv.id)}, for every configuration at once (Z3: every state the state "
          f"invariants allow is some witness's, and the witness's events bring it to "
          f"{_code(to_label(inv.expr))}; the witnesses, in {_code(inv.where.file)}: {wit}): "
          f"{verdict(ok, 'proved' if ok else 'NOT PROVED')}, "
          f"{timing('recovery.seconds')}.</p>")
        for inv_id, why in [*rp.failures, *rp.unknown]:
            p(f"<p class=\"bad\">{esc(inv_id)}: {esc(why)}</p>")
    p(f"<p>Exploration, profile {_code(ch.profile)}: {len(ch.jobs)} configurations covering "
      f"{ch.pair_coverage:.0%} of value pairs (of {ch.distinguishable:,} distinguishable), "
      f"{sum(j.states for j in ch.jobs):,} states, {sum(j.transitions for j in ch.jobs):,} "
      f"transitions, {timing('explore.seconds')} ({timing('explore.rate')}). Each invariant "
      f"is checked at every state or step; its time is what evaluating it took in all.</p>")
    rows = []
    for inv in m.invariants:
        held = inv.id not in broken
        what = inv.doc
        if not held:
            msg, tr = broken[inv.id][0]
            what += f" -- VIOLATED: {msg}; shortest trace: {' ; '.join(tr) or '(initial)'}"
        every = _inductive(ch, inv)
        proof = (verdict(every, "proved" if every else "not inductive") if every is not None
                 else '<span class="muted">explored configurations</span>')
        rows.append((inv.id + (" (assumed)" if inv.assume else ""), inv.kind, str(inv.ref),
                     what, verdict(held), proof, timing(f"invariant.{inv.id}")))
    p(table(["invariant", "kind", "source", "statement", "explorer", "every configuration",
             "time"], rows, raw=(4, 5, 6)))
    p("</section>")


def _dlm(pg: _Page) -> None:
    """Dynamic load management: each example site's proofs."""
    c, spec = pg.c, pg.spec
    p = pg.parts.append
    p('<section id="dlm"><h2>Dynamic load management (§7)</h2>')
    if spec.dlm:
        p(table(["invariant", "scope", "source", "statement"],
                [(i.id, i.scope, str(i.ref), i.statement) for i in spec.dlm.invariants.values()]))
    for site, results in c.sites:
        key = site_key(site)
        p(f"<h3>Site {esc(site.name)} ({_code(site.file)})</h3>")
        p(_fig(c, key, "Phase rotation and limits."))
        p(table(["invariant", "result", "detail", "time"],
                [(r.invariant, verdict(r.ok, r.status), r.detail,
                  timing(f"dlm.{key}.{r.invariant}")) for r in results], raw=(1, 3)))
    p("</section>")


def _coverage(pg: _Page) -> None:
    """What the vectors cover."""
    c, tests = pg.c, pg.tests
    p = pg.parts.append
    p('<section id="coverage"><h2>Coverage of the conformance vectors</h2>')
    per_file = ", ".join(f"{n}: {d['numberOfTests']}" for n, d in c.vectors.items())
    p(f"<p>{tests:,} tests in {len(c.vectors)} files ({esc(per_file)}). From "
      f"<code>vectors/coverage-report.json</code>:</p>")
    crow = []
    for key, label in (("rules", "rules fired"), ("ruleConfigurationValues",
                                                  "(rule, guard parameter, value)"),
                       ("policyRows", "policy-table rows"), ("errorRows", "error-table rows"),
                       ("invariantBoundaries", "invariant boundaries")):
        item = c.coverage.get(key, {})
        unc = item.get("uncovered", item.get("notFired", []))
        done = item.get("covered", item.get("fired", "?"))
        extra = (f" ({item['impossible']} more cannot satisfy the guard: Z3)"
                 if "impossible" in item else "")
        crow.append((label, f"{done} / {item.get('total', '?')}{extra}",
                     "; ".join(map(str, unc)) if unc else "none"))
    octt = c.coverage.get("octt", {})
    crow.append(("OCTT OCPP 1.6 cases mirrored",
                 f"{len(octt.get('mirrored', []))} / {octt.get('applicable', '?')} applicable",
                 f"{len(octt.get('notApplicable', {}))} not applicable, each with its reason"))
    keys = c.coverage.get("configurationKeys")
    if keys:
        crow.append(("OCPP configuration keys read / writable keys changed with every class "
                     "of value / read-only keys refused / changes shown taking effect",
                     f"{keys['keysRead']} / {keys['keys']}; {keys['writableKeysChanged']} / "
                     f"{keys['writableKeys']}; {keys['readOnlyKeysRefused']}; "
                     f"{keys['effectTests']}", "none" if keys["keysRead"] == keys["keys"]
                     and keys["writableKeysChanged"] == keys["writableKeys"] else "see "
                     "coverage-report.json"))
    for key, label in (("uidForms", "card UIDs (4, 7, 10 bytes) x RFID Tag letter case"),
                       ("caseMismatched", "entries in the other letter case, per letter case"),
                       ("limitBoundaries", "current limits at every boundary"),
                       ("memoryReadBack", "memories written, then read back"),
                       ("settingEventPairs", "(setting value, event it changes)")):
        item = c.coverage.get("dataValues", {}).get(key, {})
        unc = item.get("uncovered", [])
        crow.append((label, f"{item.get('covered', '?')} / {item.get('total', '?')}",
                     "; ".join(map(str, unc)) if unc else "none"))
    p(table(["item", "covered", "not covered"], crow))
    failing = octt.get("factoryDefaultsFail", {})
    if failing:
        p(f"<p>{len(failing)} OCTT cases fail under the Bender factory defaults; each runs in "
          f"<code>octt.json</code> under the setting that passes it:</p>")
        p(table(["OCTT case", "setting", "factory default", "needs"],
                [(case, pid, json.dumps(v["default"]), json.dumps(v["required"]))
                 for case, settings in sorted(failing.items())
                 for pid, v in sorted(settings.items())]))
    for case, d in sorted(octt.get("departures", {}).items()):
        p(f"<p>{esc(case)} departs from OCTT ({esc(d['interpretation'])}): OCTT expects "
          f"{esc(d['octtExpects'])}.</p>")
    p("</section>")


def _mutation(pg: _Page) -> None:
    """The mutation analysis: score per area, survivors, equivalents."""
    c = pg.c
    p = pg.parts.append
    mut = c.coverage.get("mutation", {})
    p('<section id="mutation"><h2>Mutation analysis of the vectors</h2>')
    p("<p>Every mutant of the spec (<code>chargespec mutate</code>: guards, updates, messages, "
      "target phases, every table cell, initial values, defaults, and the helpers' plausible "
      "wrong versions) against the vectors. <code>vectors/mutation.json</code> holds the "
      "shortest test for each mutant the other files did not kill. Score: killed / (mutants "
      "- equivalent), as <code>vectors/mutation.json</code> recorded it when it was "
      "generated (the other files' kills plus its own tests).</p>")
    mrow = []
    for area, a in sorted(mut.get("byArea", {}).items()):
        live = a["mutants"] - a["equivalent"]
        killed = a["killed"] + a["distinguished"]
        mrow.append((area, str(a["mutants"]), str(a["killed"]), str(a["distinguished"]),
                     str(a["equivalent"]), str(a["undecided"]),
                     f"{100.0 * killed / live:.1f} %" if live else "100 %"))
    p(table(["area", "mutants", "killed by the other files", "killed by mutation.json",
             "equivalent", "undecided", "score"], mrow))
    for key, label in (("equivalent", "Equivalent mutants, with the reason"),
                       ("undecided", "Undecided mutants (neither killed nor shown equivalent "
                                     "within the search bounds)")):
        items = mut.get(key, {})
        p(f"<details><summary>{esc(label)}: {len(items)}</summary>")
        p(table(["mutant", "reason"], [(k, v) for k, v in sorted(items.items())]))
        p("</details>")
    p("</section>")


def _traceability(pg: _Page) -> None:
    """Traceability: each manual section, its rules and checks."""
    trace = pg.trace
    p = pg.parts.append
    p('<section id="traceability"><h2>Traceability: manual section → spec → checks → vectors'
      '</h2>')
    p("<p>Every section the spec cites, directly or through an interpretation. Checks: the "
      "invariants and proofs over those elements, with their verdict. Vectors: the tests that "
      "exercise the section (file#tcId).</p>")
    trows = []
    for r in trace:
        elems = "<br>".join(f"{esc(k)} ({len(v)}): " + ", ".join(_code(x) for x in v)
                            for k, v in r["elements"].items())
        checks = "<br>".join(f"{esc(x['name'])}: {verdict(x['holds'])}" for x in r["checks"])
        vec = (f"<details><summary>{r['vectors']} tests</summary>{esc(r['vectorIds'])}"
               f"</details>" if r["vectors"] else "none")
        trows.append((r["section"], r["title"], elems, checks or "none", vec))
    p(table(["section", "title", "spec elements", "invariants and proofs", "vectors"], trows,
            cls="trace", raw=(2, 3, 4)))
    p("</section>")


def _interpretations(pg: _Page) -> None:
    """The interpretations and the errata."""
    spec = pg.spec
    p = pg.parts.append
    p('<section id="interpretations"><h2>Interpretations &amp; errata</h2>')
    p("<p>Where the manual is silent or ambiguous (interpretations), and where it is wrong as "
      "printed (errata): the decision the spec takes and its ground.</p>")
    p(table(["id", "sections", "the manual leaves open", "decision", "ground",
             "other conforming outcomes"],
            [(i.id, ", ".join(i.manual), i.issue, i.decision, i.ground,
              "; ".join(i.alternatives)) for i in spec.interpretations.values()]))
    p(table(["id", "sections", "the manual says", "problem", "the spec reads"],
            [(e.id, ", ".join(e.manual), e.says, e.problem, e.reading)
             for e in spec.errata.values()]))
    p("</section>")


def _benchmarks(pg: _Page) -> None:
    """This run's measured figures."""
    p = pg.parts.append
    p('<section id="bench"><h2>Benchmarks (this run)</h2>')
    p(table(["figure", "value"], [
        ("step function (one session, repeated)", timing("bench.step")),
        ("conformance runner, in process, session.json", timing("bench.conform")),
        ("exploration", timing("explore.rate")),
        ("check, CI profile (proofs + explorations)", timing("check.seconds")),
        ("determinism + completeness proof", timing("proof.seconds")),
        ("state invariants, induction (every configuration)", timing("induction.seconds")),
        ("step invariants (every configuration)", timing("steps.seconds")),
        ("diagrams (explorations + graphviz)", timing("diagrams.seconds")),
        ("whole report", timing("report.seconds"))], raw=(1,)))
    p(f"<p class=\"muted\">The figures are measured while the report is generated, on the "
      f"machine that generated it; <code>bench/</code> has the full benchmarks. They live in "
      f"<code>{TIMING_FILE}</code>, the one file of reports/ that differs between runs.</p>")
    p("</section>")


# the page, top to bottom
SECTIONS = (_overview, _wire, _views, _machines, _policies, _error_table, _proofs, _dlm, _coverage, _mutation,
            _traceability, _interpretations, _benchmarks)


def html(c: Collected, trace: list[dict[str, Any]]) -> str:
    pg = _Page(c, trace)
    for section in SECTIONS:
        section(pg)
    spec = pg.spec
    return page("chargespec report: Powerstation TWO",
                f"chargespec {__version__}, spec {spec.version}: the executable, model-checked "
                f"specification, its proofs, diagrams and conformance vectors",
                NAV, "\n".join(pg.parts), timing_js=TIMING_FILE)


README = """# reports/

Generated by `chargespec report` (which `make demo` runs); nothing here is written by hand.

- `index.html`: the report, self-contained (inline CSS, script and SVG; no network). Open it in
  a browser.
- `summary.json`: the same figures for machines: verdicts, counts, coverage, traceability.
- `diagrams/`: DOT and SVG of every diagram (`chargespec diagrams` writes the same files), and
  the readable state views as Mermaid (`.mmd`).
- `sequences/`: the message sequence charts of the page, as SVG and as Mermaid (`.mmd`).
- `timing.js`: the measured figures (seconds, rates) of the run that generated the report.
  **The one file that changes between runs**; `index.html` fills its figures from it.

Everything except `timing.js` is byte-identical on re-generation from the same spec and
vectors; CI runs `chargespec report --check` to keep it so.
"""


def build(c: Collected) -> dict[str, bytes]:
    trace = traceability(c)
    files: dict[str, bytes] = {
        "index.html": html(c, trace).encode(),
        "summary.json": (json.dumps(summary(c, trace), indent=1, sort_keys=True)
                         + "\n").encode(),
        "README.md": README.encode(),
        TIMING_FILE: ("/* chargespec report: measured figures of the run that generated it. "
                      "The one file of reports/ that differs between runs. */\n"
                      "window.CHARGESPEC_TIMING = "
                      + json.dumps(c.timing, indent=1, sort_keys=True) + ";\n").encode(),
    }
    for name, text in c.diagrams.items():
        files[f"diagrams/{name}"] = text.encode()
    from chargespec.sequence import mermaid, svg as chart_svg
    for _, slug, _, chart in report_charts(c):
        files[f"sequences/{slug}.svg"] = chart_svg(chart, slug).encode()
        files[f"sequences/{slug}.mmd"] = mermaid(chart).encode()
    return files
