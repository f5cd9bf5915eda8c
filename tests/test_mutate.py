"""Mutation analysis (checkers/mutants.py, checkers/mutate.py) and the data vectors
(chargespec/datavalues.py): mutants are made of every element, killed by the vectors that pin
their behaviour, told apart by a search where the vectors miss them, and the data classes the
rules' tests never met are in the committed vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargespec import datavalues
from chargespec.checkers import mutate
from chargespec.checkers.mutants import generate, mutated_spec
from chargespec.cli import main
from chargespec.models.step import Engine
from chargespec.rfid import RENDERINGS

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def mutants(engine: Engine):
    return generate(engine.spec)


@pytest.fixture(scope="module")
def stop_modes(engine: Engine) -> mutate.Suite:
    return mutate.load_suite(engine, [VECTORS / "stop_modes.json"])


def by_id(mutants, prefix: str):
    return [m for m in mutants if m.id.startswith(prefix)]


def test_mutant_ids_are_unique_and_stable(engine: Engine, mutants) -> None:
    ids = [m.id for m in mutants]
    assert len(ids) == len(set(ids))
    assert ids == [m.id for m in generate(engine.spec)]


def test_every_operator_and_table_of_the_issue_is_mutated(mutants) -> None:
    ops = {m.operator for m in mutants}
    assert {"ROR", "LCR", "NEG", "DROP", "CONST", "SET", "UPD-DEL", "UPD-VAL", "EMIT-DEL",
            "EMIT-FIELD", "TO", "CELL", "INIT", "DEFAULT", "HELPER"} <= ops
    elements = {m.element.split("[")[0].split(",")[0] for m in mutants}
    for table in ("table faulting_errors", "table ocpp_error_code", "table free_charging_ocpp",
                  "table if_in_doubt_unknown_card", "observation status", "observation led"):
        assert table in elements, table
    assert any(m.kind == "pilot" for m in mutants)
    helpers = {m.payload[0] for m in mutants if m.kind == "helper"}
    assert helpers == {"render_uid", "listed", "duty_cycle"}
    for m in mutants:
        assert m.area in mutate.M.AREAS and m.where and m.bug_class


def test_every_mutant_names_where_it_is_and_compiles(engine: Engine, mutants) -> None:
    # one of each kind and operator: the mutated spec builds a step function that steps
    seen = set()
    for m in mutants:
        if (m.kind, m.operator) in seen:
            continue
        seen.add((m.kind, m.operator))
        eng = mutate.mutant_engine(engine, m)
        c = eng.config({})
        eng.step(c, eng.initial(c), engine.event("plug"))


def test_a_swapped_stop_reason_is_killed_by_the_stop_mode_vectors(engine, mutants,
                                                                   stop_modes) -> None:
    m = next(m for m in mutants if m.id.startswith("rule/same_card_stops_transaction/emit "
                                                   "StopTransaction.reason/EMIT-FIELD"))
    v = mutate.analyse_one(engine, stop_modes, m, search=False)
    assert v.status == "killed" and v.killers[0][0] == "stop_modes.json"
    assert m.bug_class == "WRONG_STOP_REASON"


def test_a_mutant_the_vectors_miss_is_told_apart_by_a_search(engine, mutants,
                                                             stop_modes) -> None:
    # the stop mode vectors never meet Free Charging: a wrong cell of its table survives them
    m = next(m for m in mutants if m.id.startswith("constant/free_charging_start/"))
    assert not mutate.killers(engine, mutate.mutant_engine(engine, m), stop_modes, m)
    v = mutate.analyse_one(engine, stop_modes, m)
    assert v.status == "distinguished"
    d = v.distinction
    ref = engine
    eng = mutate.mutant_engine(engine, m)
    assert mutate._replay_differs(ref, eng, ref.config(d.config), eng.config(d.config),
                                  d.events) == len(d.events)


def test_a_guard_mutant_changes_behaviour_only_where_its_guard_does(engine, mutants) -> None:
    # `cable == 'in'` dropped from the rule that ends Finishing on cable removal: the mutant
    # takes the same steps as the reference everywhere its guard agrees
    m = by_id(mutants, "rule/cable_removal_ends_finishing/when/")[0]
    eng = mutate.mutant_engine(engine, m)
    c = engine.config({})
    s = engine.initial(c)
    for name in ("plug", "unplug"):
        a = engine.step(c, s, engine.event(name))
        b = eng.step(c, s, engine.event(name))
        assert mutate.project(a[1], a[0]) == mutate.project(b[1], b[0])
        s = a[0]


def test_an_unread_parameter_default_is_equivalent_with_its_reason(engine, mutants) -> None:
    m = by_id(mutants, "default/websockets_keepalive_interval/")[0]
    assert mutate.equivalence(engine, m) == ("no expression of the session reads "
                                              "websockets_keepalive_interval")


def test_a_guard_rewritten_to_the_same_condition_is_proved_equivalent(engine, mutants) -> None:
    # a mutant whose guard differs only where the state invariants say no state is
    # (one the committed analysis records as such; every one it lists is re-proved here)
    recorded = json.loads((VECTORS / "mutation.json").read_text())["coverage"]["equivalent"]
    z3_ids = [k for k, v in recorded.items() if v.startswith("Z3: the mutated guard")]
    assert z3_ids
    index = {m.id: m for m in mutants}
    for mid in z3_ids[:3]:
        assert mutate._z3_guard_equivalent(engine, index[mid]), mid
    # and a guard mutant that does change behaviour is not
    killed = index["rule/same_card_stops_transaction/when/NEG/0"]
    assert mutate._z3_guard_equivalent(engine, killed) is None


def test_an_update_that_rewrites_the_value_already_there_is_proved_equivalent(engine,
                                                                            mutants) -> None:
    index = {m.id: m for m in mutants}
    # a rule that fires only with the cable gone: the lock is open already, whatever it sets
    same = index["rule/error_stops_transaction_cable_gone/do lock/UPD-DEL/0"]
    assert "leaves lock at the value" in mutate._z3_update_equivalent(engine, same)
    # plugged rules: the pilot is never A, so `cp in [C, D, A]` is `cp in [C, D]` there
    assert mutate._z3_update_equivalent(
        engine, index["rule/remote_start_plugged/do ev_charged/UPD-VAL/3"])
    # an update that matters is not: the card a transaction starts with
    differs = [m for m in mutants if m.id.startswith("rule/same_card_stops_transaction/do ")
               and m.operator == "UPD-DEL"]
    assert differs and all(mutate._z3_update_equivalent(engine, m) is None for m in differs)


def _dead(engine, mutants):
    return [m for m in mutants if m.kind == "rule" and m.operator in ("UPD-DEL", "UPD-VAL")
            and mutate._dead_update(engine, m)]


def test_an_update_never_read_again_is_equivalent_and_a_read_one_is_not(engine, mutants) -> None:
    index = {m.id: m for m in mutants}
    # unplugging ends the transaction (finishing): whether the vehicle had charged is read only
    # in a transaction or a provisional charge, and every way there writes it first
    why = mutate._dead_update(engine, index["rule/unplug_stops_transaction/do ev_charged/UPD-DEL/0"])
    assert why and "ev_charged" in why and "finishing" in why
    # the card a transaction starts with is read (StopTransaction's idTag, the same card)
    assert mutate._dead_update(
        engine, index["rule/free_card_plugged/do card/UPD-DEL/0"]) is None
    # a changed value read back at once by an observation (the lock is observed directly)
    assert all(mutate._dead_update(engine, m) is None for m in mutants
               if m.kind == "rule" and m.operator == "UPD-DEL" and "do lock/" in m.id)


def test_no_update_the_vectors_tell_apart_is_called_dead(engine, mutants) -> None:
    # soundness against the committed analysis: every update mutant some test kills (or a
    # search told apart) must be live where its rule leaves the machine
    cov = json.loads((VECTORS / "mutation.json").read_text())["coverage"]
    not_killed = set(cov["equivalent"]) | set(cov["undecided"]) | set(cov["invalid"])
    dead = {m.id for m in _dead(engine, mutants)}
    assert len(dead) >= 40
    told_apart = [m.id for m in mutants if m.kind == "rule"
                  and m.operator in ("UPD-DEL", "UPD-VAL") and m.id not in not_killed]
    assert len(told_apart) > 500
    assert not dead & set(told_apart)


STATIC = ("dead update", "masked", "Z3: wherever the mutated guard decides otherwise",
          "Z3: wherever the rule fires")


def _static_equivalents(mutants):
    recorded = json.loads((VECTORS / "mutation.json").read_text())["coverage"]["equivalent"]
    index = {m.id: m for m in mutants}
    return [index[k] for k, why in sorted(recorded.items()) if why.startswith(STATIC)]


def test_the_analysis_records_each_static_argument(mutants) -> None:
    reasons = [why for why in json.loads((VECTORS / "mutation.json").read_text())[
        "coverage"]["equivalent"].values()]
    for start in STATIC:
        assert sum(why.startswith(start) for why in reasons) >= 5, start


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_statically_equivalent_mutant_changes_no_observation_on_any_run(engine, mutants,
                                                                        data) -> None:
    # for all configurations and event sequences: a mutant shown equivalent by a dead update,
    # a masked set or Z3 runs exactly like the reference, as the vectors see it
    mu = data.draw(st.sampled_from(_static_equivalents(mutants)), label="mutant")
    configs, _ = mutate.search_configs(engine, mu, None)
    values = data.draw(st.sampled_from(configs + [{"free_charging": True}]), label="config")
    events = mutate.alphabet(engine, "errors" if mu.area == "errors" else "cards")
    run = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=30), label="events")
    eng = mutate.mutant_engine(engine, mu)
    rc = engine.config(values)
    mc = rc if eng.compiled.Config is engine.compiled.Config else eng.config(values)
    a, b = engine.initial(rc), eng.initial(mc)
    for ev in run:
        a, oa = engine.step(rc, a, ev)
        b, ob = eng.step(mc, b, ev)
        assert mutate.conforms(mutate.project(oa, a), mutate.project(ob, b)), (mu.id, ev)


def test_a_change_a_masked_set_never_shows_is_equivalent(engine, mutants) -> None:
    from chargespec.checkers.liveness import masks
    index = {m.id: m for m in mutants}
    mk = masks(engine.spec)
    # timed_errors is read only as `timed_errors & cleared_by_rcmb_reset_timer`
    assert mk.mask["timed_errors"] == mk.constants["cleared_by_rcmb_reset_timer"]
    assert mk.mask["errors"] is None
    # another row starting a timer at unplug: timed_errors holds it, no read sees it
    why = mutate.equivalence(engine, index["constant/timer_started_by_unplug/spd_tripped"])
    assert why and why.startswith("masked") and "timed_errors" in why
    # the RCMB row itself does show (its timer clears the error)
    assert mutate.equivalence(
        engine, index["constant/timer_started_by_unplug/rcmb_residual_current"]) is None
    assert mutate.equivalence(
        engine, index["constant/cleared_by_rcmb_reset_timer/rcmb_residual_current"]) is None


def test_a_guard_whose_other_step_has_the_same_effect_is_equivalent(engine, mutants) -> None:
    index = {m.id: m for m in mutants}
    # a plug with the cable already in: the sibling the reference fires instead ignores it,
    # and so, in every state the invariants allow there, does the rule the mutant fires
    why = mutate._z3_same_effect(engine, index["rule/plug_ignored_when_connected/when/DROP/2"])
    assert why and "same effect" in why
    # a guard that matters: the same card stops the transaction
    assert mutate._z3_same_effect(
        engine, index["rule/same_card_stops_transaction/when/NEG/0"]) is None


@pytest.mark.parametrize("every", [
    29, pytest.param(1, marks=pytest.mark.slow, id="all")])
def test_no_mutant_the_vectors_tell_apart_is_called_equivalent(engine, mutants, every) -> None:
    # soundness of every static argument (dead update, masks, Z3 on updates, guards, effects,
    # observations and message fields) against the committed analysis: on every 29th mutant
    # it records as killed or told apart (all of them, over 3,000, in `make test-slow`)
    cov = json.loads((VECTORS / "mutation.json").read_text())["coverage"]
    not_killed = set(cov["equivalent"]) | set(cov["undecided"]) | set(cov["invalid"])
    told_apart = [m for m in mutants if m.id not in not_killed
                  and m.kind in ("rule", "constant", "observation")]
    checked = told_apart[::every]
    assert len(checked) > 3000 // every
    wrong = [m.id for m in checked if mutate.equivalence(engine, m)]
    assert not wrong


def test_random_walks_from_the_vectors_states_tell_apart_and_repeat_exactly(engine, mutants,
                                                                            stop_modes) -> None:
    # the vehicle pausing without the pilot going back to B: nothing shows at once; the walks
    # continue from each state of the stop-mode vectors where the rule is in play until an
    # observation differs (a card and its authorization later)
    index = {m.id: m for m in mutants}
    mu = index["rule/ev_pause/do cp/UPD-DEL/0"]
    eng = mutate.mutant_engine(engine, mu)
    rules = mutate.touched(engine.spec, mu)
    events = mutate.alphabet(engine, "")
    runs = [mutate.seeded(engine, eng, rules, stop_modes, events,
                          mutate.Budget(mutate.WALK_STEPS, mu.id), walk=True) for _ in range(2)]
    d = runs[0]
    assert d is not None
    assert (d.config, d.events) == (runs[1].config, runs[1].events)  # the vectors reproduce
    rc = engine.config(d.config)
    assert mutate._replay_differs(engine, eng, rc, rc, d.events) == len(d.events)
    assert [e.name for e in d.events][-2:] == ["rfid", "authorize_conf"]


def test_an_observation_case_shadowed_by_an_earlier_one_is_equivalent(engine, mutants) -> None:
    index = {m.id: m for m in mutants}
    # "Reserved" for finishing too: the Finishing case above it takes every finishing state
    why = mutate.equivalence(engine, index["observation/status/case13/when/SET/10"])
    assert why and "takes the original's value" in why
    # and for an authorized connector: the state invariants say it holds no reservation
    assert mutate.equivalence(engine, index["observation/status/case13/when/SET/8"])
    # the reserved case negated is seen (the vectors kill it)
    assert mutate.equivalence(engine, index["observation/status/case13/when/NEG/0"]) is None


def test_a_search_toward_a_z3_witness_finds_what_the_others_missed(engine, mutants) -> None:
    # the card a connection timeout should forget, kept: Z3 names a state where the rule
    # fires with a card (free charging with RFID); the best-first search gets there and on
    index = {m.id: m for m in mutants}
    mu = index["rule/vehicle_connection_timeout/do card/UPD-DEL/0"]
    eng = mutate.mutant_engine(engine, mu)
    ev, config, state = mutate._z3_witness(engine, mu)
    assert ev == "connection_timeout" and state["session"] in mu.payload.sources
    d = mutate.toward_witness(engine, eng, mu, mutate.touched(engine.spec, mu),
                              mutate.alphabet(engine, ""), mutate.Budget(mutate.WITNESS_STEPS))
    assert d is not None and "connection_timeout" in [e.name for e in d.events]
    rc = engine.config(d.config)
    assert mutate._replay_differs(engine, eng, rc, rc, d.events) == len(d.events)
    # every event is needed: without any one of them the two runs agree
    for k in range(len(d.events) - 1):
        shorter = d.events[:k] + d.events[k + 1:]
        assert mutate._replay_differs(engine, eng, rc, rc, shorter) == 0


def test_each_helper_wrong_version_gives_a_different_answer(engine) -> None:
    from chargespec.expr import WRONG_LISTED, listed
    from chargespec.models.pwm import WRONG_DUTY_CYCLES, duty_cycle
    from chargespec.rfid import WRONG_RENDERINGS, render_uid
    uid = datavalues.UIDS[7]
    for name, (fn, _) in WRONG_RENDERINGS.items():
        assert any(fn(u, c) != render_uid(u, c) for u in (uid, datavalues.UPPER_DELIVERY,
                                                          datavalues.UIDS[10])
                   for c in RENDERINGS), name
    entries = datavalues.whitelist_for("LowerCase") + ["aabbccdd#2", "11223344#1"]
    for name, (fn, _) in WRONG_LISTED.items():
        assert any(fn(u, entries, n) != listed(u, entries, n)
                   for u in ("0a0e9b83", "d9c8b7a6f5e4d3c2b108", "aabbccdd", "11223344",
                             "08b1c2d3e4f5a6b7c8d9", "0a0e9b8399")
                   for n in (1, 2)), name
    pilot = engine.spec.pilot
    for name, (fn, _) in WRONG_DUTY_CYCLES.items():
        assert any(fn(pilot, "nominal", a) != duty_cycle(pilot, "nominal", a)
                   for a in datavalues.AMPS), name


# ---- the committed vectors against the data classes (the gaps of issue 17)

@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads((VECTORS / "coverage-report.json").read_text())


@pytest.mark.parametrize("criterion", ["uidForms", "caseMismatched", "limitBoundaries",
                                       "memoryReadBack", "refusalCleared"])
def test_the_vectors_cover_every_data_class(report, criterion) -> None:
    c = report["dataValues"][criterion]
    assert c["total"] > 0 and c["covered"] == c["total"], c["uncovered"]


def test_data_coverage_counts_what_the_vectors_carry(engine) -> None:
    from chargespec.coverage import data_coverage
    doc = json.loads((VECTORS / "data.json").read_text())
    full = data_coverage(engine, {"data": doc})
    assert full["uidForms"]["covered"] == 12 and full["caseMismatched"]["covered"] == 4
    # without the data vectors, the rules' tests never meet a real UID or a boundary limit
    others = {n: json.loads((VECTORS / f"{n}.json").read_text())
              for n in ("session", "stop_modes", "authorization")}
    bare = data_coverage(engine, others)
    assert bare["uidForms"]["covered"] == 0
    # the refusal's flag: only the data vectors end a refused transaction and charge again
    assert full["refusalCleared"]["covered"] == full["refusalCleared"]["total"] >= 13
    assert bare["refusalCleared"]["covered"] < bare["refusalCleared"]["total"]
    assert "set_operator_limit 52 A" in bare["limitBoundaries"]["uncovered"]


def test_a_case_insensitive_whitelist_fails_the_data_vectors(engine, mutants) -> None:
    suite = mutate.load_suite(engine, [VECTORS / "data.json"])
    for prefix in ("helper/listed/case_insensitive", "helper/render_uid/",
                   "helper/duty_cycle/"):
        for m in by_id(mutants, prefix):
            if m.id.endswith(("any_postfix", "plain_only", "below_minimum_at_minimum")):
                continue  # postfixes: the mutation vectors' part
            assert mutate.killers(engine, mutate.mutant_engine(engine, m), suite, m), m.id


@pytest.mark.slow  # a mutation run (12 s): make test-slow, beside `chargespec mutate`
def test_the_data_and_mutation_vectors_kill_the_helper_mutants(engine, mutants) -> None:
    suite = mutate.load_suite(engine, [p for p in sorted(VECTORS.glob("*.json"))
                                       if p.name not in mutate.SESSION_FILES_SKIP])
    recorded = json.loads((VECTORS / "mutation.json").read_text())["coverage"]
    killed = {m.id for m in by_id(mutants, "helper/")
              if mutate.analyse_one(engine, suite, m, search=False).status == "killed"}
    # the rest are listed with the reason they were not told apart, never dropped
    for m in by_id(mutants, "helper/"):
        assert m.id in killed or m.id in recorded["undecided"] or \
            m.id in recorded["equivalent"], m.id
    assert len(killed) >= 12


def test_the_mutation_file_records_its_inputs_and_every_test_kills_its_mutant(engine,
                                                                               mutants):
    doc = json.loads((VECTORS / "mutation.json").read_text())
    assert len(doc["coverage"]["inputs"]) == 64
    index = {m.id: m for m in mutants}
    tests = [(g, t) for g in doc["testGroups"] for t in g["tests"]]
    assert tests
    for g, t in tests[::max(1, len(tests) // 40)]:
        suite = mutate.suite_of(engine, [("mutation.json", {"testGroups": [
            {**g, "tests": [t]}]})])
        m = index[t["mutants"][0]]
        assert mutate.killers(engine, mutate.mutant_engine(engine, m), suite, m), t["tcId"]


def test_mutate_exits_1_on_a_survivor_and_0_when_all_are_killed(tmp_path, capsys) -> None:
    stop = str(VECTORS / "stop_modes.json")
    assert main(["mutate", stop, "--only", "constant/free_charging_start/",
                 "--no-search", "--workers", "1", "--json", str(tmp_path / "v.json")]) == 1
    out = capsys.readouterr().out
    assert "free charging" in out and "undecided" in out
    assert json.loads((tmp_path / "v.json").read_text())[0]["status"] == "undecided"
    assert main(["mutate", stop, "--only", "rule/same_card_stops_transaction/emit "
                 "StopTransaction.reason", "--no-search", "--workers", "1"]) == 0


def test_mutate_names_an_unknown_mutant_prefix(capsys) -> None:
    assert main(["mutate", str(VECTORS / "stop_modes.json"), "--only", "no-such-mutant"]) == 2
    assert "no-such-mutant" in capsys.readouterr().err


def test_mutated_spec_changes_only_its_element(engine, mutants) -> None:
    m = by_id(mutants, "constant/faulting_errors/")[0]
    spec = mutated_spec(engine.spec, m)
    changed = [k for k in spec.constants if spec.constants[k] != engine.spec.constants[k]]
    assert changed == ["faulting_errors"]
    assert spec.machines == engine.spec.machines
