"""Fuzzing every input surface of chargespec against its promise: a clean result or a clean
error (a `ChargespecError`, or the runner's per-test failure), never another exception, within
a time bound.

Each surface takes a seed input (a committed spec file, example, vector file, request) and a
`random.Random`, mutates the seed (lines deleted, duplicated, swapped, truncated; characters
and tokens replaced by hostile ones: control characters, huge numbers, NaN, deep nesting, alias
bombs, wrong types) and runs the code a user's input reaches, in-process.

    python tests/inputfuzz.py --examples 100000      # `make fuzz`: every surface, figures
    tests/test_hardening.py                           # a seeded few hundred per surface

The adapter-name surface parses names only (`parse_adapter`): starting fuzzed commands or
importing fuzzed modules would run arbitrary code on this machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import xml.dom.minidom
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "spec"
EXAMPLES = SPEC / "examples"
VECTORS = REPO / "vectors"
TIME_LIMIT = 20  # seconds for one input


class Failed(Exception):
    """The promise is broken: an exception that is not a clean error, or too slow."""


# ------------------------------------------------------------------ hostile material

HOSTILE_TOKENS = [
    "-1", "0", "1", "5", "6", "7", "51", "52", "80", "81", "65536", "2147483648",
    "9" * 40, "9" * 5000, "0x" + "f" * 80, "1e999", "-1e999", ".nan", ".inf", "NaN", "1.5",
    "true", "false", "null", "~", "On", "Off", "yes", "''", '""', "[]", "{}", "[[]]", "{a: 1}",
    "[1, 2", "{a: ", "&a [*a]", "*nope", "!!python/object/apply:os.system ['true']",
    "!!binary aGVsbG8=", "!!set {a, b}", "<<: {a: 1}", "? [a, b]\n: c",
    "'" + "x" * 5000 + "'", "\"\\ud800\"", "\"\\x00\"", "\"\\u202e\"", "é", "\u0000", "\u001b[31m",
    "\t", "\r", "\x7f", "\ufeff", "\u2028", "[" * 300 + "]" * 300, "{a: " * 200 + "1" + "}" * 200,
    "a and " * 400 + "b", "(" * 150 + "x" + ")" * 150, "not " * 300 + "x", "x" + " + 1" * 500,
    "CARD_A", "04a1b2c3", "ABCDEF0123456789ABCD", "hard_reset", "plug", "Normal",
    "'; DROP TABLE", "${HOME}", "$(touch /tmp/chargespec-pwned)", "../../etc/passwd",
]

HOSTILE_CHARS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\t",
                 "\r", "\u2028", "\ufeff", "\ud800", "\U0001f600", "é", ":", "-", "[", "{",
                 "&", "*", "!", "|", ">", "'", '"', "#", "%", "@", "`", "\\", " ", "\n"]

BOMB = ('a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
                  for a, b in zip("abcdefgh", "bcdefghi")))


def mutate_text(text: str, rng: random.Random, rounds: int | None = None) -> str:
    """The text with 1-4 hostile changes."""
    for _ in range(rounds or rng.randint(1, 4)):
        lines = text.split("\n")
        op = rng.randrange(11)
        k = rng.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[k]
        elif op == 1 and lines:
            lines.insert(k, lines[rng.randrange(len(lines))])
        elif op == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
        elif op == 3:
            return text[:rng.randrange(len(text) + 1)]
        elif op == 4 and lines:  # a hostile character somewhere in a line
            line = lines[k]
            at = rng.randrange(len(line) + 1)
            lines[k] = line[:at] + rng.choice(HOSTILE_CHARS) + line[at:]
        elif op in (5, 6, 7) and lines:  # a value replaced by a hostile token
            line = lines[k]
            if ":" in line and op != 7:
                head = line.split(":", 1)[0]
                lines[k] = f"{head}: {rng.choice(HOSTILE_TOKENS)}"
            else:
                words = line.split(" ")
                w = rng.randrange(len(words))
                words[w] = rng.choice(HOSTILE_TOKENS)
                lines[k] = " ".join(words)
        elif op == 8 and lines:  # indentation changed
            line = lines[k]
            lines[k] = (" " * rng.choice([0, 1, 3, 8])) + line.lstrip()
        elif op == 9:
            lines.insert(k, rng.choice([BOMB, "x: " + "[" * 400 + "]" * 400,
                                        "x: " + "9" * 6000, "x: &r [*r]"]))
        else:
            lines.insert(k, rng.choice(HOSTILE_TOKENS))
        text = "\n".join(lines)
    return text


def mutate_json(value: Any, rng: random.Random, rounds: int | None = None) -> Any:
    """A JSON value with 1-4 changes at random places: a value replaced by another type, a
    key dropped or added, a list emptied, doubled or deeply nested."""
    hostile = [None, True, 0, -1, 2 ** 70, 1.5, "", "x" * 10_000, "\ud800", "\x00\x1b", [], {},
               [[[[[]]]]], {"name": 5}, {"name": "plug"}, ["plug"], float("inf")]
    for _ in range(rounds or rng.randint(1, 4)):
        value = _mutate_at(value, rng, hostile, depth=0)
    return value


def _mutate_at(v: Any, rng: random.Random, hostile: list, depth: int) -> Any:
    children = (list(v) if isinstance(v, dict) else list(range(len(v)))
                if isinstance(v, list) else [])
    if children and rng.random() < 0.8 and depth < 40:
        k = rng.choice(children)
        v = dict(v) if isinstance(v, dict) else list(v)
        v[k] = _mutate_at(v[k], rng, hostile, depth + 1)
        return v
    op = rng.randrange(6)
    if op == 0 and isinstance(v, dict) and v:
        v = dict(v)
        del v[rng.choice(list(v))]
        return v
    if op == 1 and isinstance(v, dict):
        return {**v, rng.choice(["x", "name", "type", "config", "\x00", ""]): rng.choice(hostile)}
    if op == 2 and isinstance(v, list):
        return [] if rng.random() < 0.5 else v + v
    if op == 3:
        for _ in range(rng.choice([50, 500, 5000])):
            v = [v]
        return v
    return rng.choice(hostile)


def json_text(value: Any, rng: random.Random) -> str:
    """The value as JSON text, sometimes broken at the byte level."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        text = "[" * 10_000
    if rng.random() < 0.25:
        text = mutate_text(text, rng, 1)
    return text


# ------------------------------------------------------------------ running one input

@contextmanager
def time_limit(seconds: int):
    def alarm(signum, frame):
        raise Failed(f"took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def clean(fn: Callable[[], Any], *allowed: type) -> str:
    """Run fn: "ok", or "error" when it raised a clean error; Failed otherwise."""
    from chargespec.errors import ChargespecError
    try:
        with time_limit(TIME_LIMIT):
            fn()
        return "ok"
    except Failed:
        raise
    except (ChargespecError, *allowed):
        return "error"
    except BaseException as exc:  # noqa: BLE001 - that is the finding
        import traceback
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        raise Failed(f"{type(exc).__name__}: {str(exc)[:200]}\n{tb}") from None


# ------------------------------------------------------------------ the surfaces

_CACHE: dict[str, Any] = {}


def _spec() -> Any:
    if "spec" not in _CACHE:
        from chargespec.loader import load_spec
        _CACHE["spec"] = load_spec()
    return _CACHE["spec"]


def _engine() -> Any:
    if "engine" not in _CACHE:
        from chargespec.models.step import Engine
        _CACHE["engine"] = Engine(_spec())
    return _CACHE["engine"]


def _tmp() -> Path:
    if "tmp" not in _CACHE:
        _CACHE["tmp"] = Path(tempfile.mkdtemp(prefix="chargespec-fuzz-"))
    return _CACHE["tmp"]


def _file(name: str, text: str) -> Path:
    path = _tmp() / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def surface_yaml(rng: random.Random) -> str:
    from chargespec.yamlread import parse_yaml
    seed = (SPEC / rng.choice(["control_pilot.yaml", "errors.yaml", "free_charging.yaml",
                               "if_in_doubt.yaml", "parameters.yaml"])).read_text()
    text = mutate_text(seed, rng)
    return clean(lambda: parse_yaml(text, "fuzz.yaml"))


def surface_spec(rng: random.Random) -> str:
    """A spec directory with one file mutated, loaded and compiled (`spec validate`)."""
    from chargespec.loader import load_spec
    from chargespec.models.step import Engine
    d = _tmp() / "spec"
    if not d.is_dir():
        shutil.copytree(SPEC, d)
    name = rng.choice(sorted(p.name for p in SPEC.glob("*.yaml")))
    original = (SPEC / name).read_text()
    try:
        _file(f"spec/{name}", mutate_text(original, rng))
        return clean(lambda: Engine(load_spec(d)))
    finally:
        (d / name).write_text(original)


def surface_config(rng: random.Random) -> str:
    from chargespec.inputs import load_config
    seed = (EXAMPLES / rng.choice(["config_authorization_bad.yaml", "config_rfid_only.yaml",
                                   "config_no_backend_good.yaml"])).read_text()
    path = _file("config.yaml", mutate_text(seed, rng))
    return clean(lambda: _engine().config(load_config(_spec(), path)))


def surface_scenario(rng: random.Random) -> str:
    from chargespec.inputs import load_scenario
    seed = (EXAMPLES / rng.choice(["stop_modes.yaml", "reservation.yaml", "state_d.yaml",
                                   "rfid_only.yaml"])).read_text()
    path = _file("scenario.yaml", mutate_text(seed, rng))

    def run() -> None:
        sc = load_scenario(_spec(), path)
        e = _engine()
        e.run(e.config(dict(sc.config)), [e.event(s.event, **s.fields) for s in sc.steps])
    return clean(run)


def surface_site(rng: random.Random) -> str:
    from chargespec.dlm.site import load_site
    seed = (EXAMPLES / rng.choice(["dlm_building_100a.yaml", "dlm_station_63a.yaml",
                                   "dlm_unsafe.yaml"])).read_text()
    path = _file("site.yaml", mutate_text(seed, rng))
    return clean(lambda: load_site(_spec(), path))


def surface_dlm_scenario(rng: random.Random) -> str:
    from chargespec.dlm.simulate import load_scenario, run
    from chargespec.dlm.site import load_site
    if "site" not in _CACHE:
        _CACHE["site"] = load_site(_spec(), EXAMPLES / "dlm_building_100a.yaml")
    site = _CACHE["site"]
    path = _file("dlm_scenario.yaml", mutate_text((EXAMPLES / "dlm_scenario.yaml").read_text(),
                                                   rng))

    def go() -> None:
        _, ticks = load_scenario(site, path)
        run(site, ticks, str(path))
    return clean(go)


def surface_set(rng: random.Random) -> str:
    from chargespec.cli import _parse_set
    names = [p for p in _spec().parameters][:40] + ["", "x", "stop_transaction_mode"]
    value = rng.choice(HOSTILE_TOKENS) if rng.random() < 0.7 else mutate_text("Normal", rng)
    item = rng.choice([f"{rng.choice(names)}={value}", value, f"={value}",
                       f"{rng.choice(names)}=={value}"])
    return clean(lambda: _engine().config(_parse_set(_spec(), [item])))


def surface_adapter_name(rng: random.Random) -> str:
    from chargespec.conform import AdapterError, parse_adapter
    seed = rng.choice(["reference", "stdio:python -m chargespec.reference", "mutants:Ok",
                       "stdio:'x", ":", "json:JSONDecodeError", "stdio:", "a b:c"])
    name = mutate_text(seed, rng)
    return clean(lambda: parse_adapter(name), AdapterError)


def _vector_seed() -> dict[str, Any]:
    if "vec" not in _CACHE:
        from chargespec.conform import load_vectors
        doc = load_vectors(VECTORS / "octt.json")
        small = dict(doc)
        small["testGroups"] = [dict(g, tests=g["tests"][:2]) for g in doc["testGroups"][:4]]
        dlm = load_vectors(VECTORS / "dlm.json")
        small_dlm = dict(dlm)
        small_dlm["testGroups"] = [dict(g, tests=g["tests"][:1]) for g in dlm["testGroups"][:2]]
        _CACHE["vec"] = [small, small_dlm]
    return _CACHE["vec"]


def surface_vectors(rng: random.Random) -> str:
    from chargespec.conform import (VectorFileError, check_against_spec, junit, load_vectors,
                                    results_json, run_file)
    doc = rng.choice(_vector_seed())
    path = _file("vectors.json", json_text(mutate_json(doc, rng), rng))

    def go() -> None:
        d = load_vectors(path)
        check_against_spec(path, d, _spec())
        outcomes = run_file(_reference(), path, doc=d, spec=_spec())
        _check_outputs(outcomes, junit, results_json)
    return clean(go, VectorFileError)


def _reference() -> Any:
    if "ref" not in _CACHE:
        from chargespec.conform import InProcess
        _CACHE["ref"] = InProcess("reference")
    return _CACHE["ref"]


def _check_outputs(outcomes: list, junit: Callable, results_json: Callable) -> None:
    """The JUnit file parses as XML 1.0 and the JSON results are strict JSON."""
    try:
        xml.dom.minidom.parseString(junit(outcomes).encode("utf-8"))
    except Exception as exc:  # noqa: BLE001
        raise Failed(f"JUnit does not parse: {exc}") from None
    text = results_json(outcomes)
    try:
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise Failed(f"JSON results are not strict JSON: {exc}") from None


class _Answering:
    """An adapter whose observations are fuzzed: the runner must turn anything into a
    per-test result."""

    name = "fuzzed answers"
    observations = ["status", "contactor", "lock", "offered_current", "duty_cycle", "led",
                    "messages", "indications", "amps"]

    def __init__(self, answers: list[Any]):
        self.answers = answers

    def reset(self, config):
        return True

    def step(self, event):
        return self.answers.pop(0) if self.answers else {}


def surface_answers(rng: random.Random) -> str:
    from chargespec.conform import (AdapterError, InProcess, Outcome, junit, parse_answer,
                                    results_json, run_test)
    doc = rng.choice(_vector_seed())
    group = rng.choice(doc["testGroups"])
    test = rng.choice(group["tests"])
    answers = []
    for step in test["steps"]:
        obs = mutate_json(step["expect"], rng) if rng.random() < 0.5 else step["expect"]
        text = json_text({"type": "observation", "observation": obs}, rng)
        try:
            answers.append(parse_answer(text.encode("utf-8", "surrogatepass"))
                           .get("observation"))
        except AdapterError:
            answers.append(None)
    adapter = InProcess.__new__(InProcess)
    adapter.impl, adapter.name = _Answering(answers), "fuzzed"
    adapter.observations = list(_Answering.observations)

    def go() -> None:
        o = run_test(adapter, "fuzz.json", doc, group, test, _spec())
        if not isinstance(o, Outcome) or o.status not in ("passed", "failed", "acceptable",
                                                          "unsupported"):
            raise Failed(f"run_test returned {o!r}")
        _check_outputs([o], junit, results_json)
    return clean(go)


def surface_requests(rng: random.Random) -> str:
    from chargespec.reference import serve
    seeds = [{"type": "hello"}, {"type": "reset", "config": {}},
             {"type": "reset", "config": {"stop_transaction_mode": "Normal"}},
             {"type": "event", "event": {"name": "plug"}},
             {"type": "event", "event": {"name": "rfid", "uid": "CARD_A"}},
             {"type": "run", "config": {}, "events": [{"name": "plug"}, {"name": "unplug"}]},
             {"type": "run", "config": {"dlm": {"site": {}}}, "events": []}]
    lines = [json_text(mutate_json(rng.choice(seeds), rng) if rng.random() < 0.7
                       else rng.choice(seeds), rng) for _ in range(rng.randint(1, 6))]
    lines = [ln.replace("\n", " ") for ln in lines if ln.strip()]
    out = io.StringIO()

    def go() -> None:
        if "model" not in _CACHE:
            from chargespec.reference import Reference
            _CACHE["model"] = Reference(_engine())
        serve(io.StringIO("".join(ln + "\n" for ln in lines)), out, model=_CACHE["model"])
        answers = [a for a in out.getvalue().split("\n") if a]
        for a in answers:
            if not isinstance(json.loads(a), dict):
                raise Failed(f"an answer that is not an object: {a[:100]}")
        if len(answers) > len(lines):
            raise Failed("more answers than requests")
    return clean(go)


class _Sent(list):
    """An outbox whose CALLs leave at once (no central system in the fuzz)."""

    def append(self, item: Any) -> None:
        pass


def surface_control(rng: random.Random) -> str:
    """`chargespec virtual-cp`'s control channel (stdin): fuzzed JSON lines through its loop;
    every line gets one JSON object back, never a crash."""
    import asyncio

    from chargespec.virtual_cp import (CONTROL_LINE_LIMIT, Station, VirtualChargePoint,
                                       control_loop)
    seeds = [{"type": "hello"}, {"type": "reset", "config": {}},
             {"type": "reset", "config": {"stop_transaction_mode": "Normal"}},
             {"type": "event", "connector": 1, "event": {"name": "plug"}},
             {"type": "event", "connector": 2, "event": {"name": "rfid", "uid": "CARD_A"}},
             {"type": "observe", "connector": 1}, {"type": "settle", "timeout": 0.01}]
    lines = [json_text(mutate_json(rng.choice(seeds), rng) if rng.random() < 0.7
                       else rng.choice(seeds), rng) for _ in range(rng.randint(1, 6))]
    lines = [ln.replace("\n", " ") for ln in lines if ln.strip()]
    answers: list[str] = []

    async def session() -> None:
        engine = _engine()
        station = Station.start(engine, engine.config(), 2)
        station.outbox = _Sent()
        cp = VirtualChargePoint("CP1", None, station)
        reader = asyncio.StreamReader(limit=CONTROL_LINE_LIMIT)
        reader.feed_data("".join(ln + "\n" for ln in lines).encode("utf-8", "replace"))
        reader.feed_eof()
        await asyncio.wait_for(control_loop(cp, reader, answers.append), TIME_LIMIT)

    def go() -> None:
        asyncio.run(session())
        for a in answers:
            if not isinstance(json.loads(a), dict):
                raise Failed(f"an answer that is not an object: {a[:100]}")
        if len(answers) > len(lines):
            raise Failed("more answers than requests")
    return clean(go)


def surface_trace(rng: random.Random) -> str:
    """`chargespec trace`: a log (the first frames of the sample, as JSON lines or as the ocpp
    logger's lines) with its text mutated: read (each bad line a problem with its number) and
    checked, never a crash."""
    from chargespec.trace.check import check
    from chargespec.trace.readers import read_log
    if "trace-seeds" not in _CACHE:
        lines = (SPEC / "examples" / "trace_session.jsonl").read_text().splitlines()[:14]
        text_form = []
        for ln in lines:
            e = json.loads(ln)
            word = "send" if e["direction"] == "send" else "receive message"
            text_form.append(f"{e['time']} INFO:ocpp:CP1: {word} {e['frame']}")
        _CACHE["trace-seeds"] = ["\n".join(lines) + "\n", "\n".join(text_form) + "\n"]
    text = mutate_text(rng.choice(_CACHE["trace-seeds"]), rng)
    path = _file("fuzz-trace.log", text)

    def go() -> None:
        log = read_log(path)
        for problem in log.problems:
            if problem.line < 1:
                raise Failed(f"a problem without its line: {problem}")
        engine = _engine()
        verdicts, _, _ = check(engine, engine.config(), log, depth=1)
        for v in verdicts:
            if not v.explained and v.frame is None:
                raise Failed("unexplained without the frame")
    return clean(go, ValueError)


def surface_sequence(rng: random.Random) -> str:
    """`chargespec diagrams --sequence FILE.json#TCID`'s parts: a mutated vector file read,
    each of its tests drawn as a chart (SVG and Mermaid); the chart escapes whatever the file
    holds."""
    from chargespec.conform import VectorFileError, load_vectors
    from chargespec.sequence import from_test, mermaid, svg
    doc = rng.choice(_vector_seed())
    path = _file("sequence.json", json_text(mutate_json(doc, rng), rng))

    def go() -> None:
        d = load_vectors(path)
        for group in d.get("testGroups", ())[:3]:
            for test in group.get("tests", ())[:3]:
                chart = from_test(_engine(), group, test)
                picture, text = svg(chart, str(test.get("tcId"))), mermaid(chart)
                if "<script" in picture or "<script" in text:
                    raise Failed("a chart with markup from the file")
    return clean(go, VectorFileError)


SURFACES: dict[str, Callable[[random.Random], str]] = {
    "yaml": surface_yaml, "spec": surface_spec, "config": surface_config,
    "scenario": surface_scenario, "site": surface_site, "dlm-scenario": surface_dlm_scenario,
    "set": surface_set, "adapter-name": surface_adapter_name, "vectors": surface_vectors,
    "answers": surface_answers, "requests": surface_requests, "control": surface_control,
    "trace": surface_trace, "sequence": surface_sequence,
}


@dataclass
class Tally:
    tried: int = 0
    ok: int = 0
    errors: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(examples: int, seed: int, only: list[str] | None = None,
        budget: float | None = None, spec_examples: int | None = None,
        part: tuple[int, int] = (0, 1)) -> dict[str, Tally]:
    """`examples` inputs per surface (`spec_examples` for the whole spec, which takes a tenth
    of a second to load and compile), or until `budget` seconds per surface.  `part` (k, n):
    only the inputs whose number is k modulo n, so that n workers share one surface; input
    number i is the same input however the work is shared."""
    out = {}
    for name, fn in SURFACES.items():
        if only and name not in only:
            continue
        t = out[name] = Tally()
        t0 = time.perf_counter()
        n = spec_examples if name == "spec" and spec_examples is not None else examples
        for k in range(part[0], n, part[1]):
            rng = random.Random(f"{seed}:{name}:{k}")
            t.tried += 1
            try:
                if fn(rng) == "ok":
                    t.ok += 1
                else:
                    t.errors += 1
            except Failed as exc:
                t.failures.append(f"{name} seed {seed}:{name}:{k}: {exc}")
            if budget is not None and time.perf_counter() - t0 > budget:
                break
        t.seconds = time.perf_counter() - t0
    return out


def _run_star(job: tuple) -> dict[str, Tally]:
    return _run_and_clean(*job)


def _run_and_clean(*args: Any) -> dict[str, Tally]:
    try:
        return run(*args)
    finally:
        shutil.rmtree(_CACHE.pop("tmp", "/nonexistent"), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=100_000, help="inputs per surface")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", action="append", help="a surface (repeatable)")
    p.add_argument("--budget", type=float, help="seconds per surface at most")
    p.add_argument("--spec-examples", type=int, help="inputs for the whole-spec surface "
                   "(default: --examples)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes (default: one per core); each surface is shared among them")
    args = p.parse_args(argv)
    # every module a surface reaches, imported before the first input (and before forking)
    import chargespec.cli, chargespec.conform, chargespec.dlm.simulate, chargespec.dlm.site  # noqa
    import chargespec.inputs, chargespec.reference, chargespec.yamlread  # noqa: F401,E401
    names = [n for n in SURFACES if not args.only or n in args.only]
    header = (f"{'surface':<14} {'inputs':>8} {'accepted':>9} {'clean errors':>13} "
              f"{'failures':>9} {'per core/s':>10}")
    print(header, flush=True)
    tallies: dict[str, Tally] = {}

    parts = max(1, args.workers)  # each surface in as many shares as workers

    def show(name: str, t: Tally) -> None:
        tallies[name] = t
        print(f"{name:<14} {t.tried:>8} {t.ok:>9} {t.errors:>13} {len(t.failures):>9} "
              f"{t.tried / max(t.seconds, 1e-9):>10.0f}", flush=True)
    jobs = [(args.examples, args.seed, [n], args.budget, args.spec_examples, (k, parts))
            for n in names for k in range(parts)]
    shares: dict[str, list[Tally]] = {n: [] for n in names}

    def collect(result: dict[str, Tally]) -> None:  # a surface printed once all its shares are in
        for name, t in result.items():
            shares[name].append(t)
            if len(shares[name]) == parts:
                show(name, Tally(sum(x.tried for x in shares[name]),
                                 sum(x.ok for x in shares[name]),
                                 sum(x.errors for x in shares[name]),
                                 [f for x in shares[name] for f in x.failures],
                                 sum(x.seconds for x in shares[name])))
    if parts > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(parts) as pool:
            for result in pool.imap_unordered(_run_star, jobs):
                collect(result)
    else:
        for job in jobs:
            collect(_run_and_clean(*job))
    bad = sum(len(t.failures) for t in tallies.values())
    print(f"{'all':<14} {sum(t.tried for t in tallies.values()):>8} "
          f"{sum(t.ok for t in tallies.values()):>9} "
          f"{sum(t.errors for t in tallies.values()):>13} {bad:>9}")
    for name, t in tallies.items():
        for f in t.failures[:5]:
            print(f"\nFAILURE {f}")
    shutil.rmtree(_CACHE.get("tmp", "/nonexistent"), ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
