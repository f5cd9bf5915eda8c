"""`chargespec lint`: every check of spec/lint.yaml fires on a setup it describes, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargespec.lint import lint

EXAMPLES = Path(__file__).resolve().parent.parent / "spec" / "examples"

# one bad setup per check: the check must fire on it and not on the default configuration
BAD = {
    "if_in_doubt_without_backend": {"connection_type": "NoBackend", "free_charging": True,
                                    "if_in_doubt_allow_charging": "ImmediatePlugIn"},
    "ocpp_whitelist_without_backend": {"connection_type": "NoBackend", "free_charging": True,
                                       "enable_ocpp_whitelist": True},
    "free_charging_backend_mode_without_backend": {
        "connection_type": "NoBackend", "free_charging": True,
        "free_charging_mode": "FullAnyRfid"},
    "free_charging_mode_1_with_backend": {"free_charging": True, "free_charging_mode": "NoOcpp"},
    "no_way_to_start_without_backend": {"connection_type": "NoBackend"},
    "rfid_only_stop_without_card": {"stop_transaction_mode": "OnlyByRfidOrRemoteStop",
                                    "free_charging": True,
                                    "free_charging_mode": "StatusNotifWithoutAuth"},
    "fixed_tag_is_empty": {"free_charging": True, "free_charging_mode": "FullFixedRfidWithAuth",
                           "free_charging_rfid_tag": ""},
    "whitelist_entry_not_hexadecimal": {"enable_local_whitelist": True,
                                        "local_whitelist": ["0a0e9b83", "my card"]},
    "whitelist_entry_letter_case": {"enable_local_whitelist": True,
                                    "local_whitelist": ["0A0E9B83"]},
    "whitelist_entry_unknown_postfix": {"enable_local_whitelist": True,
                                        "local_whitelist": ["0a0e9b83#3"]},
    "whitelist_entry_for_a_missing_slave": {"enable_local_whitelist": True,
                                            "local_whitelist": ["0a0e9b83#2"]},
    "local_authorization_without_cache": {"local_authorize_offline": True},
    "immediate_plug_in_is_open_access_offline": {
        "if_in_doubt_allow_charging": "ImmediatePlugIn"},
    "whitelists_ignored_in_free_charging": {"free_charging": True,
                                            "free_charging_mode": "FullAnyRfid",
                                            "enable_ocpp_whitelist": True},
}


def fired(engine, **values):
    return {f.check.id for f in lint(engine.spec, engine.config(values))}


def test_every_check_has_a_bad_setup(spec):
    assert set(BAD) == set(spec.lint)


@pytest.mark.parametrize("check", sorted(BAD))
def test_check_fires_on_its_bad_setup(engine, check):
    assert check in fired(engine, **BAD[check])


def test_the_default_configuration_is_clean(engine):
    assert fired(engine) == set()


def test_neighbouring_good_setups_are_clean(engine):
    assert fired(engine, connection_type="NoBackend", free_charging=True,
                 free_charging_mode="NoOcpp") == set()
    assert fired(engine, connection_type="NoBackend", enable_local_whitelist=True) == set()
    assert fired(engine, free_charging=True, free_charging_mode="FullFixedRfidWithoutAuth",
                 stop_transaction_mode="OnlyByRfidOrRemoteStop") == set()


@pytest.mark.parametrize("case, entries, bad", [
    ("LowerCase", ["0a0e9b83", "839b0e0a#1"], []),
    ("LowerCase", ["0A0E9B83", "0a0e9b83"], ["0A0E9B83"]),
    ("UpperCase", ["0A0E9B83", "0a0e9b83#1"], ["0a0e9b83#1"]),
    ("UpperCaseReversed", ["839B0E0A"], []),
    ("LowerCaseReversed", ["839B0E0A"], ["839B0E0A"]),
])
def test_letter_case_check_names_the_offending_entries(engine, case, entries, bad):
    found = [f for f in lint(engine.spec, engine.config(
        enable_local_whitelist=True, local_whitelist=entries, rfid_tag_letter_case=case))
        if f.check.id == "whitelist_entry_letter_case"]
    assert [list(f.entries) for f in found] == ([bad] if bad else [])
    if bad:
        assert f"offending local_whitelist entries: {', '.join(bad)}" in found[0].render()


def test_a_slave_postfix_is_fine_in_a_master_slave_pair(engine):
    assert fired(engine, enable_local_whitelist=True, local_whitelist=["0a0e9b83#2"],
                 master_slave_mode="Slave") == set()


def test_entry_checks_are_off_while_the_local_whitelist_is_disabled(engine):
    assert fired(engine, local_whitelist=["NOT HEX#9"]) == set()


def cli(*args):
    from incli import run_cli
    return run_cli(*args)


def test_cli_reports_the_manuals_bad_setup_and_exits_1():
    p = cli("lint", str(EXAMPLES / "config_no_backend_bad.yaml"))
    assert p.returncode == 1
    assert "if_in_doubt_without_backend (§5.1)" in p.stdout
    assert "ocpp_whitelist_without_backend (§5.4)" in p.stdout
    assert "anyone can use any RFID to charge permanently" in p.stdout


def test_cli_is_silent_on_a_good_setup():
    p = cli("lint", str(EXAMPLES / "config_no_backend_good.yaml"))
    assert p.returncode == 0 and "0 error(s), 0 warning(s)" in p.stdout


def test_cli_bad_config_exits_2_with_file_and_line(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("connection_type: No Backend\nfree_charging_mode: Mode 7\n")
    p = cli("lint", str(bad))
    assert p.returncode == 2 and f"{bad}:2" in p.stderr


def test_cli_reports_the_whitelist_mistakes_of_a_bad_authorization_setup():
    p = cli("lint", str(EXAMPLES / "config_authorization_bad.yaml"))
    assert p.returncode == 1
    for check in ("whitelist_entry_letter_case (§5.3)", "whitelist_entry_unknown_postfix (§5.5 / WHITELIST-POSTFIX)",
                  "local_authorization_without_cache (§5.4 / AUTH-ORDER)"):
        assert check in p.stdout
    assert "0A0E9B83" in p.stdout and "04567daa5f3580#3" in p.stdout
    good = cli("lint", str(EXAMPLES / "config_authorization_good.yaml"))
    assert good.returncode == 0 and "0 error(s), 0 warning(s)" in good.stdout
