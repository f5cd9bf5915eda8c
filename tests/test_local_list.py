"""The OCPP Local Authorization List (OCPP 1.6 §5.15 SendLocalList, §5.9 GetLocalListVersion,
interpretation LOCAL-AUTH-LIST): Full and Differential updates, the version rules, and the
list's place among the card sources (AUTH-ORDER): after the manual's fixed local whitelist,
before the cache, under Local Pre Authorize online and Local Authorize Offline offline; a card
it refuses is refused offline whatever If in doubt allows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

CARD, OTHER = "0a0e9b83", "04a1b2c3"
OFFLINE = ("error_raised", {"error": "backend_disconnected"})


def send(update, version, entry, id_tag=CARD):
    return ("send_local_list", {"update": update, "version": version, "id_tag": id_tag,
                                "entry": entry})


def answers(r, action="SendLocalList"):
    return [m.as_dict()["status"] for m in r.messages(action) if m.kind == "result"]


def version(r):
    out = r("get_local_list_version")
    (m,) = out.messages
    assert (m.action, m.kind) == ("GetLocalListVersion", "result")
    return m.as_dict()["listVersion"]


def test_no_list_is_version_0_and_a_full_update_sets_the_list_and_its_version(run):
    r = run()
    assert version(r) == 0
    r.all(send("Full", 5, "Accepted"))
    assert answers(r) == ["Accepted"] and version(r) == 5
    assert r.state.local_list == frozenset({CARD}) and r.state.local_list_refused == frozenset()
    r.all(send("Full", 2, "Blocked", OTHER))  # a full update replaces the list, any version
    assert r.state.local_list == frozenset() and r.state.local_list_refused == {OTHER}
    assert version(r) == 2
    r.all(send("Full", 3, "NoEntry"))
    assert not r.state.local_list and not r.state.local_list_refused and version(r) == 3


def test_a_full_update_with_an_entry_without_status_fails_and_changes_nothing(run):
    r = run().all(send("Full", 4, "Accepted"))
    before = r.state
    r.all(send("Full", 5, "Removed"))
    assert answers(r) == ["Accepted", "Failed"] and r.state == before


@pytest.mark.parametrize("v, status", [(4, "VersionMismatch"), (3, "VersionMismatch"),
                                       (5, "Accepted")])
def test_a_differential_update_must_raise_the_version(run, v, status):
    r = run().all(send("Full", 4, "Accepted"), send("Differential", v, "Blocked"))
    assert answers(r)[-1] == status
    assert version(r) == (v if status == "Accepted" else 4)
    assert (CARD in r.state.local_list_refused) == (status == "Accepted")


def test_differential_updates_add_change_and_remove_entries(run):
    r = run().all(send("Differential", 1, "Accepted"), send("Differential", 2, "Invalid", OTHER))
    assert r.state.local_list == {CARD} and r.state.local_list_refused == {OTHER}
    r.all(send("Differential", 3, "Expired"))  # a changed status moves the entry
    assert r.state.local_list == frozenset() and r.state.local_list_refused == {CARD, OTHER}
    r.all(send("Differential", 4, "Removed", OTHER), send("Differential", 5, "NoEntry"))
    assert r.state.local_list_refused == {CARD} and version(r) == 5


@pytest.mark.parametrize("events", [["power_loss", "power_return"], ["hard_reset"],
                                    ["soft_reset"]])
def test_the_list_outlives_a_reboot(run, events):
    r = run().all(send("Full", 7, "Accepted"), *events, ("boot_conf", {"status": "Accepted"}))
    assert r.state.local_list == {CARD} and version(r) == 7


@pytest.mark.parametrize("pre, asks", [(True, False), (False, True)])
def test_online_an_accepted_entry_starts_at_once_under_local_pre_authorize(run, pre, asks):
    r = run(local_pre_authorize=pre).all(send("Full", 1, "Accepted"), "plug",
                                         ("rfid", {"uid": CARD}))
    assert bool(r.messages("Authorize")) == asks
    assert r.state.session == ("authorizing" if asks else "transaction")


@pytest.mark.parametrize("offline_ok, doubt, charges", [
    (True, "Off", True), (False, "Off", False), (False, "On", True)])
def test_offline_an_accepted_entry_charges_under_local_authorize_offline(run, offline_ok, doubt,
                                                                         charges):
    r = run(local_authorize_offline=offline_ok, if_in_doubt_allow_charging=doubt).all(
        send("Full", 1, "Accepted"), OFFLINE, "plug", ("rfid", {"uid": CARD}),
        "ev_request_charge")
    assert (r.obs.contactor == "closed") == charges


@pytest.mark.parametrize("doubt", ["On", "ImmediatePlugIn"])
def test_offline_a_refused_entry_is_refused_whatever_if_in_doubt_allows(run, doubt):
    r = run(if_in_doubt_allow_charging=doubt, local_authorize_offline=True).all(
        send("Full", 1, "Blocked"), OFFLINE, ("rfid", {"uid": CARD}))
    assert r.state.session == "idle" and r.steps[-1][2].indications[0].name == "card_refused"
    r.all(("rfid", {"uid": OTHER}))  # an unknown card: If in doubt decides
    assert r.state.session == "authorized"


def test_online_a_refused_entry_is_asked_about(run):
    r = run(local_pre_authorize=True).all(send("Full", 1, "Blocked"), "plug",
                                          ("rfid", {"uid": CARD}))
    assert [m.as_dict() for m in r.messages("Authorize")] == [{"idTag": CARD}]


def test_the_list_takes_precedence_over_the_cache_and_is_never_cached(run):
    r = run(enable_ocpp_whitelist=True, local_authorize_offline=True).all(
        "plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
        ("rfid", {"uid": CARD}), "unplug", "cable_removed")
    assert CARD in r.state.cache
    r.all(send("Full", 1, "Blocked"), OFFLINE, ("rfid", {"uid": CARD}))
    assert r.state.session == "idle"  # the cache says Accepted, the list says Blocked
    r.all("backend_online", send("Full", 2, "Accepted", OTHER), ("clear_cache"),
          "plug", ("rfid", {"uid": OTHER}), ("authorize_conf", {"status": "Accepted"}))
    assert OTHER not in r.state.cache  # a list entry is not written to the cache


def test_local_auth_list_enabled_false_ignores_the_list_but_takes_updates(run):
    r = run(local_auth_list_enabled=False, local_pre_authorize=True).all(
        send("Full", 1, "Accepted"), "plug", ("rfid", {"uid": CARD}))
    assert answers(r) == ["Accepted"] and r.messages("Authorize")
    assert version(r) == 1


def test_a_remote_start_for_an_entry_is_a_local_action(run):
    r = run(local_pre_authorize=True).all(send("Full", 1, "Accepted"), "plug",
                                          ("remote_start", {"id_tag": CARD}))
    assert r.messages("Authorize") == [] and r.state.session == "transaction"


def test_unpowered_the_list_requests_go_unanswered(run):
    r = run().all("power_loss")
    assert r(*send("Full", 1, "Accepted")[:1], **send("Full", 1, "Accepted")[1]).messages == ()
    assert r("get_local_list_version").messages == ()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Full", "Differential"]), st.integers(0, 6),
                          st.sampled_from([CARD, OTHER]),
                          st.sampled_from(["Accepted", "Blocked", "Expired", "Invalid",
                                           "Removed", "NoEntry"])), max_size=12))
def test_for_all_updates_the_list_follows_the_protocol(engine, updates):
    """A dictionary model of OCPP's list: each update accepted or refused as §5.15 says, the
    entries and the version after each, an idTag never both accepted and refused."""
    config = engine.config({})
    state = engine.initial(config)
    entries: dict[str, str] = {}
    ver = 0
    for update, v, tag, entry in updates:
        state, out = engine.step(config, state, engine.event(
            "send_local_list", update=update, version=v, id_tag=tag, entry=entry))
        (m,) = out.messages
        if update == "Full":
            want = "Failed" if entry == "Removed" else "Accepted"
            if want == "Accepted":
                entries = {} if entry == "NoEntry" else {tag: entry}
                ver = v
        elif v <= ver:
            want = "VersionMismatch"
        else:
            want = "Accepted"
            if entry == "Removed":
                entries.pop(tag, None)
            elif entry != "NoEntry":
                entries[tag] = entry
            ver = v
        assert m.as_dict() == {"status": want}
        assert state.local_list == {t for t, e in entries.items() if e == "Accepted"}
        assert state.local_list_refused == {t for t, e in entries.items() if e != "Accepted"}
        assert state.local_list_version == ver
