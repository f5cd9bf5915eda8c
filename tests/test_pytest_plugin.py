"""The pytest plugin: `pytest --chargespec-adapter CMD` collects every vector test as an item
named with its tcId, passes the reference, fails a mutant per test, and refuses a missing
vector directory with a usage error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent / "vectors"


def pytest_run(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path,
                          env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"})


def small_dir(tmp_path):
    d = tmp_path / "vec"
    d.mkdir()
    doc = json.loads((VECTORS / "octt.json").read_text())
    (d / "octt.json").write_text(json.dumps(doc))
    return d, doc["numberOfTests"]


def test_every_vector_is_an_item_and_the_reference_passes(tmp_path):
    d, n = small_dir(tmp_path)
    p = pytest_run(tmp_path, "--chargespec-adapter", f"{sys.executable} -m chargespec.reference",
                   "--chargespec-vectors", str(d), "--collect-only")
    assert p.returncode == 0, p.stdout + p.stderr
    items = [ln for ln in p.stdout.splitlines() if "octt.json::" in ln]
    assert len(items) == n and items[0].endswith("::1-TC_001 Cold Boot Charge Point")
    p = pytest_run(tmp_path, "--chargespec-adapter", "reference", "--chargespec-vectors", str(d))
    assert p.returncode == 0 and f"{n} passed" in p.stdout, p.stdout + p.stderr


def test_a_mutant_fails_items_with_the_divergence(tmp_path):
    d, _ = small_dir(tmp_path)
    p = pytest_run(tmp_path, "--chargespec-adapter", "mutants:StopReasonSwapped",
                   "--chargespec-vectors", str(d), "-k", "TC_068")
    assert p.returncode == 1
    assert "reason=Remote" in p.stdout and "expected" in p.stdout and "observed" in p.stdout


def test_no_vectors_is_a_usage_error(tmp_path):
    p = pytest_run(tmp_path, "--chargespec-adapter", "reference", "--chargespec-vectors",
                   str(tmp_path / "nowhere"))
    assert p.returncode == 4 and "no vector files" in p.stderr
