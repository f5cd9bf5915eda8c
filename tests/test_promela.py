"""SPIN cross-check: the Promela export of the session, under one configuration at a time,
has exactly as many reachable states as our explorer finds, and SPIN and the explorer give the
same verdict on the state invariants, including a seeded violation both must find.  `make test`
installs spin from apt when it is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from chargespec.checkers.check import explorer_checks
from chargespec.checkers.explore import explore, pairwise_configurations, session_events
from chargespec.checkers.promela import export, export_all, run_spin
from chargespec.loader import load_spec
from chargespec.models.step import Engine
from test_loader import mutate, spec_copy  # noqa: F401 - fixture


def test_spin_is_installed():
    assert shutil.which("spin") and shutil.which("gcc"), \
        "spin and gcc are needed: `make test` installs spin from apt (make sysdeps)"


CONFIGS = [
    {},
    {"lock_actuator_only_if_authorized": True, "enable_local_whitelist": True,
     "local_whitelist": ["CARD_A#1"], "enable_ocpp_whitelist": True},
    {"free_charging": True, "free_charging_mode": "FullFixedRfidWithAuth"},
    {"connection_type": "NoBackend", "if_in_doubt_allow_charging": "ImmediatePlugIn",
     "stop_transaction_mode": "OnlyByRfidOrRemoteStop"},
]


@pytest.mark.slow  # 20 s for the default configuration alone; the seeded violation below is
# make test's SPIN run, this state-count agreement is make test-slow's
@pytest.mark.parametrize("values", CONFIGS, ids=["default", "whitelists", "free-4", "offline"])
def test_spin_counts_the_same_states_and_agrees(engine, tmp_path, values):
    config = engine.config(values)
    # the state invariants (SPIN's asserts) only: the step checks are not SPIN's to agree on
    states = {n: c for n, c in explorer_checks(engine).items() if getattr(c, "per_state", False)}
    assert states  # each state invariant, as SPIN checks each
    ours = explore(engine, config, states, events=session_events(engine))
    spin = run_spin(export(engine, config, session_events(engine)), tmp_path)
    assert spin["states"] == ours.states
    assert spin["errors"] == 0 and ours.violations == []


@pytest.mark.slow
def test_a_pairwise_configuration_agrees(engine, tmp_path):
    config = pairwise_configurations(engine)[9]  # the largest of the CI set
    ours = explore(engine, config, events=session_events(engine))
    assert run_spin(export(engine, config, session_events(engine)), tmp_path)["states"] == \
        ours.states


def test_a_too_short_pan_stack_is_run_again_deeper(engine, tmp_path):
    """pan sized too small (-m) would truncate the search; run_spin runs it again deeper and
    still counts every state."""
    config = engine.config()
    # without the limits, the list and availability: a few hundred states, still deeper than 10
    events = [e for e in session_events(engine) if e.name not in
              {"set_operator_limit", "set_load_limit", "send_local_list", "change_availability"}]
    ours = explore(engine, config, events=events)
    spin = run_spin(export(engine, config, events), tmp_path, depth=10)
    assert spin["depth_limit"] > 10 and spin["states"] == ours.states
    assert "max search depth too small" not in spin["output"]


def test_both_find_a_seeded_violation(spec_copy, tmp_path):
    mutate(spec_copy, "session.yaml",
           "      lock: \"'open' if lock_actuator_only_if_authorized else 'closed'\"\n"
           "      hlc_window: hlc_mode == 'Encouragement'\n      ev_charged: false\n"
           "      timed_errors: timed_errors - timer_started_by_unplug\n    manual: \"§5.1\"",
           "      lock: \"'closed'\"\n"
           "      hlc_window: hlc_mode == 'Encouragement'\n      ev_charged: false\n"
           "      timed_errors: timed_errors - timer_started_by_unplug\n    manual: \"§5.1\"")
    engine = Engine(load_spec(spec_copy))
    config = engine.config(lock_actuator_only_if_authorized=True)
    ours = explore(engine, config, explorer_checks(engine), events=session_events(engine))
    assert ours.violations and ours.violations[0].check == "lock_only_if_authorized"
    spin = run_spin(export(engine, config, session_events(engine)), tmp_path)
    assert spin["errors"] >= 1 and "assertion violated" in spin["output"]


def test_export_command_writes_the_model(tmp_path):
    out = tmp_path / "session.pml"
    p = subprocess.run([sys.executable, "-m", "chargespec", "export", "promela", "--set",
                        "free_charging=On", "-o", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert text.startswith("/* Charging session") and "init {" in text and "d_step" in text
    assert not (tmp_path / "session.pml.tmp").exists()


@pytest.mark.slow  # 13 s of SPIN; the default and seeded-violation cross-checks stay in make test
def test_several_configurations_as_a_nondeterministic_choice(engine, tmp_path):
    configs = pairwise_configurations(engine)[:3]
    events = session_events(engine)
    spin = run_spin(export_all(engine, configs, events), tmp_path)
    # the state before the choice, then each configuration's own states
    assert spin["states"] == 1 + sum(explore(engine, c, events=events).states for c in configs)
    assert spin["errors"] == 0
