"""The wheel installs outside the repository and runs with its embedded spec as package data."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import REPO


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    return out


@pytest.mark.slow  # packaging: a venv and a wheel build (make test-slow)
def test_wheel_installs_in_a_fresh_venv_and_simulates(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
         str(REPO)], cwd=tmp_path)
    wheel, = dist.glob("chargespec-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # Dependencies come from this environment's site-packages (offline, fast); chargespec itself
    # only from the wheel.  A .pth line adds the directory but does not run its .pth files, so
    # the development install's editable finder stays out.
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                    ).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    exe = env_dir / "bin" / "chargespec"
    assert run([str(exe), "--version"], cwd=outside, env=env).stdout.startswith("chargespec ")
    where = run([str(py), "-c", "import chargespec.models, chargespec.loader as l; "
                 "print(chargespec.models.__file__); print(l.default_spec_dir())"],
                cwd=outside, env=env).stdout.split()
    assert all(str(env_dir) in w for w in where), where
    top = run([str(py), "-c", "import importlib.util as u; "
               "print(u.find_spec('models'), u.find_spec('checkers'))"], cwd=outside, env=env)
    assert top.stdout.strip() == "None None"  # nothing top-level besides chargespec
    scenario = outside / "s.yaml"
    scenario.write_text("steps: [plug, {rfid: {uid: abc}}, {authorize_conf: {status: Accepted}},"
                        " ev_request_charge]\n")
    sim = run([str(exe), "simulate", str(scenario)], cwd=outside, env=env).stdout
    assert "Charging" in sim and "StartTransaction(connectorId=1, idTag=abc)" in sim
    demo = run([str(exe), "demo"], cwd=outside, env=env).stdout
    assert "How the four modes differ" in demo
    # every subpackage is in the wheel: load management and the checkers run from it
    site = run([str(py), "-c", "import chargespec.loader as l; "
                "print(l.default_spec_dir() / 'examples' / 'dlm_building_100a.yaml')"],
               cwd=outside, env=env).stdout.strip()
    assert "Proved" in run([str(exe), "dlm", "verify", site], cwd=outside, env=env).stdout
    run([str(py), "-c", "import chargespec.checkers.determinism, chargespec.checkers.promela, "
         "chargespec.vectors"], cwd=outside, env=env)
