"""Authorization (§5.1, §5.4, §5.5, §6): every source of a decision, in the controller's order.

Each test runs a scenario that tells one source (or one If-in-doubt option) apart from its
neighbours and asserts what a charge-point engineer checks on a bench: the status, the OCPP
messages (with idTag and StopTransaction reason), the contactor and the LED.  The order itself
is interpretation AUTH-ORDER; the If-in-doubt table is spec/if_in_doubt.yaml.
"""

from __future__ import annotations

import pytest

CARD = "0a0e9b83"
OTHER = "deadbeef"
PLUGGED = ["plug", "ev_request_charge"]


def offline(r):
    """The backend connection drops (the §9 error "Backend disconnected")."""
    r("error_raised", error="backend_disconnected")
    return r


def actions(r):
    return [m.action for m in r.messages()]


def starts(r):
    return [m.as_dict()["idTag"] for m in r.messages("StartTransaction")]


def charging(r):
    return r.obs.status == "Charging" and r.obs.contactor == "closed" and \
        r.obs.led == "blue_flash_2s"


# ---------------------------------------------------------------- the policy table

def test_the_if_in_doubt_table_has_one_row_per_option(spec):
    pol = spec.policies["if_in_doubt"]
    assert [(k, r.values["unknown_card"], r.values["plug_in"]) for k, r in pol.rows.items()] == [
        ("Off", "refuse", "wait"), ("On", "allow", "wait"), ("ImmediatePlugIn", "allow", "charge")]


# ---------------------------------------------------------------- If in doubt allow charging

DOUBT = ["Off", "On", "ImmediatePlugIn"]


@pytest.mark.parametrize("doubt", DOUBT)
def test_backend_online_every_option_asks_the_backend_and_follows_its_answer(run, doubt):
    r = run(if_in_doubt_allow_charging=doubt).all(*PLUGGED)
    assert r.state.session == "idle" and r.obs.contactor == "open"  # no card, no charge
    r("rfid", uid=CARD)
    assert r.obs.led == "white_rotating" and r.messages()[-1].label() == f"Authorize(idTag={CARD})"
    r("authorize_conf", status="Accepted")
    assert charging(r) and starts(r) == [CARD]


@pytest.mark.parametrize("doubt", DOUBT)
def test_backend_answering_invalid_refuses_under_every_option(run, doubt):
    r = run(if_in_doubt_allow_charging=doubt).all(*PLUGGED, ("rfid", {"uid": CARD}))
    out = r("authorize_conf", status="Invalid")
    assert [i.name for i in out.indications] == ["card_refused"]  # green-yellow-blue x5
    assert r.state.session == "idle" and r.obs.contactor == "open" and r.obs.led == "green"
    assert "StartTransaction" not in actions(r)


@pytest.mark.parametrize("doubt, allowed", [("Off", False), ("On", True),
                                            ("ImmediatePlugIn", True)])
def test_backend_offline_a_card_is_allowed_only_if_in_doubt(run, doubt, allowed):
    r = offline(run(if_in_doubt_allow_charging=doubt)).all(("rfid", {"uid": CARD}))
    assert "Authorize" not in actions(r)  # the backend cannot be asked
    if not allowed:
        assert [i.name for i in r.steps[-1][2].indications] == ["card_refused"]
        assert r.state.session == "idle"
        return
    assert r.obs.led == "blue_flash_0_5s" and r.state.session == "authorized"
    r.all(*PLUGGED)
    assert charging(r) and starts(r) == [CARD]  # queued until the backend is back


@pytest.mark.parametrize("doubt", ["On", "ImmediatePlugIn"])
def test_in_doubt_transaction_is_deauthorized_when_the_backend_rejects_it(run, doubt):
    r = offline(run(if_in_doubt_allow_charging=doubt)).all(("rfid", {"uid": CARD}), *PLUGGED)
    assert charging(r)
    r("backend_online")
    r("start_tx_conf", status="Invalid")
    assert r.stop_reasons() == ["DeAuthorized"]
    assert r.obs.status == "Finishing" and r.obs.contactor == "open" and r.state.lock == "open"


def test_in_doubt_transaction_goes_on_when_the_backend_accepts_it(run):
    r = offline(run(if_in_doubt_allow_charging="On")).all(("rfid", {"uid": CARD}), *PLUGGED)
    r("backend_online")
    r("start_tx_conf", status="Accepted")
    assert charging(r) and r.stop_reasons() == []


