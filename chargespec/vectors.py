"""Conformance vectors: generated from the spec, one JSON file per concern, Wycheproof-style.

Each file has a header (schema, spec and generator version, `numberOfTests`), `notes` that say
what a failing flag reveals and where the manual says so, and `testGroups`, each sharing one
configuration.  A session test is the shortest event sequence (breadth-first) that makes one rule
of the session fire under that configuration, or that makes one connector status change (OCPP 1.6
§4.9) the rules' tests do not pass through, with the expected observations after every step:
the connector status, the contactor, the lock, the offered current, the pilot duty cycle, the
LED, the OCPP messages and one-shot indications.  Further files replay the OCTT OCPP 1.6 test
cases that apply (`spec/octt.yaml`), top up the coverage of (rule, configuration value) pairs
that the concerns miss, and pin the dynamic load management (`dlm.json`).

Conforming alternatives are part of the format, not of the runner's mood:
  * the charge point's calls within one step may come in any order, except that transaction
    messages keep their order (OCPP 1.6 §4.x: only transaction-related messages are queued and
    delivered in order); results must come in order;
  * a step decided by an interpretation that lists `alternatives` (the manual leaves a choice)
    carries `choice`: a divergence there makes the test `acceptable`, not failed;
  * a DLM allocation other than the reference's is `acceptable` when it keeps every invariant.

Everything is a pure function of the spec: re-generation is byte-identical, and
`chargespec vectors --check` fails when the committed files drift.  Groups are generated on
both cores (fork), then numbered in a fixed order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargespec import __version__
from chargespec.models.step import Engine
from chargespec.models.stdio import observed_names
from chargespec.models.types import thaw
from chargespec.octt import defaults_failing
from chargespec.parallel import parallel_map
from chargespec.vectorform import alternatives, initial_json, make_test, offline_events

SCHEMA = "vectors.schema.json"
MESSAGE_ORDER = ("calls-any-order-but-transaction-messages; results-in-order")
@dataclass(frozen=True)
class Concern:
    """One vector file: its configurations and the rules whose behaviour it pins."""

    name: str
    title: str
    configs: tuple[dict[str, Any], ...]
    errors: bool = False
    one_cached_card: bool = False  # bound the exploration to at most one card in the cache
    offline: bool = False  # the backend may go away and come back (error_raised, backend_online)


def concerns(engine: Engine) -> list[Concern]:
    from chargespec.checkers.check import CI_CONFIGURATIONS
    from chargespec.checkers.explore import pairwise_configurations
    pairwise = tuple(c.as_dict() for c in pairwise_configurations(engine)[:CI_CONFIGURATIONS])
    modes = engine.spec.parameters["stop_transaction_mode"].values
    free = engine.spec.parameters["free_charging_mode"].values
    doubt = engine.spec.parameters["if_in_doubt_allow_charging"].values
    return [
        Concern("session", "Every rule of the session under the CI configurations", pairwise),
        Concern("stop_modes", "Stop Transaction Mode (§5.1)",
                tuple({"stop_transaction_mode": m} for m in modes)),
        Concern("free_charging", "Free Charging modes 1-6 (§5.2)",
                tuple({"free_charging": True, "free_charging_mode": m,
                       "free_charging_rfid_tag": "FREE-TAG"} for m in free)),
        Concern("authorization", "If in doubt allow charging, whitelists, cache (§5.1-§5.5)",
                tuple({"if_in_doubt_allow_charging": d, "enable_ocpp_whitelist": True,
                       "local_authorize_offline": True, "enable_local_whitelist": True,
                       "local_whitelist": ["CARD_A#1"]} for d in doubt)
                + ({"if_in_doubt_allow_charging": "ImmediatePlugIn",
                    "connection_type": "NoBackend"},
                   # the backend back during an Immediate Plug-in charge, with the strategy
                   # that shows Preparing while plugged: Charging -> Finishing -> Preparing
                   # (DOUBT-IMMEDIATE-BACKEND-BACK)
                   {"if_in_doubt_allow_charging": "ImmediatePlugIn",
                    "status_notification_strategy": "OccupiedOnAuthorizedOrPlugged"}),
                one_cached_card=True, offline=True),
        Concern("errors", "The error table (§9), one row per behaviour",
                tuple({"stop_transaction_mode": m} for m in modes)
                # a plugged connector shows Preparing: Faulted -> Preparing once it clears
                + ({"status_notification_strategy": "OccupiedOnAuthorizedOrPlugged"},),
                errors=True),
    ]


def _events(engine: Engine, concern: Concern):
    from chargespec.checkers.explore import REPRESENTATIVE_ERRORS, error_events, session_events
    events = session_events(engine)
    if concern.errors:
        # reservations stay: an error while Reserved, and Reserved again once it clears
        # (OCPP 1.6 §4.9: Reserved -> Faulted -> Reserved)
        limits = {"set_operator_limit", "set_load_limit", "cancel_reservation",
                  "reservation_expired", "clear_cache", "cache_expiry_timer"}
        events = [e for e in events if e.name not in limits]
        events += error_events(engine, REPRESENTATIVE_ERRORS)
    elif concern.offline:
        events += offline_events(engine)
    return events


# ---- one group per worker job (fork: the engine is inherited, not pickled)

_STATE: dict[str, Any] = {}


def _group(job: tuple[int, int]) -> dict[str, Any]:
    from chargespec.checkers.explore import explore, max_errors, trace_to
    engine: Engine = _STATE["engine"]
    concern: Concern = _STATE["concerns"][job[0]]
    values = concern.configs[job[1]]
    config = engine.config(values)
    first: dict[str, tuple[Any, Any]] = {}
    changes: dict[tuple[str, str], tuple[Any, Any, str]] = {}  # status change -> first step

    def record(c, s, ev, s2, out, first=first):
        if out.rule not in first:
            first[out.rule] = (s, ev)
        if s.status != s2.status and (s.status, s2.status) not in changes:
            changes[(s.status, s2.status)] = (s, ev, out.rule)
        return None
    from chargespec.checkers.check import inoperative_bound
    # as `chargespec check` does: an Inoperative connector only with every limit granted and an
    # empty cache (ChangeAvailability would otherwise double every exploration)
    if concern.errors:
        one_error = max_errors(1)
        bound = (lambda st: one_error(st) and inoperative_bound(st))
    elif concern.one_cached_card:
        bound = (lambda st: len(st.cache) <= 1 and inoperative_bound(st))
    else:
        bound = inoperative_bound
    x = explore(engine, config, {"first": record}, events=_events(engine, concern), bound=bound)
    tests = []
    for rid in [r.id for r in engine.machine.rules if r.id in first]:
        s, ev = first[rid]
        trace = list(trace_to(x.parent, s)) + [ev]
        tests.append(make_test(engine, config, trace, f"{rid} fires on {ev.label()}"))
    # every status change the configuration makes (OCPP 1.6 §4.9), in its shortest test: those
    # the rules' tests do not pass through get their own
    shown = {(a["expect"]["status"], b["expect"]["status"]) for t in tests
             for a, b in zip(t["steps"], t["steps"][1:])}
    shown |= {(initial_json(engine, config)["status"], t["steps"][0]["expect"]["status"])
              for t in tests}
    for (a, b), (s, ev, rid) in sorted(changes.items()):
        if (a, b) not in shown:
            trace = list(trace_to(x.parent, s)) + [ev]
            tests.append(make_test(engine, config, trace,
                                   f"status {a} -> {b} ({rid} on {ev.label()})"))
    return {"config": {k: thaw(v) for k, v in sorted(values.items())},
            "initial": initial_json(engine, config), "tests": tests}


def session_files(engine: Engine, workers: int | None = None) -> dict[str, list[dict]]:
    """Concern name -> its test groups (tests not yet numbered)."""
    cs = concerns(engine)
    _STATE.update(engine=engine, concerns=cs)
    jobs = [(i, k) for i, c in enumerate(cs) for k in range(len(c.configs))]
    # the biggest explorations first, so the two workers finish together
    groups = parallel_map(_group, jobs, workers)
    out: dict[str, list[dict]] = {c.name: [] for c in cs}
    for (i, _), g in zip(jobs, groups):
        out[cs[i].name].append(g)
    return out


def document(engine: Engine, name: str, title: str, groups: list[dict], first_id: int = 1,
             observations: list[str] | None = None, schema: str = SCHEMA) -> dict[str, Any]:
    """Number the tests, gather the notes of every flag used, and add the header."""
    spec = engine.spec
    tc = first_id - 1
    flags: set[str] = set()
    # each group says its kind first (chargespec.kinds); these are the session's
    groups[:] = [{"type": g.get("type", "session"), **{k: v for k, v in g.items() if k != "type"}}
                 for g in groups]
    for g in groups:
        for t in g["tests"]:
            tc += 1
            t["tcId"] = tc
            flags.update(t["flags"])
    choices = alternatives(engine)
    octt_titles = {c.id: c for c in spec.octt}
    notes = {}
    for flag in sorted(flags):
        if flag in spec.interpretations:
            i = spec.interpretations[flag]
            notes[flag] = {"bugType": "the implementation reads the manual differently here",
                           "description": " ".join(str(i.decision).split()),
                           "manual": list(i.manual)}
            if flag in choices:
                notes[flag]["alternatives"] = list(choices[flag])
        elif flag in octt_titles:
            case = octt_titles[flag]
            notes[flag] = {"bugType": "the implementation fails an OCTT OCPP 1.6 test case",
                           "description": f"OCTT {case.id}: {case.title}",
                           "manual": list(case.manual)}
            failing = defaults_failing(engine, case)
            if failing:  # the Bender factory defaults that fail this case, and what passes
                notes[flag]["factoryDefaultsFail"] = failing
        elif flag in spec.manual_sections:
            notes[flag] = {"bugType": "the implementation departs from the manual",
                           "description": spec.manual_sections[flag], "manual": [flag]}
        else:
            notes[flag] = {"bugType": "the implementation departs from the spec",
                           "description": flag, "manual": []}
    return {
        "algorithm": f"chargespec {name}: {title}",
        "schema": schema,
        "specVersion": spec.version,
        "generatorVersion": __version__,
        "numberOfTests": tc - first_id + 1,
        "observations": observations or observed_names(engine.machine),
        "messageOrder": MESSAGE_ORDER,
        "notes": notes,
        "testGroups": groups,
    }


def render(doc: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, one space indent, a final newline (byte-stable)."""
    return (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


# what `mutation.json` is a function of, beside the spec and the other vector files: the
# mutants, their search, and the step function they run on.  The spec's reader, the vector
# writer and the adapters are not listed: what they change shows in the spec's files or in the
# other vector files, which are hashed too (`make test-slow` regenerates everything regardless).
MUTATION_SOURCES = (
    "chargespec.datavalues", "chargespec.rfid", "chargespec.expr", "chargespec.specmodel",
    "chargespec.models.compiled", "chargespec.models.step", "chargespec.models.pwm",
    "chargespec.models.types", "chargespec.checkers.mutants", "chargespec.checkers.mutate",
    "chargespec.checkers.explore", "chargespec.checkers.liveness",
    "chargespec.checkers.determinism", "chargespec.checkers.z3_backend")


def mutation_inputs(engine: Engine, docs: dict[str, dict[str, Any]]) -> str:
    """sha256 over everything `mutation.json` is generated from: the spec's files, the
    generator's and the step function's sources, and the other session vector files."""
    import importlib
    h = hashlib.sha256()
    for path in sorted(Path(engine.spec.directory).glob("*.yaml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for mod in MUTATION_SOURCES:
        h.update(mod.encode() + b"\0" + Path(importlib.import_module(mod).__file__
                                              ).read_bytes())  # type: ignore[arg-type]
    for name in sorted(docs):
        h.update(name.encode() + b"\0" + render(docs[name]))
    return h.hexdigest()


def _bug_note(flag: str) -> dict[str, Any]:
    from chargespec.checkers import mutate
    return mutate.bug_note(flag)


def mutation_document(engine: Engine, docs: dict[str, dict[str, Any]], previous: Path | None,
                      workers: int | None = None) -> dict[str, Any]:
    """`mutation.json`: the shortest test for every spec mutant the other files do not kill
    (checkers/mutate.py).  The analysis takes minutes, so the committed file is kept when its
    recorded inputs (`coverage.inputs`, see `mutation_inputs`) are today's: the generator is
    deterministic (its searches are bounded by counted steps, not time), so the same inputs
    give the same bytes; `chargespec vectors --full` regenerates it regardless."""
    from chargespec.checkers import mutate
    inputs = mutation_inputs(engine, docs)
    if previous is not None and previous.is_file():
        try:
            old = json.loads(previous.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict) and old.get("coverage", {}).get("inputs") == inputs:
            return old
    import sys
    groups, summary = mutate.adequate_groups(
        engine, [(f"{n}.json", d) for n, d in docs.items()], workers,
        progress=lambda text: print(f"mutation.json: {text}", file=sys.stderr, flush=True))
    doc = document(engine, "mutation", "The shortest test for every spec mutant the files "
                   "above do not kill (chargespec mutate)", groups)
    for flag in doc["notes"]:
        if flag in mutate.BUG_TYPES or flag.startswith(("WRONG_", "MISSING_", "CASE_")):
            doc["notes"][flag] = _bug_note(flag)
    doc["coverage"] = {"inputs": inputs, **summary}
    return doc


def build(engine: Engine, workers: int | None = None, previous: Path | None = None
          ) -> dict[str, bytes]:
    """Every vector file, the coverage report and the manifest, as file name -> bytes.
    `previous`: the directory of the committed files (whose `mutation.json` is kept when its
    inputs are unchanged); None regenerates everything."""
    from chargespec import coverage, octt
    from chargespec.kinds import registered
    titles = {c.name: c.title for c in concerns(engine)}
    docs: dict[str, dict[str, Any]] = {}
    for name, groups in session_files(engine, workers).items():
        docs[name] = document(engine, name, titles[name], groups)
    docs["octt"] = document(engine, "octt", "The OCTT OCPP 1.6 test cases that apply",
                            octt.groups(engine))
    from chargespec import configvectors
    docs["configuration"] = document(
        engine, "configuration", "GetConfiguration and ChangeConfiguration: every key read, "
        "every writable key with every class of value, read-only and unknown keys, a change "
        "taking effect", configvectors.groups(engine))
    extra = coverage.top_up(engine, docs, workers)
    docs["coverage"] = document(engine, "coverage", "Rules under configuration values the "
                                "concerns above do not reach", extra)
    from chargespec import datavalues
    data = datavalues.groups(engine)
    data += coverage.pair_top_up(engine, {**docs, "data": {"testGroups": data}})
    docs["data"] = document(engine, "data", "Card UIDs under every letter case, entries in the "
                            "other case, the cache read back, current limits at every "
                            "boundary, settings with the events they change", data)
    for flag in docs["data"]["notes"]:
        docs["data"]["notes"][flag] = _bug_note(flag)
    docs["mutation"] = mutation_document(
        engine, docs, None if previous is None else previous / "mutation.json", workers)
    for kind in registered():  # the other kinds' files (the session's are the ones above)
        if kind.files is not None:
            docs.update(kind.files(engine))
    report = coverage.report(engine, docs)
    files = {f"{name}.json": render(doc) for name, doc in docs.items()}
    files["coverage-report.json"] = render(report)
    files.update(static_files())
    files["README.md"] = readme(docs, report, engine).encode()
    tests = {f"{name}.json": doc.get("numberOfTests", 0) for name, doc in docs.items()}
    manifest = {"generatorVersion": __version__, "specVersion": engine.spec.version,
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(),
                                 "numberOfTests": tests.get(name, 0)}
                          for name, data in sorted(files.items())}}
    files["manifest.json"] = render(manifest)
    return files


def readme(docs: dict[str, dict[str, Any]], report: dict[str, Any], engine: Any = None) -> str:
    """The folder's index: files, test counts and coverage figures, and two tests drawn as
    Mermaid sequence charts (generated, like the rest)."""
    lines = ["# vectors/", "",
             "Conformance vectors generated from `spec/` by `chargespec vectors`; nothing here is",
             "written by hand, and `chargespec vectors --check` (run by `make test`) fails when a",
             "file drifts from the spec. Format: [FORMAT.md](FORMAT.md); running them against",
             "an implementation: [ADAPTER.md](ADAPTER.md); JSON Schemas: `schema/`.", "",
             "| file | tests | what it pins |", "|---|---:|---|"]
    for name, doc in docs.items():
        title = doc["algorithm"].split(": ", 1)[-1]
        lines.append(f"| `{name}.json` | {doc['numberOfTests']} | {title} |")
    total = sum(d["numberOfTests"] for d in docs.values())
    lines += [f"| **total** | **{total}** | |", "", "## Coverage (`coverage-report.json`)", ""]
    r = report
    rcv = r["ruleConfigurationValues"]
    lines += [
        f"- rules fired: {r['rules']['fired']} / {r['rules']['total']}"
        + (f" (not: {', '.join(r['rules']['notFired'])})" if r['rules']['notFired'] else ""),
        f"- (rule, parameter its guard reads, value): {rcv['covered']} / {rcv['total']} "
        f"({rcv['impossible']} more are unsatisfiable by the guard, per Z3)",
        f"- policy-table rows: {r['policyRows']['covered']} / {r['policyRows']['total']}",
        f"- error-table rows: {r['errorRows']['covered']} / {r['errorRows']['total']}",
        f"- invariant boundaries: {r['invariantBoundaries']['covered']} / "
        f"{r['invariantBoundaries']['total']}",
        f"- OCTT OCPP 1.6 cases: {len(r['octt']['mirrored'])} mirrored of "
        f"{r['octt']['applicable']} applicable ({r['octt']['listed']} listed; the others do "
        "not apply, with the reason in `coverage-report.json`)",
        f"- OCPP configuration keys: {r['configurationKeys']['keysRead']} of "
        f"{r['configurationKeys']['keys']} read, {r['configurationKeys']['writableKeysChanged']}"
        f" of {r['configurationKeys']['writableKeys']} writable keys changed with every class "
        f"of value, {r['configurationKeys']['readOnlyKeysRefused']} read-only keys refused, "
        f"{r['configurationKeys']['effectTests']} changes shown taking effect",
        f"- DLM: {r['dlm'].get('sites', 0)} sites, {r['dlm'].get('ticks', 0)} ticks",
        f"- connector status changes (OCPP 1.6 §4.9): {r['statusChanges']['pinned']} of the "
        f"{r['statusChanges']['allowed']} the table allows are pinned by some test, none it "
        f"forbids; some rule can make {r['statusChanges']['possible']} of them under some "
        f"configuration (Z3), and {len(r['statusChanges']['possibleNotPinned'])} of those are "
        f"not pinned (the lists are in `coverage-report.json`)",
        ""]
    if rcv["uncovered"]:
        lines += ["Uncovered (rule, parameter, value) items, listed rather than hidden:", ""]
        lines += [f"- {u}" for u in rcv["uncovered"]] + [""]
    lines += _charts_section(docs, engine)
    return "\n".join(lines)


def _charts_section(docs: dict[str, dict[str, Any]], engine: Any) -> list[str]:
    """Two tests as Mermaid sequence charts (GitHub and GitLab render them): the first test of
    stop_modes.json whose card stops the transaction, and the first of free_charging.json that
    charges with no card, each in at most 8 steps."""
    from chargespec.sequence import from_test, mermaid

    def first(name: str, want: Any) -> tuple[Any, Any] | None:
        for group in docs.get(name, {}).get("testGroups", ()):
            for test in group.get("tests", ()):
                if len(test.get("steps", ())) <= 8 and want(group, test):
                    return group, test
        return None

    def sends(test: Any, action: str, **fields: Any) -> bool:
        return any(m.get("action") == action and all(m.get("fields", {}).get(k) == v
                                                     for k, v in fields.items())
                   for s in test["steps"] for m in s["expect"].get("messages", ()))

    picks = [("stop_modes", first("stop_modes", lambda g, t: t["steps"][0]["event"]["name"]
                                  == "plug" and sends(t, "StopTransaction", reason="Local"))),
             ("free_charging", first("free_charging", lambda g, t: not any(
                 s["event"]["name"] == "rfid" for s in t["steps"])
                 and t["steps"][0]["event"]["name"] == "plug"
                 and any(s["expect"].get("status") == "Charging" for s in t["steps"])))]
    out = ["## Two tests on the wire", "",
           "Each test is a run of the charge point; `chargespec diagrams --sequence "
           "FILE.json#TCID` draws any of them (SVG, or `--format mermaid`).", ""]
    for name, found in picks:
        if found is None:
            continue
        group, test = found
        config = ", ".join(f"{k}={v}" for k, v in sorted(group.get("config", {}).items()))
        out += [f"`{name}.json#{test['tcId']}`: {test.get('comment', '')} "
                f"({config or 'the defaults'})", "", "```mermaid",
                mermaid(from_test(engine, group, test,
                                  title=f"{name}.json#{test['tcId']}")).rstrip("\n"),
                "```", ""]
    return out


def static_files() -> dict[str, bytes]:
    """The format documentation and JSON Schemas shipped beside the vectors."""
    from importlib import resources
    root = resources.files("chargespec.schema")
    out = {}
    for name in sorted(p.name for p in root.iterdir()):
        if name.endswith(".md"):
            out[name] = root.joinpath(name).read_bytes()
        elif name.endswith(".json"):
            out[f"schema/{name}"] = root.joinpath(name).read_bytes()
    return out


def write(directory: Path, files: dict[str, bytes]) -> None:
    """Every file, each written beside its place and renamed (chargespec/outfiles.py): never a
    half-written vector, never a symlink followed."""
    from chargespec.outfiles import write_tree
    write_tree(directory, files)


def drift(directory: Path, files: dict[str, bytes], command: str = "chargespec vectors"
          ) -> list[str]:
    """The files whose committed bytes differ from what the spec generates now."""
    out = []
    for name, data in files.items():
        path = directory / name
        if not path.is_file():
            out.append(f"{path}: missing")
        elif path.read_bytes() != data:
            out.append(f"{path}: differs from the spec (run `{command}`)")
    return out
