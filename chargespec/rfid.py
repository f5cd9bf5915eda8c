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
