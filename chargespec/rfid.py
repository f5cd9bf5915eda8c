"""How the controller writes a card's UID (§5.3 "RFID Tag letter case").

The reader delivers the UID as bytes; the controller writes them as hexadecimal in one of four
renderings, chosen by the parameter RFID Tag letter case, and uses that text everywhere: to match
the local and OCPP whitelists and as the idTag it sends.  The manual's example for one card:
0a0e9b83 (Lower Case), 0A0E9B83 (Upper Case), 839b0e0a (Lower Case Reversed Byte Order),
839B0E0A (Upper Case Reversed Byte Order).

A UID reaches the model in the reader's byte order, as hex in either case.  Tokens that are not
whole hex bytes (symbolic names like CARD_A in tests and vectors) are not UIDs and pass through
unchanged, so the rendering never merges two different cards.
"""

from __future__ import annotations

import re

RENDERINGS = ("LowerCase", "UpperCase", "LowerCaseReversed", "UpperCaseReversed")
_HEX_BYTES = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def render_uid(uid: str, letter_case: str) -> str:
    """`uid` (reader byte order, hex) written as `letter_case` says; non-hex tokens unchanged."""
    if letter_case not in RENDERINGS:
        raise ValueError(f"unknown RFID Tag letter case {letter_case!r} "
                         f"(one of {', '.join(RENDERINGS)})")
    if not isinstance(uid, str) or not _HEX_BYTES.fullmatch(uid):
        return uid
    pairs = [uid[i:i + 2] for i in range(0, len(uid), 2)]
    if letter_case.endswith("Reversed"):
        pairs.reverse()
    text = "".join(pairs)
    return text.upper() if letter_case.startswith("Upper") else text.lower()


# ---- whitelist entries (§5.5): what `chargespec lint` checks in each entry of a list parameter

POSTFIX_SEPARATOR = "#"  # interpretation WHITELIST-POSTFIX; chargespec.expr.listed matches it


def split_entry(entry: str) -> tuple[str, str | None]:
    """A whitelist entry's UID and its connector postfix (None without one)."""
    uid, sep, postfix = entry.partition(POSTFIX_SEPARATOR)
    return uid, (postfix if sep else None)


def _not_hexadecimal(entry: str, config: object) -> bool:
    return not _HEX_BYTES.fullmatch(split_entry(entry)[0])


def _wrong_letter_case(entry: str, config: object) -> bool:
    uid = split_entry(entry)[0]
    if not _HEX_BYTES.fullmatch(uid):
        return False
    case = getattr(config, "rfid_tag_letter_case")
    return uid != (uid.upper() if case.startswith("Upper") else uid.lower())


def _unknown_postfix(entry: str, config: object) -> bool:
    return split_entry(entry)[1] not in (None, "1", "2")


def _postfix_of_a_slave_on_a_single_controller(entry: str, config: object) -> bool:
    return split_entry(entry)[1] == "2" and getattr(config, "master_slave_mode") == "Off"


# name (as written in spec/lint.yaml under `bad_entry:`) -> predicate(entry, config)
ENTRY_CHECKS = {
    "not_hexadecimal": _not_hexadecimal,
    "wrong_letter_case": _wrong_letter_case,
    "unknown_postfix": _unknown_postfix,
    "postfix_of_a_slave_on_a_single_controller": _postfix_of_a_slave_on_a_single_controller,
}


# ---- plausible wrong renderings (mutation analysis, checkers/mutants.py): what a controller
# that misreads §5.3 writes; each must make some vector fail

def _no_reversal(uid: str, letter_case: str) -> str:
    return render_uid(uid, letter_case.replace("Reversed", ""))


def _reversal_inverted(uid: str, letter_case: str) -> str:
    flip = letter_case.replace("Reversed", "") if letter_case.endswith("Reversed") \
        else letter_case + "Reversed"
    return render_uid(uid, flip)


def _characters_reversed(uid: str, letter_case: str) -> str:
    text = render_uid(uid, letter_case.replace("Reversed", ""))
    return text[::-1] if letter_case.endswith("Reversed") and _HEX_BYTES.fullmatch(uid) else text


def _reader_case_kept(uid: str, letter_case: str) -> str:
    text = render_uid(uid, letter_case)
    if not _HEX_BYTES.fullmatch(uid):
        return text
    pairs = [uid[i:i + 2] for i in range(0, len(uid), 2)]
    return "".join(reversed(pairs)) if letter_case.endswith("Reversed") else uid


def _cases_swapped(uid: str, letter_case: str) -> str:
    swap = letter_case.replace("Upper", "@").replace("Lower", "Upper").replace("@", "Lower")
    return render_uid(uid, swap)


def _first_four_bytes(uid: str, letter_case: str) -> str:
    return render_uid(uid[:8] if _HEX_BYTES.fullmatch(uid) else uid, letter_case)


WRONG_RENDERINGS = {
    "no_reversal": (_no_reversal, "the Reversed settings keep the reader's byte order"),
    "reversal_inverted": (_reversal_inverted, "the byte order is reversed exactly when it "
                          "should not be"),
    "characters_reversed": (_characters_reversed, "Reversed reverses the hex characters, not "
                            "the bytes"),
    "reader_case_kept": (_reader_case_kept, "the letter case the reader delivers is kept"),
    "cases_swapped": (_cases_swapped, "Upper and Lower Case are swapped"),
    "first_four_bytes": (_first_four_bytes, "only the first 4 bytes of a 7- or 10-byte UID "
                         "are used"),
}
