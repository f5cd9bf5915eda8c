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
