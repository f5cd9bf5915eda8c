"""`chargespec conform`: run conformance vectors against an implementation through an adapter.

Adapters:
  in-process   a Python class with `reset(config)` and `step(event) -> observation` (and an
               `observations` list), named as `module:Class`; `reference` is the spec's model
  stdio        any command speaking the JSON-lines protocol of chargespec.models.stdio; each
               answer must come within the step timeout

A test passes when, after every step, each observation the implementation declares it can show
equals the vector's; observations it cannot show are reported as not observed, never as passed.
A crash, a hang or an answer that is not JSON fails that test with the reason, the adapter is
restarted, and the run goes on.  Results: a summary by file and flag, the first divergence of each
failure (expected and observed side by side), JUnit XML and JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr


class AdapterError(Exception):
    """The implementation crashed, hung or answered something that is not the protocol."""


class InProcess:
    def __init__(self, target: str):
        if target == "reference":
            from chargespec.models.stdio import Reference
            self.impl: Any = Reference()
        else:
            module, _, cls = target.partition(":")
            self.impl = getattr(importlib.import_module(module), cls)()
        self.name = getattr(self.impl, "name", target)
        self.observations = list(getattr(self.impl, "observations"))

    def reset(self, config: dict[str, Any]) -> bool:
        self.impl.reset(config)
        return True

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.impl.step(event)
        except Exception as exc:  # noqa: BLE001 - the implementation's failure is the result
            raise AdapterError(f"step raised {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        pass


class Stdio:
    STARTUP = 60.0  # seconds for the process to start and answer hello

    def __init__(self, command: list[str], timeout: float = 5.0):
        self.command, self.timeout = command, timeout
        self.proc: subprocess.Popen | None = None
        self.name = " ".join(command)
        self.observations: list[str] = []
        self._start()

    def _start(self) -> None:
        self.close()
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        hello = self._ask({"type": "hello"}, max(self.timeout, self.STARTUP))
        if hello.get("type") != "hello" or not isinstance(hello.get("observations"), list):
            raise AdapterError(f"no hello: {hello!r}")
        self.name = str(hello.get("name", self.name))
        self.observations = [str(x) for x in hello["observations"]]

    def _ask(self, req: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(req) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise AdapterError(f"the adapter exited (status {proc.poll()})") from None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        wait = self.timeout if timeout is None else timeout
        if not sel.select(wait):
            raise AdapterError(f"no answer within {wait:g} s (hang)")
        line = proc.stdout.readline()
        if not line:
            raise AdapterError(f"the adapter exited (status {proc.wait()})")
        try:
            answer = json.loads(line)
        except ValueError:
            raise AdapterError(f"not JSON: {line.strip()[:120]!r}") from None
        if not isinstance(answer, dict):
            raise AdapterError(f"not a JSON object: {line.strip()[:120]!r}")
        return answer

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
        if answer.get("type") != "observation" or not isinstance(answer.get("observation"),
                                                                  dict):
            raise AdapterError(f"event answered {answer!r}")
        return answer["observation"]

    def restart(self) -> None:
        self._start()

    def close(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None and self.proc.stdin:
                    self.proc.stdin.write(json.dumps({"type": "bye"}) + "\n")
                    self.proc.stdin.flush()
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@dataclass
class Outcome:
    file: str
    tc_id: int
    comment: str
    flags: list[str]
    status: str  # passed | failed | unsupported
    detail: str = ""
    seconds: float = 0.0
    not_observed: list[str] = field(default_factory=list)


def _compare(expected: dict[str, Any], observed: dict[str, Any], shown: list[str]
             ) -> str | None:
    for key in shown:
        if key not in expected:
            continue
        if key not in observed:
            return f"{key}: expected {expected[key]!r}, observed nothing"
        if observed[key] != expected[key]:
            return f"{key}: expected {expected[key]!r}, observed {observed[key]!r}"
    return None


def run_file(adapter: Any, path: Path, progress=None) -> list[Outcome]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: list[Outcome] = []
    expected_keys = doc.get("observations", [])
    for group in doc["testGroups"]:
        for test in group["tests"]:
            t0 = time.perf_counter()
            o = Outcome(path.name, test["tcId"], test["comment"], test["flags"], "passed",
                        not_observed=[k for k in expected_keys if k not in adapter.observations])
            try:
                if not adapter.reset(group["config"]):
                    o.status, o.detail = "unsupported", "the adapter cannot take this configuration"
                else:
                    for n, step in enumerate(test["steps"], 1):
                        seen = adapter.step(step["event"])
                        diff = _compare(step["expect"], seen, adapter.observations)
                        if diff:
                            ev = step["event"]
                            o.status = "failed"
                            o.detail = f"step {n} ({ev['name']}): {diff}"
                            break
            except AdapterError as exc:
                o.status, o.detail = "failed", str(exc)
                if hasattr(adapter, "restart"):
                    try:
                        adapter.restart()
                    except AdapterError as again:
                        o.detail += f"; restart failed: {again}"
            o.seconds = time.perf_counter() - t0
            out.append(o)
            if progress:
                progress(o)
    return out


def junit(outcomes: list[Outcome]) -> str:
    failures = sum(o.status == "failed" for o in outcomes)
    skipped = sum(o.status == "unsupported" for o in outcomes)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuite name="chargespec conform" tests="{len(outcomes)}" '
             f'failures="{failures}" skipped="{skipped}">']
    for o in outcomes:
        name = quoteattr(f"{o.file}#{o.tc_id} {o.comment}")
        lines.append(f'  <testcase classname={quoteattr(o.file)} name={name} '
                     f'time="{o.seconds:.4f}">')
        if o.status == "failed":
            lines.append(f'    <failure message={quoteattr(o.detail)}>{escape(o.detail)}</failure>')
        elif o.status == "unsupported":
            lines.append(f'    <skipped message={quoteattr(o.detail)}/>')
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def summary(outcomes: list[Outcome]) -> str:
    lines = []
    by_file: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_file.setdefault(o.file, []).append(o)
    for f, os_ in by_file.items():
        lines.append(f"{f:<24} {sum(o.status == 'passed' for o in os_):>5} passed "
                     f"{sum(o.status == 'failed' for o in os_):>5} failed "
                     f"{sum(o.status == 'unsupported' for o in os_):>5} unsupported")
    flags: dict[str, list[int]] = {}
    for o in outcomes:
        for fl in o.flags:
            flags.setdefault(fl, [0, 0])[o.status == "failed"] += 1
    bad = {f: v for f, v in flags.items() if v[1]}
    if bad:
        lines.append("failing flags: " + ", ".join(f"{f} ({v[1]})" for f, v in sorted(bad.items())))
    for o in outcomes:
        if o.status == "failed":
            lines.append(f"FAIL {o.file}#{o.tc_id} {o.comment}: {o.detail}")
    not_obs = sorted({k for o in outcomes for k in o.not_observed})
    if not_obs:
        lines.append(f"not observed (never counted as passed): {', '.join(not_obs)}")
    return "\n".join(lines)
