"""The command line: simulate, spec validate, demo; bad input exits 2 naming file and line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chargespec import __version__
from chargespec.cli import main

from conftest import REPO

EXAMPLES = REPO / "spec" / "examples"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"chargespec {__version__}"


def test_simulate_prints_every_step_with_its_observations(capsys):
    assert main(["simulate", str(EXAMPLES / "rfid_only.yaml")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("unplug_suspends_transaction" in line and "SuspendedEV" in line for line in lines)
    assert "-> StopTransaction(reason=Local, idTag=04567daa5f3580)" in out
    header = next(line for line in lines if line.startswith("#"))
    for column in ("event", "rule", "status", "contactor", "lock", "offered", "duty", "led"):
        assert column in header


def test_simulate_json_and_config_file(capsys):
    assert main(["simulate", "--json", "--config", str(EXAMPLES / "config_rfid_only.yaml"),
                 str(EXAMPLES / "stop_modes.yaml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["stop_transaction_mode"] == "OnlyByRfidOrRemoteStop"
    assert doc["config"]["lock_actuator_only_if_authorized"] is True
    steps = doc["steps"]
    assert steps[0]["observation"]["duty_cycle"] == 5.0  # HLC Encouragement at plug-in
    assert steps[0]["state"]["lock"] == "open"            # lock only if authorized
    assert [m["fields"]["reason"] for s in steps for m in s["messages"]
            if m["action"] == "StopTransaction"] == ["Local"]


def test_set_overrides_a_parameter_by_ui_label(capsys):
    assert main(["simulate", "--json", "--set", "stop_transaction_mode=Stop only by disconnecting",
                 str(EXAMPLES / "stop_modes.yaml")]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[-1]["rule"] == "cable_removal_stops_transaction"


@pytest.mark.parametrize("content, line, message", [
    ("stop_transaction_mode: Sometimes\n", 1, "parameter stop_transaction_mode: 'Sometimes' is not allowed"),
    ("hlc_mode: Off\nstop_transacton_mode: Normal\n", 2, "did you mean 'stop_transaction_mode'"),
    ("vehicle_connection_timeout: 45\nvehicle_connection_timeout: 30\n", 2, "duplicate key"),
    ("operator_current_limit: [16\n", 2, "YAML syntax error"),
])
def test_bad_config_file_exits_2_with_file_and_line(tmp_path, capsys, content, line, message):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(content)
    assert main(["simulate", "--config", str(cfg), str(EXAMPLES / "stop_modes.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}:{line}: " in err and message in err


@pytest.mark.parametrize("steps, line, message", [
    ("  - plug\n  - teleport\n", 3, "step 2: unknown event 'teleport'"),
    ("  - rfid: {card: x}\n", 2, "event rfid takes field(s) ['uid']"),
    ("  - authorize_conf: {status: Maybe}\n", 2, "status = 'Maybe' is not one of"),
    ("  - set_operator_limit: {amps: 500}\n", 2, "amps = 500 is not int 0..80"),
])
def test_bad_scenario_exits_2_with_file_and_line(tmp_path, capsys, steps, line, message):
    sc = tmp_path / "scenario.yaml"
    sc.write_text("steps:\n" + steps)
    assert main(["simulate", str(sc)]) == 2
    err = capsys.readouterr().err
    assert f"{sc}:{line}: " in err and message in err


def test_missing_files_exit_2(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err
    assert main(["spec", "validate", str(tmp_path / "nospec")]) == 2


def test_demo_shows_how_the_four_stop_modes_differ(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Normal                          step 6 unplug, reason EVDisconnected" in out
    assert "Stop only by disconnecting      step 8 cable_removed, reason EVDisconnected" in out
    assert "Only by RFID/RemoteStop         step 7 rfid(uid=0a0e9b83), reason Local" in out
    assert "Normal + Mode D + RCD Detected  step 5 ev_ventilation, reason Other" in out


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "chargespec", "spec", "validate"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "valid" in out.stdout


def test_report_without_vectors_exits_2_naming_the_file(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["report", "--vectors", str(tmp_path / "none"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json: missing" in err and "chargespec vectors" in err
    assert not out.exists()  # nothing half-written


def test_conform_report_writes_one_page(tmp_path, capsys):
    doc = json.loads((REPO / "vectors" / "stop_modes.json").read_text())
    doc["testGroups"] = doc["testGroups"][:1]
    doc["testGroups"][0]["tests"] = doc["testGroups"][0]["tests"][:5]
    doc["numberOfTests"] = 5
    path = tmp_path / "five.json"
    path.write_text(json.dumps(doc))
    assert main(["conform", str(path), "--adapter", "reference",
                 "--report", str(tmp_path / "run")]) == 0
    page = (tmp_path / "run" / "index.html").read_text()
    assert "5 tests: 5 passed, 0 failed" in page and "No test failed." in page
    assert "report: file://" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["index.html"]  # no .tmp left
