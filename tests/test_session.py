"""The charging session, pinned scenario by scenario (manual §4, §5.1, §7.1-§7.3)."""

from __future__ import annotations

import pytest

CARD = "0a0e9b83"
START = ["plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
         "ev_request_charge"]
MODES = ["Normal", "StopOnlyByDisconnecting", "OnlyByRfidOrRemoteStop", "NormalModeDRcd"]


def charging(run, **config):
    r = run(**config).all(*START)
    assert r.obs.status == "Charging" and r.obs.contactor == "closed"
    return r


# ---------------------------------------------------------------- Stop Transaction Mode (§5.1)

@pytest.mark.parametrize("mode, ends, status, lock", [
    ("Normal", ["EVDisconnected"], "Finishing", "open"),
    ("NormalModeDRcd", ["EVDisconnected"], "Finishing", "open"),
    ("StopOnlyByDisconnecting", [], "SuspendedEV", "open"),
    ("OnlyByRfidOrRemoteStop", [], "SuspendedEV", "open"),
])
def test_unplug_at_the_car_ends_the_transaction_only_in_normal_modes(run, mode, ends, status, lock):
    r = charging(run, stop_transaction_mode=mode)
    r("unplug")
    assert r.stop_reasons() == ends
    assert r.obs.status == status and r.obs.contactor == "open" and r.state.lock == lock


@pytest.mark.parametrize("mode, ends", [
    ("Normal", ["Local"]), ("NormalModeDRcd", ["Local"]), ("OnlyByRfidOrRemoteStop", ["Local"]),
    ("StopOnlyByDisconnecting", []),
])
def test_the_same_card_ends_the_transaction_except_in_disconnect_only_mode(run, mode, ends):
    r = charging(run, stop_transaction_mode=mode)
    r("rfid", uid=CARD)
    assert r.stop_reasons() == ends
    if ends:
        stop = r.messages("StopTransaction")[0].as_dict()
        assert stop["idTag"] == CARD
        assert r.obs.status == "Finishing" and r.state.lock == "open"
    else:
        assert r.obs.status == "Charging" and r.state.lock == "closed"


@pytest.mark.parametrize("mode", MODES)
def test_another_card_never_stops_a_transaction(run, mode):
    r = charging(run, stop_transaction_mode=mode)
    r("rfid", uid="deadbeef")
    assert r.stop_reasons() == [] and r.obs.status == "Charging"


def test_disconnect_only_mode_ends_when_the_cable_leaves_the_socket(run):
    r = charging(run, stop_transaction_mode="StopOnlyByDisconnecting")
    r("unplug")
    r("cable_removed")
    assert r.stop_reasons() == ["EVDisconnected"]
    assert r.obs.status == "Available"


def test_rfid_only_mode_ignores_unplug_and_cable_removal_and_resumes_on_replug(run):
    r = charging(run, stop_transaction_mode="OnlyByRfidOrRemoteStop")
    r.all("unplug", "cable_removed")
    assert r.stop_reasons() == [] and r.obs.status == "SuspendedEV"
    r.all("plug", "ev_request_charge")
    assert r.obs.status == "Charging" and r.state.lock == "closed"
    assert len(r.messages("StartTransaction")) == 1  # the same transaction
    r.all("unplug", "cable_removed", ("rfid", {"uid": CARD}))
    assert r.stop_reasons() == ["Local"] and r.obs.status == "Available"


@pytest.mark.parametrize("mode", ["Normal", "StopOnlyByDisconnecting", "OnlyByRfidOrRemoteStop"])
def test_state_d_goes_on_charging_outside_the_mode_d_variant(run, mode):
    r = charging(run, stop_transaction_mode=mode)
    r("ev_ventilation")
    assert r.stop_reasons() == [] and r.obs.status == "Charging" and r.obs.contactor == "closed"


def test_state_d_ends_the_transaction_in_the_mode_d_variant(run):
    r = charging(run, stop_transaction_mode="NormalModeDRcd")
    r("ev_ventilation")
    assert r.stop_reasons() == ["Other"]
    assert r.obs.status == "Finishing" and r.obs.contactor == "open" and r.state.lock == "open"


