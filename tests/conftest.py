"""Shared fixtures: the embedded spec, its engine, and a helper to run scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargespec.loader import load_spec
from chargespec.models.step import Engine

REPO = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO / "spec"


@pytest.fixture(scope="session")
def spec():
    return load_spec(SPEC_DIR)


@pytest.fixture(scope="session")
def engine(spec):
    return Engine(spec)


class Run:
    """Runs events (strings or (name, fields)) and keeps every step for assertions."""

    def __init__(self, engine: Engine, **config):
        self.engine = engine
        self.config = engine.config(config)
        self.state = engine.initial(self.config)
        self.steps = []

    def __call__(self, name: str, **fields):
        ev = self.engine.event(name, **fields)
        self.state, out = self.engine.step(self.config, self.state, ev)
        self.steps.append((ev, self.state, out))
        return out

    def all(self, *events):
        for e in events:
            if isinstance(e, str):
                self(e)
            else:
                self(e[0], **e[1])
        return self

    @property
    def obs(self):
        return self.steps[-1][2].observation if self.steps else \
            self.engine.observe(self.config, self.state)

    def messages(self, action=None):
        return [m for _, _, out in self.steps for m in out.messages
                if action is None or m.action == action]

    def stop_reasons(self):
        return [m.as_dict()["reason"] for m in self.messages("StopTransaction")]

    def statuses_sent(self):
        return [m.as_dict()["status"] for m in self.messages("StatusNotification")]


@pytest.fixture
def run(engine):
    return lambda **config: Run(engine, **config)


# (configuration, most errors active at once) for the exploration of the error model
ERROR_CONFIGS = [
    ({"stop_transaction_mode": "Normal", "display_backend_disconnect_as_error": True}, 2),
    ({"stop_transaction_mode": "NormalModeDRcd", "send_error_status_notifications": False}, 1),
    ({"stop_transaction_mode": "StopOnlyByDisconnecting",
      "lock_actuator_only_if_authorized": True}, 1),
    ({"stop_transaction_mode": "OnlyByRfidOrRemoteStop"}, 1),
]


class PairwiseRecord:
    """One BFS over every pairwise configuration, recording what several tests assert on."""

    def __init__(self, engine: Engine):
        from chargespec.checkers.explore import (REPRESENTATIVE_ERRORS, error_events, explore,
                                                 max_errors, pairwise_configurations,
                                                 session_events)

        compiled = engine.compiled
        table = engine.spec.status_table
        self.status_changes: set[tuple[str, str]] = set()
        self.bad_notifications: list[str] = []
        self.messages: dict = {}
        self.rows = {name: set() for name, kind, _ in compiled.observations if kind == "cases"}
        self.rules_fired: set[str] = set()
        self.explorations = []
        self.error_explorations = []

        renotify = {r.id: r.renotify for r in engine.machine.rules}

        def silenced(config):
            return any(when(None, config, None, None) and
                       ("*" in drop or "StatusNotification" in drop)
                       for drop, when in compiled.filters)
        rows_seen: set = set()

        def record(config, s, ev, s2, out):
            self.status_changes.add((s.status, s2.status))
            sent = [m.as_dict()["status"] for m in out.messages if m.action == "StatusNotification"]
            error_note = out.observation.error_info is not None and \
                config.send_error_status_notifications
            expected = [s2.status] if (s2.status != s.status or error_note or
                                       renotify[out.rule]) else []
            if silenced(config):  # Free Charging mode 1: no OCPP at all
                expected = []
            if sent != expected:
                self.bad_notifications.append(
                    f"{out.rule} on {ev.label()}: status {s.status} -> {s2.status}, sent {sent}")
            for m in out.messages:
                self.messages.setdefault((m.action, m.kind, m.fields), (out.rule, ev))
            # tables read the previous value of kept observations (status), as the engine does
            key = (config, s2, tuple(getattr(s, n) for _, n in compiled.kept))
            if key in rows_seen:
                return None
            rows_seen.add(key)
            provisional = compiled.State(**{**s2.as_dict(),
                                            **{n: getattr(s, n) for _, n in compiled.kept}})
            obs = {}
            for name, kind, fn in compiled.observations:
                if kind == "cases":
                    self.rows[name].add(next(i for i, (when, _) in enumerate(fn)
                                             if when(provisional, config, None, obs)))
                obs[name] = getattr(out.observation, name)
            return None

        events = session_events(engine)
        for c in pairwise_configurations(engine):
            x = explore(engine, c, {"record": record}, events=events)
            self.rules_fired |= x.rules_fired
            self.explorations.append(x)
        # the error model: one row per behaviour, at most two at once, under each stop mode
        events = events + error_events(engine, REPRESENTATIVE_ERRORS)
        for c, bound in ERROR_CONFIGS:
            x = explore(engine, engine.config(c), {"record": record}, events=events,
                        bound=max_errors(bound))
            self.rules_fired |= x.rules_fired
            self.error_explorations.append(x)
        self.forbidden = sorted((a, b) for a, b in self.status_changes if not table.permits(a, b))


@pytest.fixture(scope="session")
def pairwise(engine):
    return PairwiseRecord(engine)
