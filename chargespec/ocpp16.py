"""OCPP 1.6 messages at the edge: the official JSON schemas, payloads, validation.

The model's messages carry only the fields that the specification decides (status, idTag,
reason, ...).  A real charge point also sends fields that depend on the clock, the meter and the
backend (timestamp, meterStart/meterStop, transactionId); `to_payload` adds them from an
`Edge` context so that every message can be validated against the *official* OCPP 1.6 JSON
schemas shipped in the `ocpp` package (never hand-written ones).

The loader uses `message_fields` to reject a rule that emits a field the official schema does not
have, or an enum value it does not allow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

# Fields a charge point fills in from its clock, meter, backend and identity, not from the spec.
EDGE_FIELDS = frozenset({"timestamp", "meterStart", "meterStop", "transactionId", "meterValue",
                         "chargePointVendor", "chargePointModel"})


def _schema_dir() -> Any:
    return resources.files("ocpp") / "v16" / "schemas"


def schema_name(action: str, kind: str) -> str:
    return f"{action}Response" if kind == "result" else action


@lru_cache(maxsize=None)
def schema(action: str, kind: str = "call") -> dict | None:
    """The official schema of a CP->CS call or of a CP's result to a CS call, or None (also
    for a name that cannot be an OCPP action: only letters, at most 64)."""
    if not (isinstance(action, str) and action.isascii() and action.isalpha()
            and len(action) <= 64):
        return None
    path = _schema_dir() / f"{schema_name(action, kind)}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None


@dataclass(frozen=True)
class FieldInfo:
    name: str
    json_type: str  # string | integer | number | boolean | object | array
    enum: tuple[str, ...] | None
    required: bool
    max_length: int | None = None


def message_fields(action: str, kind: str) -> dict[str, FieldInfo] | None:
    s = schema(action, kind)
    if s is None:
        return None
    required = set(s.get("required", ()))
    out = {}
    for name, prop in s.get("properties", {}).items():
        out[name] = FieldInfo(name, prop.get("type", "object"),
                              tuple(prop["enum"]) if "enum" in prop else None, name in required,
                              prop.get("maxLength"))
    return out


# RFC 3339 date-time; the `ocpp` package does not enforce format and jsonschema needs an extra
# package for it, so the check is here (shared REFERENCE: "date-time is only enforced with a
# format checker").
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


@lru_cache(maxsize=None)
def _validator(action: str, kind: str) -> Any:
    s = schema(action, kind)
    if s is None:
        raise KeyError(f"no official OCPP 1.6 schema for {schema_name(action, kind)}")
    return jsonschema.Draft4Validator(s, format_checker=_FORMATS)


def validation_errors(action: str, kind: str, payload: dict) -> list[str]:
    """Every way `payload` breaks the official schema (empty when valid)."""
    v = _validator(action, kind)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(payload)'}: {e.message}"
            for e in sorted(v.iter_errors(payload), key=lambda e: list(e.absolute_path))]


@dataclass(frozen=True)
class Edge:
    """What a charge point adds to the model's fields: clock, meter, transaction id, identity."""

    timestamp: str = "2026-01-01T00:00:00Z"
    meter_wh: int = 0
    transaction_id: int = 1
    vendor: str = "Bender"
    model: str = "CC613"


def to_payload(action: str, kind: str, fields: dict[str, Any], edge: Edge = Edge()) -> dict:
    """The full OCPP 1.6 payload of a model message (fields of the model + edge fields)."""
    info = message_fields(action, kind) or {}
    payload = {k: v for k, v in fields.items() if v is not None}
    if "timestamp" in info:
        payload.setdefault("timestamp", edge.timestamp)
    if "meterStart" in info:
        payload.setdefault("meterStart", edge.meter_wh)
    if "meterStop" in info:
        payload.setdefault("meterStop", edge.meter_wh)
    if "transactionId" in info and kind == "call":
        payload.setdefault("transactionId", edge.transaction_id)
    if "meterValue" in info:
        payload.setdefault("meterValue", [{"timestamp": edge.timestamp, "sampledValue": [
            {"value": str(edge.meter_wh), "measurand": "Energy.Active.Import.Register",
             "unit": "Wh"}]}])
    if "chargePointVendor" in info:
        payload.setdefault("chargePointVendor", edge.vendor)
    if "chargePointModel" in info:
        payload.setdefault("chargePointModel", edge.model)
    return payload