@pytest.mark.parametrize("mode", MODES)
def test_remote_stop_ends_the_transaction_in_every_mode(run, mode):
    r = charging(run, stop_transaction_mode=mode)
    out = r("remote_stop", transaction="current")
    assert [(m.action, m.kind, m.as_dict()) for m in out.messages][:2] == [
        ("RemoteStopTransaction", "result", {"status": "Accepted"}),
        ("StopTransaction", "call", {"reason": "Remote"})]
    assert r.obs.status == "Finishing"


def test_remote_stop_for_another_transaction_is_rejected(run):
    r = charging(run)
    out = r("remote_stop", transaction="other")
    assert out.messages[0].as_dict() == {"status": "Rejected"} and r.obs.status == "Charging"


def test_remote_stop_without_transaction_is_rejected(run):
    out = run()("remote_stop", transaction="current")
    assert out.messages[0].action == "RemoteStopTransaction"
    assert out.messages[0].as_dict() == {"status": "Rejected"}


# ---------------------------------------------------------------- status strategy (§4)

def test_occupied_on_charging_stays_available_until_plug_and_authorization(run):
    r = run(status_notification_strategy="OccupiedOnCharging")
    r("plug")
    assert r.obs.status == "Available"
    r("rfid", uid=CARD)
    assert r.obs.status == "Available"
    r("authorize_conf", status="Accepted")
    assert r.obs.status == "Preparing"


def test_occupied_on_authorized_or_plugged_shows_preparing_when_either_holds(run):
    plugged = run(status_notification_strategy="OccupiedOnAuthorizedOrPlugged")
    plugged("plug")
    assert plugged.obs.status == "Preparing"
    assert plugged.statuses_sent() == ["Preparing"]
    carded = run(status_notification_strategy="OccupiedOnAuthorizedOrPlugged")
    carded("rfid", uid=CARD)
    assert carded.obs.status == "Preparing"
    carded("authorize_conf", status="Accepted")
    assert carded.obs.status == "Preparing"
    carded("connection_timeout")
    assert carded.obs.status == "Available"
    assert carded.statuses_sent() == ["Preparing", "Available"]


# ---------------------------------------------------------------- Preparing until state C (§4)

def test_preparing_until_state_c_on_keeps_preparing_in_state_b(run):
    r = run(preparing_until_state_c=True).all(*START[:3])
    assert r.obs.status == "Preparing" and r.obs.offered_current == 32
    r("ev_request_charge")
    assert r.statuses_sent() == ["Preparing", "Charging"]


def test_preparing_until_state_c_off_reports_charging_in_state_b(run):
    r = run(preparing_until_state_c=False).all(*START[:3])
    assert r.obs.status == "Charging" and r.obs.contactor == "open"
    r("ev_request_charge")
    assert r.statuses_sent() == ["Charging"]


@pytest.mark.parametrize("preparing", [True, False])
def test_an_ev_pause_after_charging_is_suspended_ev(run, preparing):
    r = charging(run, preparing_until_state_c=preparing)
    r("ev_pause")
    assert r.obs.status == "SuspendedEV" and r.obs.contactor == "open"
    r("ev_request_charge")
    assert r.obs.status == "Charging"


# ---------------------------------------------------------------- Lock Actuator only if authorized (§5.1)

def test_lock_closes_at_plug_in_when_lock_only_if_authorized_is_off(run):
    r = run(lock_actuator_only_if_authorized=False)
    r("plug")
    assert r.state.lock == "closed"
    r("cable_removed")  # the actuator holds the cable
    assert r.state.cable == "in"


def test_lock_waits_for_authorization_when_lock_only_if_authorized_is_on(run):
    r = run(lock_actuator_only_if_authorized=True)
    r("plug")
    assert r.state.lock == "open"
    r.all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Invalid"}))
    assert r.state.lock == "open"
    r.all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}))
    assert r.state.lock == "closed"


