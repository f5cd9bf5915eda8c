"""`chargespec fuzz`: model-based fuzzing of an implementation against the reference.

Hypothesis draws a configuration (every parameter of spec/parameters.yaml over its whole
domain: each enum and bool value, any integer in range, whitelists of real UIDs in either letter
case) and a sequence of events (the session's, the backend going away and coming back, errors of
the §9 table, and data events: real card UIDs of 4, 7 and 10 bytes in any letter case, current
limits anywhere in 0-80 A), runs both the reference and the implementation step by step,
and compares the observations the implementation declares.  The first divergence (or a crash,
hang or garbage answer) fails the example; Hypothesis then shrinks it to a minimal configuration
and sequence, and the result is saved as a vector file (`conform` runs it like any other) whose
expectations are the reference's.  Fixed seed by default: the same run finds the same example.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargespec.compare import compare
from chargespec.conform import StepUnsupported
from chargespec.errors import AdapterError
from chargespec.models.step import Engine


@dataclass
class Divergence:
    config: dict[str, Any]
    events: list[dict[str, Any]]  # up to and including the diverging step
    detail: str


@dataclass
class FuzzResult:
    examples: int
    steps: int
    divergence: Divergence | None


def _event_pool(engine: Engine) -> list[dict[str, Any]]:
    from chargespec.checkers.explore import error_events, session_events
    from chargespec.vectorform import event_json, offline_events
    evs = session_events(engine) + offline_events(engine) + error_events(
        engine, ("rcmb_residual_current", "vehicle_signals_error", "actuator_stuck",
                 "rcd_fault"))
    return [event_json(e) for e in evs]


def _moves(ref: Any, ev: Any) -> bool:
    """Whether `ev` changes the reference's state or makes it send something."""
    s2, out = ref.engine.step(ref.config, ref.state, ev)
    return s2 != ref.state or bool(out.messages)


def fuzz(adapter: Any, examples: int = 200, seed: int = 0, max_steps: int = 25,
         engine: Engine | None = None, shrink: bool = True) -> FuzzResult:
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from hypothesis import seed as hseed

    from chargespec.models.stdio import SessionReference
    engine = engine or Engine()
    ref = SessionReference(engine)  # the fuzzer walks the session's state
    pool = _event_pool(engine)
    pool_events = [ref.engine.event(e["name"], **{k: v for k, v in e.items() if k != "name"})
                   for e in pool]
    config_st = st.fixed_dictionaries({}, optional=config_strategies(engine))
    data_st = data_events()
    counts = {"examples": 0, "steps": 0}
    last: list[Divergence] = []

    @hseed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink] if shrink else [Phase.generate],
              report_multiple_bugs=False, print_blob=False)
    @given(config=config_st, length=st.integers(1, max_steps), data=st.data())
    def prop(config: dict[str, Any], length: int, data: Any) -> None:
        counts["examples"] += 1
        try:
            ref.reset(dict(config))
        except Exception:  # noqa: BLE001 - a combination the reference rejects: not a case
            return
        events: list[dict[str, Any]] = []
        try:
            if not adapter.reset(dict(config)):
                return
            for n in range(1, length + 1):
                # mostly events that do something in the reference's current state: a random
                # walk over self-loops would rarely get past plugging in
                # (an event name first, then its fields: thirty operator limits must not
                # crowd out the one card that stops the transaction)
                useful: dict[str, list[dict[str, Any]]] = {}
                for e, ee in zip(pool, pool_events):
                    if _moves(ref, ee):
                        useful.setdefault(e["name"], []).append(e)
                roll = data.draw(st.sampled_from((1, 1, 1, 1, 1, 1, 1, 0, 2, 2)))
                if roll == 2:  # a data value: a real card, a limit anywhere in its domain
                    ev = data.draw(data_st)
                elif useful and roll:
                    name = data.draw(st.sampled_from(sorted(useful)))
                    ev = data.draw(st.sampled_from(useful[name]))
                else:
                    ev = data.draw(st.sampled_from(pool))
                events.append(ev)
                want = ref.step(dict(ev))
                try:
                    got = adapter.step(dict(ev))
                except StepUnsupported:
                    return  # the implementation cannot take this event: not a case
                counts["steps"] += 1
                diff = compare(want, got, adapter.observations) if isinstance(got, dict) \
                    else ("observation", f"not a JSON object: {got!r}")
                if diff:
                    last.append(Divergence(dict(config), events[:n],
                                           f"step {n} ({ev['name']}): {diff[1]}"))
                    raise AssertionError(diff[1])
        except AdapterError as exc:
            last.append(Divergence(dict(config), list(events), str(exc)))
            if hasattr(adapter, "restart"):
                adapter.restart()
            raise AssertionError(str(exc)) from None

    try:
        prop()
    except AssertionError:
        pass
    # Hypothesis replays the shrunk example last, so the last divergence is the minimal one
    return FuzzResult(counts["examples"], counts["steps"], last[-1] if last else None)