@pytest.mark.parametrize("doubt, charges", [("Off", False), ("On", False),
                                            ("ImmediatePlugIn", True)])
def test_only_immediate_plug_in_charges_at_plug_in_without_a_card(run, doubt, charges):
    r = offline(run(if_in_doubt_allow_charging=doubt)).all(*PLUGGED)
    assert (r.obs.contactor == "closed") is charges
    assert r.state.session == ("provisional" if charges else "idle")
    assert "StartTransaction" not in actions(r)  # no idTag yet, so no transaction yet
    if charges:
        assert r.obs.status == "Charging" and r.obs.led == "blue_flash_2s"
        assert r.statuses_sent()[-1] == "Charging"


def test_immediate_plug_in_needs_the_backend_to_be_unreachable(run):
    r = run(if_in_doubt_allow_charging="ImmediatePlugIn").all(*PLUGGED)
    assert r.state.session == "idle" and r.obs.contactor == "open"


def test_immediate_plug_in_card_is_checked_when_the_backend_is_back(run):
    r = offline(run(if_in_doubt_allow_charging="ImmediatePlugIn")).all(*PLUGGED)
    r("rfid", uid=CARD)  # presented while offline: the transaction gets its idTag
    assert starts(r) == [CARD] and r.state.session == "transaction" and charging(r)
    r("backend_online")
    assert charging(r)
    r("start_tx_conf", status="Blocked")
    assert r.stop_reasons() == ["DeAuthorized"] and r.obs.contactor == "open"


def test_immediate_plug_in_without_any_card_ends_when_the_backend_is_back(run):
    r = offline(run(if_in_doubt_allow_charging="ImmediatePlugIn")).all(*PLUGGED)
    r("backend_online")
    assert r.state.session == "idle" and r.obs.contactor == "open"
    # the vehicle is still connected: Finishing for this step (OCPP 1.6 §4.9: no Charging ->
    # Preparing under the "occupied when plugged" strategy), the idle status on the next
    assert r.obs.status == "Finishing"
    assert r.obs.led == "yellow"  # §6 yellow row, LED-FINISHING-YELLOW (was green: session idle)
    assert not {"StartTransaction", "StopTransaction"} & set(actions(r))
    r("rfid", uid=CARD)  # now authorized as usual
    assert [m.label() for m in r.messages()[-2:]] == [
        f"Authorize(idTag={CARD})",
        "StatusNotification(connectorId=1, status=Available, errorCode=NoError)"]


@pytest.mark.parametrize("end, session", [("unplug", "idle"), ("unlock_connector", "idle"),
                                          ("hard_reset", "idle")])
def test_a_provisional_charge_ends_without_transaction_messages(run, end, session):
    r = offline(run(if_in_doubt_allow_charging="ImmediatePlugIn")).all(*PLUGGED, end)
    assert r.state.session == session and r.obs.contactor == "open"
    assert not {"StartTransaction", "StopTransaction"} & set(actions(r))


def test_a_faulting_error_ends_a_provisional_charge(run):
    r = offline(run(if_in_doubt_allow_charging="ImmediatePlugIn")).all(*PLUGGED)
    r("error_raised", error="rcmb_residual_current")
    assert r.state.session == "idle" and r.obs.status == "Faulted" and r.obs.contactor == "open"
    assert "StopTransaction" not in actions(r)


def test_no_backend_at_all_counts_as_offline(run):
    r = run(connection_type="NoBackend", if_in_doubt_allow_charging="ImmediatePlugIn")
    r.all(*PLUGGED)
    assert r.state.session == "provisional" and r.obs.contactor == "closed"


@pytest.mark.parametrize("doubt, allowed", [("Off", False), ("On", True),
                                            ("ImmediatePlugIn", True)])
def test_an_unanswered_authorize_falls_back_to_if_in_doubt(run, doubt, allowed):
    r = run(if_in_doubt_allow_charging=doubt).all(*PLUGGED, ("rfid", {"uid": CARD}))
    out = r("authorize_timeout")
    if allowed:
        assert charging(r) and starts(r) == [CARD]
    else:
        assert [i.name for i in out.indications] == ["card_refused"] and r.obs.led == "green"


# ---------------------------------------------------------------- the local whitelist (§5.5)

def test_local_whitelist_authorizes_without_asking_the_backend(run):
    r = run(enable_local_whitelist=True, local_whitelist=[CARD]).all(*PLUGGED)
    r("rfid", uid=CARD)
    assert charging(r) and actions(r).count("Authorize") == 0 and starts(r) == [CARD]


