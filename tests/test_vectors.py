"""The vector generator: deterministic, schema-valid files whose expectations the reference
reproduces, conforming alternatives in the format, coverage listed, drift detected.  The
committed vectors/ are compared byte for byte with a fresh generation by `chargespec vectors
--check`, which `make test` runs before pytest; these tests read the committed files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from chargespec.compare import messages_differ
from chargespec.conform import load_vectors
from chargespec.vectors import Concern, document, drift, parallel_map, render, write

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FILES = ["session", "stop_modes", "free_charging", "authorization", "errors", "octt",
         "configuration", "coverage", "data", "mutation", "dlm"]


def small(engine):
    from chargespec import vectors
    c = Concern("stop_modes", "Stop Transaction Mode (§5.1)",
                ({"stop_transaction_mode": "OnlyByRfidOrRemoteStop"},))
    vectors._STATE.update(engine=engine, concerns=[c])
    groups = parallel_map(vectors._group, [(0, 0)], workers=1)
    return document(engine, "stop_modes", c.title, groups)


def test_generation_is_byte_identical(engine):
    a, b = render(small(engine)), render(small(engine))
    assert a == b and a.endswith(b"\n")


@pytest.mark.parametrize("name", FILES)
def test_every_committed_file_is_schema_valid_and_counted(name):
    doc = load_vectors(VECTORS / f"{name}.json")
    n = sum(len(g["tests"]) for g in doc["testGroups"])
    assert doc["numberOfTests"] == n > 0
    ids = [t["tcId"] for g in doc["testGroups"] for t in g["tests"]]
    assert ids == list(range(1, n + 1))
    assert set(doc["notes"]) >= {f for g in doc["testGroups"] for t in g["tests"]
                                 for f in t["flags"]}
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    import hashlib
    data = (VECTORS / f"{name}.json").read_bytes()
    assert manifest["files"][f"{name}.json"] == {
        "sha256": hashlib.sha256(data).hexdigest(), "numberOfTests": n}


def test_manifest_and_protocol_schemas_are_shipped():
    schema = json.loads((VECTORS / "schema" / "manifest.schema.json").read_text())
    jsonschema.validate(json.loads((VECTORS / "manifest.json").read_text()), schema)
    proto = json.loads((VECTORS / "schema" / "adapter-protocol.schema.json").read_text())
    jsonschema.validate({"type": "hello", "name": "x", "observations": ["status"]}, proto)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "hello", "name": "x", "observations": ["colour"]}, proto)
    assert (VECTORS / "FORMAT.md").is_file() and (VECTORS / "ADAPTER.md").is_file()


def test_every_session_test_replays_on_the_reference(engine):
    from chargespec.reference import Reference
    ref = Reference()
    from chargespec.configkeys import EVENTS
    for name in ("stop_modes", "octt", "configuration", "data", "mutation"):
        doc = load_vectors(VECTORS / f"{name}.json")
        for g in doc["testGroups"]:
            for t in g["tests"]:
                ref.reset(g["config"])
                for step in t["steps"]:
                    assert ref.step(step["event"]) == step["expect"], (name, t["tcId"])
                    # a configuration request is answered from the key table, not by a rule
                    assert step["rule"] in t["rules"] or step["rule"] in EVENTS


def test_refusals_are_invalid_and_choices_acceptable():
    doc = load_vectors(VECTORS / "authorization.json")
    tests = [t for g in doc["testGroups"] for t in g["tests"]]
    refused = [t for t in tests if t["result"] == "invalid"]
    assert refused and all(
        "card_refused" in t["steps"][-1]["expect"]["indications"] or any(
            m["kind"] == "result" for m in t["steps"][-1]["expect"]["messages"])
        for t in refused)
    choices = [t for t in tests if t["result"] == "acceptable"]
    assert choices and all(any("choice" in s for s in t["steps"]) for t in choices)
    for t in choices:
        for s in t["steps"]:
            if "choice" in s:
                assert doc["notes"][s["choice"]]["alternatives"]


def test_octt_cases_are_mirrored_with_their_ids():
    doc = load_vectors(VECTORS / "octt.json")
    ids = {t["octt"] for g in doc["testGroups"] for t in g["tests"]}
    assert {"TC_003", "TC_004_1", "TC_004_2", "TC_005_1", "TC_005_3", "TC_037_1", "TC_037_3",
            "TC_038", "TC_039", "TC_068"} <= ids
    report = json.loads((VECTORS / "coverage-report.json").read_text())
    assert len(report["octt"]["mirrored"]) == report["octt"]["applicable"]
    assert all(reason for reason in report["octt"]["notApplicable"].values())


def test_coverage_is_reported_with_every_gap_listed():
    r = json.loads((VECTORS / "coverage-report.json").read_text())
    rcv = r["ruleConfigurationValues"]
    assert rcv["covered"] + len(rcv["uncovered"]) == rcv["total"]
    assert rcv["covered"] / rcv["total"] > 0.95
    assert r["rules"]["fired"] + len(r["rules"]["notFired"]) == r["rules"]["total"]
    assert r["errorRows"]["covered"] == r["errorRows"]["total"] == 15
    assert r["policyRows"]["uncovered"] == [] and r["invariantBoundaries"]["uncovered"] == []


def test_a_misplaced_octt_expectation_stops_generation_at_its_line(engine, tmp_path):
    import shutil

    from chargespec import octt
    from chargespec.errors import SpecError
    from chargespec.loader import default_spec_dir, load_spec
    from chargespec.models.step import Engine
    d = tmp_path / "spec"
    shutil.copytree(default_spec_dir(), d)
    text = (d / "octt.yaml").read_text()
    tail = "StatusNotification(status=Available), no StartTransaction]"
    (d / "octt.yaml").write_text(text.replace(
        "expect: [Authorize(idTag=CARD_A), StatusNotification(status=Preparing),\n             "
        + tail, "expect: [Authorize(idTag=CARD_B), StatusNotification(status=Preparing),\n"
        "             " + tail, 1))
    with pytest.raises(SpecError, match=r"octt.yaml:\d+: OCTT case TC_004_2: the reference "
                                        r"does not send Authorize\(idTag=CARD_B\)"):
        octt.groups(Engine(load_spec(d)))
    # a message the case forbids: TC_007_2 without REMOTE-START-LOCAL's cache path
    text = text.replace("             local_pre_authorize: true,\n",
                        "             local_pre_authorize: false,\n", 1)
    (d / "octt.yaml").write_text(text.replace(
        "{remote_start: {id_tag: CARD_A}}, {start_tx_conf: {status: Accepted}},",
        "{remote_start: {id_tag: CARD_A}}, {authorize_conf: {status: Accepted}},\n"
        "            {start_tx_conf: {status: Accepted}},", 1))
    with pytest.raises(SpecError, match=r"OCTT case TC_007_2: the reference sends Authorize "
                                        r"where the case expects none"):
        octt.groups(Engine(load_spec(d)))


@pytest.mark.parametrize("expect, steps, missing", [
    # in order, each step a set
    (["A", "B"], [["B", "A"]], None),
    (["A", "B"], [["B"], ["A"]], "B"),
    # `no X`: not between the messages around it
    (["A", "no X", "B"], [["A"], ["C"], ["B"]], None),
    (["A", "no X", "B"], [["A"], ["X"], ["B"]], "no X"),
    (["A", "no X", "B"], [["X", "A"], ["B"]], "no X"),  # in A's step, not A itself
    (["A", "no X", "B"], [["X"], ["A"], ["B"], ["X"]], None),  # before A and after B: allowed
    (["A", "no X"], [["A"], ["C"], ["X"]], "no X"),  # to the end when nothing follows
    (["no X", "A"], [["X"], ["A"]], "no X"),  # from the start when nothing comes before
    (["A", "no X", "B"], [["A"], ["C"]], "B"),  # a missing message is said first
])
def test_an_octt_expectation_is_a_subsequence_with_forbidden_gaps(expect, steps, missing):
    from chargespec.octt import unmatched
    from chargespec.octt_cases import Expect
    exp = tuple(Expect(e.removeprefix("no "), "call", (), e, e.startswith("no "))
                for e in expect)

    class Case:
        pass
    case = Case()
    case.expect = exp
    msgs = [[{"action": a, "kind": "call", "fields": {}} for a in step] for step in steps]
    assert unmatched(case, msgs) == missing


def test_octt_cases_say_which_factory_default_fails_them():
    """Each OCTT test runs under the configuration OCTT needs; the note of a case that a Bender
    factory default fails names that setting, its default and the value it needs, and the
    vector under the default setting does fail the case."""
    from chargespec.loader import load_spec
    from chargespec.models.step import Engine
    from chargespec.octt import defaults_failing, unmatched
    doc = load_vectors(VECTORS / "octt.json")
    notes = {k: v for k, v in doc["notes"].items() if "factoryDefaultsFail" in v}
    assert notes["TC_004_2"]["factoryDefaultsFail"] == {"status_notification_strategy": {
        "default": "OccupiedOnCharging", "required": "OccupiedOnAuthorizedOrPlugged"}}
    assert "TC_007_2" in notes and "TC_003" in notes
    report = json.loads((VECTORS / "coverage-report.json").read_text())
    assert report["octt"]["factoryDefaultsFail"] == {k: v["factoryDefaultsFail"]
                                                     for k, v in notes.items()}
    engine = Engine(load_spec())
    for case in engine.spec.octt:
        if not case.applies:
            continue
        failing = defaults_failing(engine, case)
        assert failing == doc["notes"][case.id].get("factoryDefaultsFail", {})
        for pid, v in failing.items():
            config = engine.config({**case.config, pid: v["default"]})
            run = engine.run(config, [engine.event(n, **f) for n, f, _ in case.steps])
            assert unmatched(case, [[m.to_json() for m in o.messages] for _, _, o in run])


def test_an_octt_departure_is_flagged_with_its_interpretation():
    doc = load_vectors(VECTORS / "octt.json")
    tc024, = [t for g in doc["testGroups"] for t in g["tests"] if t["octt"] == "TC_024"]
    assert tc024["flags"] == ["TC_024", "OCTT-LOCK-FAILURE"]
    assert "OCTT, which expects StatusNotification(status=Faulted" in tc024["comment"]
    assert doc["notes"]["OCTT-LOCK-FAILURE"]["bugType"].startswith("the implementation reads")
    report = json.loads((VECTORS / "coverage-report.json").read_text())
    assert report["octt"]["departures"]["TC_024"]["interpretation"] == "OCTT-LOCK-FAILURE"


def test_message_order_rule():
    sn = {"action": "StatusNotification", "kind": "call", "fields": {"status": "Preparing"}}
    st = {"action": "StartTransaction", "kind": "call", "fields": {"idTag": "A"}}
    stop = {"action": "StopTransaction", "kind": "call", "fields": {"reason": "Local"}}
    conf = {"action": "RemoteStartTransaction", "kind": "result", "fields": {"status": "Accepted"}}
    assert messages_differ([st, sn], [sn, st]) is None  # calls: any order
    assert messages_differ([st, stop], [stop, st])  # transaction messages keep their order
    assert messages_differ([conf, st], [st, conf]) is None  # a result among calls
    assert messages_differ([st, sn], [st])  # a missing message
    assert messages_differ([st], [st, st])  # one too many
    assert messages_differ([st], "garbage")


def test_drift_is_detected(engine, tmp_path):
    files = {"stop_modes.json": render(small(engine))}
    write(tmp_path, files)
    assert drift(tmp_path, files) == []
    doc = json.loads(files["stop_modes.json"])
    doc["testGroups"][0]["tests"][0]["steps"][0]["expect"]["status"] = "Faulted"
    (tmp_path / "stop_modes.json").write_bytes(render(doc))
    assert drift(tmp_path, files) and "differs from the spec" in drift(tmp_path, files)[0]
    (tmp_path / "stop_modes.json").unlink()
    assert "missing" in drift(tmp_path, files)[0]
    assert not list(tmp_path.glob("*.tmp"))


def test_every_status_change_a_configuration_makes_is_pinned():
    """Beside the rules' tests, each connector status change a group's configuration makes has
    a test; the vectors make no change OCPP 1.6 §4.9 forbids.  The change the step proof
    found wrong (DOUBT-IMMEDIATE-BACKEND-BACK) is among them: Charging -> Finishing when the
    backend comes back during an Immediate Plug-in charge, under the plugged strategy."""
    report = json.loads((VECTORS / "coverage-report.json").read_text())["statusChanges"]
    assert report["forbiddenPinned"] == [] and report["pinned"] >= 30
    # every change some rule can make under some configuration (Z3) has its test
    assert report["possibleNotPinned"] == [] and report["possible"] == report["pinned"]


@pytest.mark.slow  # a mutation run over every vector file (8 s): make test-slow
def test_the_committed_vectors_catch_the_status_fix_undone():
    """The fix of DOUBT-IMMEDIATE-BACKEND-BACK undone (the status row falls through to
    Preparing or Available): the committed vectors catch it, whichever test pins the change
    (a backend back or a soft reset)."""
    from chargespec.checkers import mutate
    from chargespec.checkers.mutants import generate
    from chargespec.loader import load_spec
    from chargespec.models.step import Engine
    engine = Engine(load_spec())
    row = engine.machine.observations
    status = next(o for o in row if o.name == "status")
    k = next(i for i, c in enumerate(status.cases)
             if c.ref.interpretation == "DOUBT-IMMEDIATE-BACKEND-BACK")
    undone = [m for m in generate(engine.spec)
              if m.id.startswith(f"observation/status/case{k}/value/CONST/")
              and m.description.endswith(("`'Preparing'`", "`'Available'`"))]
    assert len(undone) == 2
    suite = mutate.load_suite(engine, sorted(VECTORS.glob("*.json")))
    for m in undone:
        assert mutate.analyse_one(engine, suite, m, search=False).status == "killed", m.id


def test_the_readme_lists_exactly_the_octt_cases_the_vectors_mirror():
    import re
    readme = (VECTORS.parent / "README.md").read_text()
    section = readme.split("## OCTT cases", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"TC_\d{3}(?:_\d)?", section.split("The other", 1)[0]))
    report = json.loads((VECTORS / "coverage-report.json").read_text())
    assert listed == set(report["octt"]["mirrored"])
    failing = set(re.findall(r"TC_\d{3}(?:_\d)?", section.split("so\n", 1)[1].split("need", 1)[0]))
    strategy = {case for case, settings in report["octt"]["factoryDefaultsFail"].items()
                if "status_notification_strategy" in settings}
    assert failing == strategy


def test_a_whitelist_rule_under_an_empty_whitelist_is_impossible_not_uncovered():
    """Z3 reads an empty local whitelist as no card listed, plainly or with a postfix: the
    whitelist rules are impossible under it (no exhaustive search for a test), and stay
    possible under a whitelist with cards."""
    from chargespec.coverage import rule_items
    from chargespec.models.step import Engine
    items, impossible = rule_items(Engine())
    for rule in ("rfid_local_whitelist_plugged", "rfid_local_whitelist_unplugged"):
        assert (rule, "local_whitelist", []) not in items
        assert (rule, "local_whitelist", ["CARD_A"]) in items
    assert ("rfid_asks_backend", "local_whitelist", []) in items
    report = json.loads((VECTORS / "coverage-report.json").read_text())
    assert report["ruleConfigurationValues"]["impossible"] == impossible
