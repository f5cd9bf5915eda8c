"""The error table of §9 as data: every row as the manual prints it, reported in OCPP 1.6 terms
that the official schema accepts; malformed rows are refused with file and line.
(Wiring the rows into the session machine is the rest of the error-table issue.)"""

from __future__ import annotations

import pytest

from chargespec import ocpp16
from chargespec.errors import SpecError
from chargespec.loader import load_spec

from test_loader import mutate, spec_copy  # noqa: F401  (fixture)

# row: (manual code, activation, resolution, transaction and charging stopped) -- §9 verbatim
MANUAL_TABLE = [
    ("groundFailure", "Residual current detected via sensor", "Residual current situation resolved", True),
    ("mode3Error", "Vehicle signals error", "Vehicle error resolved", False),
    ("mode3Error", "Vehicle diode check failed - tamper detection", "Vehicle with diode problem disconnected", True),
    ("aboutCurrentFailure", "MCB or type 2 socket triggered", "MCB type 2 reconnected", True),
    ("aboutCurrentFailure", "MCB or domestic socket triggered", "MCB domestic socket reconnected", True),
    ("groundFailure", "RCD Fault", "RCD reconnected", True),
    ("otherError", "Surge Protection Device (SPD) tripped. Replace.", "SPD triggered", False),
    ("powerSwitchFailure", "Contactor welded", "Contactor weld resolved", True),
    ("otherError", "Backend disconnected", "Backend disconnected", False),
    ("connectorLockFailure", "Plug locking failed", "Plug locking failed", False),
    ("connectorLockFailure", "Type 2 actuator stuck, cannot unlock", "Type 2 locking actuator recovered", True),
    ("connectorLockFailure", "Could not detect type 2 locking actuator", "Type 2 locking actuator detected", True),
    ("powerMeterFailure", "OCPP meter not communicating", "OCPP meter communication recovered", True),
    ("powerMeterFailure", "External meter not communicating", "External meter communication recovered", False),
    ("readerFailure", "RFID reader not communicating", "RFID reader recovered", False),
]


def test_all_fifteen_rows_as_the_manual_prints_them(spec):
    rows = sorted(spec.errors.values(), key=lambda r: r.row)
    assert [(r.manual_code, r.activation, r.resolution, r.stops_transaction) for r in rows] == MANUAL_TABLE
    assert all(r.ref.manual == "§9" for r in rows)


def test_misspelled_about_current_failure_is_reported_as_over_current(spec):
    mcb = [r for r in spec.errors.values() if r.manual_code == "aboutCurrentFailure"]
    assert len(mcb) == 2 and {r.ocpp_error_code for r in mcb} == {"OverCurrentFailure"}
    assert "ERRATUM-ABOUT-CURRENT" in spec.errata


def test_mode3_rows_use_ocpp_16_codes_that_fit_their_status(spec):
    vehicle = spec.errors["vehicle_signals_error"]
    diode = spec.errors["vehicle_diode_check_failed"]
    assert (vehicle.ocpp_error_code, vehicle.status_while_active) == ("EVCommunicationError", "unchanged")
    assert (diode.ocpp_error_code, diode.status_while_active) == ("OtherError", "Faulted")
    assert vehicle.vendor_error_code == diode.vendor_error_code == "mode3Error"


def test_transaction_stopping_rows_make_the_connector_faulted(spec):
    for r in spec.errors.values():
        assert (r.status_while_active == "Faulted") == r.stops_transaction, r.id


@pytest.mark.parametrize("phase", ["activation", "resolution"])
def test_every_rows_status_notification_is_valid_against_the_official_schema(spec, phase):
    for r in spec.errors.values():
        active = phase == "activation"
        status = "Faulted" if (r.status_while_active == "Faulted" and active) else "SuspendedEV"
        fields = {"connectorId": 1, "status": status,
                  "errorCode": r.ocpp_error_code if active else "NoError",
                  "info": r.activation if active else r.resolution}
        if r.vendor_error_code:
            fields["vendorErrorCode"] = r.vendor_error_code
        payload = ocpp16.to_payload("StatusNotification", "call", fields)
        assert ocpp16.validation_errors("StatusNotification", "call", payload) == [], r.id


def test_recovery_rules_as_the_manual_describes_them(spec):
    e = spec.errors
    rcmb = e["rcmb_residual_current"]
    assert set(rcmb.recovery_by) == {"cable_removed", "rcmb_reset_timer"}
    (timer,) = rcmb.timers
    assert (timer.starts_on, timer.seconds, timer.seconds_if_parameter, timer.seconds_if_value) == \
        ("unplug", 10, "rcmb_version_at_most_d0469", 900)
    assert e["mcb_type2_socket_tripped"].recovery_kind == "maintenance"
    assert e["contactor_welded"].recovery_by == ("contactor_repaired",)
    assert set(e["actuator_stuck"].recovery_by) == {"unlock_connector", "hard_reset"}
    assert e["actuator_not_detected"].recovery_by == ("hard_reset",)
    assert e["plug_locking_failed"].recovery_kind == "replug"
    assert set(e["vehicle_signals_error"].recovery_by) == {"vehicle_error_cleared", "unplug",
                                                          "cable_removed"}
    assert e["actuator_stuck"].keeps_lock and not e["actuator_not_detected"].keeps_lock
    assert {k for k, r in e.items() if r.needs_vehicle} == {"vehicle_signals_error",
                                                            "vehicle_diode_check_failed"}


@pytest.mark.parametrize("file, old, new, message", [
    ("errors.yaml", "ocpp_error_code: PowerSwitchFailure", "ocpp_error_code: Mode3Error",
     "'Mode3Error' is not an OCPP 1.6 ChargePointErrorCode"),
    ("errors.yaml", "    ocpp_error_code: OtherError\n    vendor_error_code: mode3Error\n"
     "    activation: Vehicle diode",
     "    ocpp_error_code: EVCommunicationError\n    vendor_error_code: mode3Error\n"
     "    activation: Vehicle diode",
     "allows EVCommunicationError only with"),
    ("errors.yaml", "    stops_transaction: false\n    status_while_active: unchanged\n"
     "    notes: External SPD device.",
     "    stops_transaction: false\n    status_while_active: Faulted\n"
     "    notes: External SPD device.",
     "this row mixes the two"),
    ("errors.yaml", "activation: RCD Fault", "activation: " + "R" * 51, "allows 50"),
    ("errors.yaml", "by: [mcb_rearmed]", "by: [mcb_reset]", "recovery event 'mcb_reset'"),
    ("errors.yaml", "    row: 7\n", "    row: 6\n", "row 6 is also rcd_fault"),
    ("errata.yaml", "  ERRATUM-BERLIN:\n", "  ERRATUM-BERLIN: [\n", "YAML syntax error"),
    ("errors.yaml", "interpretation: ERRATUM-CONTACTOR-NOTE", "interpretation: ERRATUM-CONTACTOR",
     "unknown interpretation 'ERRATUM-CONTACTOR'"),
])
def test_malformed_error_rows_are_refused_with_file_and_line(spec_copy, file, old, new, message):  # noqa: F811
    line = mutate(spec_copy, file, old, new)
    with pytest.raises(SpecError) as err:
        load_spec(spec_copy)
    text = str(err.value)
    assert text.startswith(f"spec/{file}:") and message in text
    assert abs(int(text.split(":")[1]) - line) <= 6
