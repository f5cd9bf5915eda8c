"""`chargespec conform`: run conformance vectors against an implementation through an adapter.

Adapters:
  in-process   a Python class with `reset(config)` and `step(event) -> observation` (and an
               `observations` list), named as `module:Class`; `reference` is the spec's model
  stdio        any command speaking the JSON-lines protocol of chargespec.reference; each
               answer must come within the step timeout

A test passes when, after every step, each observation the implementation declares it can show
equals the vector's; observations it cannot show are reported as not observed, never as passed.
A crash, a hang or an answer that is not JSON fails that test with the reason, the adapter is
restarted, and the run goes on.  Results: a summary by file and flag, the first divergence of each
failure (expected and observed side by side), JUnit XML and JSON.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape, quoteattr


from chargespec.errors import AdapterError, VectorFileError  # noqa: E402 - re-exported


class StepUnsupported(Exception):
    """An adapter cannot take this event (a driver that supports only some): the test is
    unsupported from this step on, never passed or failed."""


class InProcess:
    def __init__(self, target: str):
        if target == "reference":
            from chargespec.reference import Reference
            self.impl: Any = Reference()
        else:
            module, _, cls = target.partition(":")
            try:
                factory = getattr(importlib.import_module(module), cls)
            except ImportError as exc:
                raise AdapterError(f"cannot import {module!r}: {exc}") from None
            except AttributeError:
                raise AdapterError(f"module {module!r} has no {cls!r}") from None
            if not isinstance(factory, type):
                raise AdapterError(f"{target!r} is not a class")
            try:
                self.impl = factory()
            except Exception as exc:  # noqa: BLE001 - the implementation's own failure
                raise AdapterError(f"{target}() raised {type(exc).__name__}: {exc}") from None
        missing = [m for m in ("reset", "step") if not callable(getattr(self.impl, m, None))]
        obs = getattr(self.impl, "observations", None)
        if missing or not isinstance(obs, (list, tuple)):
            raise AdapterError(f"{target!r} is not an adapter: it needs reset(config), "
                               f"step(event) and an `observations` list")
        self.name = str(getattr(self.impl, "name", target))
        self.observations = [str(x) for x in obs]

    def reset(self, config: dict[str, Any]) -> bool:
        try:
            answer = self.impl.reset(config)
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is the result
            raise AdapterError(f"reset raised {type(exc).__name__}: {exc}") from None
        return answer is not False  # an adapter may answer False: unsupported configuration

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.impl.step(event)
        except StepUnsupported:
            raise
        except RecursionError:
            raise AdapterError("step raised RecursionError") from None
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is the result
            raise AdapterError(f"step raised {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        pass


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_answer(line: bytes) -> dict[str, Any]:
    """One answer line as a JSON object, or AdapterError saying what is wrong with it: not
    UTF-8, not strict JSON (NaN, Infinity), nested too deep, not an object."""
    shown = line.strip()[:120]
    try:
        answer = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise AdapterError(f"not UTF-8: {shown!r}") from None
    except RecursionError:
        raise AdapterError(f"nested too deep: {shown!r}") from None
    except ValueError as exc:
        raise AdapterError(f"not JSON ({str(exc)[:80]}): {shown!r}") from None
    if not isinstance(answer, dict):
        raise AdapterError(f"not a JSON object: {shown!r}")
    return answer


class Stdio:
    STARTUP = 60.0  # seconds for the process to start and answer hello
    RESTART = 10.0  # seconds to start again after a failure (at least 3 step timeouts)
    MAX_LINE = 8 << 20  # bytes in one answer line (`--max-line`)

    def __init__(self, command: list[str], timeout: float = 5.0, max_line: int = MAX_LINE):
        self.command, self.timeout, self.max_line = command, timeout, max_line
        self.proc: subprocess.Popen | None = None
        self.name = " ".join(command)
        self.observations: list[str] = []
        self.batch = False
        self.quiescence = False
        self._dead: str | None = None  # why the last restart failed: no further attempts
        self._started = False
        self._start()

    def _start(self) -> None:
        if self._dead is not None:
            raise AdapterError(f"not restarted: {self._dead}")
        self.close()
        try:
            # its own process group: closing kills whatever the adapter started too
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        except (OSError, ValueError) as exc:
            raise AdapterError(f"cannot start {self.command[0]!r}: {exc}") from None
        self._buf = b""  # answer bytes read but not yet taken (pipelined answers come together)
        # the start-up allowance is paid once; a restart gets the step timeout, a few times
        wait = self.STARTUP if not self._started else max(3 * self.timeout, self.RESTART)
        try:
            hello = self._ask({"type": "hello"}, max(self.timeout, wait))
            if hello.get("type") != "hello" or not isinstance(hello.get("observations"), list):
                raise AdapterError(f"no hello: {str(hello)[:200]!r}")
        except AdapterError as exc:
            self.close()
            if self._started:
                self._dead = str(exc)
            raise
        self._started = True
        self.name = str(hello.get("name", self.name))[:200]
        self.observations = [str(x) for x in hello["observations"]]
        # the optional extension: a whole test (reset and every event) in one request
        self.batch = hello.get("batch") is True
        # the OCPP-J driver's extension: `settle` answers when the charge point is quiet
        self.quiescence = hello.get("quiescence") is True

    def _send(self, requests: list[dict[str, Any] | bytes]) -> None:
        """Write requests (objects, or lines already encoded) and flush once."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(b"".join(r if isinstance(r, bytes) else json.dumps(r).encode()
                                      + b"\n" for r in requests))
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise AdapterError(f"the adapter exited (status {proc.poll()})") from None

    def _read(self, wait: float) -> dict[str, Any]:
        """The next answer line, within `wait` seconds whatever the adapter streams, and at
        most `max_line` bytes long."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + wait
        parts = [self._buf]
        size = len(self._buf)
        end = self._buf.find(b"\n")
        while end < 0:
            if size > self.max_line:
                raise AdapterError(f"an answer longer than {self.max_line} bytes without a "
                                   f"newline")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AdapterError(f"no complete answer within {wait:g} s (hang)")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise AdapterError(f"no complete answer within {wait:g} s (hang)")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                try:
                    status: Any = proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    raise AdapterError("the adapter closed its output but did not exit"
                                       ) from None
                raise AdapterError(f"the adapter exited (status {status})")
            k = chunk.find(b"\n")  # only the new bytes are scanned: no quadratic rescans
            if k >= 0:
                end = size + k
            parts.append(chunk)
            size += len(chunk)
        buf = b"".join(parts)
        line, self._buf = buf[:end], buf[end + 1:]
        if len(line) > self.max_line:
            raise AdapterError(f"an answer longer than {self.max_line} bytes")
        return parse_answer(line)

    def _ask(self, req: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self._send([req])
        return self._read(self.timeout if timeout is None else timeout)

    def reset(self, config: dict[str, Any]) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        answer = self._ask({"type": "reset", "config": config})
        if answer.get("type") == "unsupported":
            return False
        if answer.get("type") != "ready":
            raise AdapterError(f"reset answered {answer!r}")
        return True

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        answer = self._ask({"type": "event", "event": event})
        if answer.get("type") == "unsupported":
            raise StepUnsupported(str(answer.get("reason", ""))[:300])
        if answer.get("type") != "observation" or not isinstance(answer.get("observation"),
                                                                  dict):
            raise AdapterError(f"event answered {answer!r}")
        return answer["observation"]

    def run(self, config: dict[str, Any], events: list[dict[str, Any]]
            ) -> list[dict[str, Any]] | None:
        """One test in one round trip (adapters that say `"batch": true` in hello): the
        observation after each event, or None when the configuration is unsupported.  The
        answer may take the step timeout once per event."""
        result = self.run_many(config, [events])[0]
        if isinstance(result, AdapterError):
            raise result
        return result

    # requests in flight at once: well under a pipe's buffer, so writing never blocks while
    # the adapter waits for its answers to be read
    WINDOW_BYTES = 16_384

    def run_many(self, config: dict[str, Any], tests: list[list[dict[str, Any]]]
                 ) -> list[Any]:
        """Several tests, pipelined: their `run` requests are written before the answers are
        read.  Each result is the observations, None (unsupported) or the AdapterError that
        test met; after an error the adapter is restarted and the rest run again."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        out: list[Any] = []
        head = b'{"type": "run", "config": ' + json.dumps(config).encode() + b', "events": '
        k = 0
        while k < len(tests):
            window: list[bytes] = []
            size = 0
            while k + len(window) < len(tests) and (not window or size < self.WINDOW_BYTES):
                line = head + json.dumps(tests[k + len(window)]).encode() + b"}\n"
                window.append(line)
                size += len(line)
            try:
                self._send(window)  # type: ignore[arg-type]
                for events in tests[k:k + len(window)]:
                    out.append(self._check_run(
                        self._read(self.timeout * max(1, len(events))), events))
                    k += 1
            except AdapterError as exc:
                out.append(exc)  # the test whose answer did not come, or came wrong
                k += 1
                try:
                    self._start()
                except AdapterError as again:
                    out += [AdapterError(f"{exc}; restart failed: {again}")] * (len(tests) - k)
                    return out
        return out

    @staticmethod
    def _check_run(answer: dict[str, Any], events: list[Any]) -> list[dict[str, Any]] | None:
        if answer.get("type") == "unsupported":
            return None
        seen = answer.get("observations")
        if answer.get("type") != "observations" or not isinstance(seen, list):
            raise AdapterError(f"run answered {str(answer)[:200]!r}")
        if len(seen) != len(events):
            raise AdapterError(f"run answered {len(seen)} observations for {len(events)} "
                               f"events")
        return seen

    def restart(self) -> None:
        self._start()

    def close(self) -> None:
        """Say bye, give the adapter a second to exit, then kill its whole process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin:
                proc.stdin.write(json.dumps({"type": "bye"}).encode() + b"\n")
                proc.stdin.flush()
            proc.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group outlives its leader: kill it too
        except (ProcessLookupError, PermissionError, OSError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


@dataclass
class Outcome:
    file: str
    tc_id: int
    comment: str
    flags: list[str]
    status: str  # passed | failed | acceptable | unsupported
    detail: str = ""
    seconds: float = 0.0
    not_observed: list[str] = field(default_factory=list)
    step: int = 0  # the step of the first divergence (1-based; 0: none)
    expected: dict[str, Any] = field(default_factory=dict)  # at that step
    observed: dict[str, Any] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)  # the rules of the steps up to it
    events: list[str] = field(default_factory=list)
    # on a divergence: the group's configuration and the events up to it (vector JSON), so a
    # report can replay the path on the reference and draw it
    config: dict[str, Any] = field(default_factory=dict)
    path: list[dict[str, Any]] = field(default_factory=list)


from chargespec.compare import compare, labels  # noqa: E402


MAX_VECTOR_FILE = 256 << 20  # bytes: the committed files are under 20 MB


def load_vectors(path: Path, max_bytes: int = MAX_VECTOR_FILE) -> dict[str, Any]:
    """A vector file, read and checked against vectors.schema.json, its tcIds unique; any
    problem is a VectorFileError naming the file and the place."""
    import jsonschema
    from importlib import resources
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise VectorFileError(f"{path}: {size} bytes, more than the limit of {max_bytes}")
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError) as exc:
        raise VectorFileError(f"{path}: cannot read ({exc})") from None
    except RecursionError:
        raise VectorFileError(f"{path}: nested too deep to be a vector file") from None
    except ValueError as exc:
        raise VectorFileError(f"{path}: not JSON ({exc})") from None
    schema = json.loads(resources.files("chargespec.schema").joinpath(
        "vectors.schema.json").read_text(encoding="utf-8"))
    try:
        err = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(doc))
    except RecursionError:
        raise VectorFileError(f"{path}: nested too deep to be a vector file") from None
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise VectorFileError(f"{path}: breaks vectors.schema.json at {where}: "
                              f"{str(err.message)[:300]}")
    seen: dict[int, int] = {}
    for g, group in enumerate(doc["testGroups"]):
        for t in group["tests"]:
            if t["tcId"] in seen:
                raise VectorFileError(f"{path}: testGroups/{g}: tcId {t['tcId']} is used twice "
                                      f"(first in testGroups/{seen[t['tcId']]})")
            seen[t["tcId"]] = g
    return doc


def check_against_spec(path: Path, doc: dict[str, Any], spec: Any) -> None:
    """The events and the configuration of every test are the spec's: an unknown event or
    parameter is bad input (exit 2), not an adapter's failure.  Names file, group and test."""
    from chargespec.errors import ChargespecError
    from chargespec.kinds import kind_of_group
    engine = _engine_for(spec)
    for g, group in enumerate(doc["testGroups"]):
        config = group["config"]
        try:
            kind = kind_of_group(group)
            kind.check_config(engine, config)
        except ChargespecError as exc:
            raise VectorFileError(f"{path}: testGroups/{g}: config: {exc}") from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise VectorFileError(f"{path}: testGroups/{g}: config: {type(exc).__name__}: "
                                  f"{exc}") from None
        for t in group["tests"]:
            for n, step in enumerate(t["steps"], 1):
                ev = step["event"]
                try:
                    kind.check_event(engine, ev)
                except ChargespecError as exc:
                    raise VectorFileError(f"{path}: tcId {t['tcId']} step {n}: {exc}") from None
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    raise VectorFileError(f"{path}: tcId {t['tcId']} step {n}: event "
                                          f"{str(ev)[:120]}: {type(exc).__name__}: "
                                          f"{exc}") from None


