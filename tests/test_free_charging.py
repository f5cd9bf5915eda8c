"""Free Charging (§5.2): each of the six modes, distinguished from its neighbours by a scenario.

Each test runs the same session (plug in, maybe a card, the vehicle charges, the same card or an
unplug ends it) and asserts what the backend receives (which messages, with which idTag), the
status, the contactor and the LED.  The mode table itself is spec/free_charging.yaml.
"""

from __future__ import annotations

import pytest

from test_loader import spec_copy  # noqa: F401 - fixture

FIXED = "FREE-TAG-1"


def actions(r):
    return [m.action for m in r.messages()]


def free(run, mode, **config):
    return run(free_charging=True, free_charging_mode=mode, free_charging_rfid_tag=FIXED,
               **config)


def test_the_table_has_the_six_modes_in_drop_down_order(spec):
    pol = spec.policies["free_charging"]
    assert list(pol.rows) == ["NoOcpp", "StatusNotifWithoutAuth", "StatusNotifWithAuth",
                              "FullFixedRfidWithAuth", "FullFixedRfidWithoutAuth", "FullAnyRfid"]
    assert [(r.values["ocpp"], r.values["start"], r.values["id_tag"]) for r in pol.rows.values()] == [
        ("none", "plug", "none"), ("status", "plug", "none"), ("status", "card", "none"),
        ("full", "card", "fixed"), ("full", "plug", "fixed"), ("full", "card", "card")]


def test_mode_1_charges_on_plug_in_and_sends_nothing(run):
    r = free(run, "NoOcpp")
    r.all("plug", "ev_request_charge")
    assert r.obs.status == "Charging" and r.obs.contactor == "closed" and r.obs.led == "blue_flash_2s"
    r("remote_stop", transaction="current")
    r("unplug")
    assert r.messages() == [] and r.state.session == "finishing"


def test_mode_2_sends_status_notifications_only_and_starts_on_plug_in(run):
    r = free(run, "StatusNotifWithoutAuth")
    r.all("plug", "ev_request_charge")
    assert r.obs.contactor == "closed"
    assert set(actions(r)) == {"StatusNotification"}
    out = r("remote_stop", transaction="current")
    assert [m.label() for m in out.messages] == ["RemoteStopTransaction.conf(status=Rejected)"]
    r("unplug")
    assert set(actions(r)) == {"StatusNotification", "RemoteStopTransaction"}
    assert r.statuses_sent()[-1] == "Finishing"


def test_mode_3_needs_any_card_and_the_same_card_ends(run):
    r = free(run, "StatusNotifWithAuth")
    r.all("plug", "ev_request_charge")
    assert r.obs.contactor == "open" and r.state.session == "idle"
    r("rfid", uid="ANY_CARD")
    assert r.obs.contactor == "closed" and r.obs.status == "Charging"
    r("rfid", uid="OTHER_CARD")
    assert r.state.session == "transaction"
    r("rfid", uid="ANY_CARD")
    assert r.state.session == "finishing"
    assert set(actions(r)) == {"StatusNotification"}  # never Authorize, never a transaction


def test_mode_4_fixed_tag_any_card_starts_only_that_card_stops(run):
    r = free(run, "FullFixedRfidWithAuth")
    r.all("plug", ("rfid", {"uid": "ANY_CARD"}), "ev_request_charge")
    starts = [m.as_dict() for m in r.messages("StartTransaction")]
    assert starts == [{"connectorId": 1, "idTag": FIXED}]
    assert "Authorize" not in actions(r)
    r("rfid", uid="OTHER_CARD")
    assert r.state.session == "transaction"
    r("rfid", uid="ANY_CARD")
    assert [m.as_dict() for m in r.messages("StopTransaction")] == [
        {"reason": "Local", "idTag": FIXED}]


def test_mode_4_accepts_remote_stop_of_its_transaction(run):
    r = free(run, "FullFixedRfidWithAuth")
    r.all("plug", ("rfid", {"uid": "ANY_CARD"}))
    out = r("remote_stop", transaction="current")
    assert out.messages[0].label() == "RemoteStopTransaction.conf(status=Accepted)"
    assert r.stop_reasons() == ["Remote"]


