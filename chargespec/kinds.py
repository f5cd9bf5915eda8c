"""Vector kinds: what each kind of test group declares once, so that the generator, the runner,
the reference adapter, the coverage report and the HTML views ask the registry instead of
naming a kind.

A kind is the charge point's session (the default: every group whose configuration is the
session's parameters) or the dynamic load management (`dlm.json`: the configuration is a DLM
site under `dlm`, the events are `dlm_tick`s answered with `amps`), and the kinds to come.
Each vector file's groups carry their kind as `type` (FORMAT.md).  A kind declares:

  observations    engine -> the keys its observations have, in order (the adapter's `hello`)
  claims          whether a group configuration is of this kind (a reset carries no type)
  files           its generator: file name -> vector document (None: built by `vectors`)
  reference       engine -> an object with reset(config) and step(event) -> observation
  check_config    the group configuration against the spec (a ChargespecError says why)
  check_event     one event against the spec
  judge           (spec, config, event, observed) -> the invariants an observation other
                  than the expected one breaks ([] = acceptable); None: no alternatives
  coverage        the vector documents -> the kind's figures in coverage-report.json
  format          the section of FORMAT.md that describes its groups

A new kind is one module that builds a `VectorKind` and one line in `BUILTIN`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from chargespec.errors import ChargespecError
from chargespec.models.stdio import observed_names

BUILTIN = ("chargespec.kinds:SESSION", "chargespec.dlm.kind:DLM")


@dataclass(frozen=True)
class VectorKind:
    name: str
    title: str
    observations: Callable[[Any], tuple[str, ...]]
    claims: Callable[[dict[str, Any]], bool]
    reference: Callable[[Any], Any]
    check_config: Callable[[Any, dict[str, Any]], None]
    check_event: Callable[[Any, dict[str, Any]], None]
    format: str
    files: Callable[[Any], dict[str, dict[str, Any]]] | None = None
    judge: Callable[[Any, dict[str, Any], dict[str, Any], Any], list[str]] | None = None
    coverage: Callable[[dict[str, dict[str, Any]]], dict[str, Any]] | None = None
    event_label: Callable[[dict[str, Any]], str] | None = None


_KINDS: dict[str, VectorKind] = {}


def register(kind: VectorKind) -> VectorKind:
    """Add a kind (its name must be new)."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"vector kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def _load() -> None:
    for entry in BUILTIN:
        module, name = entry.split(":")
        register(getattr(importlib.import_module(module), name))


def registered(name: str | None = None) -> Any:
    """Every kind in registration order, or the one named (KeyError if none)."""
    if not _KINDS or len(_KINDS) < len(BUILTIN):
        _load()
    return _KINDS[name] if name is not None else list(_KINDS.values())


def kind_of_config(config: Any) -> VectorKind:
    """The kind a group configuration belongs to: the first other kind that claims it, else
    the session's."""
    for kind in registered():
        if kind.name != "session" and kind.claims(config):
            return kind
    return registered("session")


def kind_of_group(group: dict[str, Any]) -> VectorKind:
    """A group's kind: its `type`, or (files written before groups carried one) its
    configuration's."""
    name = group.get("type")
    if isinstance(name, str):
        try:
            return registered(name)
        except KeyError:
            raise ChargespecError(f"unknown test group type {name[:40]!r} (known: "
                                  f"{', '.join(k.name for k in registered())})") from None
    return kind_of_config(group.get("config", {}))


def groups(docs: dict[str, dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    """The test groups of one kind across vector documents."""
    for doc in docs.values():
        for g in doc.get("testGroups", ()):
            if kind_of_group(g).name == kind:
                yield g


# ---- the session: the charge point's behaviour (spec/session.yaml and its tables)

def _session_reference(engine: Any) -> Any:
    from chargespec.models.stdio import SessionReference
    return SessionReference(engine)


def _session_config(engine: Any, config: dict[str, Any]) -> None:
    engine.config(config)


def _session_event(engine: Any, event: dict[str, Any]) -> None:
    fields = {k: v for k, v in event.items() if k != "name"}
    engine.event(event.get("name"), **fields)


SESSION = VectorKind(
    name="session",
    title="the charge point's session (spec/session.yaml)",
    observations=lambda engine: tuple(observed_names(engine.machine)),
    claims=lambda config: True,
    reference=_session_reference,
    check_config=_session_config,
    check_event=_session_event,
    format="Session tests",
)
