"""Every input surface keeps its promise: exit 0/1/2, a message that names the file (line, test),
no traceback, no hang, nothing half-written.

The reproducers of the hardening issue are regression tests here, one per finding; the
Hypothesis tests at the end fuzz each surface with a seeded 200 inputs (the whole spec: 40) (tests/inputfuzz.py
holds the mutators; `make fuzz` runs 100,000 per surface)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
import xml.dom.minidom
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inputfuzz
from incli import run_cli
from chargespec.errors import InputError, SpecError
from chargespec import yamlread
from chargespec.yamlread import parse_yaml

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def cli(*args, timeout=120):
    return run_cli(*args)


def assert_clean(p, code=2, names=None):
    assert p.returncode == code, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
    if names is not None:
        assert names in p.stderr, p.stderr


# ---------------------------------------------------------------- YAML, every surface

@pytest.mark.parametrize("text, says", [
    ("a: b\x01c\n", "character '\\x01' is not allowed"),
    ("a: \x1b[31m\n", "is not allowed"),
    ("a: \x00\n", "is not allowed"),
    ("a: \x7f\n", "is not allowed"),
    ("a: " + "9" * 5000 + "\n", "more than 64 digits"),
    ("a: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 64"),
    ("".join("  " * i + f"k{i}:\n" for i in range(200)), "nested deeper than 64"),
    (inputfuzz.BOMB, "expands to more than"),
    ("a: &a [*a]\n", "recursive alias"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("a:\n\tb: 1\n", "'\\t'"),
    ('a: "\\ud800"\n', "lone surrogate"),
    ('a: "\ud800"\n', "lone surrogate"),
    ("a: \ufffe\n", "is not allowed"),
])
@pytest.mark.parametrize("loader", yamlread.LOADERS, ids=lambda c: c.__name__)
def test_hostile_yaml_is_a_clear_error_with_the_line(text, says, loader, monkeypatch):
    monkeypatch.setattr(yamlread, "_Loader", loader)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as e:
        parse_yaml(text, "f.yaml")
    assert says in str(e.value) and str(e.value).startswith("f.yaml")
    assert time.perf_counter() - t0 < 2  # the alias bomb is refused before it is walked


def _marks(value):
    """The value with every line mark the reader kept, for comparing two readers."""
    if isinstance(value, dict):
        return (value.line, sorted(value.key_lines.items(), key=repr),
                {k: _marks(v) for k, v in value.items()})
    if isinstance(value, list):
        return (value.line, value.item_lines, [_marks(v) for v in value])
    return value


@pytest.mark.skipif(len(yamlread.LOADERS) < 2, reason="PyYAML built without libyaml")
def test_libyaml_and_the_python_reader_read_every_committed_file_alike(monkeypatch):
    files = sorted((REPO / "spec").rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        read = []
        for loader in yamlread.LOADERS:
            monkeypatch.setattr(yamlread, "_Loader", loader)
            read.append(_marks(parse_yaml(text, path.name)))
        assert read[0] == read[1], path


@pytest.mark.parametrize("key", ["&a", "1", "null", "[a, b]", "true"])
def test_a_configuration_key_that_is_not_a_name_is_a_clear_error(tmp_path, key):
    """make fuzz, seed 21:scenario:20290: `&enable_ocpp_whitelist: "On"` (an anchor on an
    empty key) gave a None parameter name, and the "did you mean" hint crashed on it."""
    for kind, head in (("scenario", "title: t\nsteps: [plug]\nconfig:\n"), ("config", "")):
        bad = tmp_path / f"{kind}.yaml"
        bad.write_text(f"{head}  {key}: \"On\"\n" if head else f"{key}: \"On\"\n")
        args = (["simulate", str(bad)] if kind == "scenario"
                else ["simulate", str(REPO / "spec/examples/stop_modes.yaml"), "--config", str(bad)])
        assert_clean(cli(*args), names=f"{kind}.yaml")


def test_a_nine_level_alias_bomb_in_a_config_file_exits_2_quickly(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text(inputfuzz.BOMB)
    t0 = time.perf_counter()
    p = cli("simulate", "spec/examples/stop_modes.yaml", "--config", bad)
    assert_clean(p, names=str(bad))
    assert time.perf_counter() - t0 < 30


def test_a_fifo_or_a_directory_is_not_read_as_yaml(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    assert_clean(cli("simulate", "spec/examples/stop_modes.yaml", "--config", fifo, timeout=30),
                 names="not a regular file")
    assert_clean(cli("simulate", tmp_path, timeout=30), names="not a regular file")


@pytest.mark.parametrize("value", ["'x", "[1, 2", "{a: ", "\x01", "9" * 5000, "&a [*a]", "*x"])
def test_a_bad_set_value_exits_2_naming_the_set(value):
    p = cli("simulate", "spec/examples/stop_modes.yaml", "--set",
            f"stop_transaction_mode={value}")
    assert_clean(p, names="--set")


def test_expressions_too_deep_or_too_long_are_spec_errors():
    from chargespec.errors import Where
    from chargespec.loader import parse
    for text, says in [("(" * 300 + "x" + ")" * 300, "syntax error"),
                       ("not " * 300 + "x", "nested"), ("x" + " + 1" * 600, "nested"),
                       ("x or " * 3000 + "x", "characters"), ("[" + "x," * 1500 + "x]", "terms")]:
        with pytest.raises(SpecError, match=says):
            parse(text, Where("f.yaml", 3))


# ---------------------------------------------------------------- adapter names, timeouts

@pytest.mark.parametrize("name", ["stdio:", "stdio:'x", ":", "json:JSONDecodeError", "",
                                  "os:getcwd", "chargespec.nope:X", "a b c:'", "mutants:Nope"])
def test_a_bad_adapter_name_exits_2(name):
    p = cli("conform", "vectors/octt.json", "--adapter", name)
    assert_clean(p, names="adapter")


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "x"])
def test_a_timeout_must_be_a_finite_positive_number(value):
    p = cli("conform", "vectors/octt.json", "--adapter", "reference", "--timeout", value)
    assert_clean(p, names="--timeout")


# ---------------------------------------------------------------- the reference adapter

def test_the_reference_adapter_answers_an_error_to_a_bad_request_and_serves_on():
    requests = [{"type": "hello"}, [1], {"type": "reset", "config": "x"},
                {"type": "reset", "config": []}, {"type": "event", "event": {"name": 5}},
                {"type": "event", "event": "plug"}, {"type": "run", "config": {}, "events": {}},
                "NaN", {"type": "nope"}, {"type": "reset", "config": {}},
                {"type": "event", "event": {"name": "rfid", "uid": []}},
                {"type": "event", "event": {"name": "plug"}}, {"type": "bye"}]
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in requests)
    text = text.replace('"NaN"', "NaN") + "[" * 100_000 + "\n"
    p = subprocess.run([PY, "-m", "chargespec.reference"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    answers = [json.loads(x) for x in p.stdout.splitlines()]
    kinds = [a["type"] for a in answers]
    assert kinds == ["hello"] + ["error"] * 8 + ["ready", "error", "observation"], kinds
    assert "adapter-protocol.schema.json" in answers[2]["reason"]


# ---------------------------------------------------------------- the runner's side

ADAPTER = textwrap.dedent("""
    import json, os, subprocess, sys, time
    mode = sys.argv[1]
    if mode == "child":  # leaves a grandchild behind, in the adapter's process group
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open(sys.argv[2], "w").write(str(os.getpid()))
    if mode == "silent":
        time.sleep(600)
    for line in sys.stdin:
        req = json.loads(line)
        t = req["type"]
        if t == "hello":
            print(json.dumps({"type": "hello", "name": "x", "observations": ["status", "messages"]}), flush=True)
        elif t == "reset":
            print(json.dumps({"type": "ready"}), flush=True)
        elif t == "bye":
            break
        elif mode == "stream":
            while True:
                sys.stdout.write("x" * 1000); sys.stdout.flush(); time.sleep(0.01)
        elif mode == "surrogate":
            print('{"type": "observation", "observation": {"status": "\\\\ud800\\\\u0001", "messages": [1, {"action": "A", "kind": "call", "fields": 3}]}}', flush=True)
        elif mode == "nan":
            print('{"type": "observation", "observation": {"status": NaN}}', flush=True)
        elif mode == "deep":
            print('{"type": "observation", "observation": {"status": ' + "[" * 100000 + "]" * 100000 + '}}', flush=True)
        elif mode == "partial" and req["event"]["name"] != "plug":
            print(json.dumps({"type": "unsupported", "reason": "only plug"}), flush=True)
        elif mode == "closed":
            os.close(1); time.sleep(600)
        else:
            print(json.dumps({"type": "observation", "observation": {"status": "Available", "messages": []}}), flush=True)
