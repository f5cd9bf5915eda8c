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


