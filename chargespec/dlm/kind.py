"""The DLM vector kind (`dlm.json`): a group's configuration is a site under `dlm`, its events
are self-contained `dlm_tick`s, the observation is the allocation `amps` in site order; an
allocation other than the reference's is acceptable when it keeps every tick invariant of
spec/dlm.yaml.  Everything the runner, the reference adapter and the coverage report need to
know of DLM is here (registered in `chargespec.kinds`)."""

from __future__ import annotations

from typing import Any

from chargespec.errors import ChargespecError
from chargespec.kinds import VectorKind

from .allocator import allocate
from .vectors import document, judge, site_from_json, tick_from_json


class DlmReference:
    """The reference allocation: reset(config) reads the site, step(tick) allocates."""

    observations = ["amps"]

    def __init__(self, engine: Any) -> None:
        self.spec = engine.spec
        self.site: Any = None

    def reset(self, config: dict[str, Any]) -> None:
        self.site = None
        self.site = site_from_json(self.spec, config["dlm"])

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.site is None:
            raise ValueError("a tick before a site")
        return {"amps": list(allocate(self.site, tick_from_json(event)).amps)}


def _check_config(engine: Any, config: dict[str, Any]) -> None:
    site_from_json(engine.spec, config["dlm"])


def _check_event(engine: Any, event: dict[str, Any]) -> None:
    if event.get("name") != "dlm_tick":
        raise ChargespecError(f"a DLM group's events are dlm_tick, not "
                              f"{str(event.get('name'))[:40]!r}")
    tick_from_json(event)


def _judge(spec: Any, config: dict[str, Any], event: dict[str, Any], amps: Any) -> list[str]:
    if not isinstance(amps, list) or not all(isinstance(a, int) and a >= 0 for a in amps):
        return [f"amps must be a list of whole amperes, observed {amps!r}"]
    return judge(spec, config, event, amps)


def _coverage(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return dict(docs.get("dlm", {}).get("coverage", {}))


DLM = VectorKind(
    name="dlm",
    title="dynamic load management (§7): the allocation of every tick",
    observations=lambda engine: ("amps",),
    claims=lambda config: isinstance(config, dict) and "dlm" in config,
    reference=DlmReference,
    check_config=_check_config,
    check_event=_check_event,
    format="DLM tests",
    files=lambda engine: {"dlm": document(engine.spec)},
    judge=_judge,
    coverage=_coverage,
    event_label=lambda event: "dlm_tick",
)
