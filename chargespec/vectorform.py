"""The form of one test: the JSON of an event and of an initial state, and a test made of a
trace replayed on the reference (its observations after every step, its flag, its rules and
manual sections, and whether it is valid, invalid or acceptable).

Every vector generator (the concerns in `vectors`, the coverage top-ups, the data values, the
OCTT cases, the mutation tests) builds its tests here, so this module sits below all of them:
`vectors` assembles files from the generators, and none of them imports `vectors`.
"""

from __future__ import annotations

from typing import Any

from chargespec import configkeys
from chargespec.models.step import Engine
from chargespec.specmodel import Ref
from chargespec.models.stdio import observation
from chargespec.models.types import thaw

# the manual section and interpretation of the steps GetConfiguration / ChangeConfiguration
KEYS_REF = Ref("§2", "CONFIG-KEYS")
REFUSALS = {"Rejected", "Invalid", "Blocked", "Occupied", "Faulted", "Expired",
            "NotSupported", "Unavailable"}


def offline_events(engine: Engine):
    """The backend going away and coming back: the events of AUTH-OFFLINE."""
    return [engine.event("error_raised", error="backend_disconnected"),
            engine.event("backend_online")]


def event_json(ev: Any) -> dict[str, Any]:
    return {"name": ev.name, **thaw(ev.as_dict())}


def initial_json(engine: Engine, config: Any) -> dict[str, Any]:
    init = engine.initial(config)
    obs = engine.observe(config, init)
    return {"status": obs.status, "contactor": obs.contactor, "lock": init.lock,
            "offered_current": obs.offered_current, "duty_cycle": obs.duty_cycle, "led": obs.led}


def alternatives(engine: Engine) -> dict[str, tuple[str, ...]]:
    """Interpretation id -> the other conforming outcomes it admits (the manual's choices)."""
    return {i.id: i.alternatives for i in engine.spec.interpretations.values() if i.alternatives}


def make_test(engine: Engine, config: Any, trace: list[Any], comment: str,
              flag: str | None = None, octt: str | None = None) -> dict[str, Any]:
    """A test (without tcId): the trace replayed on the reference, observations after each step."""
    refs = {r.id: r.ref for r in engine.machine.rules}
    refs.update({name: KEYS_REF for name in configkeys.EVENTS})
    choices = alternatives(engine)
    run = engine.run(config, trace)
    last = refs[run[-1][2].rule]
    flag = flag or last.interpretation or last.manual or "spec"
    steps = []
    for ev, st, out in run:
        step: dict[str, Any] = {"event": event_json(ev), "expect": observation(engine.machine, out, st),
                                "rule": out.rule}
        interp = refs[out.rule].interpretation
        if interp in choices:
            step["choice"] = interp
        steps.append(step)
    final = steps[-1]["expect"]
    refused = ("card_refused" in final["indications"] or any(
        m["kind"] == "result" and m["fields"].get("status") in REFUSALS
        for m in final["messages"]))
    test: dict[str, Any] = {
        "comment": comment,
        "flags": [flag],
        "rules": sorted({out.rule for _, _, out in run if out.rule not in configkeys.EVENTS}),
        "manual": sorted({refs[out.rule].manual for _, _, out in run
                          if refs[out.rule].manual}),
        "steps": steps,
        "result": ("acceptable" if any("choice" in s for s in steps)
                   else "invalid" if refused else "valid"),
    }
    if octt:
        test["octt"] = octt
    return test
