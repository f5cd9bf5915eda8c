"""Diagrams: guards folded and specialised without changing their meaning, every rule drawn,
projections that show only what a configuration leaves open, the OCPP status picture against
the allowed table, the DLM wiring against the rotations, deterministic DOT and real SVG."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargespec import diagrams
from chargespec.checkers.explore import (all_events, explore, pairwise_configurations,
                                         session_events)
from chargespec.expr import (Const, PythonBackend, fold, names, parse, specialize,
                             substitute, to_label)
from chargespec.errors import Where


@pytest.fixture(scope="module")
def states(engine):
    """Reachable states under two configurations (the guards are evaluated on these), within
    the CI explorations' bound."""
    from chargespec.checkers.check import pairwise_bound
    out = []
    for values in ({}, {"stop_transaction_mode": "OnlyByRfidOrRemoteStop",
                        "if_in_doubt_allow_charging": "ImmediatePlugIn"}):
        x = explore(engine, engine.config(values), events=session_events(engine),
                    skip_unchanged=True, bound=pairwise_bound)
        out += list(x.parent)
    return out


def evaluate(engine, e, config, state, event):
    """An expression's value under a configuration, a state and an event (Python back end)."""
    consts = {k: v for k, (_, v) in engine.spec.constants.items()}
    env = {**config.as_dict(), **consts, **state.as_dict(), **event.as_dict()}
    order = {v: i for i, v in enumerate(engine.spec.errors)}
    return PythonBackend(lambda n: (lambda s, c, ev, o: env[n]), order).visit(e)(
        None, None, None, None)


def test_specialize_folds_what_is_known():
    e = parse("a and (b or c == 'x') and not d", Where("t", 1))
    assert to_label(specialize(e, {"a": True, "c": "x"})) == "not d"
    assert specialize(e, {"a": False}) == Const(False)
    assert to_label(specialize(e, {"d": False, "b": False})) == "a and c == 'x'"
    lookup = parse("table[k] == 'allow'", Where("t", 1))
    assert specialize(lookup, {"table": {"On": "allow"}, "k": "On"}) == Const(True)
    assert to_label(specialize(lookup, {"table": {"On": "allow"}})) == "table[k] == 'allow'"


def test_fold_inverts_the_loaders_expansion_for_every_rule(engine):
    defs = {n: d.expr for n, d in engine.machine.definitions.items()}
    folded_somewhere = False
    for r in engine.machine.rules:
        f = fold(r.when, defs)
        assert substitute(f, defs) == r.when, r.id
        folded_somewhere |= bool(names(f) & set(defs))
    assert folded_somewhere  # e.g. `online`, `faulted`


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_specialised_guard_means_what_the_guard_means(engine, states, data):
    """For all rules, configurations, reachable states and events of the rule: the guard and
    its specialisation to the configuration agree (what the projections draw is the spec)."""
    rule = data.draw(st.sampled_from([r for r in engine.machine.rules if not r.ignore]))
    events = [e for e in all_events(engine) if e.name in rule.events]
    if not events:
        events = [engine.event(rule.events[0])]
    event = data.draw(st.sampled_from(events))
    config = data.draw(st.sampled_from(_configs(engine)))
    state = data.draw(st.sampled_from(states))
    known = diagrams.known_values(engine, config)
    special = specialize(rule.when, known, engine.spec.constants)
    assert not (names(special) & set(engine.spec.parameters)), to_label(special)
    assert evaluate(engine, special, config, state, event) == \
        evaluate(engine, rule.when, config, state, event), (rule.id, to_label(special))


_CONFIGS: list = []


def _configs(engine):
    if not _CONFIGS:
        _CONFIGS.extend(pairwise_configurations(engine))
        _CONFIGS.extend(engine.config(dict(c.values)) for c in diagrams.CONFIG_CLASSES)
    return _CONFIGS


def _tooltips(dot: str) -> set[str]:
    return {rid for t in re.findall(r'tooltip="([^"]*)"', dot) for rid in t.split(", ")}


def test_the_machine_diagram_draws_every_rule_but_the_ignores(engine):
    dot = diagrams.machine_dot(engine)
    drawn = _tooltips(dot)
    assert drawn == {r.id for r in engine.machine.rules if not r.ignore}
    assert dot == diagrams.machine_dot(engine)  # deterministic
    assert "c0392b" not in dot  # no highlight unless asked
    assert "legend" in dot and f"{sum(r.ignore for r in engine.machine.rules)} explicit " in dot
    # guards are rendered by the expression language, definitions folded
    defs = set(engine.machine.definitions)
    assert any(re.search(rf"\b{d}\b", dot) for d in defs)
    assert "connection_type != 'NoBackend' and 'backend_disconnected' not in errors" not in dot


def test_a_highlighted_path_marks_its_edges_and_steps(engine):
    dot = diagrams.machine_dot(engine, {("idle", "authorizing"): [2], ("authorizing",
                                                                       "transaction"): [3]})
    marked = re.findall(r'"(\w+)" -> "(\w+)" \[[^\n]*penwidth=3[^\n]*xlabel="step ([\d, ]+)"',
                        dot)
    assert sorted(marked) == [("authorizing", "transaction", "3"), ("idle", "authorizing", "2")]


COMMITTED = Path(__file__).resolve().parent.parent / "reports" / "diagrams"