def test_local_whitelist_works_offline_even_with_if_in_doubt_off(run):
    r = offline(run(enable_local_whitelist=True, local_whitelist=[CARD])).all(*PLUGGED)
    r("rfid", uid=CARD)
    assert charging(r)


def test_a_disabled_local_whitelist_is_not_consulted(run):
    r = run(enable_local_whitelist=False, local_whitelist=[CARD]).all(*PLUGGED)
    r("rfid", uid=CARD)
    assert r.state.session == "authorizing" and r.messages()[-1].action == "Authorize"


@pytest.mark.parametrize("role, entry, local", [
    ("Off", f"{CARD}#1", True), ("Master", f"{CARD}#1", True), ("Slave", f"{CARD}#1", False),
    ("Slave", f"{CARD}#2", True), ("Master", f"{CARD}#2", False), ("Slave", CARD, True),
])
def test_a_connector_postfix_limits_an_entry_to_its_charge_point(run, role, entry, local):
    r = run(enable_local_whitelist=True, local_whitelist=[entry], master_slave_mode=role)
    r.all(*PLUGGED, ("rfid", {"uid": CARD}))
    assert (r.state.session == "transaction") is local
    assert ("Authorize" in actions(r)) is (not local)


def test_a_locally_listed_card_is_never_cached(run):
    r = run(enable_local_whitelist=True, local_whitelist=[CARD], enable_ocpp_whitelist=True)
    r.all(*PLUGGED, ("rfid", {"uid": CARD}), ("start_tx_conf", {"status": "Accepted"}))
    assert r.state.cache == frozenset()


# ---------------------------------------------------------------- the OCPP whitelist / cache (§5.4)

CACHE = {"enable_ocpp_whitelist": True}


def cached(run, **config):
    """A card the backend accepted once (and that has since been used and ended)."""
    r = run(**CACHE, **config).all(*PLUGGED, ("rfid", {"uid": CARD}),
                                   ("authorize_conf", {"status": "Accepted"}),
                                   ("rfid", {"uid": CARD}), "unplug", "cable_removed")
    assert r.state.cache == frozenset({CARD}) and r.stop_reasons() == ["Local"]
    return r


def test_an_accepted_answer_fills_the_cache_only_when_enabled(run):
    cached(run)
    r = run(enable_ocpp_whitelist=False).all(*PLUGGED, ("rfid", {"uid": CARD}),
                                             ("authorize_conf", {"status": "Accepted"}))
    assert r.state.cache == frozenset()


@pytest.mark.parametrize("status", ["Blocked", "Expired", "Invalid", "ConcurrentTx"])
def test_a_refusing_answer_removes_the_card_from_the_cache(run, status):
    r = cached(run)
    r.all("plug", ("rfid", {"uid": CARD}))
    assert r.messages()[-1].action == "Authorize"  # without Local Pre Authorize: asked again
    r("authorize_conf", status=status)
    assert r.state.cache == frozenset() and r.state.session == "idle"


def test_local_pre_authorize_starts_from_the_cache_without_authorize(run):
    r = cached(run, local_pre_authorize=True)
    n = len(r.messages("Authorize"))
    r.all("plug", "ev_request_charge", ("rfid", {"uid": CARD}))
    assert charging(r) and len(r.messages("Authorize")) == n and starts(r)[-1] == CARD


def test_local_pre_authorize_still_lets_start_transaction_conf_deauthorize(run):
    r = cached(run, local_pre_authorize=True)
    r.all("plug", ("rfid", {"uid": CARD}), ("start_tx_conf", {"status": "Blocked"}))
    assert r.stop_reasons()[-1] == "DeAuthorized" and r.state.cache == frozenset()


@pytest.mark.parametrize("offline_ok, doubt, allowed", [
    (True, "Off", True), (False, "Off", False), (False, "On", True)])
def test_local_authorize_offline_uses_the_cache_while_offline(run, offline_ok, doubt, allowed):
    r = offline(cached(run, local_authorize_offline=offline_ok, if_in_doubt_allow_charging=doubt))
    r.all("plug", "ev_request_charge", ("rfid", {"uid": CARD}))
    assert charging(r) is allowed


def test_local_authorize_offline_does_not_admit_an_uncached_card(run):
    r = offline(cached(run, local_authorize_offline=True))
    r.all("plug", ("rfid", {"uid": OTHER}))
    assert r.state.session == "idle"


