"""What the vectors cover, measured against the spec, and the tests that close the gaps.

Coverage items, each counted and each uncovered one listed by name:
  rules        every (rule, parameter its guard reads, value of that parameter) that Z3 finds
               satisfiable with the rule's guard (a rule guarded by `free_charging` has no item
               for the value that makes it impossible); covered when a test fires the rule
               under a configuration with that value
  policies     every row of every policy table: a test under that key value fires a rule that
               reads the table
  errors       every row of the error table: a test raises that error
  invariants   every invariant's boundary: a state invariant `not A or B` is exercised when a
               test reaches a state where A holds (the premise, where B must then hold); a step
               invariant when a test takes a step its `when` is about; the no-dead-end
               property when a test returns to Available
  octt         every OCTT case `spec/octt.yaml` lists: mirrored by a vector, or not applicable
               with its reason

`top_up` writes the tests that close rule gaps: it replays a test that fires the rule with the
one parameter changed, and when the rule no longer fires there, explores that configuration
breadth-first for the shortest trace that fires it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from chargespec.expr import BoolOp, Not, names
from chargespec.models.step import Engine
from chargespec.models.types import thaw

SESSION_FILES = ("session", "stop_modes", "free_charging", "authorization", "errors", "octt")


def _key(v: Any) -> str:
    return json.dumps(thaw(v), sort_keys=True)


def guard_parameters(engine: Engine, rule: Any) -> list[str]:
    read = names(rule.when)
    return [p for p in engine.spec.parameters if p in read]


def rule_items(engine: Engine) -> tuple[list[tuple[str, str, Any]], int]:
    """(rule, parameter, value) items whose guard Z3 can satisfy, and how many it cannot."""
    import z3

    from chargespec.checkers.determinism import MachineModel
    from chargespec.checkers.explore import parameter_values
    m = engine.machine
    model = MachineModel(engine.spec, m)
    solver = z3.Solver()
    solver.add(*model.facts, *model.assumptions)
    control = model.control()
    items, impossible = [], 0
    for r in m.rules:
        params = guard_parameters(engine, r)
        if not params:
            continue
        solver.push()
        ev = r.events[0] if r.events else None
        solver.add(model.compile(r.when, ev))
        solver.add(z3.Or(*[control == model.codes(v) for v in r.sources]))
        for p in params:
            term, _ = model.terms[p]
            ptype = engine.spec.parameters[p]
            for v in parameter_values(engine, p):
                if ptype.kind == "bool":
                    fact = term == z3.BoolVal(bool(v))
                elif ptype.kind == "enum":
                    fact = term == model.codes(v)
                elif ptype.kind == "int":
                    fact = term == int(v)
                elif hasattr(term, "plain") and not v:
                    # an empty whitelist: no card listed, plainly or with either postfix
                    empty = z3.K(z3.IntSort(), z3.BoolVal(False))
                    fact = z3.And(term.plain == empty, term.cp1 == empty, term.cp2 == empty)
                else:
                    items.append((r.id, p, v))  # other lists: the arrays say little; keep
                    continue
                solver.push()
                solver.add(fact)
                if solver.check() == z3.unsat:
                    impossible += 1
                else:
                    items.append((r.id, p, v))
                solver.pop()
        solver.pop()
    return items, impossible


def _full(engine: Engine, config: dict[str, Any], cache: dict[str, dict]) -> dict[str, Any]:
    k = _key(config)
    if k not in cache:
        cache[k] = engine.config(config).as_dict()
    return cache[k]


def covered_rules(engine: Engine, docs: dict[str, dict]) -> set[tuple[str, str, str]]:
    rules = {r.id: r for r in engine.machine.rules}
    params = {rid: guard_parameters(engine, r) for rid, r in rules.items()}
    cache: dict[str, dict] = {}
    out = set()
    for g in _groups(docs):
        full = _full(engine, g["config"], cache)
        for t in g["tests"]:
            for rid in t["rules"]:
                for p in params.get(rid, ()):
                    out.add((rid, p, _key(full[p])))
    return out


def _base_tests(docs: dict[str, dict]) -> dict[str, tuple[dict, dict, int]]:
    """Rule id -> the first (group, test, step index) where it fires, shortest trace first."""
    best: dict[str, tuple[dict, dict, int]] = {}
    for name in SESSION_FILES:
        if name not in docs:
            continue
        for g in docs[name]["testGroups"]:
            for t in g["tests"]:
                for k, s in enumerate(t["steps"]):
                    rid = s["rule"]
                    if rid not in best or k < best[rid][2]:
                        best[rid] = (g, t, k)
    return best


def top_up(engine: Engine, docs: dict[str, dict], workers: int | None = None
           ) -> list[dict[str, Any]]:
    """Test groups that fire each feasible, uncovered (rule, parameter, value)."""
    from chargespec.parallel import parallel_map
    from chargespec.vectorform import initial_json, make_test
    items, _ = rule_items(engine)
    rules = {r.id: r for r in engine.machine.rules}
    have = covered_rules(engine, docs)
    base = _base_tests(docs)
    # 1. replay: the base test with the one parameter changed
    found: dict[str, dict[str, list[Any]]] = {}  # config key -> rule -> trace
    configs: dict[str, dict[str, Any]] = {}
    wanted: dict[str, list[str]] = {}
    for rid, p, v in items:
        if (rid, p, _key(v)) in have or rid not in base:
            continue
        g, t, k = base[rid]
        values = dict(g["config"])
        values[p] = thaw(v)
        ck = _key(values)
        try:
            config = engine.config(values)
        except Exception:  # noqa: BLE001 - a combination the configuration rejects
            continue
        configs[ck] = values
        trace = [_event(engine, s["event"]) for s in t["steps"][:k + 1]]
        if engine.run(config, trace)[-1][2].rule == rid:
            found.setdefault(ck, {}).setdefault(rid, trace)
        elif rid not in wanted.setdefault(ck, []):
            wanted[ck].append(rid)
    # 2. the rest: breadth-first in that configuration, stopping once every wanted rule fired
    jobs = [(configs[ck], tuple(rs)) for ck, rs in sorted(wanted.items())
            if set(rs) - set(found.get(ck, {}))]
    _STATE["engine"] = engine
    for (values, _), traces in zip(jobs, parallel_map(_shortest, jobs, workers)):
        for rid, names_ in traces.items():
            found.setdefault(_key(values), {}).setdefault(
                rid, [_event(engine, e) for e in names_])
    groups = []
    for ck in sorted(found):
        values = configs[ck]
        config = engine.config(values)
        tests = []
        full = config.as_dict()
        for rid, trace in found[ck].items():
            news = [(p, q) for p in guard_parameters(engine, rules[rid])
                    for q in [full[p]] if (rid, p, _key(q)) not in have]
            if not news:
                continue  # an earlier test of this group already covers it
            test = make_test(engine, config, trace, f"{rid} under " + ", ".join(
                f"{p} = {json.dumps(thaw(q))}" for p, q in news))
            tests.append(test)
            have |= {(r2, q, _key(full[q])) for r2 in test["rules"]
                     for q in guard_parameters(engine, rules[r2])}
        if tests:
            groups.append({"config": {a: thaw(b) for a, b in sorted(values.items())},
                           "initial": initial_json(engine, config), "tests": tests})
    errors = error_group(engine, docs)
    return groups + ([errors] if errors else [])


_STATE: dict[str, Any] = {}


def _event(engine: Engine, ev: dict[str, Any]) -> Any:
    return engine.event(ev["name"], **{f: x for f, x in ev.items() if f != "name"})


def _shortest(job: tuple[dict[str, Any], tuple[str, ...]]) -> dict[str, list[dict]]:
    """The shortest trace to each wanted rule in one configuration (BFS, early stop)."""
    from chargespec.checkers.explore import explore, session_events
    from chargespec.vectorform import event_json, offline_events
    engine: Engine = _STATE["engine"]
    values, wanted = job
    config = engine.config(values)
    seen: set[str] = set()

    def check(c, s, ev, s2, out):
        if out.rule in wanted and out.rule not in seen:
            seen.add(out.rule)
            return out.rule
        return None
    from chargespec.checkers.check import inoperative_bound
    x = explore(engine, config, {"want": check}, max_violations=len(wanted),
                events=session_events(engine) + offline_events(engine),
                bound=lambda st: len(st.cache) <= 1 and inoperative_bound(st))
    return {v.message: [event_json(e) for e in v.trace] for v in x.violations}


def error_group(engine: Engine, docs: dict[str, dict]) -> dict[str, Any] | None:
    """One test per error-table row no vector raises: raised while charging, then recovered."""
    from chargespec.vectorform import initial_json, make_test
    raised = {s["event"].get("error") for g in _groups(docs) for t in g["tests"]
              for s in t["steps"] if s["event"]["name"] == "error_raised"}
    config = engine.config({})
    charging = [engine.event("plug"), engine.event("rfid", uid="CARD_A"),
                engine.event("authorize_conf", status="Accepted"),
                engine.event("start_tx_conf", status="Accepted"),
                engine.event("ev_request_charge")]
    tests = []
    for eid, row in engine.spec.errors.items():
        if eid in raised:
            continue
        trace = charging + [engine.event("error_raised", error=eid)]
        trace += [engine.event(r) for r in row.recovery_by if r in engine.machine.events][:1]
        tests.append(make_test(engine, config, trace, f"error row {row.row} ({eid}) while "
                               f"charging, then {' '.join(row.recovery_by) or 'no recovery'}",
                               flag=row.ref.manual or "§9"))
    if not tests:
        return None
    return {"config": {}, "initial": initial_json(engine, config), "tests": tests}


def _groups(docs: dict[str, dict]):
    """The session's test groups (the other kinds count their own coverage)."""
    from chargespec.kinds import groups
    return groups(docs, "session")