def test_unplug_without_transaction_releases_the_lock(run):
    r = run(lock_actuator_only_if_authorized=False).all("plug", "unplug", "cable_removed")
    assert r.state.cable == "out" and r.state.lock == "open"


# ---------------------------------------------------------------- Vehicle connection timeout (§5.1)

def test_vehicle_connection_timeout_expires_an_unused_authorization(run):
    r = run().all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}))
    assert r.state.session == "authorized" and r.obs.led == "blue_flash_0_5s"
    r("connection_timeout")
    assert r.state.session == "idle" and r.obs.led == "green"
    r("plug")
    assert r.messages("StartTransaction") == []


def test_plugging_in_before_the_timeout_starts_the_transaction(run):
    r = run().all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}), "plug")
    assert [m.as_dict() for m in r.messages("StartTransaction")] == [{"connectorId": 1, "idTag": CARD}]
    r("connection_timeout")
    assert r.state.session == "transaction"


def test_the_same_card_cancels_an_authorization_before_plug_in(run):
    r = run().all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
                  ("rfid", {"uid": CARD}), "plug")
    assert r.state.session == "idle" and r.messages("StartTransaction") == []


# ---------------------------------------------------------------- authorization (plain case)

def test_refused_card_flashes_and_starts_nothing(run):
    r = run()
    r("plug")
    r("rfid", uid=CARD)
    assert r.obs.led == "white_rotating"
    out = r("authorize_conf", status="Blocked")
    assert [i.name for i in out.indications] == ["card_refused"]
    assert r.state.session == "idle" and r.messages("StartTransaction") == []


def test_backend_timeout_refuses_the_card(run):
    r = run().all("plug", ("rfid", {"uid": CARD}))
    out = r("authorize_timeout")
    assert [i.name for i in out.indications] == ["card_refused"] and r.state.session == "idle"


def test_local_whitelist_authorizes_without_asking_the_backend(run):
    r = run(enable_local_whitelist=True, local_whitelist=[CARD]).all("plug", ("rfid", {"uid": CARD}))
    assert r.messages("Authorize") == []
    assert [m.as_dict()["idTag"] for m in r.messages("StartTransaction")] == [CARD]


def test_local_whitelist_is_ignored_when_disabled(run):
    r = run(enable_local_whitelist=False, local_whitelist=[CARD]).all("plug", ("rfid", {"uid": CARD}))
    assert [m.as_dict() for m in r.messages("Authorize")] == [{"idTag": CARD}]


def test_start_transaction_refused_by_backend_deauthorizes(run):
    r = charging(run)
    r("start_tx_conf", status="Invalid")
    assert r.stop_reasons() == ["DeAuthorized"] and r.obs.contactor == "open"


@pytest.mark.parametrize("send_authorize, first", [(True, "Authorize"), (False, "StartTransaction")])
def test_remote_start_asks_authorize_only_when_configured(run, send_authorize, first):
    r = run(send_authorize_for_remote_start=send_authorize)
    r("plug")
    out = r("remote_start", id_tag="remote-1")
    assert out.messages[0].as_dict() == {"status": "Accepted"}
    assert out.messages[1].action == first
    assert out.messages[1].as_dict()["idTag"] == "remote-1"


def test_remote_start_while_busy_is_rejected(run):
    r = charging(run)
    out = r("remote_start", id_tag="other")
    assert out.messages == (out.messages[0],) and out.messages[0].as_dict() == {"status": "Rejected"}


# ---------------------------------------------------------------- power loss (§4)

def test_power_loss_with_restart_on_resumes_the_same_transaction(run):
    r = charging(run, restart_transaction_after_power_loss=True)
    r("power_loss")
    assert r.obs.contactor == "open" and r.obs.pilot == "E" and r.obs.led == "off"
    assert r.messages("StatusNotification")[-1].as_dict()["status"] == "Charging"
    out = r("power_return")
    assert r.stop_reasons() == [] and r.obs.status == "Charging"
    assert [m.action for m in out.messages] == ["BootNotification"]
    out = r("boot_conf", status="Accepted")
    assert [m.as_dict()["status"] for m in out.messages] == ["Charging"]  # reported after boot


