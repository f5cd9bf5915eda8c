"""The vector generator (first slice of the conformance work): deterministic, complete steps,
expected observations that the reference model reproduces, drift detection."""

from __future__ import annotations

import json

from chargespec.vectors import Concern, drift, generate, render, write


def small(engine):
    return Concern("stop_modes", "Stop Transaction Mode (§5.1)",
                   ({"stop_transaction_mode": "OnlyByRfidOrRemoteStop"},))


def test_generation_is_byte_identical(engine):
    a = render(generate(engine, small(engine)))
    b = render(generate(engine, small(engine)))
    assert a == b and a.endswith(b"\n")


def test_every_test_replays_on_the_reference(engine):
    doc = generate(engine, small(engine))
    assert doc["numberOfTests"] == sum(len(g["tests"]) for g in doc["testGroups"]) > 50
    assert set(doc["notes"]) == {f for g in doc["testGroups"] for t in g["tests"]
                                 for f in t["flags"]}
    group = doc["testGroups"][0]
    config = engine.config(group["config"])
    tc_ids = []
    for t in group["tests"]:
        tc_ids.append(t["tcId"])
        state = engine.initial(config)
        for step in t["steps"]:
            ev = dict(step["event"])
            state, out = engine.step(config, state, engine.event(ev.pop("name"), **ev))
            assert out.observation.status == step["expect"]["status"]
            assert out.observation.contactor == step["expect"]["contactor"]
            assert [m.action for m in out.messages] == \
                [m["action"] for m in step["expect"]["messages"]]
        assert t["result"] == "valid" and t["comment"].split()[0] in t["rules"]
    assert tc_ids == sorted(set(tc_ids))


def test_drift_is_detected(engine, tmp_path):
    files = {"stop_modes.json": render(generate(engine, small(engine)))}
    write(tmp_path, files)
    assert drift(tmp_path, files) == []
    doc = json.loads(files["stop_modes.json"])
    doc["testGroups"][0]["tests"][0]["steps"][0]["expect"]["status"] = "Faulted"
    (tmp_path / "stop_modes.json").write_bytes(render(doc))
    assert drift(tmp_path, files) and "differs from the spec" in drift(tmp_path, files)[0]
    assert not list(tmp_path.glob("*.tmp"))
