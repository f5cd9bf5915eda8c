"""`chargespec conform`: the reference passes its vectors in-process and over stdio; a broken
adapter (exits at step 3, hangs, prints non-JSON) fails the tests it breaks, with the reason, and
the run completes with exit 1 and a JUnit file; a wrong implementation is caught at its first
divergence."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chargespec.conform import InProcess, run_file

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent / "vectors"


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """The RFID-only group of the committed stop_modes.json."""
    import json
    doc = json.loads((VECTORS / "stop_modes.json").read_text())
    doc["testGroups"] = [g for g in doc["testGroups"]
                         if g["config"] == {"stop_transaction_mode": "OnlyByRfidOrRemoteStop"}]
    doc["numberOfTests"] = len(doc["testGroups"][0]["tests"])
    path = tmp_path_factory.mktemp("vectors") / "stop_modes.json"
    path.write_text(json.dumps(doc))
    return path


def conform(*args):
    """`chargespec conform ARGS` in this process (the adapters are still processes)."""
    from incli import run_cli
    return run_cli("conform", *args)


def test_the_reference_passes_in_process_and_over_stdio(vectors, tmp_path):
    assert all(o.status == "passed" for o in run_file(InProcess("reference"), vectors))
    junit = tmp_path / "junit.xml"
    # the command of earlier releases still serves the whole reference
    p = conform(str(vectors), "--adapter", f"stdio:{sys.executable} -m chargespec.models.stdio",
                "--junit", str(junit))
    assert p.returncode == 0, p.stdout + p.stderr
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 50


@pytest.fixture(scope="module")
def few(vectors, tmp_path_factory):
    """The first four tests: enough to see some break at step 3 and some pass before it."""
    import json
    doc = json.loads(vectors.read_text())
    doc["testGroups"][0]["tests"] = doc["testGroups"][0]["tests"][:4]
    path = tmp_path_factory.mktemp("few") / "few.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("mode, reason", [
    ("exit", "the adapter exited"),
    ("short", "observations for"),  # a batch answer that lacks a step
    pytest.param("hang", "no answer within", marks=pytest.mark.slow),  # restarts cost seconds
    pytest.param("garbage", "not JSON", marks=pytest.mark.slow)])
def test_a_broken_adapter_fails_per_test_and_the_run_completes(few, tmp_path, mode, reason):
    junit = tmp_path / "junit.xml"
    adapter = f"stdio:{sys.executable} {HERE / 'adapters' / 'broken.py'} {mode}"
    p = conform(str(few), "--adapter", adapter, "--timeout", "1", "--junit", str(junit))
    assert p.returncode == 1
    suite = ET.parse(junit).getroot()
    failures = [c for c in suite if c.find("failure") is not None]
    passed = [c for c in suite if c.find("failure") is None]
    if mode == "short":
        assert failures and not passed  # every test's batch answer lacks its last step
        return
    assert failures and passed  # tests shorter than three events still pass
    assert all(reason in c.find("failure").get("message") for c in failures)
    assert int(suite.get("tests")) == len(failures) + len(passed)


class WrongStopReason:
    """The reference, but an unplug under RFID-only ends the transaction (a classic bug)."""

    name = "wrong"
    observations = ["status", "messages"]

    def __init__(self):
        from chargespec.reference import Reference
        self.ref = Reference()

    def reset(self, config):
        self.ref.reset(config)

    def step(self, event):
        obs = self.ref.step(event)
        if event["name"] == "unplug" and obs["status"] == "SuspendedEV":
            obs = {**obs, "status": "Finishing"}
        return obs


def test_a_wrong_implementation_fails_at_its_first_divergence(vectors):
    outcomes = run_file(InProcess("test_conform:WrongStopReason"), vectors)
    failed = [o for o in outcomes if o.status == "failed"]
    assert failed and all("status: expected 'SuspendedEV', observed 'Finishing'" in o.detail
                          for o in failed)
    assert all(set(o.not_observed) >= {"contactor", "led"} for o in outcomes)


def test_the_node_example_adapter_passes(vectors):
    import os
    import shutil
    assert shutil.which("node"), "the example adapter needs Node.js"
    relay = HERE.parent / "examples" / "adapters" / "relay.js"
    p = subprocess.run([sys.executable, "-m", "chargespec", "conform", str(vectors),
                        "--adapter", f"stdio:node {relay}"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "CHARGESPEC_PYTHON": sys.executable})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "node relay to chargespec reference model" in p.stdout


def test_batch_and_step_by_step_runs_agree(vectors):
    """The batch extension (a whole test per round trip) changes the speed, not the verdicts:
    a wrong implementation fails the same tests at the same steps either way."""
    from chargespec.conform import Stdio
    stdio = Stdio([sys.executable, "-m", "chargespec.reference"])
    try:
        assert stdio.batch
        batched = run_file(stdio, vectors)
        stdio.batch = False
        stepped = run_file(stdio, vectors)
    finally:
        stdio.close()
    assert [(o.tc_id, o.status) for o in batched] == [(o.tc_id, o.status) for o in stepped]
    assert all(o.status == "passed" for o in batched)
    wrong = InProcess("test_conform:WrongStopReason")
    batch_wrong = BatchOf(wrong)
    a, b = run_file(batch_wrong, vectors), run_file(wrong, vectors)
    assert [(o.tc_id, o.status, o.step, o.detail) for o in a] == \
        [(o.tc_id, o.status, o.step, o.detail) for o in b]
    assert any(o.status == "failed" for o in a)


class BatchOf:
    """An in-process adapter seen through the batch extension."""

    batch = True

    def __init__(self, inner):
        self.inner, self.name, self.observations = inner, inner.name, inner.observations

    def run(self, config, events):
        self.inner.reset(config)
        return [self.inner.step(e) for e in events]
