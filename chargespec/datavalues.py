"""The data values the vectors must meet, beyond the symbolic tokens the rules are tested with.

The rules' tests use symbolic cards (`CARD_A`) that no UID rendering changes, and the current
limits the explorations take (0, 10, 32 A).  A firmware that writes a UID in the wrong byte order
or letter case, matches its whitelist without regard to case, or gets the IEC 61851-1 duty cycle
wrong above 51 A passes all of those.  This module names the values that tell such bugs apart:

  * real card UIDs (ISO/IEC 14443: 4, 7 and 10 bytes) in the reader's byte order, delivered in
    lower and in upper case;
  * every RFID Tag letter case (§5.3), each with a local whitelist holding one card as that
    setting writes it and one card in the other letter case (which must not match);
  * the current limits at the boundaries of the duty-cycle table and of their domains
    (0, 1, 5, 6, 7, 16, 51, 52, 53, 79, 80 A) under a station that can offer them.

The vector generator, the mutation analysis's product exploration, the fuzzer and the coverage
report all read them from here.
"""

from __future__ import annotations

from typing import Any

from chargespec.rfid import RENDERINGS, render_uid

# reader byte order; the 7-byte UID starts with an NXP manufacturer byte, as real ones do
UIDS = {4: "0a0e9b83", 7: "04a2b3c4d5e6f7", 10: "08b1c2d3e4f5a6b7c8d9"}
# the same 7-byte card as an upper-case reader delivers it
UPPER_DELIVERY = "04A2B3C4D5E6F7"

# current limits (A) at every boundary the session and IEC 61851-1 Table A.8 have
AMPS = (0, 1, 5, 6, 7, 16, 51, 52, 53, 79, 80)

# a station that can offer every limit above: no lower limit in force
HIGH_CURRENT = {"maximum_current": 80, "installation_current_limit": 80,
                "operator_current_limit": 80}


def sharing_first_bytes(case: str) -> str:
    """A 7-byte UID (reader order) whose tag, as `case` writes it, begins with the listed
    4-byte card's tag: only a match on the whole UID refuses it (§5.5)."""
    for uid in (UIDS[4] + "c4d5e6", "c4d5e6" + UIDS[4]):
        if render_uid(uid, case)[:8] == render_uid(UIDS[4], case):
            return uid
    raise AssertionError(case)


def other_case(text: str) -> str:
    """The same hex text in the other letter case (what must not match under §5.3)."""
    return text.lower() if text != text.lower() else text.upper()


def whitelist_for(case: str) -> list[str]:
    """A local whitelist under letter case `case`: the 4-byte card as `case` writes it, and
    the 10-byte card in the other letter case (a wrong entry that must not match)."""
    return [render_uid(UIDS[4], case), other_case(render_uid(UIDS[10], case))]


def card_configs() -> list[dict[str, Any]]:
    """One configuration per RFID Tag letter case, with the whitelist of `whitelist_for`."""
    return [{"rfid_tag_letter_case": case, "enable_local_whitelist": True,
             "local_whitelist": whitelist_for(case)} for case in RENDERINGS]


def card_events(engine: Any) -> list[Any]:
    """Cards at the reader (each UID, and the upper-case delivery), RemoteStart and ReserveNow
    for the 4-byte card as Lower Case writes it."""
    out = [engine.event("rfid", uid=u) for u in (*UIDS.values(), UPPER_DELIVERY)]
    out.append(engine.event("remote_start", id_tag=UIDS[4]))
    out.append(engine.event("reserve_now", id_tag=UIDS[4]))
    return out


def amps_events(engine: Any) -> list[Any]:
    """The Operator Current Limit and the load management's grant at every boundary."""
    return [engine.event(name, amps=a) for name in ("set_operator_limit", "set_load_limit")
            for a in AMPS]


def parameter_values(engine: Any, pid: str) -> list[Any]:
    """Every value of a parameter worth trying: an enum's and a bool's all, an int's bounds
    and neighbours of its default, a list's representative contents."""
    from chargespec.checkers.explore import REPRESENTATIVE
    p = engine.spec.parameters[pid]
    if p.kind == "bool":
        return [False, True]
    if p.kind == "enum":
        return list(p.values)
    if p.kind == "int" and isinstance(p.default, int):
        vals = [p.min, p.default - 1, p.default, p.default + 1, p.max]
        return [v for v in dict.fromkeys(vals) if v is not None
                and (p.min is None or v >= p.min) and (p.max is None or v <= p.max)]
    if pid in REPRESENTATIVE:
        return list(REPRESENTATIVE[pid])
    if pid == "local_whitelist":
        return [whitelist_for("LowerCase")]
    return [p.default]




