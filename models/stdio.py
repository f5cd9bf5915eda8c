"""The session's reference as an adapter: reset(config), step(event) -> the observation a
vector expects (its JSON projection, `observation`).  Served over the JSON-lines protocol of
`chargespec conform` by `chargespec.reference` with the other vector kinds':

    python -m chargespec.reference        (or, as before, python -m chargespec.models.stdio)

One JSON object per line in each direction:

    -> {"type": "hello"}                  <- {"type": "hello", "name", "version", "observations"}
    -> {"type": "reset", "config": {..}}  <- {"type": "ready"} | {"type": "unsupported", "reason"}
    -> {"type": "event", "event": {"name": "rfid", "uid": "..."}}
                                          <- {"type": "observation", "observation": {..}}
    -> {"type": "bye"}                    (the process exits)

An observation has the keys the vectors expect (status, contactor, lock, offered_current,
duty_cycle, led, messages, indications); an implementation under test answers the same way with
the ones it can show, and says which in `hello`.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

def observed_names(machine: Any) -> list[str]:
    """The keys of an observation, in order (the machine's `observed:`)."""
    if not machine.observed:
        raise ValueError(f"machine {machine.name} declares no `observed:` (what the vectors "
                         f"observe)")
    return [o.name for o in machine.observed]


_PROJECTIONS: dict[int, tuple[Any, Callable[[Any, Any], dict[str, Any]]]] = {}


def projection(machine: Any) -> Callable[[Any, Any], dict[str, Any]]:
    """(outputs, state after) -> the observation a vector expects, as `observed:` declares it
    (built once per machine)."""
    hit = _PROJECTIONS.get(id(machine))
    if hit is not None and hit[0] is machine:
        return hit[1]
    from operator import attrgetter

    from chargespec.models.types import to_jsonable
    getters: list[tuple[str, Callable[[Any, Any], Any]]] = []
    for o in machine.observed:
        if o.source == "observation":
            get = attrgetter(o.name)
            getters.append((o.name, lambda out, st, get=get: get(out.observation)))
        elif o.source == "state":
            get = attrgetter(o.name)
            getters.append((o.name, lambda out, st, get=get: get(st)))
        elif o.source == "messages":
            getters.append((o.name, lambda out, st: [
                {"action": m.action, "kind": m.kind, "fields": to_jsonable(m.as_dict())}
                for m in out.messages]))
        else:
            getters.append((o.name, lambda out, st: [i.name for i in out.indications]))
    if not getters:
        observed_names(machine)  # raises: says what is missing

    def project(out: Any, state: Any) -> dict[str, Any]:
        return {name: get(out, state) for name, get in getters}
    _PROJECTIONS[id(machine)] = (machine, project)
    return project


def observation(machine: Any, out: Any, state: Any) -> dict[str, Any]:
    """The observation a vector expects after a step (see `projection`)."""
    return projection(machine)(out, state)


class SessionReference:
    """The in-process reference of the session: reset(config) and step(event) -> observation.
    (`chargespec.reference.Reference` adds the other vector kinds, DLM ticks among them.)"""

    name = "chargespec reference model"

    def __init__(self, engine: Any = None) -> None:
        from chargespec.models.step import Engine
        self.engine = engine if engine is not None else Engine()
        self.observations = observed_names(self.engine.machine)
        self._project = projection(self.engine.machine)
        self.config: Any = None
        self.state: Any = None
        self._configs: dict[Any, tuple[Any, Any]] = {}  # vectors reset to few configurations
        self._events: dict[Any, Any] = {}
        self._obs: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        # the same JSON object again (a vector group's configuration, a test's event): known by
        # identity, without building its key; the object is kept, so its id stays its own
        self._seen: dict[int, tuple[Any, Any]] = {}
        self._last: tuple[dict[str, Any], Any] | None = None  # the configuration reset last

    def reset(self, config: dict[str, Any]) -> None:
        same = self._seen.get(id(config))
        if same is not None and same[0] is config:
            self.config, self.state = same[1]
            return
        last = self._last
        if last is not None and last[0] == config:  # over stdio: a new, equal dict per test
            self.config, self.state = last[1]
            return
        key = _key(config)
        hit = self._configs.get(key)
        if hit is None:
            c = self.engine.config(config)
            hit = self._configs[key] = (c, self.engine.initial(c))
        self._remember(config, hit)
        self._last = (config, hit)
        self.config, self.state = hit

    def _remember(self, obj: Any, value: Any) -> None:
        if len(self._seen) < 100_000:
            self._seen[id(obj)] = (obj, value)

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        same = self._seen.get(id(event))
        if same is not None and same[0] is event:
            ev = same[1]
        else:
            key = _key(event)
            ev = self._events.get(key)
            if ev is None:
                fields = dict(event)
                ev = self._events[key] = self.engine.event(fields.pop("name"), **fields)
            self._remember(event, ev)
        memo = (self.config, self.state, ev)
        hit = self._obs.get(memo)
        if hit is not None:
            self.config, self.state = hit[0]
            return hit[1]  # shared: callers compare, never mutate
        # advance: a ChangeConfiguration changes the configuration of the steps after it
        self.config, self.state, out = self.engine.advance(self.config, self.state, ev)
        obs = self._project(out, self.state)
        if len(self._obs) < 200_000:
            self._obs[memo] = ((self.config, self.state), obs)
        return obs


def _key(d: dict[str, Any]) -> Any:
    """A cache key for a JSON object: its sorted items when they are hashable (events and most
    configurations: strings, numbers, booleans), else its canonical JSON."""
    try:
        # the type too: True == 1 as a key, but not as a JSON value
        k = tuple(sorted((name, type(v).__name__, v) for name, v in d.items()))
        hash(k)
        return k
    except TypeError:
        return json.dumps(d, sort_keys=True)


if __name__ == "__main__":  # the command of earlier releases: the whole reference, served
    from chargespec.reference import main
    sys.exit(main())