_ENGINES: dict[int, tuple[Any, Any]] = {}


def _engine_for(spec: Any) -> Any:
    """One compiled engine per spec object (kept with it, so its id stays its own)."""
    hit = _ENGINES.get(id(spec))
    if hit is None or hit[0] is not spec:
        from chargespec.models.step import Engine
        hit = _ENGINES[id(spec)] = (spec, Engine(spec))
    return hit[1]


def run_file(adapter: Any, path: Path, progress=None, spec: Any = None,
             doc: dict[str, Any] | None = None) -> list[Outcome]:
    """Every test of a vector file (`doc`: the file already loaded and validated)."""
    doc = doc if doc is not None else load_vectors(path)
    out: list[Outcome] = []
    pipelined = getattr(adapter, "batch", False) and hasattr(adapter, "run_many")
    for group in doc["testGroups"]:
        tests = group["tests"]
        answers: list[Any] = [_ASK] * len(tests)
        if pipelined:  # every test of the group in flight, a window at a time
            answers = adapter.run_many(group["config"],
                                       [[s["event"] for s in t["steps"]] for t in tests])
        for test, answer in zip(tests, answers):
            o = run_test(adapter, path.name, doc, group, test, spec, answer)
            out.append(o)
            if progress:
                progress(o)
    return out


