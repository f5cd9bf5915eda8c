"""The step invariants proved for every configuration at once, with Z3.

The explorer checks the step invariants (checkers/invariants.py) on every transition of the
configurations it explores.  Here the configuration stays symbolic: for every rule (ignore rules
too: they settle the kept status and may notify) and each of its events, from every state that
satisfies the state invariants, Z3 shows that the step keeps each step invariant.  The state
invariants are proved inductive for every configuration (checkers/induction.py), so they hold
in every reachable state, and the step invariants then hold on every reachable transition of
every configuration.

Each step invariant is written below as a formula over the state before (`old`), the state after
with its observations (`new`), the event and the messages the step sends, mirroring its Python
check; small parts are expressions of the spec's own language compiled by the Z3 back end.  The
messages are the rule's emits (present unless a filter of the configuration drops their action)
and the notifications, whose presence is over-approximated (present unless dropped): only the
invariant that no message at all is sent reads them, so the proof stays sound.

A failed query is not necessarily a reachable violation: the state it starts from satisfies the
state invariants but may be unreachable (the status a state keeps is not constrained by them,
for one).  The counterexample names rule, event, state and configuration, like the induction's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Collection

import z3

from chargespec.expr import Where, parse
from chargespec.verdicts import gave_up
from chargespec.specmodel import Spec

from .determinism import MachineModel
from .induction import InvariantProof, invariant_terms, observation_terms, state_after
from .invariants import FIXED_TAG_MODES, STOP_REASONS
from .z3_backend import NONE, Z3Backend

TX_ACTIONS = ("Authorize", "StartTransaction", "StopTransaction")


StepProof = InvariantProof


@dataclass
class Sent:
    """One message a step may send: its action, kind, presence and fields (Z3 terms)."""

    action: str
    kind: str
    present: Any
    fields: dict[str, Any]


class Step:
    """One (rule, event) symbolically: the state before and after, and the messages."""

    def __init__(self, model: MachineModel, rule: Any, event: str):
        self.model, self.rule, self.event = model, rule, event
        m = model.machine
        self.fields = model.event_terms.get(event, {})
        self.after = observation_terms(model, state_after(model, rule, event))
        old_backend = model.backend(event)
        self._dropped: dict[str, Any] = {}
        self.messages = [
            Sent(x.message, x.kind, z3.Not(self.dropped(x.message)),
                 {k: old_backend.visit(v) for k, v in x.fields})
            for x in rule.emit if x.message is not None]
        # notifications: present unless dropped (an over-approximation; see the module doc)
        self.notes = [Sent(x.message, x.kind, z3.Not(self.dropped(x.message)), {})
                      for n in m.notify for x in n.emit if x.message is not None]

    def dropped(self, action: str) -> Any:
        """The configuration's filters drop `action`."""
        hit = self._dropped.get(action)
        if hit is None:
            whens = [self.model.compile(f.when) for f in self.model.machine.filters
                     if "*" in f.drop or action in f.drop]
            hit = self._dropped[action] = z3.Or(*whens) if whens else z3.BoolVal(False)
        return hit

    def old(self, text: str) -> Any:
        """An expression of the spec's language over the configuration, the event and the state
        before the step."""
        return self.model.compile(parse(text, Where("checkers/step_proof.py", 0)), self.event)

    def new(self, text: str) -> Any:
        """The same over the state after the step and its observations (not the event)."""
        b = Z3Backend(self.after.__getitem__, self.model.codes)
        return b.visit(parse(text, Where("checkers/step_proof.py", 0)))

    def status(self) -> tuple[Any, Any]:
        return self.model.terms["status"][0], self.after["status"][0]

    def calls(self, action: str) -> list[Sent]:
        return [s for s in self.messages if s.action == action and s.kind == "call"]

    def count(self, action: str) -> Any:
        return z3.Sum([z3.If(s.present, 1, 0) for s in self.calls(action)] or [z3.IntVal(0)])


Formula = Callable[[Step], Any]


def status_change_in_ocpp_table(st: Step) -> Any:
    table = st.model.spec.status_table
    old, new = st.status()
    code = st.model.codes
    pairs = [z3.And(old == code(a), new == code(b)) for a, bs in table.allowed.items()
             for b in bs]
    return z3.Or(old == new, *pairs)


def start_stop_pairing(st: Step) -> Any:
    was, now = st.old("session == 'transaction'"), st.new("session == 'transaction'")
    begins, ends = z3.And(z3.Not(was), now), z3.And(was, z3.Not(now))
    want_start = z3.If(z3.And(begins, z3.Not(st.dropped("StartTransaction"))), 1, 0)
    want_stop = z3.If(z3.And(ends, z3.Not(st.dropped("StopTransaction"))), 1, 0)
    return z3.And(st.count("StartTransaction") == want_start,
                  st.count("StopTransaction") == want_stop)


def stop_reason(st: Step) -> Any:
    want = STOP_REASONS.get(st.event)
    out = []
    for s in st.calls("StopTransaction"):
        reason = s.fields.get("reason")
        ok = z3.BoolVal(False) if want is None or reason is None else \
            reason == st.model.codes(want)
        out.append(z3.Implies(s.present, ok))
    return z3.And(*out) if out else z3.BoolVal(True)