# ---- invariant boundaries

def _premise(expr: Any) -> Any | None:
    """A in `not A or B`, or None for an expression of another shape."""
    if isinstance(expr, BoolOp) and expr.op == "or" and isinstance(expr.operands[0], Not):
        return expr.operands[0].operand
    return None


def invariant_boundaries(engine: Engine, docs: dict[str, dict]) -> dict[str, int]:
    """Invariant id -> how many vector steps reach its boundary (0: not exercised)."""
    from chargespec.checkers.invariants import StepInvariant, python_backend
    m = engine.machine
    be = python_backend(engine)
    premises = {}
    steps = {}
    for inv in m.invariants:
        if inv.kind == "state":
            p = _premise(inv.expr)
            premises[inv.id] = be.visit(p) if p is not None else None
        elif inv.kind == "step":  # the boundary is its `when`: the steps it is about
            steps[inv.id] = StepInvariant(engine, inv)
    counts = {inv.id: 0 for inv in m.invariants}
    for name in SESSION_FILES + ("coverage",):
        for g in docs.get(name, {}).get("testGroups", []):
            config = engine.config(g["config"])
            for t in g["tests"]:
                trace = [engine.event(s["event"]["name"], **{f: x for f, x in s["event"].items()
                                                             if f != "name"})
                         for s in t["steps"]]
                prev = engine.initial(config)
                for ev, s2, out in engine.run(config, trace):
                    for inv in m.invariants:
                        if inv.kind == "state":
                            fn = premises[inv.id]
                            hit = fn(s2, config, None, out.observation) if fn else True
                        elif inv.kind == "step":
                            hit = steps[inv.id].reaches(config, prev, ev, s2, out)
                        else:  # graph: back to Available after leaving it
                            hit = prev.status != "Available" and s2.status == "Available"
                        counts[inv.id] += bool(hit)
                    prev = s2
    return counts


