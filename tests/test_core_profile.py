"""OCPP 1.6 Core operations beyond the session's own: StopTransactionOnInvalidId (§9.1.28,
interpretation START-TX-INVALID: a StartTransaction.conf that is not Accepted ends the
transaction, or, when false, only stops the energy until the transaction ends in one of the usual
ways) and UnlockConnector's outcomes (§5.17, ERR-UNLOCK-RESET).  ChangeAvailability has its own
file (test_availability.py)."""

from __future__ import annotations

import pytest

CARD = "0a0e9b83"
OFFLINE_START = [("error_raised", {"error": "backend_disconnected"}), "plug",
                 ("rfid", {"uid": CARD}), "ev_request_charge", "backend_online"]
CONFIG = {"if_in_doubt_allow_charging": "On", "enable_ocpp_whitelist": True}


@pytest.mark.parametrize("status", ["Invalid", "Blocked", "Expired", "ConcurrentTx"])
def test_true_stops_the_transaction_deauthorized(run, status):
    r = run(**CONFIG).all(*OFFLINE_START, ("start_tx_conf", {"status": status}))
    assert r.stop_reasons() == ["DeAuthorized"] and r.state.session == "finishing"


@pytest.mark.parametrize("status", ["Invalid", "Blocked", "Expired", "ConcurrentTx"])
def test_false_stops_only_the_energy(run, status):
    r = run(**CONFIG, stop_transaction_on_invalid_id=False).all(
        *OFFLINE_START, ("start_tx_conf", {"status": status}))
    assert r.stop_reasons() == [] and r.state.session == "transaction"
    assert r.obs.status == "SuspendedEVSE" and r.obs.contactor == "open"
    assert r.obs.offered_current == 0 and r.obs.duty_cycle == 100.0
    assert CARD not in r.state.cache  # the refusal is remembered as any other
    r.all("ev_pause", "ev_request_charge")  # the vehicle asking again changes nothing
    assert r.obs.contactor == "open" and r.obs.status == "SuspendedEVSE"


def test_an_accepted_answer_keeps_the_energy_whatever_the_setting(run):
    r = run(**CONFIG, stop_transaction_on_invalid_id=False).all(
        *OFFLINE_START, ("start_tx_conf", {"status": "Accepted"}))
    assert r.obs.status == "Charging" and r.obs.contactor == "closed"


@pytest.mark.parametrize("end, reason", [
    (["unplug"], "EVDisconnected"),
    ([("rfid", {"uid": CARD})], "Local"),
    ([("remote_stop", {"transaction": "current"})], "Remote"),
    (["unlock_connector"], "UnlockCommand"),
    (["hard_reset", ("boot_conf", {"status": "Accepted"})], "HardReset"),
    (["soft_reset", ("boot_conf", {"status": "Accepted"})], "SoftReset"),
    ([("error_raised", {"error": "rcd_fault"})], "Other"),
])
def test_the_transaction_without_energy_ends_as_usual_and_the_next_one_charges(run, end, reason):
    r = run(**CONFIG, stop_transaction_on_invalid_id=False, enable_local_whitelist=True,
            local_whitelist=["CARD_B"]).all(
        *OFFLINE_START, ("start_tx_conf", {"status": "Invalid"}), *end)
    assert r.stop_reasons() == [reason] and r.state.deauthorized is False
    r.all("rcd_reconnected", "unplug", "cable_removed", "plug", ("rfid", {"uid": "CARD_B"}),
          "ev_request_charge")
    assert r.obs.status == "Charging" and r.obs.contactor == "closed", \
        [(ev.label(), out.rule) for ev, _, out in r.steps]


def test_power_back_resumes_the_transaction_still_without_energy(run):
    r = run(**CONFIG, stop_transaction_on_invalid_id=False,
            restart_transaction_after_power_loss=True).all(
        *OFFLINE_START, ("start_tx_conf", {"status": "Invalid"}), "power_loss", "power_return")
    assert r.state.session == "transaction" and r.obs.contactor == "open"
    assert r.obs.status == "SuspendedEVSE"


# ---------------------------------------------------------------- UnlockConnector outcomes

def test_unlock_fails_while_the_actuator_is_not_detected_and_changes_nothing(run):
    r = run().all("plug", ("error_raised", {"error": "actuator_not_detected"}))
    before = r.state
    out = r("unlock_connector")
    assert [(m.action, m.kind, m.as_dict()) for m in out.messages] == [
        ("UnlockConnector", "result", {"status": "UnlockFailed"})]
    assert r.state == before
    r.all("hard_reset", "unlock_connector")  # the reset redetects the actuator (§9 row 12)
    assert r.messages("UnlockConnector")[-1].as_dict() == {"status": "Unlocked"}
    assert r.state.lock == "open"


def test_a_stuck_actuator_is_retried_by_unlock(run):
    r = run().all("plug", ("error_raised", {"error": "actuator_stuck"}), "unlock_connector")
    assert r.messages("UnlockConnector")[-1].as_dict() == {"status": "Unlocked"}
    assert "actuator_stuck" not in r.state.errors and r.state.lock == "open"