_ASK = object()  # run_test asks the adapter itself

# An observation key of adapters that watch a wire (OCPP-J): the action of the charge point's
# CALL still waiting for the vector's answer when the step ended.  OCPP-J allows one
# outstanding CALL per direction, so the calls the charge point queued behind it cannot reach
# the wire in this step: they are expected in the next one instead (and a test that ends
# while they wait does not fail for them).
WAITING = "waitingFor"
# ... and with LOST true, its connection closed during the step (the power was cut): what
# waited behind that CALL was lost with the charge point's memory, never to be sent
LOST = "lostWithConnection"


def held_back(expect: dict[str, Any], seen: dict[str, Any], waiting: Any) -> list[Any]:
    """The expected calls that come after the `waiting` CALL and were not seen: those the
    charge point could not send yet."""
    from chargespec.compare import canonical
    exp = expect.get("messages")
    obs = seen.get("messages")
    if not isinstance(exp, list) or not isinstance(obs, list):
        return []
    calls = [m for m in exp if isinstance(m, dict) and m.get("kind") == "call"]
    names = [m.get("action") for m in calls]
    # the waiting CALL went out in this step (it is among the calls seen): the calls after it
    # wait; it went out before: every call of this step waits, a new CALL of the same action
    # included
    sent = [m.get("action") for m in obs if isinstance(m, dict) and m.get("kind") == "call"]
    first = names.index(waiting) + 1 if waiting in names and waiting in sent else 0
    left = [canonical(m) for m in obs if isinstance(m, dict)]
    out = []
    for m in calls[first:]:
        c = canonical(m)
        if c in left:
            left.remove(c)
        else:
            out.append(m)
    return out


