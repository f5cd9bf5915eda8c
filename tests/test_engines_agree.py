"""The step function and the transitions machine never diverge (DESIGN: two engines, one
behaviour): random configurations, random event sequences, identical states and outputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chargespec.checkers.explore import all_events, parameter_values, parameters_read
from chargespec.loader import load_spec
from chargespec.models.machine import TransitionsMachine
from chargespec.models.step import Engine

from conftest import SPEC_DIR

ENGINE = Engine(load_spec(SPEC_DIR))
UNMEMOIZED = Engine(ENGINE.spec, memo=False)
EVENTS = all_events(ENGINE)
PARAMS = parameters_read(ENGINE)
config_strategy = st.fixed_dictionaries(
    {p: st.sampled_from(parameter_values(ENGINE, p)) for p in PARAMS})


class TwoEngines(RuleBasedStateMachine):
    @initialize(values=config_strategy)
    def start(self, values):
        self.config = ENGINE.config(values)
        self.state = ENGINE.initial(self.config)
        self.machine = TransitionsMachine(ENGINE.compiled, self.config)

    @rule(event=st.sampled_from(EVENTS))
    def fire(self, event):
        expected_state, expected_out = ENGINE.step(self.config, self.state, event)
        cold_state, cold_out = UNMEMOIZED.step(
            UNMEMOIZED.config(self.config.as_dict()),
            UNMEMOIZED.compiled.State(**self.state.as_dict()), event)
        got_state, got_out = self.machine.fire(event)
        assert got_state == expected_state
        assert got_out == expected_out
        assert cold_state.as_dict() == expected_state.as_dict()
        assert cold_out.to_json() == expected_out.to_json()
        self.state = expected_state

    @invariant()
    def machine_state_is_the_step_state(self):
        if hasattr(self, "machine"):
            assert self.machine.state == self.state


# the fast suite runs 80 walks; `make test-slow` runs 400 (the same property, more examples)
TwoEngines.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
test_step_function_and_transitions_machine_agree = TwoEngines.TestCase


class ManyWalks(TwoEngines):
    pass


ManyWalks.TestCase.settings = settings(max_examples=400, stateful_step_count=40, deadline=None)
test_step_function_and_transitions_machine_agree_on_many_walks = pytest.mark.slow(
    ManyWalks.TestCase)


_COLD: list = []


def _cold() -> Engine:
    """An engine without memo (compiled once: compiling takes a third of a second)."""
    if not _COLD:
        _COLD.append(Engine(ENGINE.spec, memo=False))
    return _COLD[0]


@settings(max_examples=60, deadline=None)
@given(values=config_strategy, walk=st.lists(st.sampled_from(EVENTS), max_size=25))
def test_expand_is_step_under_every_event(values, walk):
    """What the explorer uses (`expand`: every event from one state, rule buckets specialised
    to the configuration, inert rules sharing one settled state) is `step`, event by event,
    along a random walk, on a cold engine and on the memoized one."""
    cold = _cold()
    config, cold_config = ENGINE.config(values), cold.config(values)
    state = ENGINE.initial(config)
    for event in [None, *walk]:
        if event is not None:
            state, _ = ENGINE.step(config, state, event)
        cold_state = cold.compiled.State(**state.as_dict())
        got, none = cold.expand(cold_config, cold_state, EVENTS)
        assert [ev for ev, _, _ in got] == EVENTS and none == []
        # the changes only: the others are self-loops, and their rules are named
        changes, loops = cold.expand(cold_config, cold_state, EVENTS, changes_only=True)
        selfloops = [out.rule for _, s2, out in got if s2 == cold_state and not out.messages]
        assert [(e, s.as_dict(), o) for e, s, o in changes] == [
            (e, s.as_dict(), o) for e, s, o in got if not (s == cold_state and not o.messages)]
        assert sorted(loops) == sorted(selfloops)
        for ev, s2, out in got:
            want_state, want_out = ENGINE.step(config, state, ev)
            assert s2.as_dict() == want_state.as_dict(), ev
            assert out.to_json() == want_out.to_json(), ev
