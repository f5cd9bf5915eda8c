"""The step function and the transitions machine never diverge (DESIGN: two engines, one
behaviour): random configurations, random event sequences, identical states and outputs."""

from __future__ import annotations

from hypothesis import settings, strategies as st
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


TwoEngines.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_step_function_and_transitions_machine_agree = TwoEngines.TestCase
