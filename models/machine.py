"""The readable reference implementation: a `transitions.Machine` built from the same spec.

The machine's states are the values of the spec's control variable (`session`); every rule
becomes one transition per event it handles, from its `from` states to its `to` state (an
internal transition when it has none), with the rule's guard as the condition.  The model object
carries the other state variables as attributes.  `transitions` chooses the transition; the
updates are computed in `before` (from the values before the step, as guarded commands are),
assigned in `after`, and the observations and notifications are settled by the same compiled
spec as the step function (`CompiledMachine.finish`).

It is the engine people can import, step through and draw (GraphMachine, in the diagrams
issue); it is about two orders of magnitude slower than the step function, so the explorer
never uses it.  A Hypothesis test holds the two engines to identical states and outputs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from transitions import Machine

from chargespec.errors import ModelError

from .compiled import CompiledMachine, CompiledRule
from .types import Event, Outputs


class SessionModel:
    """The object a TransitionsMachine drives: one attribute per state field."""

    def __repr__(self) -> str:
        return f"SessionModel({vars(self)!r})"


class TransitionsMachine:
    """A transitions.Machine for one configuration; `fire(event)` is one step."""

    def __init__(self, compiled: CompiledMachine, config: Any, state: Any = None):
        self.compiled = compiled
        self.config = config
        m = compiled.machine
        start = state if state is not None else compiled.initial(config)
        self.model = SessionModel()
        for name, value in start.as_dict().items():
            if name != m.control:
                setattr(self.model, name, value)
        self.machine = Machine(
            model=self.model,
            states=list(m.variables[m.control].type.values),  # type: ignore[attr-defined]
            initial=getattr(start, m.control),
            model_attribute=m.control,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for cr in compiled.rules:
            for ev in cr.rule.events:
                self.machine.add_transition(
                    trigger=ev,
                    source=list(cr.rule.sources),
                    dest=cr.rule.to,
                    conditions=[partial(self._guard, cr)],
                    before=[partial(self._before, cr)],
                    after=[partial(self._after, cr)],
                )
        self._pending: tuple[Any, list[Any], list[Any], list[Any]] | None = None
        self._last: tuple[Any, Outputs] | None = None

    @property
    def state(self) -> Any:
        c = self.compiled
        return c.State(**{f: getattr(self.model, f) for f in c.fields})

    @staticmethod
    def _event(event_data: Any) -> Event:
        return Event.of(event_data.event.name, **event_data.kwargs)

    def _guard(self, cr: CompiledRule, event_data: Any) -> bool:
        return bool(cr.guard(self.model, self.config, self._event(event_data), None))

    def _before(self, cr: CompiledRule, event_data: Any) -> None:
        old = self.state
        values, msgs, inds = self.compiled.apply(cr, self.config, old, self._event(event_data))
        self._pending = (old, values, msgs, inds)

    def _after(self, cr: CompiledRule, event_data: Any) -> None:
        assert self._pending is not None
        old, values, msgs, inds = self._pending
        self._pending = None
        new, outputs = self.compiled.finish(self.config, old, values, cr, msgs, inds)
        control = self.compiled.machine.control
        for name, value in new.as_dict().items():
            if name != control:
                setattr(self.model, name, value)
        self._last = (new, outputs)

    def fire(self, event: Event) -> tuple[Any, Outputs]:
        """Trigger `event` on the machine; the new state and the step's outputs."""
        self._last = None
        before = self.state
        event = self.compiled.normalize(self.config, event)
        fired = self.model.trigger(event.name, **event.as_dict())  # type: ignore[attr-defined]
        if not fired or self._last is None:
            raise ModelError(
                f"transitions machine {self.compiled.machine.name}: no transition for event "
                f"{event.label()} in state {before!r} under "
                f"{self.compiled.describe_config(self.config)}")
        return self._last
