"""The charger's registration with the backend (OCPP 1.6 §4.2, interpretation BOOT-REGISTRATION):
BootNotification after every boot (power return, Reset Hard and Soft), nothing but
BootNotification until the backend answers Accepted, Pending and Rejected retried after their
interval, the connector's status sent once Accepted, Heartbeat only while Accepted; and
DataTransfer (DATA-TRANSFER), answered UnknownVendorId."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from chargespec.checkers.explore import all_events

CARD = "0a0e9b83"
BOOT = [("boot_conf", {"status": "Accepted"})]
PENDING = ("boot_conf", {"status": "Pending"})
REJECTED = ("boot_conf", {"status": "Rejected"})
REBOOTS = [["power_loss", "power_return"], ["hard_reset"], ["soft_reset"]]
# what a charger may send before the backend has accepted it: the BootNotification, the answers
# to the backend's requests, and the StopTransaction of a transaction that was already running
BEFORE_ACCEPTED = {"BootNotification", "StopTransaction"}


def actions(out):
    return [(m.action, m.kind) for m in out.messages]


def requests(r, since=0):
    return [m.action for _, _, out in r.steps[since:] for m in out.messages
            if m.kind != "result"]


@pytest.mark.parametrize("events", REBOOTS)
def test_every_boot_sends_boot_notification_and_the_status_waits_for_accepted(run, events):
    r = run().all(*events)
    assert requests(r)[-1:] == ["BootNotification"] and r.statuses_sent() == []
    assert r.state.registration == "Booting"
    out = r(*BOOT[0][:1], **BOOT[0][1])
    assert actions(out) == [("StatusNotification", "call")]
    assert r.statuses_sent() == ["Available"] and r.state.registration == "Accepted"


def test_a_reset_stops_the_transaction_before_the_boot_notification(run):
    r = run().all("plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}))
    out = r("hard_reset")
    assert [m.action for m in out.messages] == ["Reset", "StopTransaction", "BootNotification"]
    assert r.stop_reasons() == ["HardReset"]


def test_power_loss_stop_is_sent_with_the_boot(run):
    r = run(restart_transaction_after_power_loss=False).all("plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
                  "ev_request_charge", "power_loss")
    out = r("power_return")
    assert [m.action for m in out.messages] == ["BootNotification", "StopTransaction"]
    assert r.stop_reasons() == ["PowerLoss"] and r.obs.status == "Finishing"
    r.all(*BOOT)
    assert r.statuses_sent()[-1] == "Finishing"


@pytest.mark.parametrize("answer", [PENDING, REJECTED])
def test_pending_and_rejected_take_no_user_and_send_nothing_but_boot(run, answer):
    r = run(send_authorize_for_remote_start=False).all("power_loss", "power_return", answer)
    assert r.state.registration == answer[1]["status"]
    n = len(r.steps)
    out = r("rfid", uid=CARD)
    assert out.indications and out.indications[0].name == "card_refused"
    r.all("plug", "ev_request_charge")
    assert r.obs.contactor == "open" and r.state.session == "idle"
    r.all(("remote_start", {"id_tag": CARD}), ("reserve_now", {"id_tag": CARD}),
          ("trigger_message", {"requested": "StatusNotification"}),
          ("trigger_message", {"requested": "Heartbeat"}), "heartbeat_timer")
    assert [m.as_dict()["status"] for _, _, o in r.steps[n:] for m in o.messages
            if m.kind == "result"] == ["Rejected", "Unavailable", "Rejected", "Rejected"]
    assert requests(r, n) == []
    out = r("boot_retry_timer")
    assert [m.action for m in out.messages] == ["BootNotification"]
    assert r.state.registration == "Booting"
    r.all(*BOOT)
    # accepted: the status of the moment (a vehicle is plugged in), then cards work again
    assert r.statuses_sent() == ["Available"] or r.statuses_sent() == ["Preparing"]
    r.all(("rfid", {"uid": CARD}))
    assert requests(r)[-1] == "Authorize"


def test_a_triggered_boot_notification_ends_the_wait(run):
    r = run().all("power_loss", "power_return", PENDING)
    out = r("trigger_message", requested="BootNotification")
    assert [(m.action, m.kind) for m in out.messages] == [
        ("TriggerMessage", "result"), ("BootNotification", "call")]
    assert r.state.registration == "Booting"
    r.all(*BOOT)
    assert r.state.registration == "Accepted" and r.statuses_sent() == ["Available"]


def test_an_accepted_charger_ignores_answers_it_does_not_wait_for(run):
    r = run().all(("trigger_message", {"requested": "BootNotification"}), REJECTED,
                  "boot_retry_timer")
    assert r.state.registration == "Accepted"
    assert requests(r) == ["BootNotification"]


@pytest.mark.parametrize("answer", [PENDING, REJECTED, None])
def test_heartbeat_only_while_accepted(run, answer):
    r = run().all("power_loss", "power_return", *([answer] if answer else []))
    assert r("heartbeat_timer").messages == ()
    r.all(*([] if answer is None else ["boot_retry_timer"]), *BOOT)
    assert [m.action for m in r("heartbeat_timer").messages] == ["Heartbeat"]


def test_the_status_sent_at_acceptance_is_the_one_of_that_moment(run):
    r = run(status_notification_strategy="OccupiedOnAuthorizedOrPlugged").all(
        "power_loss", "power_return", "plug", "unplug", "plug")
    assert r.statuses_sent() == []
    r.all(*BOOT)
    assert r.statuses_sent() == ["Preparing"]


def test_a_resumed_transaction_ends_before_acceptance_and_its_stop_is_queued(run):
    r = run(restart_transaction_after_power_loss=True).all(
        "plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
        "ev_request_charge", "power_loss", "power_return")
    assert r.state.session == "transaction" and r.state.registration == "Booting"
    assert r.obs.contactor == "closed"  # the charge goes on
    out = r("unplug")
    assert [m.action for m in out.messages] == ["StopTransaction"]
    assert r.stop_reasons() == ["EVDisconnected"]
    n = len(r.statuses_sent())
    r.all(*BOOT)
    assert r.statuses_sent()[n:] == ["Finishing"]


def test_an_immediate_plug_in_charge_refuses_a_card_until_accepted(run):
    r = run(if_in_doubt_allow_charging="ImmediatePlugIn").all(
        ("error_raised", {"error": "backend_disconnected"}), "plug", "ev_request_charge")
    assert r.state.session == "provisional"
    r.all("power_loss", "power_return")
    out = r("rfid", uid=CARD)
    assert out.indications[0].name == "card_refused" and r.state.session == "provisional"
    r.all(*BOOT, ("rfid", {"uid": CARD}))
    assert r.state.session == "transaction"


def test_without_a_backend_there_is_nothing_to_wait_for(run):
    r = run(connection_type="NoBackend", if_in_doubt_allow_charging="On").all(
        "power_loss", "power_return", "plug", ("rfid", {"uid": CARD}), "ev_request_charge")
    assert r.state.registration == "Booting"  # no answer ever comes
    assert r.obs.contactor == "closed" and r.state.session == "transaction"


def test_backend_requests_are_answered_while_pending(run):
    r = run().all("power_loss", "power_return", PENDING,
                  ("change_availability", {"type": "Inoperative"}), "clear_cache")
    assert [m.action for m in r.messages() if m.kind == "result"] == [
        "ChangeAvailability", "ClearCache"]
    assert r.state.availability == "Inoperative"


def test_data_transfer_is_answered_unknown_vendor_and_changes_nothing(run):
    r = run().all("plug")
    before = r.state
    out = r("data_transfer")
    assert [(m.action, m.kind, m.as_dict()) for m in out.messages] == [
        ("DataTransfer", "result", {"status": "UnknownVendorId"})]
    assert r.state == before
    r.all("power_loss")
    assert r("data_transfer").messages == ()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_nothing_but_boot_notification_until_accepted(engine, data):
    """For all event sequences after a reboot: while the backend has not accepted the charger,
    every request it sends is a BootNotification or the StopTransaction of a transaction that
    ran before the reboot, and it starts no transaction."""
    events = [e for e in all_events(engine)
              if e.name not in ("boot_conf", "trigger_message")
              or e.label() != "boot_conf(status=Accepted)"]
    config = engine.config({"restart_transaction_after_power_loss": True,
                            "if_in_doubt_allow_charging": "On"})
    state = engine.initial(config)
    for name in ("plug", "power_loss", "power_return"):
        state, _ = engine.step(config, state, engine.event(name))
    for ev in data.draw(st.lists(st.sampled_from(events), max_size=25)):
        before = state
        state, out = engine.step(config, state, ev)
        if state.registration == "Accepted":
            continue
        sent = [m.action for m in out.messages if m.kind != "result"]
        assert set(sent) <= BEFORE_ACCEPTED, (ev.label(), sent)
        assert not (before.session != "transaction" and state.session == "transaction")