# ---- the data vectors (vectors/data.json) ---------------------------------------------------

def _card_config(case: str) -> dict[str, Any]:
    return {"rfid_tag_letter_case": case, "enable_local_whitelist": True,
            "local_whitelist": whitelist_for(case), "enable_ocpp_whitelist": True,
            "local_pre_authorize": True, "local_authorize_offline": True}


def _card_scenarios(case: str) -> list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]:
    """(comment, flag, events) of the card tests under one letter case."""
    u4, u7, u10 = UIDS[4], UIDS[7], UIDS[10]
    tag7 = render_uid(u7, case)
    charge_and_stop = [("rfid", {"uid": u7}), ("authorize_conf", {"status": "Accepted"}),
                       ("start_tx_conf", {"status": "Accepted"}), ("ev_request_charge", {}),
                       ("rfid", {"uid": u7}), ("unplug", {}), ("cable_removed", {})]
    return [
        (f"4-byte UID {u4} in the local whitelist as {case} writes it ({render_uid(u4, case)}): "
         "authorized locally, StartTransaction carries that idTag", "WRONG_UID_RENDERING",
         [("plug", {}), ("rfid", {"uid": u4})]),
        (f"7-byte UID {u7}, not listed: Authorize.req carries it as {case} writes it ({tag7})",
         "WRONG_UID_RENDERING", [("plug", {}), ("rfid", {"uid": u7})]),
        (f"10-byte UID {u10}: the whitelist lists it only in the other letter case, which does "
         "not match (§5.3): the backend is asked", "CASE_INSENSITIVE_WHITELIST",
         [("plug", {}), ("rfid", {"uid": u10})]),
        (f"7-byte UID {sharing_first_bytes(case)}: its tag begins with the listed 4-byte "
         f"card's ({render_uid(u4, case)}), but only the whole UID matches (§5.5): the backend "
         "is asked", "WRONG_WHITELIST_MATCH",
         [("plug", {}), ("rfid", {"uid": sharing_first_bytes(case)})]),
        (f"the 7-byte card delivered in upper case ({UPPER_DELIVERY}) is the same card: {tag7}",
         "WRONG_UID_RENDERING", [("plug", {}), ("rfid", {"uid": UPPER_DELIVERY})]),
        ("the cache written by Authorize.conf is read back by Local Pre Authorize: the same "
         "card starts at once, without Authorize.req", "CACHE_NOT_READ_BACK",
         [("plug", {}), *charge_and_stop, ("plug", {}), ("rfid", {"uid": u7})]),
        ("the cache written by Authorize.conf is read back by Local Authorize Offline with "
         "the backend unreachable", "CACHE_NOT_READ_BACK",
         [("plug", {}), *charge_and_stop,
          ("error_raised", {"error": "backend_disconnected"}), ("plug", {}),
          ("rfid", {"uid": u7})]),
        ("a refused card is not cached: presented again, the backend is asked again",
         "CACHE_NOT_READ_BACK",
         [("plug", {}), ("rfid", {"uid": u7}), ("authorize_conf", {"status": "Invalid"}),
          ("rfid", {"uid": u7})]),
        (f"a reservation for {tag7} admits the card as {case} writes it",
         "WRONG_UID_RENDERING",
         [("reserve_now", {"id_tag": tag7}), ("plug", {}), ("rfid", {"uid": u7})]),
        (f"a reservation for {other_case(tag7)} (the other letter case) does not admit "
         f"{tag7}", "CASE_INSENSITIVE_WHITELIST",
         [("reserve_now", {"id_tag": other_case(tag7)}), ("plug", {}), ("rfid", {"uid": u7})]),
    ]


