"""The reference adapter: every vector kind's reference behind one adapter, served over the
JSON-lines stdio protocol of `chargespec conform` (schema/adapter-protocol.schema.json).

    python -m chargespec.reference

One JSON object per line in each direction:

    -> {"type": "hello"}                  <- {"type": "hello", "name", "version", "observations"}
    -> {"type": "reset", "config": {..}}  <- {"type": "ready"} | {"type": "unsupported", "reason"}
    -> {"type": "event", "event": {"name": "rfid", "uid": "..."}}
                                          <- {"type": "observation", "observation": {..}}
    -> {"type": "bye"}                    (the process exits)

A reset's configuration says which kind a group is (`kinds.kind_of_config`): the session's
(status, contactor, lock, offered_current, duty_cycle, led, messages, indications), or a DLM
site's (`amps`).  An implementation under test answers the same way with the observations it can
show, and says which in `hello`.  A request that is not the protocol is answered with
`{"type": "error", "reason": ...}`, and the adapter serves on.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, TextIO

from chargespec import __version__
from chargespec.errors import ChargespecError
from chargespec.kinds import kind_of_config, registered


class Reference:
    """The in-process reference of every vector kind: reset(config) picks the kind, step(event)
    answers as that kind's reference does."""

    name = "chargespec reference model"

    def __init__(self, engine: Any = None) -> None:
        from chargespec.models.step import Engine
        self.engine = engine if engine is not None else Engine()
        self.observations = list(dict.fromkeys(o for k in registered()
                                               for o in k.observations(self.engine)))
        self._refs: dict[str, Any] = {}
        self._current: Any = None

    def reference(self, kind: str) -> Any:
        """The reference of one kind (built once)."""
        ref = self._refs.get(kind)
        if ref is None:
            ref = self._refs[kind] = registered(kind).reference(self.engine)
        return ref

    def reset(self, config: dict[str, Any]) -> None:
        self._current = None
        ref = self.reference(kind_of_config(config).name)
        ref.reset(config)
        self._current = ref

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        if self._current is None:
            raise ValueError("an event before a successful reset")
        return self._current.step(event)


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
          model: Any = None) -> int:
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
