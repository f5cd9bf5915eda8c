"""The step function: `step(config, state, event) -> (state, outputs)`, pure and table-driven.

This is the engine that the explorer, Hypothesis, the vector generator and the conformance
runner use.  It is pure: the result depends only on its arguments, and nothing is mutated.  It
is fast because it is a table: the first time a (configuration, state, event) is met, the one
applicable rule is found (and the spec's determinism and completeness are checked for that
situation: ModelError names the configuration, state, event and the rules involved); the result
is kept, and every later step of the same situation is a dictionary lookup, as in h11's
`_state.py`.  Configurations and states are interned, frozen values with a cached hash.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from chargespec.loader import load_spec
from chargespec.specmodel import Spec

from chargespec import configkeys

from .compiled import CompiledMachine
from .types import Event, Message, Outputs, freeze


class Engine:
    """The step function of one machine of a spec, with its memo table."""

    def __init__(self, spec: Spec | None = None, machine: str = "session", *, memo: bool = True,
                 helpers: Mapping[str, Any] | None = None, reuse: Any = None):
        self.compiled = CompiledMachine(spec or load_spec(), machine, helpers,
                                        None if reuse is None else reuse.compiled)
        self.spec = self.compiled.spec
        self.machine = self.compiled.machine
        self._memo: dict[tuple[Any, Any, Event], tuple[Any, Outputs]] | None = {} if memo else None
        # (config, events) -> the events as the rules see them under config, for `expand`
        self._normalized: dict[tuple[int, int], tuple[Any, list[Event], list]] = {}
        # the value classes know their engine, so the module-level step() can dispatch
        self.compiled.State.engine = self  # type: ignore[attr-defined]
        self.keys = self.spec.configuration_keys  # the OCPP configuration keys, or None

    # ---- values
    def config(self, values: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
        return self.compiled.config(values, **overrides)

    def event(self, name: str, **fields: Any) -> Event:
        if name in configkeys.EVENTS and self.keys is not None:
            configkeys.check_event(self.keys, name, fields)
            return Event.of(name, **{k: freeze(v) for k, v in fields.items()})
        return self.compiled.event(name, **fields)

    def initial(self, config: Any) -> Any:
        return self.compiled.initial(config)

    def observe(self, config: Any, state: Any) -> Any:
        return self.compiled.observe(config, state)

    # ---- the step
    def step(self, config: Any, state: Any, event: Event) -> tuple[Any, Outputs]:
        memo = self._memo
        if memo is not None:
            key = (config, state, event)
            hit = memo.get(key)
            if hit is not None:
                return hit
        c = self.compiled
        seen = c.normalize(config, event)
        rule = c.choose(config, state, seen)
        if rule.inert:
            result = c.finish_inert(config, state, rule)
        else:
            values, msgs, inds = c.apply(rule, config, state, seen)
            result = c.finish(config, state, values, rule, msgs, inds)
        if memo is not None:
            memo[key] = result
        return result

    def advance(self, config: Any, state: Any, event: Event) -> tuple[Any, Any, Outputs]:
        """`step`, and the backend's GetConfiguration and ChangeConfiguration (configkeys),
        which the machine's rules do not see: (configuration, state, outputs) after the event.
        A change gives the configuration the next events run under; the state is unchanged."""
        if event.name not in configkeys.EVENTS or self.keys is None:
            new, out = self.step(config, state, event)
            return config, new, out
        fields = event.as_dict()
        if event.name == "get_configuration":
            payload = configkeys.get_configuration(self.keys, config, fields["key"])
            msg = Message("GetConfiguration", "result", tuple(
                (k, freeze(v)) for k, v in sorted(payload.items())))
        else:
            status, changes = configkeys.change_configuration(
                self.keys, config, fields["key"], fields["value"])
            if changes:
                config = self.compiled.Config(**{**config.as_dict(), **{
                    k: freeze(v) for k, v in changes.items()}})
            msg = Message("ChangeConfiguration", "result", (("status", status),))
        return config, state, Outputs(event.name, (msg,), (), self.observe(config, state))

    def expand(self, config: Any, state: Any, events: list[Event], changes_only: bool = False
               ) -> tuple[list[tuple[Event, Any, Outputs]], list[str]]:
        """`step` under every event of `events` from one state: [(event, state, outputs)], and
        with `changes_only` only those that change the state or send something, the rules
        that the others fired coming second (`CompiledMachine.expand`).

        For the explorer, which asks this of every state once: the memo would only fill up, so
        it is neither read nor written."""
        c = self.compiled
        key = (id(config), id(events))
        pairs = self._normalized.get(key)
        if pairs is None or pairs[0] is not config or pairs[1] is not events:
            pairs = (config, events, [(ev, c.normalize(config, ev)) for ev in events])
            self._normalized[key] = pairs
        return c.expand(config, state, pairs[2], changes_only)

    def run(self, config: Any, events: list[Event], state: Any = None
            ) -> list[tuple[Event, Any, Outputs]]:
        """Run a sequence of events from `state` (default: initial); (event, state, outputs).
        A ChangeConfiguration among them changes the configuration of the events after it."""
        s = self.initial(config) if state is None else state
        trace = []
        for ev in events:
            config, s, out = self.advance(config, s, ev)
            trace.append((ev, s, out))
        return trace

    def clear_memo(self) -> None:
        if self._memo is not None:
            self._memo.clear()
        self.compiled.caches.clear()
        self._normalized.clear()


@lru_cache(maxsize=8)
def engine_for(spec_dir: str | None = None, machine: str = "session") -> Engine:
    """The (cached) engine of a spec directory; None = the embedded spec."""
    return Engine(load_spec(Path(spec_dir)) if spec_dir else load_spec(), machine)


def step(config: Any, state: Any, event: Event) -> tuple[Any, Outputs]:
    """The pure step function of the machine that `state` belongs to."""
    return type(state).engine.step(config, state, event)
