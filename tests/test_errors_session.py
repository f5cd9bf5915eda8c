"""The error table (§9) wired into the session: raising, stopping, reporting, recovery, LEDs.

One test per row and situation (idle with a vehicle plugged in; charging under each of the four
stop modes), each raising the row's error, checking what the backend and the user see, then
resolving it the way the row's recovery says and checking that again.  Then the recovery rules
one by one, several errors at once (resolved in either order), and the settings that change the
reporting.
"""

from __future__ import annotations

import pytest

from chargespec.loader import load_spec

SPEC = load_spec()
ROWS = list(SPEC.errors.values())
STOP_MODES = ["Normal", "NormalModeDRcd", "StopOnlyByDisconnecting", "OnlyByRfidOrRemoteStop"]
ERROR_LED = "green_yellow_blue_flashing"
EV_STATUSES = {"Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing"}
ACCEPTED = {"status": "Accepted"}


def charging(run, **config):
    r = run(**config)
    r.all("plug", ("rfid", {"uid": "CARD_A"}), ("authorize_conf", ACCEPTED), "ev_request_charge")
    assert r.obs.status == "Charging" and r.obs.contactor == "closed"
    return r


def idle_plugged(run, **config):
    r = run(**config)
    r("plug")
    assert r.state.session == "idle" and r.state.cp == "B"
    return r


REBOOTS = ("hard_reset", "soft_reset", "power_return")


def resolution_path(row):
    """Events that clear `row` in a session where the vehicle is connected."""
    own = [e for e in row.recovery_by if e in SPEC.recovery_events
           and not any(t.event == e for t in row.timers)]
    if own:
        # a reset reboots: the backend must accept the BootNotification (BOOT-REGISTRATION)
        return [own[0], *(["boot_accepted"] if own[0] in REBOOTS else [])]
    if "unplug" in row.recovery_by:
        return ["unplug"]
    if row.timers:
        return ["unplug", row.timers[0].event]
    return ["unplug", "cable_removed"]


def error_notification(out):
    (sn,) = [m.as_dict() for m in out.messages if m.action == "StatusNotification"]
    return sn


def expected_code(row, status):
    if row.ocpp_error_code == "EVCommunicationError" and status not in EV_STATUSES:
        return "OtherError"  # OCPP 1.6 §7.6 pairs EVCommunicationError only with EV_STATUSES
    return row.ocpp_error_code


def check_raised(r, row, status_before, led_before, in_transaction):
    out = r("error_raised", error=row.id)
    o = r.obs
    sn = error_notification(out)
    stops = [m.as_dict() for m in out.messages if m.action == "StopTransaction"]
    if row.stops_transaction:
        assert o.status == "Faulted"
        assert o.contactor == "open" and o.offered_current == 0
        assert o.led == ERROR_LED
        assert stops == ([{"reason": "Other"}] if in_transaction else [])
        assert r.state.session in ("idle", "finishing")
        assert r.state.lock == ("closed" if row.keeps_lock and in_transaction else r.state.lock)
        if in_transaction and not row.keeps_lock:
            assert r.state.lock == "open"
    else:
        expected_status = ("SuspendedEV" if row.needs_vehicle and in_transaction
                           else status_before)
        assert o.status == expected_status
        assert stops == []
        assert r.state.session == ("transaction" if in_transaction else "idle")
        assert o.led == led_before
        if in_transaction and not row.needs_vehicle:
            assert o.contactor == "closed"
    assert sn["status"] == o.status
    assert sn["errorCode"] == expected_code(row, o.status)
    assert sn["info"] == row.activation
    assert sn.get("vendorErrorCode") == row.vendor_error_code
    assert row.id in r.state.errors