def test_an_unanswered_authorize_uses_the_cache_under_local_authorize_offline(run):
    r = cached(run, local_authorize_offline=True)
    r.all("plug", "ev_request_charge", ("rfid", {"uid": CARD}), "authorize_timeout")
    assert charging(r)


def test_clear_cache_empties_the_cache_or_is_rejected_when_disabled(run):
    r = cached(run)
    assert r("clear_cache").messages[0].label() == "ClearCache.conf(status=Accepted)"
    assert r.state.cache == frozenset()
    r = run(enable_ocpp_whitelist=False)
    assert r("clear_cache").messages[0].label() == "ClearCache.conf(status=Rejected)"


@pytest.mark.parametrize("mode, kept", [("EndOfEpoch2038", True), ("OneYear", False)])
def test_cache_expiry_mode(run, mode, kept):
    r = cached(run, ocpp_whitelist_expiry_mode=mode, local_authorize_offline=True)
    r("cache_expiry_timer")
    assert (r.state.cache == frozenset({CARD})) is kept
    offline(r).all("plug", ("rfid", {"uid": CARD}))
    assert (r.state.session == "transaction") is kept


# ---------------------------------------------------------------- the backend's answers

@pytest.mark.parametrize("status", ["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"])
def test_each_authorize_answer(run, status):
    r = run().all("plug", ("rfid", {"uid": CARD}))
    out = r("authorize_conf", status=status)
    if status == "Accepted":
        assert r.state.session == "transaction" and starts(r) == [CARD]
        assert r.obs.led == "blue_flash_0_5s" and r.obs.status == "Preparing"
    else:
        assert [i.name for i in out.indications] == ["card_refused"]
        assert r.state.session == "idle" and starts(r) == []


def test_accepted_before_the_vehicle_waits_for_it_then_times_out(run):
    r = run().all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}))
    assert r.state.session == "authorized" and r.obs.led == "blue_flash_0_5s"
    r("connection_timeout")
    assert r.state.session == "idle" and r.obs.led == "green"


# ---------------------------------------------------------------- RemoteStart / RemoteStop

@pytest.mark.parametrize("send_authorize", [True, False])
def test_send_authorize_for_remote_start(run, send_authorize):
    r = run(send_authorize_for_remote_start=send_authorize).all(*PLUGGED)
    out = r("remote_start", id_tag=CARD)
    labels = [m.label() for m in out.messages]
    assert labels[0] == "RemoteStartTransaction.conf(status=Accepted)"
    if send_authorize:
        assert labels[1] == f"Authorize(idTag={CARD})" and r.obs.led == "white_rotating"
        r("authorize_conf", status="Accepted")
    assert charging(r) and starts(r) == [CARD]
    r("remote_stop", transaction="current")
    assert r.stop_reasons() == ["Remote"] and r.obs.contactor == "open"


@pytest.mark.parametrize("known, plugged", [(k, p) for k in ("listed", "cached", "cached_offline",
                                                              "cached_no_pre_authorize", None)
                                             for p in (True, False)])
