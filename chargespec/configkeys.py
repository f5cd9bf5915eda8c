"""The OCPP 1.6 configuration keys the charge point answers: GetConfiguration and
ChangeConfiguration as pure functions of the configuration (interpretation CONFIG-KEYS).

The session machine's rules read parameters; the backend reads and writes some of them by OCPP
key (manual §2, "Access via Backend").  spec/configuration_keys.yaml says which keys exist,
which parameter each one reads and writes (or which setting a read-only key is derived from),
and how its value is written on the wire.  `build` turns that document into a `KeyTable` when
the spec is loaded, checked against spec/parameters.yaml: every parameter with an `ocpp_key`
has its key and the other way round, formats fit the parameters' types, a derived key maps
every value of its setting.

The two requests are events of a test like any other (`EVENTS`); `Engine.advance` answers them
here, between the machine's steps.  A change returns the new configuration and leaves the state
as it is; the Z3 proof in checkers/induction.py (`config_change`) shows that every state
invariant survives any change of a writable key, so the proofs about reachable states still
hold when the backend changes a setting halfway through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import InputError, SpecError, Where

# the two backend requests, as events: their fields (OCPP 1.6 §6.9 and §6.23 payload names)
EVENTS = {"change_configuration": ("key", "value"), "get_configuration": ("key",)}
KEY_LENGTH, VALUE_LENGTH = 50, 500  # OCPP 1.6 CiString50Type / CiString500Type
ROTATION_CONNECTORS = ("0", "1")  # the charge point as a whole and its one connector
STATUSES = ("Accepted", "Rejected", "RebootRequired", "NotSupported")  # ConfigurationStatus


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key: where its value comes from, how it is written, who may write it."""

    name: str
    profile: str
    ocpp: str  # its section of OCPP 1.6
    readonly: bool
    format: str  # bool | int | csl | rotation | fixed
    parameter: str | None  # the parameter it reads and writes
    derived_from: str | None  # the setting a read-only key is derived from
    derived_map: tuple[tuple[str, str], ...]  # setting value -> key value
    fixed: str | None  # a fixed read-only value
    members: tuple[str, ...]  # csl: the allowed members; rotation: the rotations
    lo: int | None
    hi: int | None
    reboot_required: bool
    doc: str
    where: Where
    effect_under: tuple[tuple[str, Any], ...] = ()  # settings under which a change shows


@dataclass(frozen=True)
class KeyTable:
    """The keys in the document's order, and how many one GetConfiguration.req may name."""

    keys: tuple[ConfigKey, ...]
    max_keys: int
    file: str = ""

    def find(self, name: str) -> ConfigKey | None:
        """The key named `name`, compared case-insensitively (OCPP's CiString)."""
        low = name.lower()
        return next((k for k in self.keys if k.name.lower() == low), None)

    def by_parameter(self) -> dict[str, ConfigKey]:
        return {k.parameter: k for k in self.keys if k.parameter is not None}


def build(file: str, doc: Any, parameters: Mapping[str, Any],
          interpretations: Mapping[str, Any], fits: Any) -> KeyTable:
    """The key table of spec/configuration_keys.yaml (schema-checked), checked against the
    parameters (`fits(type, value)`: the loader's check of a value against a parameter's
    type): SpecError names the file, line and key of anything that does not fit."""
    interp = doc.get("interpretation")
    if interp is not None and interp not in interpretations:
        raise SpecError(Where(file, doc.key_lines.get("interpretation", doc.line)),
                        f"unknown interpretation {interp!r}")
    keys: list[ConfigKey] = []
    lowered: dict[str, str] = {}
    node = doc["keys"]
    for name, k in node.items():
        where = Where(file, node.key_lines.get(name, doc.line))
        if name.lower() in lowered:
            raise SpecError(where, f"key {name}: the same key as {lowered[name.lower()]} "
                                   f"(keys are compared case-insensitively)")
        lowered[name.lower()] = name
        keys.append(_build_key(name, k, where, parameters, fits))
    by_param = {k.parameter: k.name for k in keys if k.parameter}
    for pid, p in parameters.items():
        if p.ocpp_key is not None and by_param.get(pid) != p.ocpp_key:
            raise SpecError(Where(file, doc.line),
                            f"parameter {pid} has ocpp_key {p.ocpp_key}, but no key of this "
                            f"document reads it (add `{p.ocpp_key}: {{parameter: {pid}, ...}}`)")
    return KeyTable(tuple(keys), int(doc["get_configuration_max_keys"]), file)