# ---------------------------------------------------------------- TriggerMessage

@pytest.mark.parametrize("requested, fields", [
    ("StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"}),
    ("Heartbeat", {}),
    ("MeterValues", {"connectorId": 1}),
    ("BootNotification", {}),
    ("DiagnosticsStatusNotification", {"status": "Idle"}),
    ("FirmwareStatusNotification", {"status": "Idle"}),
])
def test_trigger_message_answers_then_sends_the_message_and_changes_nothing(run, requested,
                                                                           fields):
    r = run()
    before = r.state
    out = r("trigger_message", requested=requested)
    assert [(m.action, m.kind) for m in out.messages] == [("TriggerMessage", "result"),
                                                          (requested, "call")]
    assert out.messages[0].as_dict() == {"status": "Accepted"}
    assert out.messages[1].as_dict() == fields
    assert r.state == before


def test_a_triggered_status_notification_reports_the_status_and_error_of_the_moment(run):
    r = run().all("plug", ("error_raised", {"error": "rcd_fault"}))
    out = r("trigger_message", requested="StatusNotification")
    note = out.messages[-1].as_dict()
    assert note["status"] == "Faulted" and note["errorCode"] == r.obs.error_code != "NoError"


@pytest.mark.parametrize("config, events", [
    ({}, ["power_loss"]),
    ({"free_charging": True, "free_charging_mode": "NoOcpp"}, []),
])
def test_nothing_is_triggered_without_power_or_ocpp(run, config, events):
    r = run(**config).all(*events)
    assert r("trigger_message", requested="StatusNotification").messages == ()


def test_the_data_vectors_catch_a_refusal_flag_that_outlives_its_transaction(engine):
    """A firmware that forgets, in one of the rules that end a transaction, to clear the
    refused idTag's flag gives the next transaction no energy: for each such rule the spec
    mutant that drops (or inverts) that reset fails one of the data vectors' refusal tests."""
    from chargespec import datavalues as dv
    from chargespec.checkers import mutate
    from chargespec.checkers.mutants import generate
    mutants = [m for m in generate(engine.spec) if "/do deauthorized/" in m.id
               and m.id.endswith(("UPD-DEL/0", "UPD-VAL/0"))
               and not m.id.startswith("rule/start_tx_refused_suspends")]
    resets = {r.id for r in engine.machine.rules if any(v == "deauthorized" for v, _ in r.do)
              and r.id != "start_tx_refused_suspends_energy"}
    assert {m.id.split("/")[1] for m in mutants} == resets and len(resets) >= 14
    plans = [(engine.config(v), [[engine.event(n, **f) for n, f in evs] for _, _, evs in sc])
             for v, sc in dv._refusal_plans()]
    reached = {out.rule for config, runs in plans for run in runs
               for _, _, out in engine.run(config, run)}
    checked = [m for m in mutants if m.id.split("/")[1] in reached]
    # left out: the idle resets (nothing to clear) and the refusals that stop the transaction
    assert len({m.id.split("/")[1] for m in checked}) == 13
    for m in checked:
        bad = mutate.mutant_engine(engine, m)
        assert any(bad.run(config, run)[-1][2].observation != engine.run(config, run)[-1][2]
                   .observation for config, runs in plans for run in runs), m.id


# ---------------------------------------------------------------- sampled MeterValues (METER-VALUES)

def _charging(run, **config):
    return run(**config).all("plug", ("rfid", {"uid": CARD}),
                             ("authorize_conf", {"status": "Accepted"}), "ev_request_charge")


def test_a_transaction_sends_a_sample_at_each_interval(run):
    r = _charging(run)
    out = r("meter_sample_timer")
    assert [(m.action, m.as_dict()) for m in out.messages] == [("MeterValues", {"connectorId": 1})]
    r.all("ev_pause", "meter_sample_timer")  # suspended by the vehicle: still a transaction
    assert len(r.messages("MeterValues")) == 2


@pytest.mark.parametrize("config, events", [
    ({"meter_value_sample_interval": 0}, []),  # 0 switches sampling off
    ({}, ["unplug"]),  # no transaction: the connector is Finishing
    ({"free_charging": True, "free_charging_mode": "StatusNotifWithoutAuth"}, []),
])
def test_no_sample_without_sampling_or_a_transaction(run, config, events):
    r = (_charging(run, **config) if not config.get("free_charging")
         else run(**config).all("plug", ("rfid", {"uid": CARD}), "ev_request_charge"))
    r.all(*events)
    assert r("meter_sample_timer").messages == ()
    assert r.messages("MeterValues") == []


def test_no_sample_before_the_backend_accepts_the_charger(run):
    r = _charging(run, restart_transaction_after_power_loss=True).all("power_loss",
                                                                      "power_return")
    assert r.state.session == "transaction"
    assert r("meter_sample_timer").messages == ()
    r.all(("boot_conf", {"status": "Accepted"}), "meter_sample_timer")
    assert len(r.messages("MeterValues")) == 1