def report(engine: Engine, docs: dict[str, dict]) -> dict[str, Any]:
    """The coverage figures and every uncovered item, for the manifest and the HTML report."""
    spec = engine.spec
    items, impossible = rule_items(engine)
    have = covered_rules(engine, docs)
    missing_items = [f"{r} under {p} = {json.dumps(thaw(v))}" for r, p, v in items
                     if (r, p, _key(v)) not in have]
    fired = {rid for g in _groups(docs) for t in g["tests"] for rid in t["rules"]}
    rules = [r.id for r in engine.machine.rules]
    # policy rows
    cache: dict[str, dict] = {}
    policy_rows, policy_missing = 0, []
    for pol in spec.policies.values():
        readers = {r.id for r in engine.machine.rules
                   if any(n.startswith(pol.name) for n in names(r.when))
                   or any(any(n.startswith(pol.name) for n in names(e)) for _, e in r.do)}
        for row in pol.rows:
            policy_rows += 1
            hit = any(_full(engine, g["config"], cache).get(pol.key) == row
                      and any(set(t["rules"]) & readers for t in g["tests"])
                      for g in _groups(docs))
            if not hit and readers:
                policy_missing.append(f"{pol.name}: {pol.key} = {row}")
            elif not readers:
                policy_missing.append(f"{pol.name}: {pol.key} = {row} (no session rule reads "
                                      "this table; see its own tests)")
    # error rows
    raised = {s["event"].get("error") for g in _groups(docs) for t in g["tests"]
              for s in t["steps"]
              if s["event"]["name"] == "error_raised"}
    errors_missing = sorted(set(spec.errors) - raised)
    bounds = invariant_boundaries(engine, docs)
    octt_cases = list(spec.octt)
    mirrored = {t.get("octt") for g in docs.get("octt", {}).get("testGroups", [])
                for t in g["tests"]}
    from chargespec import configvectors
    from chargespec.kinds import registered
    from chargespec.checkers.status_relation import status_changes as relation
    table = spec.status_table
    allowed = {(a, b) for a in table.statuses for b in table.allowed.get(a, ()) if a != b} \
        | set(table.via)
    pinned = status_changes(docs)
    possible = relation(spec).possible  # what any configuration can make (Z3)
    return {
        "rules": {"total": len(rules), "fired": len(set(rules) & fired),
                  "notFired": sorted(set(rules) - fired)},
        "ruleConfigurationValues": {"total": len(items), "covered": len(items) -
                                    len(missing_items), "impossible": impossible,
                                    "uncovered": missing_items},
        "policyRows": {"total": policy_rows, "covered": policy_rows - len(policy_missing),
                       "uncovered": policy_missing},
        "errorRows": {"total": len(spec.errors), "covered": len(spec.errors) -
                      len(errors_missing), "uncovered": errors_missing},
        "invariantBoundaries": {"total": len(bounds), "covered": sum(1 for n in bounds.values()
                                                                     if n),
                                "steps": bounds,
                                "uncovered": sorted(k for k, n in bounds.items() if not n)},
        "octt": {"listed": len(octt_cases),
                 "applicable": sum(c.applies for c in octt_cases),
                 "mirrored": sorted(c.id for c in octt_cases if c.id in mirrored),
                 "notApplicable": {c.id: c.reason for c in octt_cases if not c.applies},
                 # the Bender factory defaults that fail a case, and the value that passes it
                 "factoryDefaultsFail": {
                     flag: n["factoryDefaultsFail"]
                     for flag, n in docs.get("octt", {}).get("notes", {}).items()
                     if "factoryDefaultsFail" in n},
                 "departures": {c.id: {"interpretation": c.interpretation,
                                       "octtExpects": c.octt_expects}
                                for c in octt_cases if c.interpretation}},
        **{k.name: k.coverage(docs) for k in registered() if k.coverage is not None},
        "dataValues": data_coverage(engine, docs),
        "configurationKeys": configvectors.summary(engine, docs.get("configuration", {
            "testGroups": []})),
        "mutation": {k: v for k, v in docs.get("mutation", {}).get("coverage", {}).items()
                     if k in ("mutants", "byArea", "equivalent", "undecided")},
        "statusChanges": {"allowed": len(allowed), "pinned": len(pinned & allowed),
                          "possible": len(possible),
                          "forbiddenPinned": sorted(f"{a} -> {b}" for a, b in pinned - allowed),
                          "possibleNotPinned": sorted(f"{a} -> {b}"
                                                      for a, b in possible - pinned),
                          "notPinned": sorted(f"{a} -> {b}" for a, b in allowed - pinned)},
    }


