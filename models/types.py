"""The values the models exchange: configurations, states, events and outputs.

States, configurations and observations have the fields that the spec declares, so their
classes are made from the spec (`make_dataclass`, frozen, with slots) by `value_classes`; events
and outputs have fixed shapes and are declared here.  All of them are immutable and hashable:
the step function memoizes on (config, state, event), and the explorer stores states in sets.
Their `repr` is valid Python, so a shrunk Hypothesis failure can be pasted back and run.
"""

from __future__ import annotations

from operator import attrgetter

from dataclasses import dataclass, make_dataclass
from typing import Any, Mapping


@dataclass(frozen=True, slots=True, repr=False)
class Event:
    """An input from the environment: a name and its fields (sorted by field name)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, **fields: Any) -> "Event":
        return cls(name, tuple(sorted(fields.items())))

    def value(self, field: str) -> Any:
        for k, v in self.args:
            if k == field:
                return v
        raise KeyError(field)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.args)

    def __repr__(self) -> str:
        inner = "".join(f", {k}={v!r}" for k, v in self.args)
        return f"Event.of({self.name!r}{inner})"

    def label(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v}" for k, v in self.args) + ")"


@dataclass(frozen=True, slots=True)
class Message:
    """An OCPP 1.6 message the charge point sends: a call, or the result of a backend's call."""

    action: str
    kind: str  # "call" | "result"
    fields: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.fields)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "fields": to_jsonable(self.as_dict())}

    def label(self) -> str:
        body = ", ".join(f"{k}={v}" for k, v in self.fields if v is not None)
        suffix = ".conf" if self.kind == "result" else ""
        return f"{self.action}{suffix}({body})"


@dataclass(frozen=True, slots=True)
class Indication:
    """A one-shot signal that is not a lasting observation (e.g. the LED's refusal flash)."""

    name: str


@dataclass(frozen=True, slots=True)
class Outputs:
    """What one step shows: the rule that fired, messages, indications, the observation after."""

    rule: str
    messages: tuple[Message, ...]
    indications: tuple[Indication, ...]
    observation: Any  # the machine's Observation class

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "messages": [m.to_json() for m in self.messages],
            "indications": [i.name for i in self.indications],
            "observation": to_jsonable(self.observation.as_dict()),
        }


def _hash_cached(cls_name: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """Namespace for a frozen value class whose hash is computed once, at construction."""
    getter = attrgetter(*fields)
    if len(fields) == 1:
        one = getter
        getter = lambda x: (one(x),)  # noqa: E731 - attrgetter of one field is not a tuple

    def __post_init__(self: Any) -> None:
        object.__setattr__(self, "_h", hash(getter(self)))

    def __hash__(self: Any) -> int:
        return self._h

    def __eq__(self: Any, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is not type(self):
            return NotImplemented
        return self._h == other._h and getter(self) == getter(other)

    def as_dict(self: Any) -> dict[str, Any]:
        return dict(zip(fields, getter(self)))

    def as_tuple(self: Any) -> tuple[Any, ...]:
        return getter(self)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"{cls_name}({inner})"

    return {"__post_init__": __post_init__, "__hash__": __hash__, "__eq__": __eq__,
            "as_dict": as_dict, "as_tuple": as_tuple, "__repr__": __repr__, "FIELDS": fields}


def value_class(name: str, fields: tuple[str, ...]) -> type:
    """A frozen, slotted dataclass with the given fields and a cached hash."""
    from dataclasses import field as dc_field

    spec = [(f, Any) for f in fields] + [("_h", int, dc_field(default=0, init=False,
                                                               repr=False, compare=False))]
    return make_dataclass(name, spec, frozen=True, slots=True, eq=False, repr=False,
                          namespace=_hash_cached(name, fields))


class Record(tuple):
    """A JSON object frozen as a tuple of (name, value) pairs, so a message that carries
    objects in a list (GetConfiguration.conf's configurationKey) can be hashed."""

    __slots__ = ()


def freeze(value: Any) -> Any:
    """Lists from YAML/JSON become tuples and objects Records, so values can be hashed."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return Record((k, freeze(v)) for k, v in value.items())
    return value


def thaw(value: Any) -> Any:
    """Back to JSON: tuples become lists, Records objects, sets sorted lists (stable)."""
    if isinstance(value, Record):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def to_jsonable(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: thaw(v) for k, v in mapping.items()}