def test_projections_show_only_what_the_configuration_allows(engine):
    """Read from the committed pictures (`chargespec report --check` keeps them equal to what
    the spec draws); one is drawn again here from its exploration."""
    rules = {c.slug: _tooltips((COMMITTED / f"session-{c.slug}.dot").read_text())
             for c in diagrams.CONFIG_CLASSES}
    # Only by RFID/RemoteStop: an unplug never ends the transaction (§5.1)
    stop_by_unplug = {r.id for r in engine.machine.rules if "unplug" in r.events
                      and any(e.message == "StopTransaction" for e in r.emit)}
    assert stop_by_unplug and not (rules["rfid_only"] & stop_by_unplug)
    assert rules["normal"] & stop_by_unplug
    # Immediate Plug-in reaches the provisional phase; the defaults do not
    provisional = {r.id for r in engine.machine.rules if r.to == "provisional"}
    assert rules["immediate_plug_in"] & provisional and not rules["normal"] & provisional
    # free charging never asks the backend about a card
    assert not any(r.startswith("rfid_asks") for r in rules["free_charging_4"])
    assert any(r.startswith("rfid_asks") for r in rules["normal"])
    cls = next(c for c in diagrams.CONFIG_CLASSES if c.slug == "rfid_only")
    found = diagrams.projection_transitions(engine, engine.config(dict(cls.values)))
    dot = diagrams.projection_dot(engine, cls, found)
    assert dot == (COMMITTED / "session-rfid_only.dot").read_text()
    assert _tooltips(dot) == {r for _, r, _ in found}
    for cls in diagrams.CONFIG_CLASSES:
        labels = " ".join(re.findall(r'label="([^"]*)"',
                                     (COMMITTED / f"session-{cls.slug}.dot").read_text()))
        # what is left in a guard is state and event: no parameter survives specialisation
        for pid, p in engine.spec.parameters.items():
            if p.kind in ("bool", "enum"):
                assert not re.search(rf"\[[^\]]*\b{pid}\b", labels), (cls.slug, pid)


def test_the_status_picture_is_drawn_over_the_allowed_table(engine):
    table = engine.spec.status_table
    used = {("Available", "Preparing"), ("Preparing", "Charging")}
    dot = diagrams.status_dot(engine, used)
    allowed = sum(len(v) for v in table.allowed.values())
    assert dot.count("->") == allowed
    assert dot.count('color="#bbbbbb", style=dashed') == allowed - 2
    assert "NOT ALLOWED" not in dot
    bad = diagrams.status_dot(engine, used | {("Finishing", "Charging")})
    assert not table.permits("Finishing", "Charging")
    assert 'NOT ALLOWED' in bad


def test_the_status_picture_tells_made_possible_and_impossible_apart(engine):
    """Made (explored), possible only (Z3 finds a rule that makes it), never made (no rule,
    any configuration): three styles, and the legend counts them."""
    used = {("Available", "Preparing")}
    possible = frozenset(used | {("Faulted", "Preparing")})
    dot = diagrams.status_dot(engine, used, possible)
    line = lambda a, b: next(x for x in dot.splitlines()  # noqa: E731
                             if f'id="status_{a}_{b}"' in x)
    assert "penwidth=2" in line("Available", "Preparing") and "dotted" not in \
        line("Available", "Preparing")
    assert "style=dotted" in line("Faulted", "Preparing")
    assert "style=dashed" in line("Faulted", "Charging")
    assert "1 of 53 allowed transitions made, 2 possible" in dot


def test_the_status_relation_is_what_the_explorations_and_the_step_proof_say(engine):
    """Every status change an exploration makes is possible per Z3; none the OCPP table
    forbids is; and the changes the committed picture draws as never made are impossible."""
    from chargespec.checkers.status_relation import status_changes
    r = status_changes(engine.spec)
    table = engine.spec.status_table
    values, events, bound = diagrams.status_jobs(engine)[0]
    used = diagrams.status_transitions(engine, engine.config(values), events, bound)
    assert used <= r.possible and not r.unknown
    assert all(table.permits_via(a, b) for a, b in r.possible)
    assert set(table.via) <= r.possible  # ChangeAvailability from Preparing
    assert ("Faulted", "Preparing") in r.possible and ("Faulted", "Charging") not in r.possible
    # one query per possible change, and one per old status that finds no more
    assert r.queries == len(r.possible) + len(r.statuses)


def test_the_status_changes_the_model_makes_are_all_allowed(engine):
    values, events, bound = diagrams.status_jobs(engine)[0]
    used = diagrams.status_transitions(engine, engine.config(values), events, bound)
    assert len(used) >= 10 and any("Charging" in pair for pair in used)
    assert all(engine.spec.status_table.permits_via(a, b) for a, b in used)


def test_the_site_picture_wires_each_connector_by_its_rotation(spec):
    from chargespec.dlm.site import load_site
    from chargespec.loader import default_spec_dir

    site = load_site(spec, default_spec_dir() / "examples" / "dlm_building_100a.yaml")
    dot = diagrams.site_dot(site, spec.dlm.rotations)
    for c in site.connectors:
        for k, gp in enumerate(spec.dlm.rotations[c.phase_rotation]):
            assert re.search(rf'"conn-{c.name}":L{k + 1}:e -> "grid-L{gp + 1}":w', dot)
    assert dot.count(":e -> ") == 3 * len(site.connectors)
    assert diagrams.site_slug(site) == "dlm-building-100a"


def test_dot_renders_to_svg_with_the_ids_we_gave(engine):
    text = diagrams.svg(diagrams.machine_dot(engine))
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert 'id="phase_idle"' in text and 'id="edge_idle_authorizing"' in text