def check_resolved(r, row):
    path = resolution_path(row)
    outs = [r("boot_conf", status="Accepted") if e == "boot_accepted" else r(e) for e in path]
    assert row.id not in r.state.errors
    sns = [m.as_dict() for out in outs for m in out.messages if m.action == "StatusNotification"]
    if path[0] in REBOOTS:
        # nothing is sent until the BootNotification is accepted; then the status of the
        # rebooted charger, without the error (and without the resolution's message)
        assert [sn["errorCode"] for sn in sns] == ["NoError"], sns
    else:
        resolved = [sn for sn in sns if sn.get("info") == row.resolution]
        assert len(resolved) == 1, sns
        assert resolved[0]["errorCode"] == "NoError"
    assert r.obs.status != "Faulted" and r.obs.led != ERROR_LED


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"row{r.row}-{r.id}")
def test_error_while_idle_with_a_vehicle_plugged_in(run, row):
    r = idle_plugged(run)
    check_raised(r, row, r.obs.status, r.obs.led, in_transaction=False)
    check_resolved(r, row)


@pytest.mark.parametrize("mode", STOP_MODES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"row{r.row}-{r.id}")
def test_error_while_charging_under_each_stop_mode(run, row, mode):
    r = charging(run, stop_transaction_mode=mode)
    check_raised(r, row, "Charging", r.obs.led, in_transaction=True)
    check_resolved(r, row)
    if not row.stops_transaction and "unplug" not in resolution_path(row):
        # the transaction survived the error and its recovery
        assert r.state.session == "transaction" and r.obs.status == "Charging"


def test_the_session_table_covers_every_row():
    assert [r.row for r in ROWS] == list(range(1, 16))


# ---------------------------------------------------------------- recovery rules

def test_rcmb_clears_when_the_cable_leaves_the_socket(run):
    r = charging(run)
    r("error_raised", error="rcmb_residual_current")
    r("unplug")
    assert "rcmb_residual_current" in r.state.errors
    r("cable_removed")
    assert r.state.errors == frozenset() and r.obs.status == "Available"


def test_rcmb_clears_on_its_timer_only_after_the_ev_was_unplugged(run):
    r = charging(run)
    r("error_raised", error="rcmb_residual_current")
    out = r("rcmb_reset_timer")  # no timer runs: the EV is still connected
    assert "rcmb_residual_current" in r.state.errors and out.messages == ()
    r("unplug")
    assert r.state.timed_errors == frozenset({"rcmb_residual_current"})
    r("rcmb_reset_timer")
    assert r.state.errors == frozenset() and r.state.timed_errors == frozenset()
    assert r.obs.status == "Finishing"  # the cable is still in the socket


def test_replugging_cancels_the_rcmb_timer(run):
    r = charging(run)
    r.all(("error_raised", {"error": "rcmb_residual_current"}), "unplug", "plug")
    assert r.state.timed_errors == frozenset()
    r("rcmb_reset_timer")
    assert "rcmb_residual_current" in r.state.errors


def test_rcmb_timer_lasts_15_minutes_for_old_rcmb_versions(spec):
    (timer,) = spec.errors["rcmb_residual_current"].timers
    assert (timer.seconds, timer.seconds_if_parameter, timer.seconds_if_value) == \
        (10, "rcmb_version_at_most_d0469", 900)


@pytest.mark.parametrize("row, clears, does_not_clear", [
    ("mcb_type2_socket_tripped", "mcb_rearmed", ["unplug", "cable_removed", "hard_reset"]),
    ("mcb_domestic_socket_tripped", "mcb_rearmed", ["hard_reset", "rcd_reconnected"]),
    ("contactor_welded", "contactor_repaired", ["hard_reset", "unlock_connector", "mcb_rearmed"]),
    ("actuator_not_detected", "hard_reset", ["unlock_connector"]),
    ("rcd_fault", "rcd_reconnected", ["mcb_rearmed"]),
    ("spd_tripped", "spd_replaced", ["hard_reset"]),
    ("ocpp_meter_not_communicating", "ocpp_meter_recovered", ["external_meter_recovered"]),
    ("external_meter_not_communicating", "external_meter_recovered", ["ocpp_meter_recovered"]),
])
def test_each_error_clears_only_by_its_own_recovery(run, row, clears, does_not_clear):
    r = idle_plugged(run)
    r("error_raised", error=row)
    for ev in does_not_clear:
        r(ev)
        assert row in r.state.errors, ev
    r(clears)
    assert row not in r.state.errors