def config_strategies(engine: Engine) -> dict[str, Any]:
    """A strategy per parameter over its whole domain (issue 17: not a fixed subset)."""
    from hypothesis import strategies as st

    from chargespec import datavalues
    from chargespec.rfid import RENDERINGS
    out: dict[str, Any] = {}
    lists = [[], ["CARD_A"], ["CARD_A#1", "CARD_B#2"]] + [
        datavalues.whitelist_for(c) for c in RENDERINGS] + [
        [f"{datavalues.UIDS[7]}#2", datavalues.UIDS[4].upper() + "#1"]]
    for pid, p in engine.spec.parameters.items():
        if p.kind == "bool":
            out[pid] = st.booleans()
        elif p.kind == "enum":
            out[pid] = st.sampled_from(list(p.values))
        elif p.kind == "int" and isinstance(p.default, int) and p.min is not None \
                and p.max is not None:
            out[pid] = st.integers(p.min, p.max)
        elif p.kind == "list" and pid == "local_whitelist":
            out[pid] = st.sampled_from(lists)
    return out


def data_events() -> Any:
    """Real card UIDs (4, 7 or 10 random bytes, either letter case) at the reader, RemoteStart
    and ReserveNow for them, and the two current limits anywhere in 0-80 A."""
    from hypothesis import strategies as st

    from chargespec import datavalues
    hexes = st.sampled_from([4, 7, 10]).flatmap(
        lambda n: st.binary(min_size=n, max_size=n)).map(bytes.hex)
    uid = st.one_of(st.sampled_from(list(datavalues.UIDS.values())), hexes)
    uid = st.tuples(uid, st.booleans()).map(lambda t: t[0].upper() if t[1] else t[0])
    return st.one_of(
        uid.map(lambda u: {"name": "rfid", "uid": u}),
        uid.map(lambda u: {"name": "remote_start", "id_tag": u}),
        uid.map(lambda u: {"name": "reserve_now", "id_tag": u}),
        st.integers(0, 80).map(lambda a: {"name": "set_operator_limit", "amps": a}),
        st.integers(0, 80).map(lambda a: {"name": "set_load_limit", "amps": a}))


def vector_file(engine: Engine, d: Divergence) -> dict[str, Any]:
    """The divergence as a vector file: the reference's expectations for the shrunk sequence."""
    from chargespec.vectors import document
    from chargespec.vectorform import initial_json, make_test
    config = engine.config(d.config)
    trace = [engine.event(e["name"], **{k: v for k, v in e.items() if k != "name"})
             for e in d.events]
    test = make_test(engine, config, trace, f"found by chargespec fuzz: {d.detail}")
    group = {"config": dict(sorted(d.config.items())), "initial": initial_json(engine, config),
             "tests": [test]}
    return document(engine, "fuzz", "a divergence found by model-based fuzzing", [group])


def save(engine: Engine, d: Divergence, path: Path) -> None:
    from chargespec.conform import write_atomic
    from chargespec.vectors import render
    write_atomic(path, render(vector_file(engine, d)).decode())