def _build_key(name: str, k: Any, where: Where, parameters: Mapping[str, Any],
               fits: Any) -> ConfigKey:
    def fail(msg: str) -> SpecError:
        return SpecError(where, f"key {name}: {msg}")
    access = k.get("access")
    fmt = k.get("format")
    members = tuple(k.get("members") or ())
    lo = hi = None
    pid = k.get("parameter")
    derived = k.get("derived")
    if pid is not None:
        p = parameters.get(pid)
        if p is None:
            raise fail(f"unknown parameter {pid!r}")
        if p.ocpp_key != name:
            raise fail(f"parameter {pid} names the key {p.ocpp_key!r} (its ocpp_key), not {name}")
        natural = {"bool": "bool", "int": "int", "list": "csl", "enum": "rotation"}.get(p.kind)
        if natural is None or (fmt or natural) != natural:
            raise fail(f"format {fmt or natural!r} does not fit parameter {pid} ({p.kind})")
        fmt = natural
        if fmt == "csl" and not members:
            raise fail("a comma-separated list needs its `members`")
        if fmt == "rotation":
            members = tuple(p.values)
        if fmt == "int":
            lo, hi = p.min, p.max
        readonly = access == "R"
    else:
        if access == "RW":
            raise fail("a derived or fixed key is read-only")
        readonly, fmt = True, "fixed"
    if members and fmt not in ("csl", "rotation"):
        raise fail("`members` belong to a comma-separated list")
    derived_from, derived_map = None, ()
    if derived is not None:
        derived_from = derived["from"]
        p = parameters.get(derived_from)
        if p is None or p.kind not in ("enum", "bool"):
            raise fail(f"derived from {derived_from!r}, which is not an enum or bool parameter")
        want = set(p.values) if p.kind == "enum" else {"true", "false"}
        got = {str(v) for v in derived["map"]}
        if got != want:
            raise fail(f"the map of {derived_from} must give every value {sorted(want)} "
                       f"exactly once, not {sorted(got)}")
        derived_map = tuple((str(a), str(b)) for a, b in derived["map"].items())
    under = dict(k.get("effect_under") or {})
    for q, v in under.items():
        if q not in parameters or not fits(parameters[q].type, v):
            raise fail(f"effect_under: {q} = {v!r} is not a setting of spec/parameters.yaml")
    return ConfigKey(name, k["profile"], k["ocpp"], readonly, fmt, pid, derived_from,
                     derived_map, k.get("value"), members, lo, hi,
                     bool(k.get("reboot_required", False)), k.get("doc", ""), where,
                     tuple(sorted(under.items())))


# ---------------------------------------------------------------- values on the wire

def render(key: ConfigKey, config: Any) -> str:
    """The key's value under `config`, as GetConfiguration.conf writes it."""
    if key.fixed is not None:
        return key.fixed
    if key.derived_from is not None:
        v = getattr(config, key.derived_from)
        return dict(key.derived_map)[str(v).lower() if isinstance(v, bool) else str(v)]
    v = getattr(config, key.parameter)  # type: ignore[arg-type]
    if key.format == "bool":
        return "true" if v else "false"
    if key.format == "int":
        return str(v)
    if key.format == "csl":
        return ",".join(v)
    return ",".join(f"{c}.{v}" for c in ROTATION_CONNECTORS)  # rotation


_DIGITS = re.compile(r"[0-9]{1,10}")


def parse(key: ConfigKey, text: str) -> Any:
    """The parameter value `text` sets, or None when it is not a value of the key's type."""
    if key.format == "bool":
        low = text.lower()
        return {"true": True, "false": False}.get(low)
    if key.format == "int":
        if not _DIGITS.fullmatch(text):
            return None
        n = int(text)
        return n if (key.lo is None or n >= key.lo) and (key.hi is None or n <= key.hi) else None
    if key.format == "csl":
        if not text.strip():
            return []
        canon = {m.lower(): m for m in key.members}
        out: list[str] = []
        for item in text.split(","):
            m = canon.get(item.strip().lower())
            if m is None:
                return None
            if m not in out:
                out.append(m)
        return out
    if key.format == "rotation":
        chosen: dict[str, str] = {}
        for item in text.split(","):
            conn, dot, rot = item.strip().partition(".")
            if not dot or conn not in ROTATION_CONNECTORS or rot not in key.members \
                    or conn in chosen:
                return None
            chosen[conn] = rot
        return chosen.get("1", chosen.get("0"))
    return None


# ---------------------------------------------------------------- the two requests

def get_configuration(table: KeyTable, config: Any, names: tuple[str, ...] | list[str]
                      ) -> dict[str, Any]:
    """GetConfiguration.conf: every key when `names` is empty; otherwise the known ones in the
    order asked (each once) and the others as unknownKey, as the backend spelled them."""
    if not names:
        found, unknown = list(table.keys), []
    else:
        found, unknown, seen = [], [], set()
        for n in names:
            k = table.find(n)
            if k is None:
                if n not in unknown:
                    unknown.append(n)
            elif k.name not in seen:
                seen.add(k.name)
                found.append(k)
    payload: dict[str, Any] = {}
    if found:
        payload["configurationKey"] = [{"key": k.name, "readonly": k.readonly,
                                        "value": render(k, config)} for k in found]
    if unknown:
        payload["unknownKey"] = unknown
    return payload


def change_configuration(table: KeyTable, config: Any, name: str, text: str
                         ) -> tuple[str, dict[str, Any]]:
    """ChangeConfiguration.conf's status and the parameters it changes ({} unless Accepted or
    RebootRequired): NotSupported for an unknown key, Rejected for a read-only one or a value
    the key cannot take."""
    k = table.find(name)
    if k is None:
        return "NotSupported", {}
    if k.readonly:
        return "Rejected", {}
    value = parse(k, text)
    if value is None:
        return "Rejected", {}
    return ("RebootRequired" if k.reboot_required else "Accepted"), {k.parameter: value}


def check_event(table: KeyTable, name: str, fields: Mapping[str, Any]) -> None:
    """InputError unless `fields` are those of the request `name`, within OCPP's lengths."""
    want = set(EVENTS[name])
    if set(fields) != want:
        raise InputError(f"event {name} takes field(s) {sorted(want)}, got {sorted(fields)}")
    if name == "change_configuration":
        for f, limit in (("key", KEY_LENGTH), ("value", VALUE_LENGTH)):
            v = fields[f]
            if not isinstance(v, str) or len(v) > limit:
                raise InputError(f"event {name}: {f} must be a string of at most {limit} "
                                 f"characters, got {_short(v)}")
        return
    keys = fields["key"]
    if not isinstance(keys, (list, tuple)) or len(keys) > table.max_keys or not all(
            isinstance(k, str) and len(k) <= KEY_LENGTH for k in keys):
        raise InputError(f"event {name}: key must be a list of at most {table.max_keys} "
                         f"strings of at most {KEY_LENGTH} characters, got {_short(keys)}")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
