"""Every OCPP message the model emits is valid against the official OCPP 1.6 JSON schemas
(shipped in the `ocpp` package), with the edge fields a real charge point adds."""

from __future__ import annotations

from chargespec import ocpp16
from chargespec.models.types import Message

import conftest


def test_every_emitted_message_is_valid_against_the_official_schema(pairwise):
    emitted = pairwise.messages
    assert len(emitted) > 20
    actions = {a for a, _, _ in emitted}
    assert {"StatusNotification", "Authorize", "StartTransaction", "StopTransaction",
            "RemoteStartTransaction", "RemoteStopTransaction"} <= actions
    bad = []
    for (action, kind, fields), (rule, ev) in emitted.items():
        payload = ocpp16.to_payload(action, kind, dict(fields))
        errors = ocpp16.validation_errors(action, kind, payload)
        if errors:
            bad.append(f"{action} from rule {rule} on {ev.label()}: {errors}")
    assert not bad, "\n".join(bad)


def test_the_official_schema_is_used_and_can_fail():
    assert ocpp16.schema("StopTransaction")["title"] == "StopTransactionRequest"
    good = ocpp16.to_payload("StopTransaction", "call", {"reason": "EVDisconnected"})
    assert ocpp16.validation_errors("StopTransaction", "call", good) == []
    assert ocpp16.validation_errors("StopTransaction", "call", {**good, "reason": "Unplugged"})
    assert ocpp16.validation_errors("StatusNotification", "call",
                                    {"connectorId": 1, "status": "Occupied", "errorCode": "NoError"})
    assert ocpp16.validation_errors("StartTransaction", "call",
                                    {"connectorId": 1, "idTag": "x" * 21, "meterStart": 0,
                                     "timestamp": "2026-01-01T00:00:00Z"})
    bad_time = {"connectorId": 1, "idTag": "a", "meterStart": 0, "timestamp": "yesterday"}
    assert ocpp16.validation_errors("StartTransaction", "call", bad_time)


def test_edge_fields_are_added_only_where_the_schema_has_them():
    p = ocpp16.to_payload("StartTransaction", "call", {"connectorId": 1, "idTag": "a"},
                          ocpp16.Edge(timestamp="2026-11-24T10:00:00Z", meter_wh=1234))
    assert p == {"connectorId": 1, "idTag": "a", "meterStart": 1234,
                 "timestamp": "2026-11-24T10:00:00Z"}
    assert ocpp16.to_payload("Authorize", "call", {"idTag": "a"}) == {"idTag": "a"}


def test_the_run_wide_check_rejects_a_deliberately_wrong_message():
    wrong = Message("StopTransaction", "call", (("reason", "Unplugged"),))
    long_tag = Message("Authorize", "call", (("idTag", "x" * 21),))
    conf = Message("ReserveNow", "result", (("status", "Maybe"),))
    recorded = {(m.action, m.kind, m.fields): "a_test_rule" for m in (wrong, long_tag, conf)}
    bad = conftest.invalid_messages(recorded)
    assert len(bad) == 3 and all("a_test_rule" in b for b in bad)
    assert "ReserveNowResponse" in bad[2]


def test_every_message_emitted_by_any_test_is_valid(pairwise):
    """Runs last (conftest moves it): every message any test made the model send."""
    recorded = dict(conftest.EMITTED)
    assert len(recorded) > 50
    actions = {a for a, _, _ in recorded}
    assert {"StatusNotification", "Authorize", "StartTransaction", "StopTransaction",
            "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow",
            "CancelReservation", "ClearCache", "UnlockConnector", "Reset"} <= actions
    bad = conftest.invalid_messages(recorded)
    assert not bad, "\n".join(bad)
