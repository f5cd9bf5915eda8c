"""RFID Tag letter case (§5.3): the four renderings, applied before whitelists and idTags."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from chargespec.rfid import RENDERINGS, render_uid

MANUAL = {"LowerCase": "0a0e9b83", "UpperCase": "0A0E9B83",
          "LowerCaseReversed": "839b0e0a", "UpperCaseReversed": "839B0E0A"}


@pytest.mark.parametrize("case, written", MANUAL.items())
@pytest.mark.parametrize("read", ["0a0e9b83", "0A0E9B83", "0a0E9b83"])
def test_the_manuals_example(case, written, read):
    assert render_uid(read, case) == written


def test_the_parameter_offers_exactly_the_four_renderings(spec):
    assert spec.parameters["rfid_tag_letter_case"].values == RENDERINGS


@given(st.binary(min_size=1, max_size=10), st.sampled_from(RENDERINGS))
def test_rendering_is_a_bijection_on_uids(raw, case):
    """Two different cards never get the same idTag, whatever the rendering."""
    text = raw.hex()
    out = render_uid(text, case)
    assert len(out) == len(text)
    back = bytes.fromhex(out)
    assert (back[::-1] if case.endswith("Reversed") else back) == raw


def test_symbolic_tokens_pass_through():
    assert render_uid("CARD_A", "UpperCaseReversed") == "CARD_A"
    assert render_uid("abc", "UpperCase") == "abc"  # not whole bytes: not a UID


@pytest.mark.parametrize("case, entry", MANUAL.items())
def test_local_whitelist_matches_only_the_selected_rendering(run, case, entry):
    others = [v for k, v in MANUAL.items() if k != case and v != entry]
    r = run(rfid_tag_letter_case=case, enable_local_whitelist=True, local_whitelist=[entry])
    r.all("plug", ("rfid", {"uid": "0A0E9B83"}))
    assert r.state.session == "transaction" and r.messages("Authorize") == []
    assert [m.as_dict()["idTag"] for m in r.messages("StartTransaction")] == [entry]
    for other in others:
        r = run(rfid_tag_letter_case=case, enable_local_whitelist=True, local_whitelist=[other])
        r.all("plug", ("rfid", {"uid": "0A0E9B83"}))
        assert r.state.session == "authorizing", other  # not matched: the backend is asked


@pytest.mark.parametrize("case, written", MANUAL.items())
def test_authorize_and_stop_carry_the_rendered_uid(run, case, written):
    r = run(rfid_tag_letter_case=case)
    r.all("plug", ("rfid", {"uid": "0a0e9b83"}), ("authorize_conf", {"status": "Accepted"}))
    assert [m.as_dict()["idTag"] for m in r.messages("Authorize")] == [written]
    r("rfid", uid="0A0E9B83")  # the same card, read again: stops its own transaction
    assert [m.as_dict() for m in r.messages("StopTransaction")] == [
        {"reason": "Local", "idTag": written}]