def status_changes(docs: dict[str, dict]) -> set[tuple[str, str]]:
    """The connector status changes (old, new) that some session vector's steps make."""
    out: set[tuple[str, str]] = set()
    for g in _groups(docs):
        for t in g["tests"]:
            seen = [g["initial"]["status"]] + [st["expect"]["status"] for st in t["steps"]]
            out |= {(a, b) for a, b in zip(seen, seen[1:]) if a != b}
    return out


# ---- data coverage: the values the rules' tests never meet (chargespec.datavalues)

def data_coverage(engine: Engine, docs: dict[str, dict]) -> dict[str, Any]:
    """Counted criteria over the data the vectors carry, each with its gaps listed:
      uidForms            a real UID of 4, 7 and 10 bytes presented under each RFID Tag
                          letter case (§5.3)
      caseMismatched      a card presented while the whitelist or a reservation holds it in the
                          other letter case (which must not match), under each letter case
      limitBoundaries     each current limit (Operator Current Limit, load management grant) at
                          every boundary of chargespec.datavalues.AMPS
      memoryReadBack      every memory the session writes, read back where it is read: the
                          cache by Local Pre Authorize (online) and Local Authorize Offline
                          (offline), the local whitelist, the reservation
      settingEventPairs   every value of every parameter some rule's guard reads, with every
                          event of those rules
      refusalCleared      every rule that ends a transaction the backend refused under
                          StopTransactionOnInvalidId false, followed by a transaction that
                          charges (the refusal's flag cleared, not carried over)"""
    from chargespec import datavalues as dv
    from chargespec.rfid import RENDERINGS, render_uid
    cache: dict[str, dict] = {}
    lengths = {len(u) // 2: u for u in dv.UIDS.values()}
    uid_forms = {(n, case): False for n in lengths for case in RENDERINGS}
    mismatched = {case: False for case in RENDERINGS}
    limits = {(name, a): False for name in ("set_operator_limit", "set_load_limit")
              for a in dv.AMPS}
    reads = {"cache by Local Pre Authorize": "rfid_cache_pre_authorized",
             "cache by Local Authorize Offline": "rfid_offline_cache",
             "local whitelist": "rfid_local_whitelist",
             "reservation (admits its card)": "reserved",
             "reservation (refuses another)": "rfid_refused_by_reservation"}
    read_back = {k: False for k in reads}
    rules_by_param: dict[str, set[str]] = {}
    params = set(engine.spec.parameters)
    for r in engine.machine.rules:  # what the rule reads: its guard, updates and messages
        read = names(r.when).union(*(names(e) for _, e in r.do),
                                   *(names(v) for em in r.emit for _, v in em.fields))
        for p in read & params:
            rules_by_param.setdefault(p, set()).update(r.events)
    from chargespec.checkers.explore import parameter_values
    pairs = {(p, _key(v), ev): False for p, evs in rules_by_param.items()
             for v in parameter_values(engine, p) for ev in evs}
    refusal = "start_tx_refused_suspends_energy"
    cleared = {r.id: False for r in engine.machine.rules
               if "transaction" in r.sources and any(v == "deauthorized" for v, _ in r.do)
               and r.id != refusal and not any(x.message == "StopTransaction"
                                               and r.id.startswith("start_tx_refused")
                                               for x in r.emit)}
    for g in _groups(docs):
        for t in g["tests"]:
            rules_seen = [s["rule"] for s in t["steps"]]
            if refusal not in rules_seen:
                continue
            after = rules_seen.index(refusal)
            for i in range(after + 1, len(rules_seen)):
                if rules_seen[i] in cleared and any(
                        s["expect"]["contactor"] == "closed" for s in t["steps"][i + 1:]):
                    cleared[rules_seen[i]] = True
    for g in _groups(docs):
        full = _full(engine, g["config"], cache)
        case = full["rfid_tag_letter_case"]
        listed = set(full.get("local_whitelist") or ()) if full["enable_local_whitelist"] \
            else set()
        for t in g["tests"]:
            reserved = None
            for s in t["steps"]:
                ev = s["event"]
                for p in rules_by_param:
                    k = (p, _key(full[p]), ev["name"])
                    if k in pairs:
                        pairs[k] = True
                if ev["name"] == "reserve_now":
                    reserved = ev["id_tag"]
                if ev["name"] == "rfid":
                    uid = str(ev["uid"]).lower()
                    for n, u in lengths.items():
                        if uid == u:
                            uid_forms[(n, case)] = True
                            tag = render_uid(u, case)
                            other = dv.other_case(tag)
                            if other != tag and (other in listed or reserved == other):
                                mismatched[case] = True
                if ev["name"] in ("set_operator_limit", "set_load_limit") and \
                        (ev["name"], ev["amps"]) in limits:
                    limits[(ev["name"], ev["amps"])] = True
                for what, prefix in reads.items():
                    if s["rule"].startswith(prefix) or (
                            prefix == "reserved" and reserved is not None
                            and ev["name"] == "rfid" and "reserv" not in s["rule"]
                            and s["expect"]["status"] != "Reserved"):
                        read_back[what] = True

    def crit(items: dict[Any, bool], label: Callable[[Any], str]) -> dict[str, Any]:
        return {"total": len(items), "covered": sum(items.values()),
                "uncovered": sorted(label(k) for k, v in items.items() if not v)}
    return {
        "uidForms": crit(uid_forms, lambda k: f"{k[0]}-byte UID under {k[1]}"),
        "caseMismatched": crit(mismatched, lambda k: f"an entry in the other case under {k}"),
        "limitBoundaries": crit(limits, lambda k: f"{k[0]} {k[1]} A"),
        "memoryReadBack": crit(read_back, str),
        "settingEventPairs": crit(pairs, lambda k: f"{k[0]} = {k[1]} with {k[2]}"),
        "refusalCleared": crit(cleared, str),
    }


def pair_top_up(engine: Engine, docs: dict[str, dict]) -> list[dict[str, Any]]:
    """A test for each (parameter value, event) pair of `data_coverage` the files miss: the
    shortest trace, under that one value, to a step of that event by a rule that reads the
    parameter (the error model's representative rows, at most one error active, the first
    2,000 states breadth-first); a pair not met there stays listed as uncovered."""
    from chargespec.checkers.explore import explore
    from chargespec.checkers.mutate import alphabet, graph_bound
    from chargespec.vectorform import initial_json, make_test
    gaps = data_coverage(engine, docs)["settingEventPairs"]["uncovered"]
    params = set(engine.spec.parameters)
    readers: dict[str, set[str]] = {}
    for r in engine.machine.rules:
        read = names(r.when).union(*(names(e) for _, e in r.do),
                                   *(names(v) for em in r.emit for _, v in em.fields))
        for p in read & params:
            readers.setdefault(p, set()).add(r.id)
    groups: dict[str, dict[str, Any]] = {}
    events = alphabet(engine)
    for gap in gaps:
        left, ev_name = gap.split(" with ")
        pid, value = left.split(" = ", 1)
        values = {pid: json.loads(value)}
        config = engine.config(values)
        want = readers.get(pid, set())

        def hit(c, s, ev, s2, out, ev_name=ev_name, want=want):
            return "hit" if ev.name == ev_name and out.rule in want else None
        count = [0]

        def bound(st: Any, count: list[int] = count) -> bool:  # the first 2,000 states
            count[0] += 1
            return count[0] <= 2000 and graph_bound(st)
        x = explore(engine, config, {"pair": hit}, events=events, bound=bound)
        if not x.violations:
            continue
        trace = list(x.violations[0].trace)
        key = json.dumps(values, sort_keys=True)
        g = groups.setdefault(key, {"config": values, "initial": initial_json(engine, config),
                                    "tests": []})
        g["tests"].append(make_test(engine, config, trace, f"{pid} = {value} with {ev_name}",
                                    flag="SETTING_EVENT_PAIR"))
    return [groups[k] for k in sorted(groups)]