def unpinned(expect: dict[str, Any], observed: list[Any],
             optional: dict[str, set[str]]) -> list[Any]:
    """The observed messages without the optional fields (an adapter's `optional_fields`:
    action -> fields OCPP lets a charge point add, e.g. StopTransaction's idTag) that no
    expected message of that action pins."""
    pinned: dict[str, set[str]] = {}
    for m in expect.get("messages", []):
        if isinstance(m, dict) and isinstance(m.get("fields"), dict):
            pinned.setdefault(m.get("action"), set()).update(m["fields"])
    out = []
    for m in observed:
        if isinstance(m, dict) and m.get("action") in optional and \
                isinstance(m.get("fields"), dict):
            drop = optional[m["action"]] - pinned.get(m["action"], set())
            m = {**m, "fields": {k: v for k, v in m["fields"].items() if k not in drop}}
        out.append(m)
    return out


def without(messages: list[Any], gone: list[Any]) -> list[Any]:
    out = list(messages)
    for m in gone:
        out.remove(m)
    return out


def run_test(adapter: Any, file: str, doc: dict[str, Any], group: dict[str, Any],
             test: dict[str, Any], spec: Any = None, answers: Any = _ASK) -> Outcome:
    """One test: reset with the group's configuration, then every step, to the first
    divergence.  `answers`: what a pipelined batch run already brought for this test (the
    observations, None for unsupported, or the AdapterError it met); by default the test asks
    the adapter itself."""
    from chargespec.kinds import kind_of_group
    t0 = time.perf_counter()
    kind = kind_of_group(group)  # its judge: another observation may keep every invariant
    notes = doc.get("notes", {})
    o = Outcome(file, test["tcId"], test["comment"], test["flags"], "passed",
                not_observed=[k for k in doc.get("observations", [])
                              if k not in adapter.observations])
    try:
        if isinstance(answers, AdapterError):
            raise answers
        if answers is not _ASK:
            pass  # brought by a pipelined run
        elif getattr(adapter, "batch", False):
            answers = adapter.run(group["config"], [s["event"] for s in test["steps"]])
        else:
            answers = adapter.step if adapter.reset(group["config"]) else None
        if answers is None:
            o.status, o.detail = "unsupported", "the adapter cannot take this configuration"
        else:
            shown = adapter.observations
            carry: list[Any] = []  # calls queued behind a CALL awaiting the vector's answer
            for n, step in enumerate(test["steps"], 1):
                seen = answers[n - 1] if isinstance(answers, list) else answers(step["event"])
                if not isinstance(seen, dict):
                    raise AdapterError(f"observation is not a JSON object: {str(seen)[:200]}")
                expect = step["expect"]
                if carry:
                    expect = {**expect, "messages": carry + list(expect.get("messages", []))}
                    carry = []
                optional = getattr(adapter, "optional_fields", None)
                if optional and isinstance(seen.get("messages"), list):
                    seen = {**seen, "messages": unpinned(expect, seen["messages"], optional)}
                if WAITING in seen:  # a wire adapter: its charge point waits for an answer
                    seen = dict(seen)
                    lost = seen.pop(LOST, False) is True
                    carry = held_back(expect, seen, seen.pop(WAITING))
                    if carry:
                        expect = {**expect, "messages": without(expect["messages"], carry)}
                    if lost:
                        carry = []
                try:
                    if seen == expect:
                        continue  # the common case: every observation equal, order included
                    diff = compare(expect, seen, shown)
                except (RecursionError, TypeError, ValueError, AttributeError) as exc:
                    raise AdapterError(f"step {n}: an observation that cannot be compared "
                                       f"({type(exc).__name__})") from None
                if diff is None:
                    continue
                key, text = diff
                o.rules = [s["rule"] for s in test["steps"][:n]]
                o.events = [_event_label(s["event"], kind) for s in test["steps"][:n]]
                o.config, o.path = group["config"], [s["event"] for s in test["steps"][:n]]
                o.step, o.expected, o.observed = n, step["expect"], bounded(seen)
                o.detail = f"step {n} ({step['event']['name']}): {text[:600]}"
                if "choice" in step:
                    alts = notes.get(step["choice"], {}).get("alternatives", [])
                    o.status = "acceptable"
                    o.detail += (f" -- {step['choice']} leaves a choice here"
                                 + (f" ({alts[0]})" if alts else ""))
                elif kind.judge is not None and key in doc.get("observations", ()):
                    broken = kind.judge(spec if spec is not None else embedded_spec(),
                                        group["config"], step["event"], seen.get(key))
                    if broken:
                        o.status = "failed"
                        o.detail += "; breaks " + "; ".join(broken[:3])
                    else:
                        o.status = "acceptable"
                        o.detail += "; keeps every invariant"
                        continue  # the next tick is self-contained
                else:
                    o.status = "failed"
                break
    except StepUnsupported as exc:
        o.status = "unsupported"
        o.detail = f"the adapter cannot take an event of this test{': ' if str(exc) else ''}{exc}"
    except AdapterError as exc:
        o.status, o.detail = "failed", str(exc)
        # a pipelined run has restarted the adapter already
        if hasattr(adapter, "restart") and exc is not answers:
            try:
                adapter.restart()
            except AdapterError as again:
                o.detail += f"; restart failed: {again}"
    o.seconds = time.perf_counter() - t0
    return o