def test_a_remote_start_with_a_known_id_tag_is_a_local_action(run, known, plugged):
    """REMOTE-START-LOCAL (OCPP 1.6 §5.11, OCTT TC_007_2): with Send Authorize for RemoteStart
    On, an idTag in the local whitelist, or in the cache under Local Pre Authorize with the
    backend reachable, starts without Authorize.req; any other idTag is asked for."""
    config = dict(send_authorize_for_remote_start=True)
    if known == "listed":
        config.update(enable_local_whitelist=True, local_whitelist=[CARD])
    elif known is not None:
        config.update(enable_ocpp_whitelist=True,
                      local_pre_authorize=known != "cached_no_pre_authorize")
    r = run(**config)
    if known is not None and known.startswith("cached"):  # the backend's answer fills the cache
        r.all(("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
              "connection_timeout")
        assert r.state.session == "idle"
    if known == "cached_offline":
        r("error_raised", error="backend_disconnected")
    if plugged:
        r.all(*PLUGGED)
    out = r("remote_start", id_tag=CARD)
    labels = [m.label() for m in out.messages]
    assert labels[0] == "RemoteStartTransaction.conf(status=Accepted)"
    local = known in ("listed", "cached")
    assert (f"Authorize(idTag={CARD})" in labels) == (not local)
    if local:
        assert r.state.session == ("transaction" if plugged else "authorized")
        assert (f"StartTransaction(connectorId=1, idTag={CARD})" in labels) == plugged
    else:
        assert r.state.session == "authorizing"


# ---------------------------------------------------------------- reservations (§6 yellow)

def reserved(run, **config):
    r = run(**config)
    out = r("reserve_now", id_tag=CARD)
    assert out.messages[0].label() == "ReserveNow.conf(status=Accepted)"
    assert r.obs.status == "Reserved" and r.obs.led == "yellow"
    assert r.statuses_sent()[-1] == "Reserved"
    return r


def test_a_reservation_admits_only_its_id_tag(run):
    r = reserved(run)
    out = r("rfid", uid=OTHER)
    assert [i.name for i in out.indications] == ["card_refused"] and "Authorize" not in actions(r)
    assert r("remote_start", id_tag=OTHER).messages[0].label() == \
        "RemoteStartTransaction.conf(status=Rejected)"
    r("rfid", uid=CARD)
    assert r.messages()[-1].label() == f"Authorize(idTag={CARD})"
    r.all(("authorize_conf", {"status": "Accepted"}), *PLUGGED)
    assert charging(r) and r.state.reserved_for is None


def test_reserve_now_answers(run):
    r = reserved(run)
    assert r("reserve_now", id_tag=OTHER).messages[0].label() == "ReserveNow.conf(status=Occupied)"
    r = run().all("plug")
    assert r("reserve_now", id_tag=CARD).messages[0].label() == "ReserveNow.conf(status=Occupied)"
    r = run()
    r("error_raised", error="rcmb_residual_current")
    assert r("reserve_now", id_tag=CARD).messages[0].label() == "ReserveNow.conf(status=Faulted)"
    r = run(free_charging=True, free_charging_mode="FullAnyRfid")
    assert r("reserve_now", id_tag=CARD).messages[0].label() == "ReserveNow.conf(status=Rejected)"


def test_cancel_reservation_and_expiry_free_the_connector(run):
    r = reserved(run)
    assert r("cancel_reservation", reservation="other").messages[0].label() == \
        "CancelReservation.conf(status=Rejected)"
    assert r("cancel_reservation", reservation="current").messages[0].label() == \
        "CancelReservation.conf(status=Accepted)"
    assert r.obs.status == "Available" and r.obs.led == "green"
    r = reserved(run)
    r("reservation_expired")
    assert r.obs.status == "Available" and r.statuses_sent()[-1] == "Available"


@pytest.mark.parametrize("strategy", ["OccupiedOnAuthorizedOrPlugged",
                                      "OccupiedOnCharging"])
def test_a_vehicle_at_a_reserved_connector_keeps_it_reserved(run, strategy):
    r = reserved(run, status_notification_strategy=strategy)
    r.all("plug", "ev_request_charge", ("rfid", {"uid": OTHER}))
    assert r.obs.status == "Reserved" and r.state.session == "idle"
    r("rfid", uid=CARD)
    assert r.obs.status == "Reserved" and r.obs.led == "white_rotating"
    r("authorize_conf", status="Accepted")  # OCPP 1.6 has no Reserved -> Charging
    assert r.obs.status == "Preparing" and r.obs.contactor == "closed"
    r("set_load_limit", amps=16)
    assert r.obs.status == "Charging"
    assert r.statuses_sent()[-3:] == ["Reserved", "Preparing", "Charging"]


def test_a_reserved_connector_does_not_start_immediate_plug_in(run):
    r = offline(reserved(run, if_in_doubt_allow_charging="ImmediatePlugIn"))
    r.all(*PLUGGED)
    assert r.state.session == "idle" and r.obs.contactor == "open"


# ---------------------------------------------------------------- LED per step (§6)

def test_led_walks_through_every_authorization_step(run):
    r = run()
    assert r.obs.led == "green"                                 # ready
    r("rfid", uid=CARD)
    assert r.obs.led == "white_rotating"                        # asking the backend
    r("authorize_conf", status="Accepted")
    assert r.obs.led == "blue_flash_0_5s"                       # accepted, plug in
    r.all(*PLUGGED)
    assert r.obs.led == "blue_flash_2s"                         # charging
    r("rfid", uid=CARD)
    assert r.obs.led == "yellow"                                # finishing
    r.all("unplug", "cable_removed")
    assert r.obs.led == "green"
    out = r.all(("rfid", {"uid": OTHER}))("authorize_conf", status="Blocked")
    assert [i.name for i in out.indications] == ["card_refused"]  # green-yellow-blue x5
