"""`chargespec check`: validate the spec, prove determinism and completeness, explore with every
invariant.  The explorations are independent per configuration, so they are sharded over
worker processes (one per core); progress goes to stderr, the summary to stdout.

Profiles:
  ci    the Z3 proofs, and the first configurations of the pairwise covering set (those that
        cover the most value pairs), with the session's events
  full  the proofs; every pairwise configuration; the error model under each stop mode (one
        error row per behaviour, at most two at once); authorization with the backend coming
        and going (these two without the limit changes, which the pairwise part explores)
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from chargespec.expr import to_label
from chargespec.models.step import Engine
from chargespec.parallel import parallel_imap
from chargespec.specmodel import Spec

from .determinism import Report, prove
from .induction import Induction, InvariantProof
from .induction import prove as prove_induction
from .step_proof import StepProof
from .step_proof import prove as prove_steps
from .recovery import prove as prove_recovery
from .explore import (REPRESENTATIVE_ERRORS, error_events, explore, max_errors,
                      pairwise_configurations, parameters_read, parameter_values, session_events,
                      trace_to)
from .invariants import dead_ends, explorer_checks, graph_goal

CI_CONFIGURATIONS = 8

ERROR_CONFIGS = [
    ({"stop_transaction_mode": "Normal", "display_backend_disconnect_as_error": True}, 2),
    ({"stop_transaction_mode": "NormalModeDRcd", "send_error_status_notifications": False}, 1),
    ({"stop_transaction_mode": "StopOnlyByDisconnecting",
      "lock_actuator_only_if_authorized": True}, 1),
    ({"stop_transaction_mode": "OnlyByRfidOrRemoteStop"}, 1),
]
AUTH_CONFIGS = [
    # the status strategy that shows Preparing while plugged, with the backend coming back
    # during an Immediate Plug-in charge (DOUBT-IMMEDIATE-BACKEND-BACK: through Finishing)
    {"enable_ocpp_whitelist": True, "local_authorize_offline": True, "local_pre_authorize": True,
     "if_in_doubt_allow_charging": "ImmediatePlugIn",
     "status_notification_strategy": "OccupiedOnAuthorizedOrPlugged"},
    {"enable_ocpp_whitelist": True, "if_in_doubt_allow_charging": "On",
     "enable_local_whitelist": True, "local_whitelist": ["CARD_A#2"], "master_slave_mode": "Slave",
     "lock_actuator_only_if_authorized": True},
]
AUTH_MAINTENANCE = {"reserve_now", "cancel_reservation", "reservation_expired", "clear_cache",
                    "cache_expiry_timer"}
LIMIT_EVENTS = {"set_operator_limit", "set_load_limit"}


@dataclass
class Job:
    kind: str
    values: dict[str, Any]
    events: list
    bound: Callable[[Any], bool] | None


@dataclass
class JobResult:
    kind: str
    config: str
    states: int
    transitions: int
    seconds: float
    violations: list[tuple[str, str, list[str]]]  # (invariant, message, trace labels)
    # seconds spent evaluating each invariant, and the connector-status changes made (only
    # when `run(..., timed=True)`, for the report and its OCPP status picture)
    check_seconds: dict[str, float] = field(default_factory=dict)
    status_changes: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class CheckResult:
    profile: str
    proof: Report
    induction: Induction | None = None
    steps: StepProof | None = None
    recovery: InvariantProof | None = None  # the graph invariants' witnesses
    jobs: list[JobResult] = field(default_factory=list)
    pair_coverage: float = 0.0
    distinguishable: int = 0  # the product of the values of every parameter the machine reads
    seconds: float = 0.0

    @property
    def violations(self) -> list[tuple[str, str, list[str]]]:
        return [v for j in self.jobs for v in j.violations]

    @property
    def ok(self) -> bool:
        return (self.proof.ok and not self.violations
                and (self.induction is None or self.induction.ok)
                and (self.steps is None or self.steps.ok)
                and (self.recovery is None or self.recovery.ok))


def answer_only_events(engine: Engine) -> set[str]:
    """The events whose every rule leaves the state as it was (no `do`, no `to`, no
    `renotify`): they send an answer, or nothing."""
    out = set(engine.machine.events)
    for r in engine.machine.rules:
        if r.do or r.to is not None or r.renotify:
            out -= set(r.events)
    return out


def jobs_for(engine: Engine, profile: str) -> tuple[list[Job], float]:
    """The explorations of a profile, and the share of value pairs its configurations cover.
    `tests` is what the test suite's shared record explores: the CI configurations and the
    error and authorization models of the full profile."""
    session = session_events(engine)
    configs = pairwise_configurations(engine)
    if profile in ("ci", "tests"):
        configs = configs[:CI_CONFIGURATIONS]
    elif profile == "smoke":  # the report's own tests: two configurations, nothing else
        configs = configs[:2]
    # an event every rule of which only answers (no update, no phase, no renotify) leaves each
    # state as it is: the pairwise explorations leave it to the proofs and to the error and
    # authorization models, which step it from every state they reach
    quiet_answers = answer_only_events(engine)
    pair = [e for e in session if e.name not in quiet_answers]
    jobs = [Job("pairwise", c.as_dict(), pair, pairwise_bound) for c in configs]
    coverage = pair_coverage(engine, configs)
    if profile in ("full", "tests"):
        # the error and authorization models leave the limit changes to the pairwise
        # explorations: they multiply the states by nine and fire no rule the pairwise
        # explorations do not (the shared test record asserts that every rule fires)
        quiet = [e for e in session if e.name not in AUTH_MAINTENANCE | LIMIT_EVENTS]
        session = [e for e in session if e.name not in LIMIT_EVENTS]
        # and the actuator that is not detected: the one row that makes UnlockConnector fail
        errors = quiet + error_events(engine, (*REPRESENTATIVE_ERRORS, "actuator_not_detected"))
        jobs += [Job("errors", c, errors, unregistered_bound(max_errors(n)))
                 for c, n in ERROR_CONFIGS]
        auth = session + [engine.event("error_raised", error="backend_disconnected"),
                          engine.event("backend_online"),
                          engine.event("error_raised", error="rcmb_residual_current"),
                          engine.event("unlock_connector")]
        jobs += [Job("auth", c, auth, unregistered_bound(
                     lambda s: len(s.errors) <= 2 and len(s.cache) <= 1)) for c in AUTH_CONFIGS]
    return jobs, coverage


# the Operator Current Limit of the default configuration (spec/parameters.yaml), at which the
# explorations expand a charger whose BootNotification is not yet accepted
DEFAULT_OPERATOR_LIMIT = 32


def inoperative_bound(state: Any) -> bool:
    """The pairwise explorations expand an Inoperative connector (ChangeAvailability) and a
    transaction going on without energy (StopTransactionOnInvalidId false) only with load
    management granting everything and an empty cache.  A charger whose BootNotification is not
    yet accepted (Booting or Pending) only so, and with the default Operator Current Limit, no
    reservation, Operative, not refused, and no error (but the lost backend of an Immediate Plug-in charge that survived the power
    loss).  A Local Authorization List (SendLocalList) of one entry, at version 1, with the
    default limits and no error but a lost backend, but with the cache, which the list takes
    precedence over.  No rule reads availability, the refusal, the registration or
    the list together with the limits, and expanding those states under every limit, cache
    and error would double the exploration (the Z3 proofs cover every combination).  A reboot
    leaves the bound (power return, a reset) in the states it does not expand: the transition
    is checked, the state after it is not followed."""
    if state.registration != "Accepted":  # Rejected acts as Pending does: not followed
        return (state.registration != "Rejected" and state.reserved_for is None
                and state.load_limit == 80 and not state.cache
                and (not state.errors or (state.errors == {"backend_disconnected"}
                                          and state.session == "provisional"))
                and state.operator_limit == DEFAULT_OPERATOR_LIMIT
                and state.availability == "Operative" and not state.deauthorized
                and state.local_list_version == 0)
    if state.local_list_version:  # a Local Authorization List: with the cache, not the rest
        return (state.local_list_version == 1 and state.load_limit == 80
                and bool(state.local_list) != bool(state.local_list_refused)
                and state.errors <= {"backend_disconnected"}
                and state.operator_limit == DEFAULT_OPERATOR_LIMIT
                and state.availability == "Operative" and not state.deauthorized)
    return (state.availability == "Operative" and not state.deauthorized) or (
        state.load_limit == 80 and not state.cache)


def unregistered_bound(bound: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """The error and authorization models' bound: `bound`, and a charger whose BootNotification
    is not yet accepted only as `inoperative_bound` expands it in the pairwise explorations:
    no error but a lost backend (the Immediate Plug-in charge that survived the power loss),
    an empty cache, no Local Authorization List, Operative, no reservation.  Until the
    registration no rule reads those but to refuse or send nothing; expanding every combination
    of them under each registration value tripled these explorations (170,706 states in the
    shared test record, 65,136 with the bound) and fired no rule, status change, table row or
    message more (measured when the bound came in; the shared test record asserts each)."""
    return lambda s: bound(s) and (
        s.registration == "Accepted"
        or (s.errors <= {"backend_disconnected"} and not s.cache and s.local_list_version == 0
            and s.availability == "Operative" and s.reserved_for is None))


def pairwise_bound(state: Any) -> bool:
    """The pairwise explorations' bound: `inoperative_bound`, and at most one card in the cache
    (a second one fires no rule the first does not: the cache is read by membership only)."""
    return len(state.cache) <= 1 and inoperative_bound(state)


def pair_coverage(engine: Engine, configs: list[Any]) -> float:
    """The share of all value pairs of the parameters read that `configs` cover."""
    import itertools
    pids = parameters_read(engine)
    domains = [[repr(v) for v in parameter_values(engine, p)] for p in pids]
    total = covered = 0
    seen = {(i, j): set() for i, j in itertools.combinations(range(len(pids)), 2)}
    for c in configs:
        vals = [repr(getattr(c, p)) for p in pids]
        for (i, j), s in seen.items():
            s.add((vals[i], vals[j]))
    for (i, j), s in seen.items():
        total += len(domains[i]) * len(domains[j])
        covered += len(s)
    return covered / total if total else 1.0


_STATE: dict[str, Any] = {}


def _run(index: int) -> JobResult:
    engine: Engine = _STATE["engine"]
    job: Job = _STATE["jobs"][index]
    config = engine.config(job.values)
    checks = explorer_checks(engine)
    spent: dict[str, float] = {}
    changes: set[tuple[str, str]] = set()
    if _STATE.get("timed"):
        checks = {name: _timed(name, chk, spent) for name, chk in checks.items()}

        def status_change(config: Any, s: Any, ev: Any, s2: Any, out: Any) -> None:
            if s.status != s2.status:
                changes.add((s.status, s2.status))
        checks["(status changes)"] = status_change  # type: ignore[assignment]
    preds: dict[Any, set[Any]] = {}
    x = explore(engine, config, checks, events=job.events, bound=job.bound, max_violations=3,
                predecessors=preds, skip_unchanged=True)
    violations = [(v.check, v.message, [e.label() for e in v.trace]) for v in x.violations]
    for inv in (i for i in engine.machine.invariants if i.kind == "graph"):
        t0 = time.perf_counter()
        for s in dead_ends(preds, x.parent, graph_goal(engine, inv, config))[:1]:
            violations.append((inv.id, f"no way back to {to_label(inv.expr)} from {s!r}",
                               [e.label() for e in trace_to(x.parent, s)]))
        spent[inv.id] = time.perf_counter() - t0
    return JobResult(job.kind, engine.compiled.describe_config(config), x.states, x.transitions,
                     x.seconds, violations, spent, changes)


def _timed(name: str, chk: Callable, spent: dict[str, float]) -> Callable:
    """`chk`, adding the time each call takes to spent[name] (for the report's figures)."""
    clock = time.perf_counter

    def timed(*args: Any) -> Any:
        t0 = clock()
        try:
            return chk(*args)
        finally:
            spent[name] = spent.get(name, 0.0) + clock() - t0
    timed.per_state = getattr(chk, "per_state", False)  # type: ignore[attr-defined]
    timed.applies = getattr(chk, "applies", None)  # type: ignore[attr-defined]
    return timed


def run(spec: Spec, profile: str = "ci", workers: int | None = None,
        progress: Callable[[str], None] | None = None, timed: bool = False) -> CheckResult:
    """The proofs and the profile's explorations; `timed` also measures each invariant.

    They are independent, so they share the worker processes: the three Z3 proofs first (the
    longest tasks), then the explorations; results come back in that order whatever finishes
    first, so the summary and the report do not depend on the schedule."""
    t0 = time.perf_counter()
    say = progress or (lambda text: None)
    engine = Engine(spec)
    jobs, coverage = jobs_for(engine, profile)
    import math
    _STATE.update(engine=engine, jobs=jobs, timed=timed, spec=spec)
    tasks = len(PROOFS) + len(jobs)
    n = workers or min(os.cpu_count() or 1, tasks)
    say(f"proving (Z3: determinism and completeness, state invariants by induction, step "
        f"invariants, recovery from every state) and exploring {len(jobs)} configurations on {n} process(es) ...")
    done: dict[str, Any] = {}
    result = CheckResult(profile, None, pair_coverage=coverage,  # type: ignore[arg-type]
                         distinguishable=math.prod(
        len(parameter_values(engine, p)) for p in parameters_read(engine)))

    def take(k: int, out: Any) -> None:
        if k < len(PROOFS):
            name = PROOFS[k][0]
            done[name] = out
            say(f"  {name}: {_proof_line(out)}")
            return
        result.jobs.append(out)
        j = k - len(PROOFS) + 1
        say(f"  [{j}/{len(jobs)}] {out.kind}: {out.states} states, "
            f"{out.transitions} transitions, {out.seconds:.1f} s"
            + (f", {len(out.violations)} VIOLATION(S)" if out.violations else ""))

    for k, out in enumerate(parallel_imap(_task, list(range(tasks)), n)):
        take(k, out)
    result.proof, result.induction, result.steps, result.recovery = (
        done["determinism"], done["induction"], done["steps"], done["recovery"])
    result.seconds = time.perf_counter() - t0
    return result


PROOFS: tuple[tuple[str, Callable[[Spec], Any]], ...] = (
    ("steps", prove_steps), ("induction", prove_induction), ("determinism", prove),
    ("recovery", prove_recovery))


def _task(k: int) -> Any:
    """Task k of `run`: a proof, then the explorations."""
    if k < len(PROOFS):
        return PROOFS[k][1](_STATE["spec"])
    return _run(k - len(PROOFS))


def _proof_line(out: Any) -> str:
    if isinstance(out, Report):
        return (f"{out.buckets} (state, event) pairs, {out.queries} queries, "
                f"{len(out.findings)} finding(s), {out.seconds:.1f} s"
                + (f", {len(out.unknown)} unknown" if out.unknown else ""))
    return (f"{len(out.invariants)} invariants, {out.queries} queries, "
            f"{len(out.failures)} not proved, {out.seconds:.1f} s"
            + (f", {len(out.unknown)} unknown" if out.unknown else ""))


def _status(found: Any, unknown: Any) -> str:
    """A proof's word in the summary: FAILED (a counterexample), UNKNOWN (Z3 gave up), proved."""
    return "FAILED" if found else "UNKNOWN" if unknown else "proved"


def summary(result: CheckResult) -> str:
    lines = [f"chargespec check --profile {result.profile}",
             f"{result.distinguishable:,} configurations differ in some parameter a guard or an "
             f"observation reads; the Z3 proofs below (determinism, the state and step "
             f"invariants, the way back to the goal) cover all of them; explored, with every "
             f"invariant: a covering set of value pairs", ""]
    p = result.proof
    lines.append(f"{'proof':<28} {'determinism + completeness':<34} "
                 f"{_status(p.findings, p.unknown):<10} {p.seconds:6.1f} s  "
                 f"({p.buckets} state/event pairs, {p.queries} Z3 queries)")
    ind = result.induction
    if ind is not None:
        lines.append(f"{'proof':<28} {f'{len(ind.invariants)} state invariants, induction':<34} "
                     f"{_status(ind.failures, ind.unknown):<10} {ind.seconds:6.1f} s  "
                     f"(every configuration, and every ChangeConfiguration between steps; "
                     f"{ind.queries} Z3 queries)")
    sp = result.steps
    if sp is not None:
        lines.append(f"{'proof':<28} {f'{len(sp.invariants)} step invariants':<34} "
                     f"{_status(sp.failures, sp.unknown):<10} {sp.seconds:6.1f} s  "
                     f"(every configuration, every rule from every state the state invariants "
                     f"allow; {sp.queries} Z3 queries)")
    rp = result.recovery
    if rp is not None and rp.invariants:
        lines.append(f"{'proof':<28} {'no dead end, recovery witnesses':<34} "
                     f"{_status(rp.failures, rp.unknown):<10} {rp.seconds:6.1f} s  "
                     f"(every configuration, from every state the state invariants allow; "
                     f"{rp.queries} Z3 quer{'y' if rp.queries == 1 else 'ies'})")
    for kind in ("pairwise", "errors", "auth"):
        js = [j for j in result.jobs if j.kind == kind]
        if not js:
            continue
        states = sum(j.states for j in js)
        trans = sum(j.transitions for j in js)
        secs = sum(j.seconds for j in js)
        bad = sum(len(j.violations) for j in js)
        extra = f", {result.pair_coverage:.0%} of value pairs" if kind == "pairwise" else ""
        lines.append(f"{'explore ' + kind:<28} {f'{len(js)} configurations{extra}':<34} "
                     f"{'FAILED' if bad else 'ok':<10} {secs:6.1f} s  "
                     f"({states:,} states, {trans:,} transitions)")
    lines.append("")
    for f in p.findings:
        lines.append(f"COUNTEREXAMPLE {f}")
    for inv, why in (ind.failures if ind is not None else ()):
        lines.append(f"NOT INDUCTIVE {inv}: {why}")
        lines.append("    (the state it starts from may be unreachable: then a stronger invariant "
                     "is missing; the explorations say whether it is reached)")
    for inv, why in (sp.failures if sp is not None else ()):
        lines.append(f"NOT PROVED {inv}: {why}")
        lines.append("    (the state it starts from satisfies the state invariants but may be "
                     "unreachable; the explorations say whether it is reached)")
    for inv, why in (rp.failures if rp is not None else ()):
        lines.append(f"NOT PROVED {inv}: {why}")
        lines.append("    (the state may be unreachable, or the witness too short; the "
                     "explorations' dead-end check says whether a reachable state is stuck)")
    for why in p.unknown:
        lines.append(f"UNKNOWN {why} (not proved: neither a proof nor a counterexample)")
    for proof in (ind, sp, rp):
        for inv, why in (proof.unknown if proof is not None else ()):
            lines.append(f"UNKNOWN {inv}: {why} (not proved)")
    for inv, msg, trace in result.violations:
        lines.append(f"VIOLATION {inv}: {msg}")
        lines.append(f"    shortest trace: {' ; '.join(trace) or '(initial state)'}")
    lines.append(f"{'OK' if result.ok else 'FAILED'} in {result.seconds:.1f} s wall")
    return "\n".join(lines)


def progress_to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