def test_stuck_actuator_keeps_the_socket_locked_until_unlock_connector(run):
    r = charging(run)
    r("error_raised", error="actuator_stuck")
    assert r.state.lock == "closed" and r.obs.status == "Faulted"
    r("unplug")
    out = r("cable_removed")
    assert out.rule == "cable_removal_impossible" and r.state.cable == "in"
    out = r("unlock_connector")
    assert [m.label() for m in out.messages][0] == "UnlockConnector.conf(status=Unlocked)"
    assert r.state.lock == "open" and r.state.errors == frozenset()
    assert error_notification(out)["info"] == "Type 2 locking actuator recovered"
    r("cable_removed")
    assert r.obs.status == "Available"


def test_stuck_actuator_also_retries_on_hard_reset(run):
    r = charging(run)
    r("error_raised", error="actuator_stuck")
    out = r("hard_reset")
    assert r.state.errors == frozenset() and r.state.session == "idle"
    # the error ended the transaction already; the reset reboots the charger
    assert [m.action for m in out.messages] == ["Reset", "BootNotification"]
    out = r("boot_conf", status="Accepted")
    assert [m.as_dict()["errorCode"] for m in out.messages] == ["NoError"]


def test_plug_locking_failure_clears_on_replug(run):
    r = idle_plugged(run)
    r("error_raised", error="plug_locking_failed")
    r("unplug")
    assert "plug_locking_failed" in r.state.errors
    r.all("cable_removed", "plug")
    assert r.state.errors == frozenset()


def test_unlock_connector_during_a_transaction_stops_it(run):
    r = charging(run)
    out = r("unlock_connector")
    assert [m.label() for m in out.messages][:2] == [
        "UnlockConnector.conf(status=Unlocked)", "StopTransaction(reason=UnlockCommand)"]
    assert r.state.session == "finishing" and r.state.lock == "open"


def test_hard_reset_during_a_transaction_stops_it(run):
    r = charging(run)
    out = r("hard_reset")
    assert r.stop_reasons() == ["HardReset"]
    assert out.messages[0].label() == "Reset.conf(status=Accepted)"


# ---------------------------------------------------------------- several errors at once

@pytest.mark.parametrize("order", [("mcb_rearmed", "rcd_reconnected"),
                                   ("rcd_reconnected", "mcb_rearmed")])
