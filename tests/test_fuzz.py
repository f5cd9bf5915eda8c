"""`chargespec fuzz`: finds a seeded bug, shrinks it to a minimal event sequence, saves it as a
vector file that the reference passes and the buggy implementation fails; finds nothing on the
reference; bad arguments exit 2."""

from __future__ import annotations

import subprocess
import sys

from chargespec.conform import InProcess, run_file
from chargespec.fuzz import fuzz, save


def test_fuzz_shrinks_a_divergence_and_saves_it_as_a_vector(engine, tmp_path):
    mutant = InProcess("mutants:LockNeverCloses")
    result = fuzz(mutant, examples=200, seed=0, engine=engine)
    d = result.divergence
    assert d is not None and "lock" in d.detail
    # shrunk to the minimum: the factory defaults and one plug-in (the socket locks at once)
    assert d.config == {} and d.events == [{"name": "plug"}]
    out = tmp_path / "found.json"
    save(engine, d, out)
    assert [o.status for o in run_file(InProcess("reference"), out)] == ["passed"]
    assert [o.status for o in run_file(mutant, out)] == ["failed"]


def test_fuzz_finds_nothing_on_the_reference(engine):
    result = fuzz(InProcess("reference"), examples=40, seed=1, engine=engine)
    assert result.divergence is None and result.steps > 40


def test_fuzz_cli_exit_codes(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "chargespec", "fuzz", *args],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    p = run("--adapter", "reference", "--examples", "0")
    assert p.returncode == 2 and "at least 1" in p.stderr
    p = run("--adapter", "no_such_module:X")
    assert p.returncode == 2 and "no_such_module" in p.stderr


def test_fuzz_finds_a_data_level_bug_with_real_uids(engine):
    # a firmware that keeps the reader's letter case: invisible to the symbolic cards, found
    # by the data events (real UIDs in either case) and the letter case drawn from its domain
    # (not shrunk: the shrinking is test_fuzz_shrinks_a_divergence_and_saves_it_as_a_vector's;
    # 150 examples: ChangeAvailability and TriggerMessage joined the events a walk draws)
    result = fuzz(InProcess("mutants:ReaderCaseKept"), examples=150, seed=0, engine=engine,
                  shrink=False)
    d = result.divergence
    assert d is not None and any(e["name"] in ("rfid",) for e in d.events), d
