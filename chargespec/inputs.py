"""User inputs beside the spec: configuration files and scenario files.

A configuration file maps parameter ids of spec/parameters.yaml to values; enum values may be
given as our id or as the web UI's label ("Only by RFID/RemoteStop"), booleans as true/false or
On/Off, as the UI shows them.  A scenario file lists events, one per step, optionally with its
own configuration.  Every mistake is a SpecError with the file and line, so the CLI can exit 2
with a message that says where to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import InputError, SpecError, Where
from .loader import event_step, value_fits
from .specmodel import Spec
from .yamlread import MDict, MList, load_json, read_yaml, validate

_ON = {"on": True, "off": False}


def coerce_parameter(spec: Spec, pid: str, value: Any, where: Where) -> Any:
    """A config value as the model wants it: enum labels -> ids, "On"/"Off" -> bool."""
    if not isinstance(pid, str):  # `&a:` or `1:` as a key: YAML allows it, a name it is not
        raise SpecError(where, f"a parameter name must be a text, not {pid!r}")
    p = spec.parameters.get(pid)
    if p is None:
        import difflib

        near = difflib.get_close_matches(pid, list(spec.parameters), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SpecError(where, f"unknown configuration parameter {pid!r}{hint}")
    if p.kind == "bool" and isinstance(value, str) and value.lower() in _ON:
        value = _ON[value.lower()]
    if p.kind == "enum" and isinstance(value, str) and value not in p.values:
        by_label = {label: vid for vid, label in p.labels.items()}
        value = by_label.get(value, value)
    if p.kind == "token" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if p.kind == "list" and isinstance(value, list):
        value = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                 for v in value]
    if not value_fits(p.type, value):
        allowed = p.type.describe()
        if p.kind == "enum":
            allowed = "one of " + ", ".join(f"{v} ({p.labels[v]!r})" for v in p.values)
        raise SpecError(where, f"parameter {pid}: {value!r} is not allowed; expected {allowed}")
    return value


def config_values(spec: Spec, mapping: Mapping[str, Any], file: str) -> dict[str, Any]:
    out = {}
    for pid, value in mapping.items():
        line = mapping.key_lines.get(pid, 0) if isinstance(mapping, MDict) else 0
        out[pid] = coerce_parameter(spec, pid, value, Where(file, line))
    return out


def load_config(spec: Spec, path: Path | str) -> dict[str, Any]:
    """Read a configuration file into {parameter id: value} (defaults are the engine's)."""
    path = Path(path)
    doc = read_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, MDict):
        raise SpecError(Where(str(path), getattr(doc, "line", 1) or 1),
                        "a configuration file is a mapping of parameter ids to values")
    validate(doc, load_json(_schema_dir(spec) / "config.schema.json"), str(path))
    return config_values(spec, doc, str(path))


@dataclass(frozen=True)
class ScenarioStep:
    event: str
    fields: dict[str, Any]
    where: Where


@dataclass(frozen=True)
class Scenario:
    title: str
    config: dict[str, Any]
    steps: tuple[ScenarioStep, ...]
    file: str


def load_scenario(spec: Spec, path: Path | str, machine: str = "session") -> Scenario:
    """Read a scenario file; every event and field is checked against the machine's events."""
    path = Path(path)
    file = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, MDict):
        raise SpecError(Where(file, getattr(doc, "line", 1) or 1),
                        "a scenario file is a mapping with `steps:` (a list of events)")
    validate(doc, load_json(_schema_dir(spec) / "scenario.schema.json"), file)
    m = spec.machine(machine)
    config = config_values(spec, doc.get("config") or MDict(), file)
    steps: list[ScenarioStep] = []
    items: MList = doc["steps"]
    for i, item in enumerate(items):
        where = Where(file, items.item_lines[i])
        name, fields = _key_request(spec, item, where, f"step {i + 1}") or \
            event_step(m.events, item, where, f"step {i + 1}")
        steps.append(ScenarioStep(name, fields, where))
    return Scenario(doc.get("title", path.stem), config, tuple(steps), file)


def _key_request(spec: Spec, item: Any, where: Where, label: str
                 ) -> tuple[str, dict[str, Any]] | None:
    """A GetConfiguration or ChangeConfiguration step (the backend's requests, which the
    engine answers between the machine's steps: configkeys.EVENTS), checked; None for any
    other step."""
    from . import configkeys
    name = item if isinstance(item, str) else \
        next(iter(item)) if isinstance(item, Mapping) and len(item) == 1 else None
    if name not in configkeys.EVENTS or spec.configuration_keys is None:
        return None
    fields = dict(item[name] or {}) if isinstance(item, Mapping) else {}
    try:
        configkeys.check_event(spec.configuration_keys, name, fields)
    except InputError as exc:
        raise SpecError(where, f"{label}: {exc}") from None
    return name, fields


def _schema_dir(spec: Spec) -> Path:
    d = spec.directory / "schema"
    if d.is_dir():
        return d
    from .loader import default_spec_dir

    return default_spec_dir() / "schema"