def _amps_scenarios(limit: str) -> list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]:
    charging = [("plug", {}), ("rfid", {"uid": "CARD_A"}),
                ("authorize_conf", {"status": "Accepted"}),
                ("start_tx_conf", {"status": "Accepted"}), ("ev_request_charge", {})]
    what = "Operator Current Limit" if limit == "set_operator_limit" else "load management grant"
    return [(f"{what} {a} A while charging: the offered current and its duty cycle "
             "(IEC 61851-1 Table A.8)", "WRONG_DUTY_CYCLE", charging + [(limit, {"amps": a})])
            for a in AMPS]


# a reboot ends with the backend accepting the BootNotification (BOOT-REGISTRATION)
BOOT_ACCEPTED = ("boot_conf", {"status": "Accepted"})


def _refusal_plans() -> list[tuple[dict[str, Any], list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]]]:
    """StopTransactionOnInvalidId false: the refused idTag's flag (no energy) is written by a
    StartTransaction.conf that is not Accepted and must be cleared by whatever ends that
    transaction; the next transaction (a whitelisted card) charges again.  One test per way a
    transaction ends, under the stop mode where it ends one."""
    refused = [("plug", {}), ("rfid", {"uid": "CARD_A"}), ("authorize_conf", {"status": "Accepted"}),
               ("start_tx_conf", {"status": "Invalid"}), ("ev_request_charge", {})]
    again = [("unplug", {}), ("cable_removed", {}), ("plug", {}), ("rfid", {"uid": "CARD_B"}),
             ("start_tx_conf", {"status": "Accepted"}), ("ev_request_charge", {})]
    base = {"stop_transaction_on_invalid_id": False, "enable_local_whitelist": True,
            "local_whitelist": ["CARD_B"]}
    endings = {
        "Normal": [
            ("the same card", [("rfid", {"uid": "CARD_A"})]),
            ("UnlockConnector", [("unlock_connector", {})]),
            ("an error that stops it", [("error_raised", {"error": "rcd_fault"}),
                                        ("rcd_reconnected", {})]),
            ("RemoteStop", [("remote_stop", {"transaction": "current"})]),
            ("a hard reset", [("hard_reset", {}), BOOT_ACCEPTED]),
            ("a soft reset", [("soft_reset", {}), BOOT_ACCEPTED]),
            ("unplugging", [])],
        "NormalModeDRcd": [
            ("the vehicle's state D", [("ev_ventilation", {})]),
            ("a power loss", [("power_loss", {}), ("power_return", {}), BOOT_ACCEPTED])],
        "StopOnlyByDisconnecting": [
            ("removing the cable from the socket", [("unplug", {}), ("cable_removed", {})])],
        "OnlyByRfidOrRemoteStop": [
            ("the same card, the cable gone", [("unplug", {}), ("cable_removed", {}),
                                               ("rfid", {"uid": "CARD_A"})]),
            ("RemoteStop, the cable gone", [("unplug", {}), ("cable_removed", {}),
                                            ("remote_stop", {"transaction": "current"})]),
            ("an error, the cable gone", [("unplug", {}), ("cable_removed", {}),
                                          ("error_raised", {"error": "rcd_fault"}),
                                          ("rcd_reconnected", {})])],
    }
    return [({**base, "stop_transaction_mode": mode,
              "restart_transaction_after_power_loss": mode != "NormalModeDRcd"},
             [(f"a refused idTag (StopTransactionOnInvalidId false) stops the energy; the "
               f"transaction ended by {how}, the next one charges", "WRONG_STATE_UPDATE",
               refused + end + again) for how, end in ends])
            for mode, ends in endings.items()]


def groups(engine: Any) -> list[dict[str, Any]]:
    """The data vectors: card UIDs of every length under every letter case, whitelist and
    reservation entries in the other letter case, the cache written and read back, the
    current limits at every boundary, and the refused idTag's flag cleared by every way a
    transaction ends."""
    from chargespec.vectorform import initial_json, make_test
    out = []
    plans = [(_card_config(case), _card_scenarios(case)) for case in RENDERINGS]
    plans.append((dict(HIGH_CURRENT), _amps_scenarios("set_operator_limit")
                  + _amps_scenarios("set_load_limit")))
    plans += _refusal_plans()
    for values, scenarios in plans:
        config = engine.config(values)
        tests = []
        for comment, flag, evs in scenarios:
            trace = [engine.event(name, **fields) for name, fields in evs]
            tests.append(make_test(engine, config, trace, comment, flag=flag))
        out.append({"config": values, "initial": initial_json(engine, config), "tests": tests})
    return out
