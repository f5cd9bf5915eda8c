"""Mutation self-test of the vectors: every seeded faulty implementation (tests/mutants.py) fails
some vector; the kill rate is printed.  A mutant that survives means a bug class the vectors do
not catch, so the test names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargespec.conform import load_vectors, run_test
from mutants import MUTANTS

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FILES = ["dlm", "octt", "stop_modes", "data", "free_charging", "authorization", "errors",
         "session", "coverage", "mutation"]


@pytest.fixture(scope="module")
def docs():
    return [(f, load_vectors(VECTORS / f"{f}.json")) for f in FILES]


def first_kill(mutant, docs):
    for name, doc in docs:
        for g in doc["testGroups"]:
            for t in g["tests"]:
                o = run_test(mutant, f"{name}.json", doc, g, t)
                if o.status == "failed":
                    return o
    return None


def test_every_mutant_is_killed(docs, capsys):
    from chargespec.conform import InProcess
    assert len(MUTANTS) >= 15
    survivors, kills = [], []
    for cls in MUTANTS:
        adapter = InProcess(f"mutants:{cls.__name__}")
        o = first_kill(adapter, docs)
        if o is None:
            survivors.append(f"{cls.__name__} ({cls.bug})")
        else:
            kills.append(f"{cls.__name__}: {o.file}#{o.tc_id} {o.detail[:90]}")
    with capsys.disabled():
        print(f"\nmutation kill rate: {len(kills)}/{len(MUTANTS)}")
        for k in kills:
            print("  killed", k)
    assert not survivors, f"surviving mutants: {survivors}"


def test_the_reference_survives_every_file(docs):
    from chargespec.conform import InProcess
    ref = InProcess("reference")
    bad = [(name, t["tcId"]) for name, doc in docs for g in doc["testGroups"]
           for t in g["tests"] if run_test(ref, f"{name}.json", doc, g, t).status != "passed"]
    assert bad == []


def test_a_dlm_allocation_that_keeps_the_invariants_is_acceptable(docs):
    """Another fair share is acceptable; one above a limit fails (DlmAboveLimit above)."""
    from chargespec.conform import InProcess
    from mutants import Mutant

    class Shifted(Mutant):
        bug = "moves one ampere between two connectors of a tick when that keeps every invariant"

        def alter(self, event, obs):
            from chargespec.dlm.vectors import judge
            amps = obs.get("amps")
            if not amps:
                return obs
            for i in range(len(amps)):
                for j in range(len(amps)):
                    if i != j and amps[i] > 8 and amps[j] >= 6:
                        trial = list(amps)
                        trial[i] -= 1
                        trial[j] += 1
                        if not judge(self.engine.spec, self.cfg, event, trial):
                            return {"amps": trial}
            return obs
    import mutants
    mutants.Shifted = Shifted
    adapter = InProcess("mutants:Shifted")
    name, doc = [d for d in docs if d[0] == "dlm"][0]
    outcomes = [run_test(adapter, "dlm.json", doc, g, t) for g in doc["testGroups"]
                for t in g["tests"]]
    assert {o.status for o in outcomes} <= {"passed", "acceptable"}
    assert any(o.status == "acceptable" and "keeps every invariant" in o.detail
               for o in outcomes)
