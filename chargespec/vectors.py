"""Conformance vectors: generated from the spec, one JSON file per concern, Wycheproof-style.

Each file has a header (schema, spec and generator version, `numberOfTests`), `notes` that say
what a failing flag reveals and where the manual says so, and `testGroups`, each sharing one
configuration.  A test is the shortest event sequence (breadth-first) that makes one rule of the
session fire under that configuration, with the expected observations after every step: the
connector status, the contactor, the lock, the offered current, the pilot duty cycle, the LED,
the OCPP messages (action, call or result, payload fields the spec decides) and one-shot
indications.  All of it is a pure function of the spec: re-generation is byte-identical, and
`chargespec vectors --check` fails when the committed files drift.

This is the generator's first slice (issue 7): the session's concerns.  The runner, the DLM
vectors, acceptable alternatives and the OCTT mapping build on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargespec import __version__
from chargespec.models.step import Engine
from chargespec.models.types import thaw

SCHEMA = "session_vectors.schema.json"
OBSERVED = ("status", "contactor", "offered_current", "duty_cycle", "led")


@dataclass(frozen=True)
class Concern:
    """One vector file: its configurations and the rules whose behaviour it pins."""

    name: str
    title: str
    configs: tuple[dict[str, Any], ...]
    errors: bool = False
    one_cached_card: bool = False  # bound the exploration to at most one card in the cache


def concerns(engine: Engine) -> list[Concern]:
    from chargespec.checkers.check import CI_CONFIGURATIONS
    from chargespec.checkers.explore import pairwise_configurations
    pairwise = tuple(c.as_dict() for c in pairwise_configurations(engine)[:CI_CONFIGURATIONS])
    modes = engine.spec.parameters["stop_transaction_mode"].values
    free = engine.spec.parameters["free_charging_mode"].values
    doubt = engine.spec.parameters["if_in_doubt_allow_charging"].values
    return [
        Concern("session", "Every rule of the session under the CI configurations", pairwise),
        Concern("stop_modes", "Stop Transaction Mode (§5.1)",
                tuple({"stop_transaction_mode": m} for m in modes)),
        Concern("free_charging", "Free Charging modes 1-6 (§5.2)",
                tuple({"free_charging": True, "free_charging_mode": m,
                       "free_charging_rfid_tag": "FREE-TAG"} for m in free)),
        Concern("authorization", "If in doubt allow charging, whitelists, cache (§5.1-§5.5)",
                tuple({"if_in_doubt_allow_charging": d, "enable_ocpp_whitelist": True,
                       "local_authorize_offline": True, "enable_local_whitelist": True,
                       "local_whitelist": ["CARD_A#1"]} for d in doubt)
                + ({"if_in_doubt_allow_charging": "ImmediatePlugIn",
                    "connection_type": "NoBackend"},), one_cached_card=True),
        Concern("errors", "The error table (§9), one row per behaviour",
                tuple({"stop_transaction_mode": m} for m in modes), errors=True),
    ]


def _events(engine: Engine, concern: Concern):
    from chargespec.checkers.explore import (REPRESENTATIVE_ERRORS, error_events,
                                             session_events)
    events = session_events(engine)
    if concern.errors:
        limits = {"set_operator_limit", "set_load_limit", "reserve_now", "cancel_reservation",
                  "reservation_expired", "clear_cache", "cache_expiry_timer"}
        events = [e for e in events if e.name not in limits]
        events += error_events(engine, REPRESENTATIVE_ERRORS)
    return events


def _observation(out: Any, state: Any) -> dict[str, Any]:
    o = out.observation
    return {"status": o.status, "contactor": o.contactor, "lock": state.lock,
            "offered_current": o.offered_current, "duty_cycle": o.duty_cycle, "led": o.led,
            "messages": [{"action": m.action, "kind": "result" if m.kind == "result" else "call",
                          "fields": thaw(m.as_dict())} for m in out.messages],
            "indications": [i.name for i in out.indications]}


def generate(engine: Engine, concern: Concern) -> dict[str, Any]:
    """The vector file of one concern, as a JSON-ready mapping."""
    from chargespec.checkers.explore import explore, max_errors, trace_to
    spec = engine.spec
    m = engine.machine
    rules = {r.id: r for r in m.rules}
    groups = []
    flags_used: set[str] = set()
    tc = 0
    for values in concern.configs:
        config = engine.config(values)
        first: dict[str, tuple[Any, Any]] = {}

        def record(c, s, ev, s2, out, first=first):
            if out.rule not in first:
                first[out.rule] = (s, ev)
            return None
        bound = max_errors(1) if concern.errors else (
            (lambda st: len(st.cache) <= 1) if concern.one_cached_card else None)
        x = explore(engine, config, {"first": record}, events=_events(engine, concern),
                    bound=bound)
        tests = []
        for rid in [r.id for r in m.rules if r.id in first]:
            s, ev = first[rid]
            trace = list(trace_to(x.parent, s)) + [ev]
            run = engine.run(config, trace)
            rule = rules[rid]
            flag = rule.ref.interpretation or rule.ref.manual or "spec"
            flags_used.add(flag)
            tc += 1
            tests.append({
                "tcId": tc,
                "comment": f"{rid} fires on {ev.label()}",
                "flags": [flag],
                "rules": sorted({out.rule for _, _, out in run}),
                "manual": sorted({rules[out.rule].ref.manual for _, _, out in run
                                  if rules[out.rule].ref.manual}),
                "steps": [{"event": {"name": e.name, **thaw(e.as_dict())},
                           "expect": _observation(out, st)} for e, st, out in run],
                "result": "valid",
            })
        init = engine.initial(config)
        obs = engine.observe(config, init)
        groups.append({
            "config": {k: thaw(v) for k, v in sorted(values.items())},
            "initial": {"status": obs.status, "contactor": obs.contactor, "lock": init.lock,
                        "offered_current": obs.offered_current, "duty_cycle": obs.duty_cycle,
                        "led": obs.led},
            "tests": tests,
        })
    notes = {}
    for flag in sorted(flags_used):
        if flag in spec.interpretations:
            i = spec.interpretations[flag]
            notes[flag] = {"bugType": "the implementation reads the manual differently here",
                           "description": " ".join(str(i.decision).split()),
                           "manual": list(i.manual)}
        else:
            notes[flag] = {"bugType": "the implementation departs from the manual",
                           "description": spec.manual_sections.get(flag, flag),
                           "manual": [flag]}
    return {
        "algorithm": f"chargespec session: {concern.title}",
        "schema": SCHEMA,
        "specVersion": spec.version,
        "generatorVersion": __version__,
        "numberOfTests": tc,
        "observations": ["status", "contactor", "lock", "offered_current", "duty_cycle", "led",
                         "messages", "indications"],
        "notes": notes,
        "testGroups": groups,
    }


def render(doc: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, one space indent, a final newline (byte-stable)."""
    return (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def build(engine: Engine) -> dict[str, bytes]:
    """Every vector file and the manifest, as file name -> bytes."""
    files = {f"{c.name}.json": render(generate(engine, c)) for c in concerns(engine)}
    manifest = {"generatorVersion": __version__, "specVersion": engine.spec.version,
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(),
                                 "numberOfTests": json.loads(data)["numberOfTests"]}
                          for name, data in sorted(files.items())}}
    files["manifest.json"] = render(manifest)
    return files


def write(directory: Path, files: dict[str, bytes]) -> None:
    """Write each file beside its place, then rename: never a half-written vector."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        tmp = directory / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(directory / name)


def drift(directory: Path, files: dict[str, bytes]) -> list[str]:
    """The files whose committed bytes differ from what the spec generates now."""
    out = []
    for name, data in files.items():
        path = directory / name
        if not path.is_file():
            out.append(f"{path}: missing")
        elif path.read_bytes() != data:
            out.append(f"{path}: differs from the spec (run `chargespec vectors`)")
    return out