def test_faulted_until_the_last_stopping_error_is_resolved(run, order):
    r = charging(run)
    r("error_raised", error="mcb_type2_socket_tripped")
    out = r("error_raised", error="rcd_fault")
    assert error_notification(out) == {
        "connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "info": "RCD Fault"}
    assert r.stop_reasons() == ["Other"]  # one transaction, stopped once
    by_event = {"mcb_rearmed": ("mcb_type2_socket_tripped", "MCB type 2 reconnected"),
                "rcd_reconnected": ("rcd_fault", "RCD reconnected")}
    first, second = order
    out = r(first)
    sn = error_notification(out)
    remaining = by_event[second][0]
    assert sn["status"] == "Faulted" and sn["info"] == by_event[first][1]
    assert sn["errorCode"] == SPEC.errors[remaining].ocpp_error_code
    assert r.obs.led == ERROR_LED
    out = r(second)
    sn = error_notification(out)
    assert sn["status"] == "Finishing" and sn["errorCode"] == "NoError"
    assert sn["info"] == by_event[second][1]
    assert r.obs.led == "yellow"


@pytest.mark.parametrize("order", [("spd_replaced", "contactor_repaired"),
                                   ("contactor_repaired", "spd_replaced")])
def test_a_non_stopping_error_outlives_a_stopping_one_in_either_order(run, order):
    r = idle_plugged(run)
    plugged = r.obs.status
    r.all(("error_raised", {"error": "spd_tripped"}), ("error_raised", {"error": "contactor_welded"}))
    assert r.obs.status == "Faulted"
    out = r(order[0])
    assert r.obs.status == ("Faulted" if order[0] == "spd_replaced" else plugged)
    if order[0] == "contactor_repaired":  # back to the plugged status, the SPD error rides along
        assert error_notification(out)["errorCode"] == "OtherError"
    out = r(order[1])
    assert r.state.errors == frozenset() and r.obs.status == plugged
    assert error_notification(out)["errorCode"] == "NoError"


def test_raising_an_active_error_again_changes_nothing(run):
    r = idle_plugged(run)
    r("error_raised", error="spd_tripped")
    before = r.state
    out = r("error_raised", error="spd_tripped")
    assert out.messages == () and r.state == before


# ---------------------------------------------------------------- while faulted

def test_a_faulted_connector_refuses_cards_and_remote_start(run):
    r = idle_plugged(run)
    r("error_raised", error="contactor_welded")
    out = r("rfid", uid="CARD_A")
    assert [i.name for i in out.indications] == ["card_refused"] and out.messages == ()
    out = r("remote_start", id_tag="CARD_A")
    assert [m.label() for m in out.messages] == ["RemoteStartTransaction.conf(status=Rejected)"]
    assert r.state.session == "idle"


def test_a_stopping_error_drops_a_pending_authorization(run):
    r = run()
    r(("rfid"), uid="CARD_A")
    assert r.state.session == "authorizing"
    r("error_raised", error="rcd_fault")
    assert r.state.session == "idle" and r.state.card is None
    r("authorize_conf", status="Accepted")  # the late answer is ignored
    assert r.state.session == "idle"


def test_non_stopping_errors_do_not_prevent_charging(run):
    r = idle_plugged(run)
    r("error_raised", error="rfid_reader_not_communicating")
    r.all(("remote_start", {"id_tag": "CARD_A"}), ("authorize_conf", ACCEPTED),
          "ev_request_charge")
    assert r.obs.status == "Charging"
    sn = [m.as_dict() for m in r.messages("StatusNotification")][-1]
    assert sn["errorCode"] == "ReaderFailure"  # the active error rides along


def test_a_vehicle_error_needs_a_vehicle(run):
    r = run()
    out = r("error_raised", error="vehicle_signals_error")
    assert out.rule == "vehicle_error_without_vehicle" and r.state.errors == frozenset()


def test_errors_survive_a_power_cycle_and_are_ignored_while_off(run):
    r = idle_plugged(run)
    r.all(("error_raised", {"error": "mcb_type2_socket_tripped"}), "power_loss")
    out = r("mcb_rearmed")
    assert out.rule == "unpowered_ignores_events"
    r("power_return")
    assert r.obs.status == "Faulted"


# ---------------------------------------------------------------- reporting settings

def test_without_error_status_notifications_only_the_status_is_sent(run):
    r = charging(run, send_error_status_notifications=False)
    out = r("error_raised", error="rcd_fault")
    assert error_notification(out) == {"connectorId": 1, "status": "Faulted",
                                       "errorCode": "NoError"}
    out = r("error_raised", error="spd_tripped")  # no status change: nothing at all
    assert [m.action for m in out.messages] == []


def test_backend_disconnect_shows_on_the_leds_only_when_configured(run):
    for display, led in ((False, "green"), (True, ERROR_LED)):
        r = run(display_backend_disconnect_as_error=display)
        r("error_raised", error="backend_disconnected")
        assert r.obs.led == led and r.obs.status == "Available"
        r("backend_online")
        assert r.obs.led == "green"


def test_every_error_notification_is_valid_against_the_official_schema(pairwise):
    from chargespec import ocpp16
    sent = [(f, ctx) for (action, kind, f), ctx in pairwise.messages.items()
            if action == "StatusNotification" and dict(f).get("errorCode") != "NoError"]
    assert sent, "the error exploration sent no error notification"
    for fields, (rule, ev) in sent:
        payload = ocpp16.to_payload("StatusNotification", "call", dict(fields))
        assert ocpp16.validation_errors("StatusNotification", "call", payload) == [], (rule, ev)
        d = dict(fields)
        if d["errorCode"] == "EVCommunicationError":
            assert d["status"] in EV_STATUSES
