"""Shared fixtures: the embedded spec, its engine, and a helper to run scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargespec import ocpp16
from chargespec.loader import load_spec
from chargespec.models import compiled
from chargespec.models.step import Engine

REPO = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO / "spec"


# ---------------------------------------------------------------- every message of the run
# Every OCPP message any test makes the model emit (either engine: both finish a step through
# CompiledMachine.finish) is recorded here with the rule that sent it;
# tests/test_ocpp_messages.py validates them all against the official schemas, last.
EMITTED: dict[tuple, str] = {}
_finish = compiled.CompiledMachine.finish


def _recording_finish(self, config, old, values, rule, msgs, inds):
    new, out = _finish(self, config, old, values, rule, msgs, inds)
    for m in out.messages:
        key = (m.action, m.kind, m.fields)
        if key not in EMITTED:
            EMITTED[key] = rule.rule.id
    return new, out


compiled.CompiledMachine.finish = _recording_finish


def invalid_messages(recorded: dict[tuple, str]) -> list[str]:
    """Each recorded message that the official OCPP 1.6 schema rejects, with its rule."""
    bad = []
    for (action, kind, fields), rule in recorded.items():
        payload = ocpp16.to_payload(action, kind, dict(fields))
        errors = ocpp16.validation_errors(action, kind, payload)
        if errors:
            bad.append(f"{ocpp16.schema_name(action, kind)} from rule {rule}: {errors}")
    return bad


LAST = "test_every_message_emitted_by_any_test_is_valid"


@pytest.fixture(scope="session")
def spec():
    return load_spec(SPEC_DIR)


@pytest.fixture(scope="session")
def engine(spec):
    return Engine(spec)


class Run:
    """Runs events (strings or (name, fields)) and keeps every step for assertions."""

    def __init__(self, engine: Engine, **config):
        self.engine = engine
        self.config = engine.config(config)
        self.state = engine.initial(self.config)
        self.steps = []

    def __call__(self, name: str, **fields):
        ev = self.engine.event(name, **fields)
        self.state, out = self.engine.step(self.config, self.state, ev)
        self.steps.append((ev, self.state, out))
        return out

    def all(self, *events):
        for e in events:
            if isinstance(e, str):
                self(e)
            else:
                self(e[0], **e[1])
        return self

    @property
    def obs(self):
        return self.steps[-1][2].observation if self.steps else \
            self.engine.observe(self.config, self.state)

    def messages(self, action=None):
        return [m for _, _, out in self.steps for m in out.messages
                if action is None or m.action == action]

    def stop_reasons(self):
        return [m.as_dict()["reason"] for m in self.messages("StopTransaction")]

    def statuses_sent(self):
        return [m.as_dict()["status"] for m in self.messages("StatusNotification")]


@pytest.fixture
def run(engine):
    return lambda **config: Run(engine, **config)


def exploration_jobs(engine: Engine) -> list:
    """The explorations the shared record makes: those of `chargespec check`'s `tests` profile
    (the CI configurations, the error model, authorization with the backend coming and going)."""
    from chargespec.checkers.check import jobs_for
    return [(j.kind, j.values, j.events, j.bound) for j in jobs_for(engine, "tests")[0]]


_JOBS: list = []
_ENGINE: list = []


def _run_job(index: int) -> dict:
    """One exploration with the recording check; a plain, picklable summary of what it saw."""
    from chargespec.checkers.explore import explore

    engine = _ENGINE[0]
    compiled = engine.compiled
    kind, values, events, bound = _JOBS[index]
    config = engine.config(values)
    renotify = {r.id: r.renotify for r in engine.machine.rules}
    via = engine.spec.status_table.via
    silenced = any(when(None, config, None, None) and ("*" in drop or "StatusNotification" in drop)
                   for drop, when in compiled.filters)
    seen = {"status_changes": set(), "bad_notifications": [], "messages": {},
            "rows": {name: set() for name, k, _ in compiled.observations if k == "cases"}}
    rows_seen: set = set()
    before = set(EMITTED)

    checked: set = set()  # what decides the notification check, once per distinct value

    def record(config, s, ev, s2, out):
        error_note = out.observation.error_info is not None and \
            config.send_error_status_notifications
        decides = (s.status, s2.status, out.rule, out.messages, error_note,
                   s2.registration != "Accepted")
        if decides not in checked:
            checked.add(decides)
            seen["status_changes"].add((s.status, s2.status))
            sent = [m.as_dict()["status"] for m in out.messages
                    if m.action == "StatusNotification"]
            expected = [s2.status] if (s2.status != s.status or error_note or
                                       renotify[out.rule]) else []
            if (s.status, s2.status) in via:  # a change the table lacks, reported through `via`
                expected = [via[(s.status, s2.status)], s2.status]
            if silenced:  # Free Charging mode 1: no OCPP at all
                expected = []
            if s2.registration != "Accepted" and config.connection_type != "NoBackend":
                expected = []  # nothing but BootNotification until it is accepted
            if sent != expected:
                seen["bad_notifications"].append(
                    f"{out.rule} on {ev.label()}: status {s.status} -> {s2.status}, sent {sent}")
            for m in out.messages:
                seen["messages"].setdefault((m.action, m.kind, m.fields), (out.rule, ev))
        # tables read the previous value of kept observations (status), as the engine does
        key = (s2, tuple(getattr(s, n) for _, n in compiled.kept))
        if key in rows_seen:
            return None
        rows_seen.add(key)
        provisional = compiled.State(**{**s2.as_dict(),
                                        **{n: getattr(s, n) for _, n in compiled.kept}})
        obs = {}
        for name, k, fn in compiled.observations:
            if k == "cases":
                seen["rows"][name].add(next(i for i, (when, _) in enumerate(fn)
                                            if when(provisional, config, None, obs)))
            obs[name] = getattr(out.observation, name)
        return None

    x = explore(engine, config, {"record": record}, events=events, bound=bound)
    seen.update(kind=kind, states=x.states, transitions=x.transitions, seconds=x.seconds,
                rules_fired=x.rules_fired, violations=[v.message for v in x.violations],
                emitted={k: v for k, v in EMITTED.items() if k not in before})
    return seen


class PairwiseRecord:
    """BFS over every pairwise configuration, the error model and authorization offline,
    recording what several tests assert on.  The explorations are independent, so they run in
    forked worker processes (one per core) and their summaries are merged in job order."""

    def __init__(self, engine: Engine):
        import multiprocessing
        import os

        _JOBS[:] = exploration_jobs(engine)
        _ENGINE[:] = [engine]
        workers = min(os.cpu_count() or 1, len(_JOBS))
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.map(_run_job, range(len(_JOBS)), chunksize=1)
        else:
            results = [_run_job(i) for i in range(len(_JOBS))]
        table = engine.spec.status_table
        self.status_changes: set[tuple[str, str]] = set()
        self.bad_notifications: list[str] = []
        self.messages: dict = {}
        self.rows = {name: set() for name, kind, _ in engine.compiled.observations
                     if kind == "cases"}
        self.rules_fired: set[str] = set()
        self.explorations: list[dict] = []
        for r in results:
            self.status_changes |= r["status_changes"]
            self.bad_notifications += r["bad_notifications"]
            for k, v in r["messages"].items():
                self.messages.setdefault(k, v)
            for name, rows in r["rows"].items():
                self.rows[name] |= rows
            self.rules_fired |= r["rules_fired"]
            for k, v in r["emitted"].items():
                EMITTED.setdefault(k, v)
            self.explorations.append({k: r[k] for k in ("kind", "states", "transitions",
                                                        "seconds", "violations")})
        self.forbidden = sorted((a, b) for a, b in self.status_changes
                                if not table.permits_via(a, b))


@pytest.fixture(scope="session")
def pairwise(engine):
    return PairwiseRecord(engine)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(Collected, files, directory) of the report of a spec copy with markup planted in it
    (tests/test_report.py's PLANTED), written to a directory.  Quick: the checker's smoke
    profile, and the committed diagrams (nothing planted reaches a diagram; the drift check
    keeps those current)."""
    from test_report import planted_spec

    from chargespec.report import build, collect
    from chargespec.vectors import write

    base = tmp_path_factory.mktemp("report")
    engine = Engine(load_spec(planted_spec(base)))
    diagrams = {p.name: p.read_text() for p in (REPO / "reports" / "diagrams").iterdir()}
    c = collect(engine, REPO / "vectors", root=REPO, profile="smoke", diagrams=diagrams)
    files = build(c)
    write(base / "out", files)
    return c, files, base / "out"


SHARED = ("pairwise", "built")  # session fixtures that take seconds to build


def pytest_itemcollected(item):
    """Under pytest-xdist (`make test`, `--dist loadgroup`) the tests that share an expensive
    session fixture run on one worker, which builds it once.  Marked as each item is collected:
    pytest-xdist reads the groups in its own `pytest_collection_modifyitems`."""
    for name in SHARED:
        if name in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(name))
            break


def pytest_collection_modifyitems(items):
    """The whole-run message check runs after every other test (of its worker: under
    pytest-xdist each worker records what its own tests emit)."""
    last = [i for i in items if i.name == LAST]
    items[:] = [i for i in items if i.name != LAST] + last