def mode_1_sends_nothing(st: Step) -> Any:
    mode_1 = st.old("free_charging and free_charging_mode == 'NoOcpp'")
    return z3.Implies(mode_1, z3.Not(z3.Or(*[s.present for s in st.messages + st.notes])))


def modes_2_3_send_no_transactions(st: Step) -> Any:
    modes = st.old("free_charging and free_charging_mode in "
                   "['StatusNotifWithoutAuth', 'StatusNotifWithAuth']")
    sent = [s.present for s in st.messages + st.notes if s.action in TX_ACTIONS]
    return z3.Implies(modes, z3.Not(z3.Or(*sent)))


def free_charging_id_tags(st: Step) -> Any:
    fixed = st.old(f"free_charging and free_charging_mode in {list(FIXED_TAG_MODES)!r}")
    any_card = st.old("free_charging and free_charging_mode == 'FullAnyRfid'")
    tag = st.old("free_charging_rfid_tag")
    card = st.new("card")
    out = []
    for s in st.calls("StartTransaction") + st.calls("StopTransaction"):
        id_tag = s.fields.get("idTag")
        if id_tag is not None:
            out.append(z3.Implies(z3.And(fixed, s.present, id_tag != NONE), id_tag == tag))
    for s in st.calls("StartTransaction"):
        id_tag = s.fields.get("idTag")
        ok = z3.BoolVal(False) if id_tag is None else z3.And(id_tag != NONE, id_tag == card)
        out.append(z3.Implies(z3.And(any_card, s.present), ok))
    return z3.And(*out) if out else z3.BoolVal(True)


def rfid_only_unplug_keeps_transaction(st: Step) -> Any:
    if st.event not in ("unplug", "cable_removed"):
        return z3.BoolVal(True)
    running = st.old("stop_transaction_mode == 'OnlyByRfidOrRemoteStop' "
                     "and session == 'transaction'")
    return z3.Implies(running, st.new("session == 'transaction'"))


def doubt_off_refuses_unknown_cards(st: Step) -> Any:
    if st.event != "rfid":
        return z3.BoolVal(True)
    unknown_offline = st.old(
        "session == 'idle' and not free_charging and if_in_doubt_allow_charging == 'Off' "
        "and powered "
        "and (connection_type == 'NoBackend' or 'backend_disconnected' in errors) "
        "and not ((enable_local_whitelist and "
        "          listed(uid, local_whitelist, 2 if master_slave_mode == 'Slave' else 1)) "
        "         or (enable_ocpp_whitelist and local_authorize_offline and uid in cache))")
    return z3.Implies(unknown_offline,
                      z3.Not(st.new("session in ['authorized', 'transaction']")))


FORMULAS: dict[str, Formula] = {f.__name__: f for f in (
    status_change_in_ocpp_table, start_stop_pairing, stop_reason, mode_1_sends_nothing,
    modes_2_3_send_no_transactions, free_charging_id_tags, rfid_only_unplug_keeps_transaction,
    doubt_off_refuses_unknown_cards)}


def prove(spec: Spec, machine: str = "session", timeout_ms: int = 60_000,
          rules: Collection[str] | None = None) -> StepProof:
    """Every step invariant with a formula, on every rule and event, for every configuration,
    from every state that satisfies the state invariants.  `rules` limits the proof to those
    rules (a seeded mutation's test, which knows the rule it broke)."""
    t0 = time.perf_counter()
    m = spec.machine(machine)
    model = MachineModel(spec, m)
    steps = [i for i in m.invariants if i.kind == "step" and i.check in FORMULAS]
    states = [i for i in m.invariants if i.kind == "state"]
    failures: dict[str, str] = {}
    unknown: dict[str, str] = {}
    queries = 0
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*model.facts)
    s.add(*invariant_terms(model, states, {n: model.terms[n] for n in m.state_fields}, stored=True))
    control = model.control()
    for rule in m.rules:
        if rules is not None and rule.id not in rules:
            continue
        for event in rule.events:
            if len(failures) + len(unknown) == len(steps):
                break
            st = Step(model, rule, event)
            terms = [(inv, FORMULAS[inv.check](st)) for inv in steps  # type: ignore[index]
                     if inv.id not in failures and inv.id not in unknown]
            terms = [(inv, t) for inv, t in terms if not z3.is_true(z3.simplify(t))]
            if not terms:
                continue
            s.push()
            s.add(z3.Or(*[control == model.codes(p) for p in rule.sources]))
            s.add(model.compile(rule.when, event))
            while terms:  # again without those found broken, until the rest hold
                queries += 1
                s.push()
                s.add(z3.Not(z3.And(*[t for _, t in terms])))
                verdict = s.check()
                if verdict == z3.sat:
                    mod = s.model()
                    where = (f"rule {rule.id} ({rule.where.file}:{rule.where.line}) breaks it "
                             f"on {model.describe(mod, [], event)}")
                    for inv, t in terms:
                        if not z3.is_true(mod.eval(t, model_completion=True)):
                            failures[inv.id] = where
                elif verdict == z3.unknown:
                    for inv, _ in terms:
                        unknown.setdefault(inv.id, gave_up(s).reason)
                s.pop()
                if verdict != z3.sat:
                    break
                terms = [(inv, t) for inv, t in terms if inv.id not in failures]
            s.pop()
    return StepProof(machine, tuple(i.id for i in steps), tuple(sorted(failures.items())),
                     queries, time.perf_counter() - t0, tuple(sorted(unknown.items())))