def test_power_loss_with_restart_off_stops_with_reason_power_loss(run):
    r = charging(run, restart_transaction_after_power_loss=False)
    r.all("power_loss", "power_return")
    assert r.stop_reasons() == ["PowerLoss"] and r.obs.status == "Finishing"
    r("rfid", uid=CARD)  # the old authorization is gone; a new session needs a new plug-in
    assert len(r.messages("Authorize")) == 1 and r.state.session == "finishing"


def test_events_during_a_power_loss_are_not_observed(run):
    r = charging(run).all("power_loss", "unplug", ("rfid", {"uid": CARD}))
    assert r.state.cp == "C" and r.stop_reasons() == []


def test_power_loss_drops_a_pending_authorization(run):
    r = run().all(("rfid", {"uid": CARD}), "power_loss", "power_return",
                  ("authorize_conf", {"status": "Accepted"}))
    assert r.state.session == "idle" and r.state.card is None


# ---------------------------------------------------------------- current, pilot, ISO 15118 (§7.1-§7.3)

@pytest.mark.parametrize("limits, offered, duty", [
    ({}, 32, 53.3),
    ({"operator_current_limit": 16}, 16, 26.7),
    ({"installation_current_limit": 20}, 20, 33.3),
    ({"maximum_current": 6}, 6, 10.0),
    ({"operator_current_limit": 5}, 0, 100.0),
])
def test_offered_current_is_the_lowest_limit(run, limits, offered, duty):
    r = run(**limits).all(*START)
    assert r.obs.offered_current == offered and r.obs.duty_cycle == duty
    assert r.obs.status == ("Charging" if offered else "SuspendedEVSE")


def test_new_operator_limit_during_charging_changes_the_offer(run):
    r = charging(run)
    r("set_operator_limit", amps=10)
    assert r.obs.offered_current == 10 and r.obs.duty_cycle == 16.7
    r("set_operator_limit", amps=0)
    assert r.obs.status == "SuspendedEVSE" and r.obs.contactor == "open"
    r("set_operator_limit", amps=32)
    assert r.obs.status == "Charging"
    assert r.statuses_sent() == ["Preparing", "Charging", "SuspendedEVSE", "Charging"]


def test_load_management_below_six_amps_suspends_by_the_evse(run):
    r = charging(run)
    r("set_load_limit", amps=5)
    assert r.obs.status == "SuspendedEVSE" and r.obs.duty_cycle == 100.0


@pytest.mark.parametrize("mode, at_plug, after_2s", [
    ("Off", 100.0, 100.0), ("Encouragement", 5.0, 100.0), ("Offer", 100.0, 100.0),
    ("Force", 5.0, 5.0), ("Ed2", 100.0, 100.0)])
def test_hlc_mode_shapes_the_duty_cycle_before_authorization(run, mode, at_plug, after_2s):
    r = run(hlc_mode=mode)
    r("plug")
    assert r.obs.duty_cycle == at_plug
    r("hlc_timer")
    assert r.obs.duty_cycle == after_2s


@pytest.mark.parametrize("mode, charging_duty", [("Encouragement", 53.3), ("Force", 5.0),
                                                  ("Offer", 53.3)])
def test_hlc_mode_while_charging(run, mode, charging_duty):
    r = run(hlc_mode=mode).all(*START, "hlc_timer")
    assert r.obs.duty_cycle == charging_duty and r.obs.offered_current == 32


def test_pilot_short_opens_the_contactor_without_ending_the_transaction(run):
    r = charging(run)
    r("pilot_short")
    assert r.obs.contactor == "open" and r.obs.status == "SuspendedEV" and r.obs.pilot == "E"
    r.all("pilot_restored", "ev_request_charge")
    assert r.obs.status == "Charging" and r.stop_reasons() == []