@dataclass(frozen=True)
class Transport:
    """How the runner reaches an implementation: `--adapter SCHEME:REST`.  `parse` turns REST
    into what `start` needs (AdapterError when malformed; nothing is started), `start` returns
    an adapter (reset, step, observations, close; optionally run/run_many with `batch`)."""

    scheme: str
    parse: Callable[[str], Any]
    start: Callable[[Any, float, int], Any]
    doc: str


TRANSPORTS: dict[str, Transport] = {}


def register_transport(t: Transport) -> Transport:
    """A new transport is one module that calls this (the OCPP-J one registers `ocppj`)."""
    TRANSPORTS[t.scheme] = t
    return t


def parse_command(rest: str) -> list[str]:
    import shlex
    try:
        argv = shlex.split(rest)
    except ValueError as exc:
        raise AdapterError(f"cannot split the command {rest[:80]!r}: {exc}") from None
    if not argv:
        raise AdapterError("stdio: names no command (stdio:COMMAND ARGS...)")
    return argv


def _parse_class(rest: str) -> str:
    module, _, cls = rest.partition(":")
    if not re.fullmatch(r"[A-Za-z_][\w.]*", module) or not re.fullmatch(r"[A-Za-z_]\w*", cls):
        raise AdapterError(f"{rest[:80]!r} is not module:Class")
    return rest


