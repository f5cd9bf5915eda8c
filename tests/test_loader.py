"""A malformed spec is refused with the file, the line and what is wrong (CLI: exit 2)."""

from __future__ import annotations

import shutil

import pytest

from chargespec.cli import main
from chargespec.errors import SpecError
from chargespec.loader import load_spec

from conftest import SPEC_DIR


@pytest.fixture
def spec_copy(tmp_path):
    dst = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst


def mutate(spec_dir, file, old, new, count=1):
    path = spec_dir / file
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, count))
    # the line the mutation lands on, 1-based
    return text[: text.index(old)].count("\n") + 1


def refused(spec_dir, capsys):
    with pytest.raises(SpecError) as err:
        load_spec(spec_dir)
    assert main(["spec", "validate", str(spec_dir)]) == 2
    stderr = capsys.readouterr().err
    assert str(err.value) in stderr
    return str(err.value)


def test_embedded_spec_is_valid(capsys):
    assert main(["spec", "validate"]) == 0
    assert "valid" in capsys.readouterr().out


def test_bad_yaml_names_file_and_line(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "  - id: ev_pause\n", "  - id: ev_pause: [\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: YAML syntax error")


def test_unknown_name_in_a_guard(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "when: powered and cp in ['C', 'D']\n",
                  "when: powered and cpp in ['C', 'D']\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "unknown name 'cpp'" in msg and "did you mean 'cp'" in msg


def test_import_call_in_an_expression(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "when: powered and cp in ['C', 'D']\n",
                  "when: __import__('os').system('touch /tmp/pwned') == 0\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "__import__" in msg and "not allowed" in msg


def test_missing_manual_reference(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml",
                  "    do: {powered: false, hlc_window: false}\n    manual: \"§4\"\n",
                  "    do: {powered: false, hlc_window: false}\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith("spec/session.yaml:")
    assert "missing `manual:` or `interpretation:`" in msg
    assert abs(int(msg.split(":")[1]) - line) <= 5  # the rule's own lines


def test_unknown_manual_section(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", 'manual: "§7.1"\n', 'manual: "§7.99"\n')
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "'§7.99' is not a section of the manual" in msg


def test_unknown_interpretation(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "interpretation: AUTH-BUSY\n",
                  "interpretation: AUTH-BUSSY\n")
    msg = refused(spec_copy, capsys)
    assert msg == f"spec/session.yaml:{line}: unknown interpretation 'AUTH-BUSSY' " \
                  f"(not in spec/interpretations.yaml)"


def test_duplicate_rule_id(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "  - id: ev_pause_ignored\n", "  - id: ev_pause\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: duplicate rule id 'ev_pause'")


def test_duplicate_yaml_key(spec_copy, capsys):
    line = mutate(spec_copy, "parameters.yaml", "    ui_name: Stop Transaction Mode\n",
                  "    ui_name: Stop Transaction Mode\n    ui_name: again\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/parameters.yaml:{line + 1}: duplicate key 'ui_name'")


def test_unknown_event_in_a_rule(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "    on: ev_pause\n", "    on: ev_paws\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: rule ev_pause: unknown event 'ev_paws'")


def test_unknown_state_in_from(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "    from: [finishing]\n", "    from: [finished]\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "'finished' is not a value of session" in msg


def test_assignment_to_unknown_variable(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "    do: {load_limit: amps}\n",
                  "    do: {load_limt: amps}\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: rule set_load_limit: cannot assign 'load_limt'")


def test_enum_value_outside_domain(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "stop_transaction_mode == 'NormalModeDRcd'\n",
                  "stop_transaction_mode == 'ModeD'\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "'ModeD' is not a value of 'stop_transaction_mode'" in msg


def test_bare_enum_value_gets_a_hint(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "do: {cp: \"'B'\"}\n", "do: {cp: B}\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "write the string \"'B'\"" in msg


def test_ocpp_field_not_in_official_schema(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "fields: {reason: \"'PowerLoss'\"}",
                  "fields: {reason: \"'PowerLoss'\", why: \"'power'\"}")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "StopTransaction has no field 'why' in the official OCPP 1.6 schema" in msg


def test_ocpp_enum_value_not_in_official_schema(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "reason: \"'PowerLoss'\"", "reason: \"'Blackout'\"")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ")
    assert "'Blackout' is not allowed by the official schema" in msg


def test_schema_violation_names_the_line(spec_copy, capsys):
    line = mutate(spec_copy, "parameters.yaml", "    default: 45\n", "    default: forty-five\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/parameters.yaml:{line}: ")


def test_unknown_key_is_a_schema_error(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml", "  - id: ev_pause\n", "  - id: ev_pause\n    whenn: x\n")
    msg = refused(spec_copy, capsys)
    assert msg.startswith("spec/session.yaml:")
    assert "whenn" in msg and "unknown key" in msg
    assert int(msg.split(":")[1]) in (line, line + 1)


def test_on_and_off_stay_strings_in_yaml(spec):
    # YAML 1.1 would read On/Off as booleans; our reader keeps the UI's values as strings
    assert spec.parameters["if_in_doubt_allow_charging"].values == ("Off", "On", "ImmediatePlugIn")


def test_a_definition_with_an_unknown_name_is_refused_at_its_line(spec_copy, capsys):
    line = mutate(spec_copy, "session.yaml",
                  "expr: connection_type != 'NoBackend' and 'backend_disconnected' not in errors",
                  "expr: connection_typ != 'NoBackend'")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ") and "definition online" in msg
    assert "did you mean 'connection_type'" in msg


def test_a_definition_may_not_shadow_a_variable(spec_copy, capsys):
    mutate(spec_copy, "session.yaml", "  online:\n    expr:", "  cp:\n    expr:")
    assert "definition 'cp' has the name of a parameter, variable or event" in \
        refused(spec_copy, capsys)


def test_a_definition_used_where_its_event_field_is_missing_is_refused(spec_copy, capsys):
    # uid_listed reads the card event's uid: it cannot guard a rule on another event
    line = mutate(spec_copy, "session.yaml", "    when: powered and reserved_for != None\n    do: {reserved_for: null}",
                  "    when: powered and uid_listed\n    do: {reserved_for: null}")
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/session.yaml:{line}: ") and "unknown name 'uid'" in msg


# ---- step invariants: expressions over old., new., event, sent(...), type-checked at load

@pytest.mark.parametrize("old, new, says", [
    # a name of the state without old. / new.
    ("    expr: new.session == 'transaction'\n",
     "    expr: session == 'transaction'\n", "unknown name 'session'"),
    # a misspelt state name after new.
    ("    expr: new.session == 'transaction'\n",
     "    expr: new.sesion == 'transaction'\n", "unknown name 'new.sesion'"),
    # a value outside the domain
    ("    expr: new.session == 'transaction'\n",
     "    expr: new.session == 'transactoin'\n", "transactoin"),
    # an event that does not exist
    ("and event in ['unplug', 'cable_removed'] and", "and event in ['unplug', 'cable_pulled'] and",
     "cable_pulled"),
    # an action OCPP 1.6 does not have
    ("    when: sent('StopTransaction') > 0\n", "    when: sent('StopTransacton') > 0\n",
     "'StopTransacton' is not an OCPP 1.6 action"),
    # a field the action does not have
    ("    expr: every('StopTransaction', 'reason', stop_reason[event])\n",
     "    expr: every('StopTransaction', 'reasons', stop_reason[event])\n",
     "StopTransaction has no field 'reasons'"),
    # the action as a name, not a literal
    ("    when: sent('StopTransaction') > 0\n", "    when: sent(StopTransaction) > 0\n",
     "as string literals"),
    # the step invariant's condition is not a condition
    ("    expr: sent('*') == 0\n", "    expr: sent('*')\n", "must be a condition"),
    # a named check where an expression belongs
    ("    when: old.status != new.status\n    expr: >-\n",
     "    check: status_change_in_ocpp_table\n    expr: >-\n",
     "not a named check"),
    # a step function in a rule's guard
    ("when: powered and cp in ['C', 'D']\n", "when: powered and sent('Heartbeat') == 0\n",
     "belongs to step invariants"),
    # old. in a state invariant
    ("    expr: lock == 'open' or cable == 'in'\n", "    expr: old.lock == 'open' or cable == 'in'\n",
     "belong to step invariants"),
    # attribute access on anything but old / new / event
    ("    expr: new.session == 'transaction'\n", "    expr: config.session == 'transaction'\n",
     "attribute access"),
    # the table: a reason OCPP 1.6 does not have, an event the machine does not have
    ("      unplug: EVDisconnected\n", "      unplug: EvDisconnected\n",
     "'EvDisconnected' is not a value of StopTransaction.reason"),
    ("      unplug: EVDisconnected\n", "      unplugged: EVDisconnected\n",
     "'unplugged' is not an event of the machine"),
    ("    default: none\n", "    default: Other\n", "the default 'Other' is a value"),
])
def test_a_step_invariant_is_checked_at_load(spec_copy, capsys, old, new, says):
    line = mutate(spec_copy, "session.yaml", old, new)
    msg = refused(spec_copy, capsys)
    assert msg.startswith("spec/session.yaml:") and says in msg, msg
    assert abs(int(msg.split(":")[1]) - line) <= 12, (msg, line)


@pytest.mark.parametrize("old, new, says", [
    ("    interpretation: OCTT-LOCK-FAILURE\n", "    interpretation: OCTT-LOCK-FAILUR\n",
     "unknown interpretation 'OCTT-LOCK-FAILUR'"),
    ("    interpretation: OCTT-LOCK-FAILURE\n", "",
     "names both its interpretation and what OCTT expects"),
    ("StatusNotification(status=Available), no StartTransaction]",
     "StatusNotification(status=Available), not StartTransaction]", "is not `Action`"),
])
def test_an_octt_case_is_checked_at_load(spec_copy, capsys, old, new, says):
    mutate(spec_copy, "octt.yaml", old, new)
    msg = refused(spec_copy, capsys)
    assert msg.startswith("spec/octt.yaml:") and says in msg, msg


@pytest.mark.parametrize("old, new, says", [
    ("  - {from: Preparing, to: Unavailable, via: Available}",
     "  - {from: Preparing, to: Unavailable, via: Availabel}", "unknown status 'Availabel'"),
    # a pair the table allows needs no detour
    ("  - {from: Preparing, to: Unavailable, via: Available}",
     "  - {from: Preparing, to: Charging, via: Available}", "the table must lack"),
    # the detour must be allowed on both sides
    ("  - {from: Preparing, to: Unavailable, via: Available}",
     "  - {from: Preparing, to: Unavailable, via: Reserved}", "and allow Preparing -> Reserved"),
])
def test_a_status_detour_is_checked_at_load(spec_copy, capsys, old, new, says):
    line = mutate(spec_copy, "ocpp16_status_transitions.yaml", old, new)
    msg = refused(spec_copy, capsys)
    assert msg.startswith(f"spec/ocpp16_status_transitions.yaml:{line}:") and says in msg, msg


def test_an_observation_reads_a_later_kept_observation_as_it_was(spec_copy):
    """`status_before` reads the kept status before the step settles it; once the loader allows
    that, the engine gives the old value (a plug under "Occupied on Authorized/Plugged")."""
    from chargespec.models.step import Engine
    engine = Engine(load_spec(spec_copy))
    config = engine.config(status_notification_strategy="OccupiedOnAuthorizedOrPlugged")
    _, out = engine.step(config, engine.initial(config), engine.event("plug"))
    assert out.observation.status_before == "Available" and out.observation.status == "Preparing"
