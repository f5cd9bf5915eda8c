"""The reference model served over the JSON-lines stdio protocol of `chargespec conform`.

    python -m chargespec.models.stdio

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

import functools
import json
import sys
from typing import Any, TextIO

from chargespec import __version__
from chargespec.errors import ChargespecError

OBSERVATIONS = ["status", "contactor", "lock", "offered_current", "duty_cycle", "led",
                "messages", "indications"]


def observation(out: Any, state: Any) -> dict[str, Any]:
    from chargespec.models.types import thaw
    o = out.observation
    return {"status": o.status, "contactor": o.contactor, "lock": state.lock,
            "offered_current": o.offered_current, "duty_cycle": o.duty_cycle, "led": o.led,
            "messages": [{"action": m.action, "kind": m.kind, "fields": thaw(m.as_dict())}
                         for m in out.messages],
            "indications": [i.name for i in out.indications]}


class Reference:
    """The in-process reference: reset(config) and step(event) -> observation.

    A configuration with a `dlm` key is a DLM site: its events are `dlm_tick`s, answered with
    the allocation (`amps`); any other configuration is the session's.
    """

    name = "chargespec reference model"
    observations = OBSERVATIONS + ["amps"]

    def __init__(self, engine: Any = None) -> None:
        from chargespec.models.step import Engine
        self.engine = engine if engine is not None else Engine()
        self.config: Any = None
        self.state: Any = None
        self.site: Any = None
        self._configs: dict[Any, tuple[Any, Any]] = {}  # vectors reset to few configurations
        self._events: dict[Any, Any] = {}
        self._obs: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        # the same JSON object again (a vector group's configuration, a test's event): known by
        # identity, without building its key; the object is kept, so its id stays its own
        self._seen: dict[int, tuple[Any, Any]] = {}
        self._last: tuple[dict[str, Any], Any] | None = None  # the configuration reset last

    def reset(self, config: dict[str, Any]) -> None:
        if "dlm" in config:
            from chargespec.dlm.vectors import site_from_json
            self.site = site_from_json(self.engine.spec, config["dlm"])
            return
        self.site = None
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
        if self.site is not None:
            from chargespec.dlm.allocator import allocate
            from chargespec.dlm.vectors import tick_from_json
            return {"amps": list(allocate(self.site, tick_from_json(event)).amps)}
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
            self.state = hit[0]
            return hit[1]  # shared: callers compare, never mutate
        self.state, out = self.engine.step(self.config, self.state, ev)
        obs = observation(out, self.state)
        if len(self._obs) < 200_000:
            self._obs[memo] = (self.state, obs)
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


MAX_REQUEST = 8 << 20  # bytes of one request line


@functools.lru_cache(maxsize=1)
def _request_schemas() -> dict[str, Any]:
    """The request forms of schema/adapter-protocol.schema.json, by their `type`."""
    from importlib import resources

    import jsonschema
    doc = json.loads(resources.files("chargespec.schema").joinpath(
        "adapter-protocol.schema.json").read_text(encoding="utf-8"))
    out = {}
    for form in doc["oneOf"]:
        if str(form.get("title", "")).startswith("request:"):
            out[form["properties"]["type"]["const"]] = jsonschema.Draft202012Validator(form)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_request(line: str) -> dict[str, Any]:
    """One request line, parsed and checked against the protocol's schema; ValueError saying
    what is wrong otherwise."""
    try:
        req = json.loads(line, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("a request nested too deep") from None
    if not isinstance(req, dict):
        raise ValueError("a request must be a JSON object")
    kind = req.get("type")
    validator = _request_schemas().get(kind) if isinstance(kind, str) else None
    if validator is None:
        raise ValueError(f"unknown request type {str(kind)[:40]!r} (hello, reset, event, "
                         f"run, bye)")
    try:
        err = next(iter(validator.iter_errors(req)), None)
    except RecursionError:
        raise ValueError("a request nested too deep") from None
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"{kind} request breaks adapter-protocol.schema.json at {where}: "
                         f"{str(err.message)[:200]}")
    return req


def _lines(inp: TextIO, limit: int) -> Any:
    """The input's lines, each cut off after `limit` characters (the rest is skipped and the
    line given as None: too long)."""
    while True:
        line = inp.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith("\n"):
            while True:  # skip to the end of the over-long line
                rest = inp.readline(1 << 16)
                if not rest or rest.endswith("\n"):
                    break
            yield None
            continue
        yield line


def serve(inp: TextIO, outp: TextIO, max_request: int = MAX_REQUEST,
          model: Reference | None = None) -> int:
    """Answer requests until `bye` or the end of the input.  A request that is not the
    protocol gets `{"type": "error", "reason": ...}`, and the adapter serves on."""
    model = model if model is not None else Reference()
    ready = False

    def send(obj: dict[str, Any]) -> None:
        outp.write(json.dumps(obj) + "\n")
        outp.flush()

    for line in _lines(inp, max_request):
        if line is None:
            send({"type": "error", "reason": f"a request longer than {max_request} "
                                             f"characters"})
            continue
        if not line.strip():
            continue
        try:
            req = check_request(line)
            kind = req["type"]
            if kind == "hello":
                send({"type": "hello", "name": model.name, "version": __version__,
                      "observations": model.observations, "batch": True})
            elif kind == "reset":
                try:
                    model.reset(req["config"])
                    ready = True
                    send({"type": "ready"})
                except ChargespecError as exc:
                    ready = False
                    send({"type": "unsupported", "reason": str(exc)})
            elif kind == "event":
                if not ready:
                    raise ValueError("an event before a successful reset")
                send({"type": "observation", "observation": model.step(req["event"])})
            elif kind == "run":  # the batch extension: reset, then every event
                try:
                    model.reset(req["config"])
                    ready = True
                except ChargespecError as exc:
                    ready = False
                    send({"type": "unsupported", "reason": str(exc)})
                    continue
                step = model.step
                send({"type": "observations",
                      "observations": [step(ev) for ev in req["events"]]})
            elif kind == "bye":
                return 0
        except ChargespecError as exc:
            send({"type": "error", "reason": str(exc)[:500]})
        except Exception as exc:  # noqa: BLE001 - a bad request must never end the service
            send({"type": "error", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"})
    return 0


def main() -> int:
    """Serve on stdin/stdout as UTF-8 whatever the locale: bytes that are not UTF-8 become
    U+FFFD (then a request that is not JSON, answered with an error), never a crash."""
    import io
    inp = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="backslashreplace",
                           newline="\n", line_buffering=False)
    try:
        return serve(inp, out)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main())