register_transport(Transport(
    "reference", lambda rest: None, lambda _, timeout, max_line: InProcess("reference"),
    "the spec's own model, in-process"))
register_transport(Transport(
    "module", _parse_class, lambda target, timeout, max_line: InProcess(target),
    "module:Class, a Python class with reset(config), step(event) and `observations`"))
register_transport(Transport(
    "stdio", parse_command, lambda argv, timeout, max_line: Stdio(argv, timeout, max_line),
    "stdio:COMMAND, any program speaking the JSON-lines protocol (ADAPTER.md)"))


def parse_adapter(spec: str) -> tuple[str, Any]:
    """What an `--adapter` value names, without starting anything: (scheme, what its
    transport needs).  `reference`; a registered `SCHEME:REST`; `module:Class`; a bare command
    (no colon, or a space or slash before it) is stdio.  AdapterError when it is malformed."""
    if not isinstance(spec, str):
        raise AdapterError("an adapter name is a string")
    spec = spec.strip()
    if not spec:
        raise AdapterError(f"empty adapter name ({_schemes()})")
    if "\x00" in spec:
        raise AdapterError("an adapter name cannot hold a NUL character")
    if spec == "reference":
        return "reference", None
    scheme, colon, rest = spec.partition(":")
    if colon and scheme in TRANSPORTS and scheme not in ("reference", "module"):
        return scheme, TRANSPORTS[scheme].parse(rest)
    if not colon or " " in scheme or "/" in scheme:
        return "stdio", parse_command(spec)
    try:
        return "module", _parse_class(spec)
    except AdapterError:
        raise AdapterError(f"{spec[:80]!r} names no adapter ({_schemes()})") from None


def _schemes() -> str:
    return "reference, module:Class, " + ", ".join(
        f"{s}:..." for s in TRANSPORTS if s not in ("reference", "module"))


def make_adapter(spec: str, timeout: float = 5.0, max_line: int = Stdio.MAX_LINE) -> Any:
    """The adapter `spec` names, started through its transport; AdapterError when the name is
    malformed or the adapter cannot start."""
    scheme, what = parse_adapter(spec)
    return TRANSPORTS[scheme].start(what, timeout, max_line)


def _event_label(ev: dict[str, Any], kind: Any = None) -> str:
    if kind is not None and kind.event_label is not None:
        return kind.event_label(ev)
    fields = ", ".join(f"{k}={v}" for k, v in ev.items() if k != "name")
    return f"{ev['name']}({fields})" if fields else ev["name"]


