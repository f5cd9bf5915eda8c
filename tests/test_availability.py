"""ChangeAvailability (OCPP 1.6 §5.2, interpretation AVAILABILITY): Operative and Inoperative on a
free connector, during a transaction (Scheduled), with an authorization waiting; what an
Inoperative connector refuses; the setting across power loss and resets; the one status change
OCPP's table lacks (Preparing -> Unavailable) reported through Available."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from chargespec.checkers.explore import all_events, parameter_values, parameters_read
from chargespec.models.step import Engine

CARD = "0a0e9b83"
PLUGGED = "OccupiedOnAuthorizedOrPlugged"
OFF = ("change_availability", {"type": "Inoperative"})
ON = ("change_availability", {"type": "Operative"})


def answers(r, action="ChangeAvailability"):
    return [m.as_dict()["status"] for m in r.messages(action) if m.kind == "result"]


@pytest.mark.parametrize("strategy", ["OccupiedOnCharging", PLUGGED])
def test_inoperative_on_a_free_connector_is_unavailable_at_once(run, strategy):
    r = run(status_notification_strategy=strategy).all(OFF)
    assert answers(r) == ["Accepted"]
    assert r.statuses_sent() == ["Unavailable"]
    assert r.obs.led == "green_yellow_blue_flashing" and r.state.availability == "Inoperative"
    r.all(ON)
    assert answers(r) == ["Accepted", "Accepted"]
    assert r.statuses_sent() == ["Unavailable", "Available"] and r.obs.led == "green"


def test_the_state_it_is_in_is_accepted_without_a_notification(run):
    r = run().all(ON)
    assert answers(r) == ["Accepted"] and r.statuses_sent() == []
    r.all(OFF, OFF)
    assert answers(r) == ["Accepted"] * 3 and r.statuses_sent() == ["Unavailable"]


def test_preparing_reports_available_before_unavailable(run, engine):
    """OCPP 1.6's table has no Preparing -> Unavailable: the connector reports Available (B1)
    and then Unavailable (A8) in the same step."""
    r = run(status_notification_strategy=PLUGGED).all("plug")
    assert r.statuses_sent() == ["Preparing"]
    r.all(OFF)
    assert r.statuses_sent() == ["Preparing", "Available", "Unavailable"]
    sent = r.statuses_sent()
    table = engine.spec.status_table
    assert all(table.permits(a, b) for a, b in zip(sent, sent[1:]))
    assert not table.permits("Preparing", "Unavailable") and \
        table.via[("Preparing", "Unavailable")] == "Available"
    r.all(ON)  # plugged again available: Unavailable -> Preparing (H2)
    assert r.statuses_sent()[-1] == "Preparing"


@pytest.mark.parametrize("strategy, sent", [
    ("OccupiedOnCharging", ["Unavailable"]),
    (PLUGGED, ["Preparing", "Available", "Unavailable"]),
])
def test_an_authorization_waiting_for_the_vehicle_is_given_up(run, strategy, sent):
    r = run(status_notification_strategy=strategy, send_authorize_for_remote_start=False).all(
        ("remote_start", {"id_tag": CARD}))
    assert r.state.session == "authorized"
    r.all(OFF)
    assert answers(r) == ["Accepted"] and r.state.session == "idle" and r.state.card is None
    assert r.statuses_sent() == sent
    r.all("plug", "ev_request_charge")
    assert r.messages("StartTransaction") == [] and r.obs.contactor == "open"


def test_an_authorization_asked_for_is_given_up_and_its_answer_ignored(run):
    r = run().all("plug", ("rfid", {"uid": CARD}), OFF, ("authorize_conf", {"status": "Accepted"}))
    assert answers(r) == ["Accepted"] and r.state.session == "idle"
    assert r.messages("StartTransaction") == [] and r.obs.status == "Unavailable"


def test_inoperative_during_a_transaction_is_scheduled_until_it_ends(run):
    r = run().all("plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
                  "ev_request_charge", OFF)
    assert answers(r) == ["Scheduled"]
    assert r.obs.status == "Charging" and r.obs.contactor == "closed"  # the charge goes on
    r.all("unplug")
    assert r.stop_reasons() == ["EVDisconnected"] and r.obs.status == "Finishing"
    r.all("cable_removed")
    assert r.statuses_sent()[-2:] == ["Finishing", "Unavailable"]
    r.all("plug", ("rfid", {"uid": CARD}))
    assert r.messages("Authorize") and len(r.messages("Authorize")) == 1  # no new session


def test_a_scheduled_change_is_cancelled_by_operative(run):
    r = run().all("plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
                  "ev_request_charge", OFF, ON, "unplug", "cable_removed")
    assert answers(r) == ["Scheduled", "Accepted"]
    assert "Unavailable" not in r.statuses_sent() and r.obs.status == "Available"


def test_an_immediate_plug_in_charge_is_scheduled_too(run):
    r = run(if_in_doubt_allow_charging="ImmediatePlugIn").all(
        ("error_raised", {"error": "backend_disconnected"}), "plug", "ev_request_charge", OFF)
    assert r.state.session == "provisional" and answers(r) == ["Scheduled"]
    assert r.obs.contactor == "closed"


@pytest.mark.parametrize("config, events, check", [
    ({}, [("rfid", {"uid": CARD})],
     lambda r: r.steps[-1][2].indications and not r.messages("Authorize")),
    ({}, [("remote_start", {"id_tag": CARD})],
     lambda r: answers(r, "RemoteStartTransaction") == ["Rejected"]),
    ({}, [("reserve_now", {"id_tag": CARD})],
     lambda r: answers(r, "ReserveNow") == ["Unavailable"] and r.state.reserved_for is None),
    ({"free_charging": True, "free_charging_mode": "FullFixedRfidWithoutAuth"},
     ["plug", "ev_request_charge"],
     lambda r: not r.messages("StartTransaction") and r.obs.contactor == "open"),
    ({"if_in_doubt_allow_charging": "ImmediatePlugIn"},
     [("error_raised", {"error": "backend_disconnected"}), "plug", "ev_request_charge"],
     lambda r: r.state.session == "idle" and r.obs.contactor == "open"),
    ({"enable_local_whitelist": True, "local_whitelist": [CARD]},
     ["plug", ("rfid", {"uid": CARD})],
     lambda r: not r.messages("StartTransaction") and r.obs.status == "Unavailable"),
])
def test_an_inoperative_connector_takes_no_new_user(run, config, events, check):
    r = run(**config).all(OFF, *events)
    assert check(r), [(ev.label(), out.rule) for ev, _, out in r.steps]


def test_a_reservation_is_given_up(run):
    r = run().all(("reserve_now", {"id_tag": CARD}), OFF)
    assert r.state.reserved_for is None and r.statuses_sent() == ["Reserved", "Unavailable"]


@pytest.mark.parametrize("events", [["power_loss", "power_return"], ["hard_reset"],
                                    ["soft_reset"]])
def test_the_setting_survives_a_reboot(run, events):
    r = run().all(OFF, *events)
    assert r.state.availability == "Inoperative" and r.obs.status == "Unavailable"
    r.all(ON)
    assert r.obs.status == "Available"


def test_faulted_takes_precedence_and_unavailable_follows_the_repair(run):
    r = run().all(("error_raised", {"error": "rcd_fault"}), OFF)
    assert r.obs.status == "Faulted" and answers(r) == ["Accepted"]
    r.all("rcd_reconnected")
    assert r.statuses_sent() == ["Faulted", "Unavailable"]


def test_nothing_is_answered_without_power(run):
    r = run().all("power_loss", OFF)
    assert answers(r) == [] and r.state.availability == "Operative"


ENGINE = Engine()
EVENTS = all_events(ENGINE)
PARAMS = parameters_read(ENGINE)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_for_all_configurations_and_runs_the_statuses_sent_follow_the_table(data):
    """For every configuration and event sequence: the StatusNotifications a run sends, one
    after the other, are each allowed by OCPP 1.6's table (the Available a ChangeAvailability
    inserts after Preparing included), and the connector is Unavailable exactly while it is set
    Inoperative, idle and not Faulted."""
    engine = ENGINE
    config = engine.config({p: data.draw(st.sampled_from(parameter_values(engine, p)), label=p)
                            for p in PARAMS})
    table = engine.spec.status_table
    state = engine.initial(config)
    last = state.status
    weighted = st.one_of(st.sampled_from(EVENTS),
                         st.sampled_from([engine.event(*OFF[:1], **OFF[1]),
                                          engine.event(*ON[:1], **ON[1])]))
    for ev in data.draw(st.lists(weighted, max_size=40), label="run"):
        state, out = engine.step(config, state, ev)
        for m in out.messages:
            if m.action == "StatusNotification":
                status = m.as_dict()["status"]
                assert table.permits(last, status), (last, status, ev.label(), out.rule)
                last = status
        faulted = bool(state.errors & engine.spec.constants["faulting_errors"][1])
        assert (state.status == "Unavailable") == (
            state.availability == "Inoperative" and state.session == "idle" and not faulted)