def test_mode_5_fixed_tag_starts_on_plug_in(run):
    r = free(run, "FullFixedRfidWithoutAuth")
    r("plug")
    assert [m.as_dict() for m in r.messages("StartTransaction")] == [
        {"connectorId": 1, "idTag": FIXED}]
    r.all("ev_request_charge", "unplug")
    assert r.stop_reasons() == ["EVDisconnected"]


def test_mode_6_uses_the_cards_uid_as_id_tag(run):
    r = free(run, "FullAnyRfid")
    r.all(("rfid", {"uid": "CARD_B"}), "plug", "ev_request_charge")
    assert [m.as_dict() for m in r.messages("StartTransaction")] == [
        {"connectorId": 1, "idTag": "CARD_B"}]
    assert "Authorize" not in actions(r)
    r("rfid", uid="CARD_B")
    assert [m.as_dict() for m in r.messages("StopTransaction")] == [
        {"reason": "Local", "idTag": "CARD_B"}]


@pytest.mark.parametrize("mode", ["NoOcpp", "StatusNotifWithoutAuth", "StatusNotifWithAuth",
                                  "FullFixedRfidWithAuth", "FullFixedRfidWithoutAuth",
                                  "FullAnyRfid"])
def test_free_charging_never_asks_the_backend_and_rejects_remote_start(run, mode):
    r = free(run, mode)
    out = r("remote_start", id_tag="CARD_A")
    expected = [] if mode == "NoOcpp" else ["RemoteStartTransaction.conf(status=Rejected)"]
    assert [m.label() for m in out.messages] == expected
    r.all(("rfid", {"uid": "CARD_A"}), "plug", "ev_request_charge")
    assert r.obs.contactor == "closed"
    assert "Authorize" not in actions(r)


@pytest.mark.parametrize("mode", ["NoOcpp", "StatusNotifWithoutAuth", "StatusNotifWithAuth",
                                  "FullFixedRfidWithAuth", "FullFixedRfidWithoutAuth",
                                  "FullAnyRfid"])
@pytest.mark.parametrize("restart", ["power", "soft_reset", "hard_reset"])
def test_every_mode_charges_again_after_a_restart(run, mode, restart):
    """§5.2, "After the restart, everyone can charge freely": a power cut or a reset, then (a
    backend answering the BootNotification, if the mode speaks OCPP at all) the vehicle
    charges.  Mode 1 sends no BootNotification and waits for no answer (BOOT-REGISTRATION);
    found when the virtual charge point, rebooted per test, never charged in mode 1."""
    r = free(run, mode)
    out = r.all("power_loss", "power_return") if restart == "power" else r(restart)
    booted = "BootNotification" in actions(r)
    assert booted == (mode != "NoOcpp")
    if booted:
        r("boot_conf", status="Accepted")
    r.all("plug", ("rfid", {"uid": "ANY_CARD"}), "ev_request_charge")
    assert r.obs.status == "Charging" and r.obs.contactor == "closed", (mode, restart, out)


def test_free_charging_off_ignores_the_mode(run):
    r = run(free_charging=False, free_charging_mode="NoOcpp")
    r.all("plug", "ev_request_charge")
    assert r.obs.contactor == "open" and r.state.session == "idle"


def test_a_faulted_connector_does_not_charge_for_free(run):
    r = free(run, "NoOcpp")
    r("error_raised", error="rcd_fault")
    r.all("plug", "ev_request_charge")
    assert r.obs.contactor == "open" and r.obs.status == "Faulted"


def test_a_policy_row_with_an_unknown_value_is_a_load_error(spec_copy):
    from chargespec.errors import SpecError
    from chargespec.loader import load_spec
    path = spec_copy / "free_charging.yaml"
    path.write_text(path.read_text().replace("    id_tag: card\n", "    id_tag: uid\n"))
    with pytest.raises(SpecError, match=r"free_charging.yaml:\d+: policy free_charging, row "
                                        r"FullAnyRfid: id_tag = 'uid' is not one of"):
        load_spec(spec_copy)
