"""Every status change the machine can make is allowed by OCPP 1.6's table (§4.9), under every
pair of settings the guards read, and every rule of the spec fires somewhere."""

from __future__ import annotations

import dataclasses

import pytest

from chargespec.checkers.explore import (explore, pairwise_configurations, parameter_values,
                                         session_events,
                                         parameters_read)


def status_check(table, renotify=frozenset()):
    """The status check over `table`; rules in `renotify` (`renotify: true`: a restart, the
    backend accepting the BootNotification) may notify the status they keep."""
    def check(config, s, ev, s2, out):
        if not table.permits_via(s.status, s2.status):
            return f"{s.status} -> {s2.status} is not allowed by OCPP 1.6 §4.9"
        sent = [m.as_dict()["status"] for m in out.messages if m.action == "StatusNotification"]
        if s2.registration != "Accepted" and config.connection_type != "NoBackend":
            # nothing but BootNotification until the backend accepts it (BOOT-REGISTRATION);
            # the status of that moment is sent then
            return f"StatusNotification {sent} before the registration" if sent else None
        via = table.via.get((s.status, s2.status))
        if via is not None and sent != [via, s2.status]:
            return f"status changed {s.status} -> {s2.status} but StatusNotification sent {sent}"
        if s2.status != s.status and via is None and sent != [s2.status]:
            return f"status changed {s.status} -> {s2.status} but StatusNotification sent {sent}"
        if s2.status == s.status and sent and out.rule not in renotify:
            return f"StatusNotification {sent} without a status change"
        return None
    return check


def test_pairwise_configurations_cover_every_pair_of_settings(engine):
    configs = pairwise_configurations(engine)
    pids = parameters_read(engine)
    for i, a in enumerate(pids):
        for b in pids[i + 1:]:
            seen = {(getattr(c, a), getattr(c, b)) for c in configs}
            want = {(x, y) for x in map(_h, parameter_values(engine, a))
                    for y in map(_h, parameter_values(engine, b))}
            assert want <= seen, (a, b)


def _h(v):
    return tuple(v) if isinstance(v, list) else v


def test_no_status_change_outside_the_ocpp_table(pairwise):
    assert pairwise.forbidden == []
    assert len(pairwise.status_changes) > 20  # the exploration saw real traffic


def test_a_status_notification_is_sent_exactly_when_the_status_changes(pairwise):
    assert pairwise.bad_notifications == []


def test_every_rule_fires_under_some_setting(engine, pairwise):
    assert {r.id for r in engine.machine.rules} - pairwise.rules_fired == set()


def test_the_status_check_can_fail(engine):
    # remove Preparing -> Charging from the table: the check must find the plain session
    table = engine.spec.status_table
    crippled = dataclasses.replace(table, allowed={**table.allowed, "Preparing": frozenset(
        table.allowed["Preparing"] - {"Charging"})})
    renotify = frozenset(r.id for r in engine.machine.rules if r.renotify)
    result = explore(engine, engine.config(), {"ocpp_status": status_check(crippled, renotify)},
                     events=session_events(engine))
    assert result.violations
    v = result.violations[0]
    assert "Preparing -> Charging" in v.message
    # the shortest path: plug, card, accepted, EV ready (or an equivalent of the same length)
    assert len(v.trace) == 4


def test_every_row_of_every_observation_table_is_reached(engine, pairwise):
    """A table row that no reachable state selects is dead spec; each one must be reached."""
    for name, kind, fn in engine.compiled.observations:
        if kind == "cases":
            assert pairwise.rows[name] == set(range(len(fn))), name