""")


@pytest.fixture
def adapter(tmp_path):
    path = tmp_path / "adapter.py"
    path.write_text(ADAPTER)
    return lambda mode, *extra: f"stdio:{PY} {path} {mode} " + " ".join(map(str, extra))


def one_test_file(tmp_path, n=2):
    doc = json.loads((REPO / "vectors" / "octt.json").read_text())
    doc["testGroups"] = [dict(doc["testGroups"][0], tests=doc["testGroups"][0]["tests"][:n])]
    doc["numberOfTests"] = n
    path = tmp_path / "few.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("mode, says", [
    ("stream", "no complete answer within"), ("surrogate", "step 1"),
    ("nan", "not JSON (NaN is not JSON)"), ("deep", "nested too deep"),
    ("closed", "closed its output"),
])
def test_a_bad_answer_fails_that_test_and_the_outputs_stay_valid(tmp_path, adapter, mode, says):
    vectors = one_test_file(tmp_path)
    junit, out = tmp_path / "r.xml", tmp_path / "r.json"
    t0 = time.perf_counter()
    p = cli("conform", vectors, "--adapter", adapter(mode), "--timeout", "1", "--junit", junit,
            "--json", out, timeout=120)
    assert_clean(p, code=1)
    assert time.perf_counter() - t0 < 60
    xml.dom.minidom.parse(str(junit))  # XML 1.0, whatever the adapter sent
    results = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert len(results) == 2 and all(r["status"] == "failed" for r in results)
    assert says in results[0]["detail"], results[0]["detail"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["adapter.py", "few.json", "r.json",
                                                          "r.xml"]


def test_a_step_the_adapter_cannot_take_makes_the_test_unsupported(tmp_path, adapter):
    from chargespec.conform import make_adapter, run_file
    # two tests whose first step (plug) the adapter answers right: Available, nothing sent
    doc = json.loads((REPO / "vectors" / "session.json").read_text())
    group, tests = next(x for x in (
        (g, [t for t in g["tests"] if t["steps"][0]["event"]["name"] == "plug"
             and t["steps"][0]["expect"]["status"] == "Available"
             and not t["steps"][0]["expect"]["messages"] and len(t["steps"]) > 1])
        for g in doc["testGroups"]) if len(x[1]) >= 2)
    doc["testGroups"] = [dict(group, tests=tests[:2])]
    doc["numberOfTests"] = 2
    vectors = tmp_path / "few.json"
    vectors.write_text(json.dumps(doc))
    a = make_adapter(adapter("partial"), 2.0)
    try:
        outcomes = run_file(a, vectors)
    finally:
        a.close()
    assert [o.status for o in outcomes] == ["unsupported"] * 2
    assert "only plug" in outcomes[0].detail


def test_transports_are_registered_by_scheme():
    from chargespec.conform import TRANSPORTS, AdapterError, parse_adapter
    assert {"reference", "module", "stdio"} <= set(TRANSPORTS)
    assert parse_adapter("stdio:python -m x") == ("stdio", ["python", "-m", "x"])
    assert parse_adapter("./my-adapter --fast") == ("stdio", ["./my-adapter", "--fast"])
    assert parse_adapter("pkg.mod:Impl") == ("module", "pkg.mod:Impl")
    with pytest.raises(AdapterError, match="stdio:"):
        parse_adapter("mqtt:broker=127.0.0.1")  # not registered: the schemes named
    import chargespec.ocppj  # noqa: F401 - the OCPP-J transport registers itself
    assert parse_adapter("ocppj:listen=127.0.0.1:9000,id=CP1")[0] == "ocppj"


def test_close_kills_the_adapters_whole_process_group(tmp_path, adapter):
    from chargespec.conform import make_adapter
    pidfile = tmp_path / "pid"
    a = make_adapter(adapter("child", pidfile), 2.0)
    pgid = os.getpgid(int(pidfile.read_text()))
    a.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True,
                              text=True).stdout.split()
        alive = [p for p in pids if _state(p) not in ("Z", "X", "")]  # zombies are dead
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, "processes of the adapter's group outlived close()"


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def test_an_adapter_that_never_says_hello_is_killed_and_is_bad_input(tmp_path, adapter,
                                                                      monkeypatch):
    from chargespec import conform
    monkeypatch.setattr(conform.Stdio, "STARTUP", 1.0)
    with pytest.raises(conform.AdapterError, match="no complete answer"):
        conform.make_adapter(adapter("silent"), 0.5)
    out = subprocess.run(["pgrep", "-f", f"{tmp_path}/adapter.py silent"], capture_output=True,
                         text=True)
    assert out.stdout.strip() == ""


def test_a_restart_that_fails_is_not_retried_for_every_test(tmp_path, adapter, monkeypatch):
    from chargespec.conform import AdapterError, Stdio
    monkeypatch.setattr(Stdio, "RESTART", 2.0)
    a = Stdio(adapter("ok").split(":", 1)[1].split(), 0.5)
    a.command = [PY, "-c", "import time; time.sleep(60)"]  # from now on, it hangs on start
    t0 = time.perf_counter()
    for _ in range(5):
        with pytest.raises(AdapterError):
            a.reset({})
            a.restart()
    assert time.perf_counter() - t0 < 8  # one restart allowance (2 s here), not five
    a.close()


# ---------------------------------------------------------------- output files

def test_output_files_refuse_links_directories_and_missing_directories_before_the_run(
        tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "r.xml"
    link.symlink_to(target)
    for junit, says in [(link, "symbolic link"), (tmp_path, "directory"),
                        (tmp_path / "no" / "r.xml", "does not exist")]:
        t0 = time.perf_counter()
        p = cli("conform", "vectors/octt.json", "--adapter", "reference", "--junit", junit)
        assert_clean(p, names=says)
        assert time.perf_counter() - t0 < 30 and "tests:" not in p.stdout  # before the run
    assert target.read_text() == "keep me"


def test_write_file_leaves_nothing_behind_and_never_follows_a_planted_tmp(tmp_path):
    from chargespec.outfiles import write_file
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "out.json.tmp").symlink_to(victim)  # the old fixed temporary name
    write_file(tmp_path / "out.json", "{}\n")
    assert victim.read_text() == "keep" and (tmp_path / "out.json").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.json.tmp", "victim"]
    with pytest.raises(InputError):
        write_file(Path("/dev/null"), "x")


# ---------------------------------------------------------------- accepted now, failing later

def spec_copy(tmp_path, file, old, new):
    import shutil
    d = tmp_path / "spec"
    shutil.copytree(REPO / "spec", d)
    text = (d / file).read_text()
    assert old in text
    (d / file).write_text(text.replace(old, new, 1))
    return d


@pytest.mark.parametrize("file, old, new, says", [
    ("session.yaml", "check: available_reachable", "check: no_such_check",
     "'no_such_check' is not one of"),
    ("session.yaml", 'manual: "§5.1"', 'manual: "§99"', "'§99' is not a section"),
    ("octt.yaml", "steps: [plug, ev_request_charge,", "steps: [plug, ev_request_chargeX,",
     "octt.yaml:"),
])
def test_spec_validate_refuses_what_later_commands_would_crash_on(tmp_path, file, old, new,
                                                                   says):
    assert_clean(cli("spec", "validate", spec_copy(tmp_path, file, old, new)), names=says)


def vector_file(tmp_path, change):
    doc = json.loads((REPO / "vectors" / "octt.json").read_text())
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("change, says", [
    (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["event"].update(name="nope"),
     "unknown event 'nope'"),
    (lambda d: d["testGroups"][0]["tests"][1].update(tcId=d["testGroups"][0]["tests"][0]["tcId"]),
     "is used twice"),
    (lambda d: d["testGroups"][0]["config"].update(stop_transaction_mode="Sometimes"),
     "testGroups/0: config"),
])
def test_a_bad_vector_file_is_bad_input_naming_the_file_and_test(tmp_path, change, says):
    path = vector_file(tmp_path, change)
    assert_clean(cli("conform", path, "--adapter", "reference"), names=says)
    assert str(path) in cli("conform", path, "--adapter", "reference").stderr


def test_load_vectors_has_no_global_side_effect():
    import gc

    from chargespec.conform import load_vectors
    before = gc.get_freeze_count()
    load_vectors(REPO / "vectors" / "octt.json")
    assert gc.get_freeze_count() == before


@pytest.mark.parametrize("tick, says", [
    ("- arrive: {CP1-1: 0}", "a vehicle is a mapping"),
    ("- arrive: {CP1-1: []}", "a vehicle is a mapping"),
    ("- arrive: {CP1-1: {phases: true}}", "phases: 1 or 3"),
    ("- leave: [[CP1-1]]", "a connector name is a string"),
    ("- repeat: 1000000000", "repeat: a whole number from 1 to"),
])
def test_dlm_scenarios_refuse_bad_vehicles_and_unbounded_repeats(tmp_path, tick, says):
    path = tmp_path / "scenario.yaml"
    path.write_text(f"ticks:\n  - arrive: {{CP1-1: {{phases: 3}}}}\n  {tick}\n")
    p = cli("dlm", "simulate", "spec/examples/dlm_building_100a.yaml", path)
    assert_clean(p, names=says)


def test_an_over_long_message_name_is_not_an_os_error():
    from chargespec import ocpp16
    assert ocpp16.schema("X" * 300) is None and ocpp16.schema("../../etc/passwd") is None


# ---------------------------------------------------------------- every surface, fuzzed

FAST = settings(max_examples=int(os.environ.get("CHARGESPEC_FUZZ_EXAMPLES", "200")),
                deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("surface", [s for s in inputfuzz.SURFACES if s != "spec"])
@FAST
@given(seed=st.integers(0, 2 ** 32))
def test_every_surface_answers_any_input_cleanly(surface, seed):
    inputfuzz.SURFACES[surface](random.Random(seed))  # raises inputfuzz.Failed otherwise


@settings(FAST, max_examples=max(3, FAST.max_examples // 5))
@given(seed=st.integers(0, 2 ** 32))
def test_a_spec_with_one_file_mutated_loads_or_is_a_clear_error(seed):
    inputfuzz.surface_spec(random.Random(seed))


def test_write_tree_checks_every_target_before_writing_any(tmp_path):
    from chargespec.outfiles import write_tree
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.json").mkdir()  # a directory where a file goes
    with pytest.raises(InputError, match="b.json"):
        write_tree(out, {"a.json": b"1", "b.json": b"2"})
    assert sorted(p.name for p in out.iterdir()) == ["b.json"]  # a.json not written either
    write_tree(out, {"a.json": b"1", "sub/c.json": b"3"})
    assert (out / "sub" / "c.json").read_bytes() == b"3"
    with pytest.raises(InputError, match="not a directory"):
        write_tree(out / "a.json", {"x": b""})


@pytest.mark.parametrize("seed", ["7:spec:208", "7:spec:272"])
def test_a_spec_cut_short_before_its_observations_is_a_clear_error(seed):
    # found by `make fuzz`: a session.yaml truncated after its first rules has no
    # observations, and the compiled machine's value class failed with a TypeError
    assert inputfuzz.surface_spec(random.Random(seed)) == "error"


def test_the_reference_adapter_takes_bytes_that_are_not_utf8_in_any_locale():
    for lc in ("C.UTF-8", "C"):
        p = subprocess.run([PY, "-m", "chargespec.reference"],
                           input=b'{"type": "hello"}\n\xff\xfe{"x"\n{"type": "bye"}\n',
                           capture_output=True, timeout=60, env={**os.environ, "LC_ALL": lc})
        assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr
        kinds = [json.loads(x)["type"] for x in p.stdout.splitlines()]
        assert kinds == ["hello", "error"], (lc, kinds)