@functools.lru_cache(maxsize=1)
def embedded_spec() -> Any:
    """The embedded spec, loaded once per run (a kind's judge reads its invariants)."""
    from chargespec.loader import load_spec
    return load_spec()


def side_by_side(o: Outcome, width: int = 38) -> str:
    """The first divergence, expected | observed, one observation per line."""
    keys = [k for k in o.expected if k in o.observed or k in o.expected]
    lines = [f"  {'':<16} {'expected':<{width}} | observed"]
    for k in keys:
        e, v = o.expected.get(k), o.observed.get(k, "(nothing)")
        if k == "messages":
            e, v = labels(e or []), labels(v) if isinstance(v, list) else v
        mark = " " if e == v else "*"
        lines.append(f"{mark} {k:<16} {str(e)[:width]:<{width}} | {str(v)[:width * 2]}")
    return "\n".join(lines)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: Any) -> str:
    """Text XML 1.0 can carry: the characters it forbids (C0 controls, lone surrogates,
    U+FFFE/U+FFFF) written as visible escapes, so the JUnit file always parses."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def junit(outcomes: list[Outcome]) -> str:
    failures = sum(o.status == "failed" for o in outcomes)
    skipped = sum(o.status == "unsupported" for o in outcomes)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuite name="chargespec conform" tests="{len(outcomes)}" '
             f'failures="{failures}" skipped="{skipped}">']
    for o in outcomes:
        name = quoteattr(xml_text(f"{o.file}#{o.tc_id} {o.comment}"))
        lines.append(f'  <testcase classname={quoteattr(xml_text(o.file))} name={name} '
                     f'time="{o.seconds:.4f}">')
        detail = xml_text(o.detail)
        if o.status == "failed":
            lines.append(f'    <failure message={quoteattr(detail)}>{escape(detail)}</failure>')
        elif o.status == "unsupported":
            lines.append(f'    <skipped message={quoteattr(detail)}/>')
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def bounded(value: Any, depth: int = 0, limit: int = 24) -> Any:
    """An observation as results keep it: JSON nested deeper than `limit` is cut off (a
    string says so), so no writer recurses without bound on what an adapter sent."""
    if depth >= limit and isinstance(value, (dict, list)):
        return f"(nested deeper than {limit} levels)"
    if isinstance(value, dict):
        return {k: bounded(v, depth + 1, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [bounded(v, depth + 1, limit) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """Strict JSON: a NaN or infinity as its name in a string, a lone surrogate escaped."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def results_json(outcomes: list[Outcome]) -> str:
    from dataclasses import asdict
    return json.dumps([json_safe(asdict(o)) for o in outcomes], indent=1,
                      allow_nan=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """A results file, written atomically (chargespec/outfiles.py)."""
    from chargespec.outfiles import write_file
    write_file(path, text)


def summary(outcomes: list[Outcome]) -> str:
    lines = []
    by_file: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_file.setdefault(o.file, []).append(o)
    for f, os_ in by_file.items():
        lines.append(f"{f:<24} {sum(o.status == 'passed' for o in os_):>5} passed "
                     f"{sum(o.status == 'failed' for o in os_):>5} failed "
                     f"{sum(o.status == 'acceptable' for o in os_):>5} acceptable "
                     f"{sum(o.status == 'unsupported' for o in os_):>5} unsupported")
    flags: dict[str, list[int]] = {}
    for o in outcomes:
        for fl in o.flags:
            flags.setdefault(fl, [0, 0])[o.status == "failed"] += 1
    bad = {f: v for f, v in flags.items() if v[1]}
    if bad:
        lines.append("failing flags: " + ", ".join(f"{f} ({v[1]})" for f, v in sorted(bad.items())))
    shown = 0
    for o in outcomes:
        if o.status == "failed":
            lines.append(f"FAIL {o.file}#{o.tc_id} {o.comment}: {o.detail}")
            if o.step and shown < 20:
                shown += 1
                lines.append(f"  after {' -> '.join(o.events)}")
                lines.append(side_by_side(o))
    failed = sum(o.status == "failed" for o in outcomes)
    if failed and shown < failed:
        lines.append(f"({failed - shown} more failures without the side-by-side view; see the "
                     "JSON or JUnit results)")
    not_obs = sorted({k for o in outcomes for k in o.not_observed})
    if not_obs:
        lines.append(f"not observed (never counted as passed): {', '.join(not_obs)}")
    return "\n".join(lines)
