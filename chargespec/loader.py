"""Loading spec/: JSON Schema validation, then every cross-check, then typed objects.

`load_spec()` reads each YAML document of a spec directory, validates it against its schema in
`spec/schema/` (chosen by the document's `kind`), and builds `chargespec.specmodel` objects.
Beyond the schemas it rejects: unknown state, event, variable, parameter and observation names
(in expressions, `from`, `to`, `on`, `do`), literals outside a name's domain, duplicate ids and
names, name clashes between the namespaces an expression sees, manual sections that the
manual does not have, unknown interpretation ids, and OCPP fields or enum values that the
official OCPP 1.6 schema does not have.  Every error is a SpecError naming file and line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import ocpp16
from .errors import SpecError, Where
from .expr import (STEP_FUNCS, TRUE, BoolT, Const, EnumT, Expr, IntT, ListT, SetT, TableT,
                   TokenSetT, TokenT, Type, calls, substitute,
                   check, check_assignable, check_bool, parse as _expr_parse)
from .specmodel import (Case, Definition, DlmInvariant, DlmSpec, Emit, Invariant, Witness, Erratum, ErrorRow, ErrorTimer, EventDef, Field, Filter,
                        Interpretation, LintCheck, Machine, Notify, Observation, Observed, Parameter, PilotSegment,
                        PilotTable, Policy, PolicyRow, Ref, Rule, Spec, StatusTable, Variable)
from . import configkeys
from .octt_cases import OcttCase
from .rfid import ENTRY_CHECKS
from .yamlread import MDict, MList, load_json, read_yaml, validate

MAX_EXPRESSION = 4_000  # characters of one expression (the spec's longest: under 400)
MAX_EXPRESSION_DEPTH = 48  # nested operators, calls, brackets (the spec's deepest: under 12)
MAX_EXPRESSION_NODES = 2_000  # names, constants and operators of one expression


def parse(source: Any, where: Where) -> Expr:
    """expr.parse within limits: an expression too long or nested too deep is a SpecError
    before the parser, the type checker or any back end recurses into it."""
    if isinstance(source, str):
        if len(source) > MAX_EXPRESSION:
            raise SpecError(where, f"an expression of {len(source):,} characters, more than "
                                   f"the limit of {MAX_EXPRESSION:,}")
        import ast
        text = " ".join(line.strip() for line in source.strip().splitlines())
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError):
            tree = None  # expr.parse says what is wrong with it
        except (RecursionError, MemoryError):
            raise SpecError(where, "an expression nested too deep") from None
        if tree is not None:
            stack = [(tree.body, 1)]
            count = 0
            while stack:
                node, depth = stack.pop()
                count += 1
                if count > MAX_EXPRESSION_NODES:
                    raise SpecError(where, f"an expression of more than {MAX_EXPRESSION_NODES} "
                                           f"terms")
                if depth > MAX_EXPRESSION_DEPTH:
                    raise SpecError(where, f"an expression nested more than "
                                           f"{MAX_EXPRESSION_DEPTH} levels deep")
                stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
    try:
        return _expr_parse(source, where)
    except RecursionError:
        raise SpecError(where, "an expression nested too deep") from None

SPEC_VERSION = "0.1.0"
_KINDS = ("manual", "interpretations", "errata", "parameters", "status_transitions",
          "control_pilot", "errors", "policy", "lint", "machine", "dlm", "octt",
          "configuration_keys")


def default_spec_dir() -> Path:
    """The embedded spec: the repository's spec/ in a checkout, package data when installed."""
    return Path(str(resources.files("chargespec.spec")))


_PARSED: dict[bytes, tuple[Any, set[Path]]] = {}  # sha256 of a file -> (its document, the
# schemas it passed): a process that loads several spec copies (tests, the fuzzer, the
# mutation analysis) parses each distinct file once.  The builder never mutates a document.


def _read_cached(path: Path, display: str) -> tuple[Any, set[Path]]:
    import hashlib
    try:
        data = path.read_bytes() if path.is_file() and path.stat().st_size <= (8 << 20) \
            else None
    except OSError:
        data = None
    if data is None:  # let read_yaml say what is wrong with it
        return read_yaml(path, display=display), set()
    key = hashlib.sha256(data).digest()
    hit = _PARSED.get(key)
    if hit is None:
        hit = (read_yaml(path, display=display), set())
        if len(_PARSED) >= 128:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = hit
    return hit


def load_spec(directory: Path | str | None = None) -> Spec:
    directory = Path(directory) if directory is not None else default_spec_dir()
    if not directory.is_dir():
        raise SpecError(Where(str(directory)), "spec directory not found")
    schema_dir = directory / "schema"
    if not schema_dir.is_dir():
        schema_dir = default_spec_dir() / "schema"
    docs: dict[str, list[tuple[str, MDict]]] = {k: [] for k in _KINDS}
    files = sorted(p for p in directory.glob("*.yaml"))
    if not files:
        raise SpecError(Where(str(directory)), "no *.yaml documents in the spec directory")
    for path in files:
        display = _display(path)
        doc, checked = _read_cached(path, display)
        if not isinstance(doc, MDict):
            raise SpecError(Where(display, getattr(doc, "line", 1) or 1),
                            "a spec document must be a mapping with a `kind:`")
        kind = doc.get("kind")
        if kind not in _KINDS:
            raise SpecError(Where(display, doc.key_lines.get("kind", doc.line)),
                            f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
        schema_file = schema_dir / f"{kind}.schema.json"
        if schema_file not in checked:
            validate(doc, load_json(schema_file), display)
            checked.add(schema_file)
        docs[kind].append((display, doc))
    for kind in ("manual", "interpretations", "errata", "parameters", "status_transitions",
                 "control_pilot", "errors"):
        if len(docs[kind]) != 1:
            where = Where(docs[kind][1][0]) if docs[kind][1:] else Where(str(directory))
            raise SpecError(where, f"the spec needs exactly one `kind: {kind}` document, "
                                   f"found {len(docs[kind])}")
    b = _Builder()
    b.sections = dict(docs["manual"][0][1]["sections"])
    for kind, items in docs.items():  # a document's own `manual:` names a section too
        for file, doc in items:
            manual = doc.get("manual")
            if kind != "manual" and manual is not None and manual not in b.sections:
                raise SpecError(Where(file, doc.key_lines.get("manual", doc.line)),
                                f"manual section {str(manual)[:40]!r} is not a section of the "
                                f"manual (spec/manual.yaml)")
    b.interpretations = b.build_interpretations(*docs["interpretations"][0])
    b.errata = b.build_errata(*docs["errata"][0])
    b.parameters = b.build_parameters(*docs["parameters"][0])
    if not b.parameters:
        raise SpecError(Where(docs["parameters"][0][0]), "no parameters")
    status_table = b.build_status_table(*docs["status_transitions"][0])
    pilot = b.build_pilot(*docs["control_pilot"][0])
    session_events: set[str] = set()
    for _file, doc in docs["machine"]:
        if doc.get("machine") == "session":
            session_events = set(doc["events"])
    recovery_events, errors = b.build_errors(*docs["errors"][0], session_events)
    b.errors, b.recovery_events = errors, recovery_events
    b.constants = error_constants(errors, recovery_events, session_events)
    policies: dict[str, Policy] = {}
    for file, doc in docs["policy"]:
        pol = b.build_policy(file, doc)
        if pol.name in policies:
            raise SpecError(pol.where, f"duplicate policy {pol.name!r} (also in "
                                       f"{policies[pol.name].file})")
        policies[pol.name] = pol
        for col, values in pol.columns.items():
            key_values = b.parameters[pol.key].values
            b.constants[f"{pol.name}_{col}"] = (
                TableT(key_values, EnumT(values)),
                {k: row.values[col] for k, row in pol.rows.items()})
    machines: dict[str, Machine] = {}
    for file, doc in docs["machine"]:
        m = b.build_machine(file, doc, status_table)
        if m.name in machines:
            raise SpecError(Where(file, doc.key_lines["machine"]),
                            f"duplicate machine {m.name!r} (also in {machines[m.name].file})")
        machines[m.name] = m
    lint: dict[str, LintCheck] = {}
    for file, doc in docs["lint"]:
        lint.update(b.build_lint(file, doc))
    if len(docs["dlm"]) > 1:
        raise SpecError(Where(docs["dlm"][1][0]), "the spec has more than one `kind: dlm` document")
    dlm = b.build_dlm(*docs["dlm"][0]) if docs["dlm"] else None
    if len(docs["configuration_keys"]) > 1:
        raise SpecError(Where(docs["configuration_keys"][1][0]),
                        "the spec has more than one `kind: configuration_keys` document")
    config_keys = configkeys.build(*docs["configuration_keys"][0], b.parameters,
                                   b.interpretations, value_fits) \
        if docs["configuration_keys"] else None
    octt = [OcttCase.build(file, doc["cases"], cid, b.sections, b.parameters)
            for file, doc in docs["octt"] for cid in doc["cases"]]
    for case in octt:
        if case.interpretation is not None and case.interpretation not in b.interpretations:
            raise SpecError(case.where, f"OCTT case {case.id}: unknown interpretation "
                                        f"{case.interpretation!r}")
    return Spec(directory=directory, version=SPEC_VERSION, manual_sections=b.sections,
                interpretations=b.interpretations, parameters=b.parameters, machines=machines,
                status_table=status_table, pilot=pilot, errata=b.errata, errors=errors,
                recovery_events=recovery_events, constants=b.constants, policies=policies, lint=lint,
                files=tuple(_display(p) for p in files), dlm=dlm, octt=tuple(octt),
                configuration_keys=config_keys)


def error_constants(errors: Mapping[str, ErrorRow], recovery_events: Mapping[str, str],
                    session_events: Iterable[str]) -> dict[str, tuple[Type, Any]]:
    """The error table (§9) as constants that machine expressions read.

    Sets over the error ids (row order): `faulting_errors` (the connector is Faulted and the
    transaction stops), `vehicle_errors` (need a connected vehicle), `lock_keeping_errors`, and
    for each event E that clears or times errors `cleared_by_E` / `timer_started_by_E`.  Tables
    keyed by error id or 'none': `ocpp_error_code`, `vendor_error_code`, `activation_message`,
    `resolution_message`.
    """
    ids = tuple(errors)
    s = SetT(ids)
    keyed = ("none",) + ids
    out: dict[str, tuple[Type, Any]] = {
        "faulting_errors": (s, frozenset(e for e, r in errors.items() if r.stops_transaction)),
        "vehicle_errors": (s, frozenset(e for e, r in errors.items() if r.needs_vehicle)),
        "lock_keeping_errors": (s, frozenset(e for e, r in errors.items() if r.keeps_lock)),
    }
    for ev in list(session_events) + list(recovery_events):
        cleared = frozenset(e for e, r in errors.items() if ev in r.recovery_by)
        if cleared:
            out[f"cleared_by_{ev}"] = (s, cleared)
        timed = frozenset(e for e, r in errors.items() for t in r.timers if t.starts_on == ev)
        if timed:
            out[f"timer_started_by_{ev}"] = (s, timed)
    codes = tuple(dict.fromkeys(["NoError"] + [r.ocpp_error_code for r in errors.values()]))
    out["ocpp_error_code"] = (TableT(keyed, EnumT(codes)),
                              {"none": "NoError", **{e: r.ocpp_error_code for e, r in errors.items()}})
    for name, attr in (("vendor_error_code", "vendor_error_code"),
                       ("activation_message", "activation"),
                       ("resolution_message", "resolution")):
        out[name] = (TableT(keyed, TokenT(nullable=True)),
                     {"none": None, **{e: getattr(r, attr) for e, r in errors.items()}})
    return dict(sorted(out.items()))


def _display(path: Path) -> str:
    """A short, stable name for messages: spec/<file> when under a directory named spec."""
    parts = path.resolve().parts
    if "spec" in parts:
        i = len(parts) - 1 - parts[::-1].index("spec")
        return "/".join(parts[i:])
    return str(path)


def parameter_type(kind: str, p: Mapping[str, Any]) -> Type:
    if kind == "bool":
        return BoolT()
    if kind == "int":
        t: Type = IntT(int(p["min"]), int(p["max"]))
        return ListT(t) if p.get("per_phase") else t
    if kind == "enum":
        return EnumT(tuple(p["values"]))
    if kind == "token":
        return TokenT(nullable=False)
    return ListT(TokenT(nullable=False) if p.get("of") == "token" else IntT(0, 9999))


def value_fits(t: Type, value: Any) -> bool:
    """Does a concrete (YAML / JSON) value belong to type `t`?"""
    if isinstance(t, BoolT):
        return isinstance(value, bool)
    if isinstance(t, IntT):
        return type(value) is int and t.lo <= value <= t.hi
    if isinstance(t, EnumT):
        return isinstance(value, str) and value in t.values
    if isinstance(t, TokenT):
        return (value is None and t.nullable) or isinstance(value, str)
    if isinstance(t, ListT):
        return isinstance(value, (list, tuple)) and all(value_fits(t.elem, v) for v in value)
    if isinstance(t, SetT):
        return isinstance(value, (list, tuple, set, frozenset)) and set(value) <= set(t.domain)
    if isinstance(t, TokenSetT):
        return isinstance(value, (list, tuple, set, frozenset)) and \
            all(isinstance(v, str) for v in value)
    return False


def event_step(events: Mapping[str, EventDef], item: Any, where: Where, label: str
               ) -> tuple[str, dict[str, Any]]:
    """One event of a scenario or a recovery witness: a name, or {name: {field: value}},
    checked against the machine's events (`label` says which step, for the error)."""
    if isinstance(item, str):
        name, fields = item, {}
    else:
        (name, fields), = item.items()
        fields = dict(fields or {})
    ev = events.get(name)
    if ev is None:
        raise SpecError(where, f"{label}: unknown event {name!r} (events: {', '.join(events)})")
    want = set(ev.field_names())
    if set(fields) != want:
        raise SpecError(where, f"{label}: event {name} takes field(s) "
                               f"{sorted(want) or 'none'}, got {sorted(fields) or 'none'}")
    for f in ev.fields:
        v = fields[f.name]
        if f.type.describe().startswith("token") and isinstance(v, (int, float)) \
                and not isinstance(v, bool):
            v = fields[f.name] = str(v)  # a card UID YAML read as a number
        if not value_fits(f.type, v):
            raise SpecError(where, f"{label}: {name}.{f.name} = {v!r} is not "
                                   f"{f.type.describe()}")
    return name, fields


class _MachineReader:
    """One machine document read in the order its parts depend on each other: the variables,
    the control variable, the events, the definitions (over state and event fields), the
    observations (over the state; kept ones join it), the rules (over the full state and their
    events' fields), the notifications, the message filters, the invariants.  Each step checks
    its part against what the steps before built and names the file and line of a mistake."""

    def __init__(self, loader: "_Builder", file: str, doc: MDict) -> None:
        self.loader, self.file, self.doc = loader, file, doc
        self.name = doc["machine"]
        self.params = params = {pid: p.type for pid, p in self.loader.parameters.items()}
        for cname, (ctype, _) in loader.constants.items():
            if cname in params:
                raise SpecError(Where(file, doc.line), f"the error-table constant {cname!r} has "
                                                       f"the name of a parameter")
            params[cname] = ctype
        self.domains = {"errors": tuple(loader.errors)}

    def variables(self) -> dict[str, Variable]:
        """The state variables: types and initial values."""
        file, doc, params, domains = self.file, self.doc, self.params, self.domains
        variables: dict[str, Variable] = {}
        vars_node = doc["variables"]
        for vname, v in vars_node.items():
            where = Where(file, vars_node.key_lines[vname])
            if vname in params:
                raise SpecError(where, f"variable {vname!r} has the name of a parameter")
            t = _declared_type(v, where, f"variable {vname}", domains)
            init_raw = v["initial"]
            if isinstance(t, (SetT, TokenSetT)):
                if not (isinstance(init_raw, list) and value_fits(t, init_raw)):
                    raise SpecError(Where(file, v.key_lines["initial"]),
                                    f"initial value of {vname} must be a list of members of "
                                    f"{t.describe()}")
                init = Const(frozenset(init_raw))
            elif isinstance(t, IntT) and isinstance(init_raw, str):
                init = parse(init_raw, Where(file, v.key_lines["initial"]))
                check_assignable(init, t, params, Where(file, v.key_lines["initial"]),
                                 context=f"initial value of {vname}")
            else:
                if not value_fits(t, init_raw):
                    raise SpecError(Where(file, v.key_lines["initial"]),
                                    f"initial value {init_raw!r} of {vname} is not {t.describe()}")
                init = Const(init_raw)
            variables[vname] = Variable(vname, t, init, v.get("doc", ""), self.loader.ref(v, file), where,
                                        transient=bool(v.get("transient")))

        self.vars = variables
        return variables

    def control(self) -> tuple[str, tuple[str, ...]]:
        """The control variable (an enum variable: the phases the diagrams draw) and its values."""
        file, doc = self.file, self.doc
        variables = self.vars
        control = doc["control"]
        if control not in variables or not isinstance(variables[control].type, EnumT):
            raise SpecError(Where(file, doc.key_lines["control"]),
                            f"control variable {control!r} must be an enum variable of the machine")
        control_values = variables[control].type.values  # type: ignore[union-attr]

        self.control_name, self.control_values = control, control_values
        return control, control_values

    def events(self) -> dict[str, EventDef]:
        """The events with their fields; the error table's recovery events when asked for."""
        file, doc, params, domains = self.file, self.doc, self.params, self.domains
        variables = self.vars
        events: dict[str, EventDef] = {}
        ev_node = doc["events"]
        for ename, e in ev_node.items():
            where = Where(file, ev_node.key_lines[ename])
            fields = []
            for fname, f in (e.get("fields") or {}).items():
                fwhere = Where(file, e["fields"].key_lines[fname])
                if fname in params or fname in variables:
                    raise SpecError(fwhere, f"field {fname!r} of event {ename} clashes with a "
                                            f"{'parameter' if fname in params else 'variable'}")
                t = _declared_type(f, fwhere, f"field {fname} of event {ename}", domains)
                explore = tuple(f.get("explore", ()))
                for x in explore:
                    if not value_fits(t, x):
                        raise SpecError(fwhere, f"explore value {x!r} of {ename}.{fname} is not "
                                                f"{t.describe()}")
                render = f.get("render")
                if render is not None and not (isinstance(t, TokenT) and render in self.loader.parameters):
                    raise SpecError(fwhere, f"field {fname} of event {ename}: `render:` needs a "
                                            f"token field and a parameter")
                fields.append(Field(fname, t, explore, render))
            events[ename] = EventDef(ename, tuple(fields), e.get("doc", ""), self.loader.ref(e, file), where)
        if doc.get("recovery_events"):
            # the error table's recovery events (spec/errors.yaml) are events of this machine
            for ename, edoc in self.loader.recovery_events.items():
                if ename in events:
                    raise SpecError(events[ename].where, f"event {ename} is also a recovery event "
                                                         f"of the error table")
                events[ename] = EventDef(ename, (), edoc, Ref(manual="§9"),
                                         Where(file, doc.key_lines["recovery_events"]))

        self.evs = events
        self.tables()
        self.state_scope = {**params, **{n: v.type for n, v in variables.items()}}
        return events

    def tables(self) -> None:
        """`tables:` constant tables keyed by the machine's events (`stop_reason[event]`), each
        value one of an OCPP 1.6 field's values or the default; they join the spec's constants."""
        file, node = self.file, self.doc.get("tables") or {}
        for tname, t in node.items():
            where = Where(file, node.key_lines[tname])
            if tname in self.params or tname in self.vars or tname in self.evs:
                raise SpecError(where, f"table {tname!r} has the name of a parameter, constant, "
                                       f"variable or event")
            action, fname = t["field"].split(".")
            info = (ocpp16.message_fields(action, "call") or {}).get(fname)
            if info is None or info.enum is None:
                raise SpecError(Where(file, t.key_lines["field"]),
                                f"table {tname}: {t['field']} is not an OCPP 1.6 field with a "
                                f"list of values")
            rows = t["rows"]
            for key, value in rows.items():
                if key not in self.evs:
                    raise SpecError(Where(file, rows.key_lines[key]),
                                    f"table {tname}: {key!r} is not an event of the machine")
                if value not in info.enum:
                    raise SpecError(Where(file, rows.key_lines[key]),
                                    f"table {tname}: {value!r} is not a value of {t['field']} "
                                    f"(one of {', '.join(info.enum)})")
            default = t["default"]
            if default in info.enum:
                raise SpecError(Where(file, t.key_lines["default"]),
                                f"table {tname}: the default {default!r} is a value of "
                                f"{t['field']}; it stands for the events without one")
            ttype = TableT(tuple(self.evs), EnumT((*info.enum, default)))
            self.loader.constants[tname] = (ttype, {e: rows.get(e, default) for e in self.evs})
            self.params[tname] = ttype

    def definitions(self) -> dict[str, Definition]:
        """Named conditions over configuration and state, expanded where used; a definition may
        read event fields, and each use is checked again in its rule's scope."""
        file, doc = self.file, self.doc
        events, state_scope = self.evs, self.state_scope
        definitions: dict[str, Expr] = {}
        def_docs: dict[str, Definition] = {}
        dnode = doc.get("definitions") or {}
        # a definition may read event fields; each use is checked again in its rule's scope
        dscope = {**{f.name: f.type for ev in events.values() for f in ev.fields}, **state_scope}
        for dname, d in dnode.items():
            dwhere = Where(file, dnode.key_lines[dname])
            if dname in state_scope or dname in events:
                raise SpecError(dwhere, f"definition {dname!r} has the name of a parameter, "
                                        f"variable or event")
            e = substitute(parse(d["expr"], Where(file, d.key_lines["expr"])), definitions)
            t = check(e, dscope, Where(file, d.key_lines["expr"]),
                      context=f"definition {dname}")
            definitions[dname] = e
            dscope[dname] = t
            def_docs[dname] = Definition(dname, t, e, d.get("doc", ""), self.loader.ref(d, file), dwhere)

        self.loader._definitions = definitions

        self.defs = definitions
        return def_docs

    def mparse(self, raw: Any, where: Where) -> Expr:
        """An expression of the machine, its definitions expanded."""
        return substitute(parse(raw, where), self.defs)

    def observations(self) -> list[Observation]:
        """The observations, in order (each may read those before it, and a kept one declared
        later: its value stored before this step); kept ones join the state."""
        file, doc, domains = self.file, self.doc, self.domains
        state_scope, mparse = self.state_scope, self.mparse
        observations: list[Observation] = []
        obs_scope: dict[str, Type] = dict(state_scope)
        kept_types: dict[str, Type] = {}
        obs_node = doc.get("observations") or []
        for i, o in enumerate(obs_node):  # kept ones, readable (their stored value) before
            if o.get("keep") and o.get("type") != "pwm_duty" and o.get("name") not in obs_scope:
                obs_scope[o["name"]] = _declared_type(o, Where(file, obs_node.item_lines[i]),
                                                      f"observation {o['name']}", domains)
        seen_obs: set[str] = set()
        for i, o in enumerate(obs_node):
            where = Where(file, obs_node.item_lines[i])
            oname = o["name"]
            if oname in seen_obs:
                raise SpecError(where, f"duplicate observation {oname!r}")
            if oname in state_scope:
                raise SpecError(where, f"observation {oname!r} clashes with a variable or parameter")
            seen_obs.add(oname)
            kind_t = o["type"]
            ref = self.loader.ref(o, file)
            if kind_t == "pwm_duty":
                for a in o["args"]:
                    if a not in obs_scope:
                        raise SpecError(where, f"observation {oname}: unknown argument {a!r}")
                obs = Observation(oname, None, "pwm_duty", None, (), tuple(o["args"]), False, None,
                                  o.get("doc", ""), ref, where)
                observations.append(obs)
                continue
            t = _declared_type(o, where, f"observation {oname}", domains)
            keep = bool(o.get("keep"))
            scope = dict(obs_scope)
            initial = None
            if keep:
                scope[oname] = t  # the previous value
                if not value_fits(t, o["initial"]):
                    raise SpecError(Where(file, o.key_lines["initial"]),
                                    f"initial value {o['initial']!r} of {oname} is not {t.describe()}")
                initial = Const(o["initial"])
                kept_types[oname] = t
            if "expr" in o:
                ewhere = Where(file, o.key_lines["expr"])
                e = mparse(o["expr"], ewhere)
                check_assignable(e, t, scope, ewhere, context=f"observation {oname}")
                obs = Observation(oname, t, "expr", e, (), (), keep, initial, o.get("doc", ""),
                                  ref, where)
            else:
                cases = []
                cnode = o["cases"]
                for j, c in enumerate(cnode):
                    cwhere = Where(file, cnode.item_lines[j])
                    cw = mparse(c["when"], Where(file, c.key_lines["when"]))
                    check_bool(cw, scope, Where(file, c.key_lines["when"]),
                               context=f"case {j + 1} of observation {oname}")
                    cv = mparse(c["value"], Where(file, c.key_lines["value"]))
                    check_assignable(cv, t, scope, Where(file, c.key_lines["value"]),
                                     context=f"case {j + 1} of observation {oname}")
                    cases.append(Case(cw, cv, self.loader.ref(c, file), cwhere))
                if cases[-1].when != TRUE:
                    raise SpecError(cases[-1].where, f"the last case of observation {oname} must "
                                                     f"be `when: \"True\"` (a total table)")
                obs = Observation(oname, t, "cases", None, tuple(cases), (), keep, initial,
                                  o.get("doc", ""), ref, where)
            observations.append(obs)
            obs_scope[oname] = t

        full_state_scope = {**state_scope, **kept_types}

        self.obs_scope, self.kept_types = obs_scope, kept_types
        self.full_state_scope = full_state_scope
        return observations

    def rules(self) -> list[Rule]:
        """The guarded commands: sources, events, guard, updates, target phase, messages."""
        file, doc, params = self.file, self.doc, self.params
        variables, events, mparse = self.vars, self.evs, self.mparse
        control, control_values = self.control_name, self.control_values
        full_state_scope = self.full_state_scope
        rules: list[Rule] = []
        seen_rules: dict[str, int] = {}
        rnode = doc["rules"]
        for i, r in enumerate(rnode):
            where = Where(file, rnode.item_lines[i])
            rid = r["id"]
            if rid in seen_rules:
                raise SpecError(where, f"duplicate rule id {rid!r} (first at line {seen_rules[rid]})")
            seen_rules[rid] = where.line
            sources = control_values if r["from"] == "*" else tuple(r["from"])
            for s in sources:
                if s not in control_values:
                    raise SpecError(Where(file, r.key_lines["from"]),
                                    f"rule {rid}: {s!r} is not a value of {control}")
            evs = (r["on"],) if isinstance(r["on"], str) else tuple(r["on"])
            for ev in evs:
                if ev not in events:
                    raise SpecError(Where(file, r.key_lines["on"]), f"rule {rid}: unknown event {ev!r}")
            # fields visible: those every listed event has, with one type
            common = set(events[evs[0]].field_names())
            for ev in evs[1:]:
                common &= set(events[ev].field_names())
            fscope = {f.name: f.type for f in events[evs[0]].fields if f.name in common}
            scope = {**full_state_scope, **fscope}
            ctx = f"rule {rid}"
            wline = Where(file, r.key_lines.get("when", r.line))
            when = mparse(r["when"], wline) if "when" in r else TRUE
            check_bool(when, scope, wline, context=f"guard of {ctx}")
            to = r.get("to")
            if to is not None and to not in control_values:
                raise SpecError(Where(file, r.key_lines["to"]),
                                f"rule {rid}: `to: {to}` is not a value of {control}")
            do = []
            for var, raw in (r.get("do") or {}).items():
                dwhere = Where(file, r["do"].key_lines[var])
                if var not in variables:
                    what = "a parameter" if var in params else (
                        "the control variable (use `to:`)" if var == control else "unknown")
                    if var == control:
                        raise SpecError(dwhere, f"rule {rid}: assign {control} with `to:`")
                    raise SpecError(dwhere, f"rule {rid}: cannot assign {var!r}: {what} "
                                            f"(assignable: the machine's variables)")
                e = mparse(raw, dwhere)
                _hint_bare_literal(e, variables[var].type, scope, dwhere, rid, var)
                check_assignable(e, variables[var].type, scope, dwhere, context=f"{ctx}, {var}")
                do.append((var, e))
            emits = tuple(self.loader.build_emit(em, file, r["emit"].item_lines[k], scope, ctx)
                          for k, em in enumerate(r.get("emit") or []))
            rules.append(Rule(rid, tuple(sources), evs, when, to, tuple(do), emits,
                              bool(r.get("ignore")), bool(r.get("renotify")), self.loader.ref(r, file),
                              where))

        return rules

    def notify(self) -> list[Notify]:
        """The notifications: a message when a kept observation changed, or when `when` holds."""
        file, doc = self.file, self.doc
        mparse, obs_scope, kept_types = self.mparse, self.obs_scope, self.kept_types
        notifies = []
        nnode = doc.get("notify") or []
        for i, n in enumerate(nnode):
            where = Where(file, nnode.item_lines[i])
            if "on_change" in n and n["on_change"] not in kept_types:
                raise SpecError(Where(file, n.key_lines["on_change"]),
                                f"notify {n['id']}: {n['on_change']!r} is not a kept observation")
            nwhen = mparse(n["when"], Where(file, n.key_lines["when"])) if "when" in n else TRUE
            check_bool(nwhen, obs_scope, Where(file, n.key_lines.get("when", n.line)),
                       context=f"notify {n['id']}")
            emits = tuple(self.loader.build_emit(em, file, n["emit"].item_lines[k], obs_scope,
                                          f"notify {n['id']}")
                          for k, em in enumerate(n["emit"]))
            notifies.append(Notify(n["id"], n.get("on_change"), nwhen, emits, self.loader.ref(n, file), where))

        return notifies

    def filters(self) -> list[Filter]:
        """Configuration-level conditions under which messages are not sent."""
        file, doc, params = self.file, self.doc, self.params
        mparse = self.mparse
        filters = []
        fnode = doc.get("filters") or []
        for i, f in enumerate(fnode):
            where = Where(file, fnode.item_lines[i])
            fwhen = mparse(f["when"], Where(file, f.key_lines["when"]))
            check_bool(fwhen, params, Where(file, f.key_lines["when"]),
                       context=f"filter {f['id']} (configuration parameters only)")
            drop = ("*",) if f["drop"] == "*" else tuple(f["drop"])
            for action in drop:
                if action != "*" and ocpp16.message_fields(action, "call") is None \
                        and ocpp16.message_fields(action, "result") is None:
                    raise SpecError(Where(file, f.key_lines["drop"]),
                                    f"filter {f['id']}: {action!r} is not an OCPP 1.6 message")
            filters.append(Filter(f["id"], drop, fwhen, self.loader.ref(f, file), where))

        return filters

    def invariants(self) -> list[Invariant]:
        """State invariants (expressions over state, configuration and observations), step
        invariants (named checks), graph invariants (a goal and its recovery witnesses)."""
        file, doc = self.file, self.doc
        events, mparse = self.evs, self.mparse
        obs_scope, full_state_scope = self.obs_scope, self.full_state_scope
        invariants = []
        inode = doc.get("invariants") or []
        seen_inv: set[str] = set()
        for i, inv in enumerate(inode):
            where = Where(file, inode.item_lines[i])
            if inv["id"] in seen_inv:
                raise SpecError(where, f"duplicate invariant {inv['id']!r}")
            seen_inv.add(inv["id"])
            expr = None
            recovery: list[Witness] = []
            if inv["kind"] == "graph":
                if "expr" not in inv:
                    raise SpecError(where, f"invariant {inv['id']}: a graph invariant needs expr: "
                                           f"(the goal every reachable state can return to)")
                # the goal every reachable state can return to; `recovery:` a witness
                ewhere = Where(file, inv.key_lines["expr"])
                expr = mparse(inv["expr"], ewhere)
                check_bool(expr, full_state_scope, ewhere, context=f"invariant {inv['id']} (goal)")
                witnesses = inv.get("recovery") or MList()
                for w, wit in enumerate(witnesses):
                    wwhere = Where(file, witnesses.item_lines[w])
                    label = f"invariant {inv['id']}: witness {w + 1}"
                    cond = None
                    if "when" in wit:
                        cwhere = Where(file, wit.key_lines["when"])
                        cond = mparse(wit["when"], cwhere)
                        check_bool(cond, full_state_scope, cwhere, context=f"{label} (when)")
                    steps: MList = wit["events"]
                    recovery.append(Witness(cond, tuple(
                        (n, tuple(f.items())) for n, f in (
                            event_step(events, item, Where(file, steps.item_lines[k]),
                                       f"{label}, event {k + 1}")
                            for k, item in enumerate(steps))),
                        " ".join(wit.get("doc", "").split()), wwhere))
            elif "recovery" in inv:
                raise SpecError(where, f"invariant {inv['id']}: `recovery:` belongs to a graph "
                                       f"invariant with a goal (expr:)")
            if inv["kind"] == "state":
                if "expr" not in inv:
                    raise SpecError(where, f"invariant {inv['id']}: a state invariant needs expr:")
                ewhere = Where(file, inv.key_lines["expr"])
                expr = mparse(inv["expr"], ewhere)
                scope = obs_scope if not inv.get("assume") else full_state_scope
                check_bool(expr, scope, ewhere, context=f"invariant {inv['id']}"
                           + (" (assumed by the proofs: state and configuration only)"
                              if inv.get("assume") else ""))
            when = None
            if inv["kind"] == "step":
                expr, when = self.step_invariant(inv, where)
            elif "when" in inv:
                raise SpecError(Where(file, inv.key_lines["when"]),
                                f"invariant {inv['id']}: `when:` belongs to a step invariant")
            if inv["kind"] == "graph" and "check" not in inv:
                raise SpecError(where, f"invariant {inv['id']}: a graph invariant needs check: "
                                       f"(a check of chargespec.checkers.invariants)")
            # a graph check's name is one the schema lists (checkers/invariants.py has each)
            invariants.append(Invariant(inv["id"], inv["kind"], expr, inv.get("check"),
                                        bool(inv.get("assume")), " ".join(inv["doc"].split()),
                                        self.loader.ref(inv, file), where, tuple(recovery),
                                        when))

        return invariants

    def step_scope(self) -> dict[str, Type]:
        """The names of a step invariant: the parameters and constants; `old.x` for each part
        of the state before the step, `new.x` for the state and every observation after it;
        `event` (the event's name) and `event.f` for a field f of the events (one type per
        field name: a field two events give different types is left out)."""
        scope: dict[str, Type] = dict(self.params)
        scope.update({f"old.{n}": t for n, t in self.full_state_scope.items()
                      if n not in self.params})
        scope.update({f"new.{n}": t for n, t in self.obs_scope.items() if n not in self.params})
        scope["event"] = EnumT(tuple(self.evs))
        clashes: set[str] = set()
        for ev in self.evs.values():
            for f in ev.fields:
                known = scope.setdefault(f"event.{f.name}", f.type)
                if known != f.type:
                    clashes.add(f"event.{f.name}")
        for name in clashes:
            del scope[name]
        return scope

    def step_invariant(self, inv: MDict, where: Where) -> tuple[Expr, Expr | None]:
        """A step invariant's `expr:` (and `when:`, the steps it is about), type-checked in the
        step scope, with each action and field its step functions name checked against the
        official OCPP 1.6 schemas."""
        if "check" in inv:
            raise SpecError(Where(self.file, inv.key_lines["check"]),
                            f"invariant {inv['id']}: a step invariant is an expression (expr:, "
                            f"and when: for the steps it is about), not a named check")
        scope = self.step_scope()
        parts = []
        for key in ("expr", "when"):
            if key not in inv:
                parts.append(None)
                continue
            kwhere = Where(self.file, inv.key_lines[key])
            e = parse(inv[key], kwhere)
            check_bool(e, scope, kwhere, context=f"invariant {inv['id']} ({key})", step=True)
            _check_step_calls(e, kwhere, f"invariant {inv['id']} ({key})")
            parts.append(e)
        return parts[0], parts[1]  # type: ignore[return-value]


class _Builder:
    errors: dict[str, ErrorRow]
    recovery_events: dict[str, str]
    constants: dict[str, tuple[Type, Any]]
    sections: dict[str, str]
    interpretations: dict[str, Interpretation]
    errata: dict[str, Erratum]
    parameters: dict[str, Parameter]

    # ---- references
    def ref(self, node: MDict, file: str) -> Ref:
        manual = node.get("manual")
        interp = node.get("interpretation")
        if manual is not None and manual not in self.sections:
            raise SpecError(Where(file, node.key_lines["manual"]),
                            f"manual section {manual!r} is not a section of the manual "
                            f"(spec/manual.yaml)")
        if interp is not None and interp not in self.interpretations and \
                interp not in getattr(self, "errata", {}):
            raise SpecError(Where(file, node.key_lines["interpretation"]),
                            f"unknown interpretation {interp!r} (not in spec/interpretations.yaml)")
        if manual is None and interp is None:
            raise SpecError(Where(file, node.line), "missing `manual:` or `interpretation:` reference")
        return Ref(manual, interp)

    # ---- interpretations
    def build_interpretations(self, file: str, doc: MDict) -> dict[str, Interpretation]:
        out = {}
        items = doc["interpretations"]
        for iid, body in items.items():
            line = items.key_lines[iid]
            for s in body["manual"]:
                if s not in self.sections:
                    raise SpecError(Where(file, line), f"interpretation {iid}: manual section "
                                                       f"{s!r} is not a section of the manual")
            out[iid] = Interpretation(iid, tuple(body["manual"]), body["issue"], body["decision"],
                                      body["ground"], Where(file, line),
                                      tuple(" ".join(str(a).split())
                                            for a in body.get("alternatives", ())))
        return out

    # ---- errata
    def build_errata(self, file: str, doc: MDict) -> dict[str, Erratum]:
        out = {}
        items = doc["errata"]
        for eid, body in items.items():
            line = items.key_lines[eid]
            if eid in self.interpretations:
                raise SpecError(Where(file, line), f"erratum {eid} has the id of an interpretation")
            for s in body["manual"]:
                if s not in self.sections:
                    raise SpecError(Where(file, line), f"erratum {eid}: manual section {s!r} is "
                                                       f"not a section of the manual")
            out[eid] = Erratum(eid, tuple(body["manual"]), body["says"], body["problem"],
                               body["reading"], Where(file, line))
        return out

    # ---- the error table (§9)
    def build_errors(self, file: str, doc: MDict, session_events: set[str]
                     ) -> tuple[dict[str, str], dict[str, ErrorRow]]:
        recovery_events = dict(doc["recovery_events"])
        clash = set(recovery_events) & session_events
        if clash:
            raise SpecError(Where(file, doc.key_lines["recovery_events"]),
                            f"recovery event(s) {sorted(clash)} are already session events")
        known = set(recovery_events) | session_events
        sn = ocpp16.message_fields("StatusNotification", "call") or {}
        codes = sn["errorCode"].enum or ()
        out: dict[str, ErrorRow] = {}
        rows_seen: dict[int, str] = {}
        items = doc["errors"]
        for eid, r in items.items():
            where = Where(file, items.key_lines[eid])
            ctx = f"error {eid}"
            if r["row"] in rows_seen:
                raise SpecError(Where(file, r.key_lines["row"]),
                                f"{ctx}: row {r['row']} is also {rows_seen[r['row']]}")
            rows_seen[r["row"]] = eid
            code = r["ocpp_error_code"]
            if code not in codes or code == "NoError":
                raise SpecError(Where(file, r.key_lines["ocpp_error_code"]),
                                f"{ctx}: {code!r} is not an OCPP 1.6 ChargePointErrorCode for a "
                                f"fault (official schema: {', '.join(codes)})")
            if code == "EVCommunicationError" and r["status_while_active"] == "Faulted":
                raise SpecError(Where(file, r.key_lines["status_while_active"]),
                                f"{ctx}: OCPP 1.6 allows EVCommunicationError only with Preparing, "
                                f"SuspendedEV, SuspendedEVSE or Finishing, never with Faulted")
            for key, field_name in (("activation", "info"), ("resolution", "info"),
                                    ("vendor_error_code", "vendorErrorCode")):
                limit = sn[field_name].max_length
                if key in r and limit is not None and len(r[key]) > limit:
                    raise SpecError(Where(file, r.key_lines[key]),
                                    f"{ctx}: {key} is {len(r[key])} characters; StatusNotification."
                                    f"{field_name} allows {limit} (official schema)")
            if (r["status_while_active"] == "Faulted") != r["stops_transaction"]:
                raise SpecError(Where(file, r.key_lines["status_while_active"]),
                                f"{ctx}: an error that stops the transaction makes the connector "
                                f"Faulted and one that does not leaves the status unchanged; "
                                f"this row mixes the two, which the session cannot show")
            rec = r["recovery"]
            for ev in rec["by"]:
                if ev not in known:
                    raise SpecError(Where(file, rec.key_lines["by"]),
                                    f"{ctx}: recovery event {ev!r} is neither a session event nor "
                                    f"declared under recovery_events")
            timers = []
            for t in rec.get("timers", ()):
                if t["event"] not in rec["by"]:
                    raise SpecError(Where(file, rec.key_lines["timers"]),
                                    f"{ctx}: timer {t['event']} must also be listed under `by`")
                if t["starts_on"] not in known:
                    raise SpecError(Where(file, rec.key_lines["timers"]),
                                    f"{ctx}: timer starts on unknown event {t['starts_on']!r}")
                cond = t.get("seconds_if")
                if cond is not None and (cond["parameter"] not in self.parameters or
                                         self.parameters[cond["parameter"]].kind != "bool"):
                    raise SpecError(Where(file, rec.key_lines["timers"]),
                                    f"{ctx}: seconds_if must name a bool parameter")
                timers.append(ErrorTimer(t["event"], t["starts_on"], t["seconds"],
                                         cond["parameter"] if cond else None,
                                         cond["value"] if cond else None))
            out[eid] = ErrorRow(
                id=eid, row=r["row"], manual_code=r["manual_code"], ocpp_error_code=code,
                vendor_error_code=r.get("vendor_error_code"), activation=r["activation"],
                resolution=r["resolution"], stops_transaction=r["stops_transaction"],
                status_while_active=r["status_while_active"], notes=r["notes"],
                corrective_action=r["corrective_action"], recovery_kind=rec["kind"],
                recovery_by=tuple(rec["by"]), timers=tuple(timers),
                needs_vehicle=bool(r.get("needs_vehicle")), keeps_lock=bool(r.get("keeps_lock")),
                ref=self.ref(r, file), where=where)
        expected = list(range(1, len(out) + 1))
        if sorted(rows_seen) != expected:
            raise SpecError(Where(file, doc.key_lines["errors"]),
                            f"error rows must be numbered 1..{len(out)} as in the manual, "
                            f"got {sorted(rows_seen)}")
        return recovery_events, dict(sorted(out.items(), key=lambda kv: kv[1].row))

    # ---- parameters
    def build_parameters(self, file: str, doc: MDict) -> dict[str, Parameter]:
        out = {}
        items = doc["parameters"]
        for pid, p in items.items():
            where = Where(file, items.key_lines[pid])
            kind = p["type"]
            t = parameter_type(kind, p)
            if p["manual"] not in self.sections:
                raise SpecError(Where(file, p.key_lines["manual"]),
                                f"parameter {pid}: manual section {p['manual']!r} is not a "
                                f"section of the manual")
            df = p["default_from"]
            if df.startswith("interpretation "):
                iid = df.split(" ", 1)[1]
                if iid not in self.interpretations:
                    raise SpecError(Where(file, p.key_lines["default_from"]),
                                    f"parameter {pid}: unknown interpretation {iid!r}")
            if kind == "int" and p["min"] > p["max"]:
                raise SpecError(where, f"parameter {pid}: min {p['min']} > max {p['max']}")
            if not value_fits(t, p["default"]):
                raise SpecError(Where(file, p.key_lines["default"]),
                                f"parameter {pid}: default {p['default']!r} is not "
                                f"{t.describe()}")
            removed = dict(p.get("removed_in_release", {}))
            for v in removed:
                if kind != "enum" or v not in p["values"]:
                    raise SpecError(Where(file, p.key_lines["removed_in_release"]),
                                    f"parameter {pid}: removed_in_release names {v!r}, "
                                    f"which is not one of its values")
            values = tuple(p.get("values", {}))
            out[pid] = Parameter(
                id=pid, ui_name=p["ui_name"], menu=p.get("menu", ""), kind=kind, type=t,
                values=values, labels=dict(p.get("values", {})), default=p["default"],
                default_from=df, unit=p.get("unit"), min=p.get("min"), max=p.get("max"),
                per_phase=bool(p.get("per_phase")), ocpp_key=p.get("ocpp_key"),
                affects=p["affects"], manual=p["manual"], removed_in_release=removed,
                where=where)
        return out

    # ---- OCPP status table
    def build_status_table(self, file: str, doc: MDict) -> StatusTable:
        statuses = tuple(doc["statuses"])
        allowed = {}
        for src, dsts in doc["allowed"].items():
            line = doc["allowed"].key_lines[src]
            for s in (src, *dsts):
                if s not in statuses:
                    raise SpecError(Where(file, line), f"unknown status {s!r}")
            allowed[src] = frozenset(dsts)
        missing = [s for s in statuses if s not in allowed]
        if missing:
            raise SpecError(Where(file, doc.key_lines["allowed"]),
                            f"no row for status(es) {', '.join(missing)}")
        via: dict[tuple[str, str], str] = {}
        for i, v in enumerate(doc.get("via") or []):
            where = Where(file, doc["via"].item_lines[i])
            a, b, c = v["from"], v["to"], v["via"]
            for s in (a, b, c):
                if s not in statuses:
                    raise SpecError(where, f"unknown status {s!r}")
            if b in allowed.get(a, ()) or c not in allowed.get(a, ()) or b not in allowed.get(c, ()):
                raise SpecError(where, f"{a} -> {b} via {c}: the table must lack {a} -> {b} and "
                                       f"allow {a} -> {c} and {c} -> {b}")
            via[(a, b)] = c
        return StatusTable(statuses, allowed, doc["source"], via)

    # ---- control pilot table
    def build_pilot(self, file: str, doc: MDict) -> PilotTable:
        segs = tuple(PilotSegment(s["min_amps"], s["max_amps"], float(s["per_amp"]),
                                  float(s["offset"])) for s in doc["segments"])
        for a, b in zip(segs, segs[1:]):
            if not a.min_amps <= a.max_amps < b.min_amps <= b.max_amps:
                raise SpecError(Where(file, doc.key_lines["segments"]),
                                "control pilot segments must be ordered and must not overlap")
        if segs[0].min_amps != int(doc["minimum_current"]):
            raise SpecError(Where(file, doc.key_lines["segments"]),
                            "the first segment must start at minimum_current")
        decode = tuple((float(d["min_duty"]), float(d["max_duty"]), int(d["amps"]))
                       for d in doc.get("decode", ()))
        iid = doc.get("interpretation")
        if iid is not None and iid not in self.interpretations:
            raise SpecError(Where(file, doc.key_lines["interpretation"]),
                            f"unknown interpretation {iid!r}")
        return PilotTable(float(doc["no_pwm_duty"]), float(doc["hlc_duty"]),
                          int(doc["minimum_current"]), float(doc["resolution"]), segs, decode)

    # ---- machines
    # ---- configuration checks
    def build_lint(self, file: str, doc: MDict) -> dict[str, LintCheck]:
        scope = {pid: p.type for pid, p in self.parameters.items()}
        scope.update({c: t for c, (t, _) in self.constants.items()})
        out = {}
        checks = doc["checks"]
        for cid, c in checks.items():
            where = Where(file, checks.key_lines[cid])
            wwhere = Where(file, c.key_lines["when"])
            when = parse(c["when"], wwhere)
            check_bool(when, scope, wwhere, context=f"lint check {cid}")
            for p in c["params"]:
                if p not in self.parameters:
                    raise SpecError(Where(file, c.key_lines["params"]),
                                    f"lint check {cid}: unknown parameter {p!r}")
            entries, bad = c.get("entries"), c.get("bad_entry")
            if entries is not None:
                if not isinstance(scope.get(entries), ListT):
                    raise SpecError(Where(file, c.key_lines["entries"]),
                                    f"lint check {cid}: entries {entries!r} is not a list "
                                    f"parameter")
                if bad not in ENTRY_CHECKS:
                    raise SpecError(Where(file, c.key_lines["bad_entry"]),
                                    f"lint check {cid}: unknown entry check {bad!r} (known: "
                                    f"{', '.join(ENTRY_CHECKS)})")
            out[cid] = LintCheck(cid, when, c["severity"], tuple(c["params"]), c["message"],
                                 self.ref(c, file), where, entries, bad)
        return out

    # ---- dynamic load management
    def build_dlm(self, file: str, doc: MDict) -> DlmSpec:
        groups = {}
        for group in ("site_parameters", "connector_parameters", "station_parameters"):
            node = doc[group]
            for i, pid in enumerate(node):
                if pid not in self.parameters:
                    raise SpecError(Where(file, node.item_lines[i]),
                                    f"{group}: unknown parameter {pid!r}")
            groups[group] = tuple(node)
        rot_param = self.parameters["phase_rotation"]
        rnode = doc["rotations"]
        if set(rnode) != set(rot_param.values):
            raise SpecError(Where(file, doc.key_lines["rotations"]),
                            f"rotations must be exactly the values of phase_rotation "
                            f"({', '.join(rot_param.values)})")
        rotations = {r: tuple(int(p[1]) - 1 for p in rnode[r]) for r in rot_param.values}
        pnode = doc["phase_use"]
        if set(pnode) != set(self.parameters["phases_connected"].values):
            raise SpecError(Where(file, doc.key_lines["phase_use"]),
                            "phase_use must name every value of phases_connected")
        invariants = {}
        inode = doc["invariants"]
        for iid, inv in inode.items():
            where = Where(file, inode.key_lines[iid])
            invariants[iid] = DlmInvariant(iid, inv["scope"], " ".join(inv["statement"].split()),
                                           self.ref(inv, file), where)
        imb = doc.get("interpretation_of_imbalance")
        if imb is not None and imb not in self.interpretations:
            raise SpecError(Where(file, doc.key_lines["interpretation_of_imbalance"]),
                            f"unknown interpretation {imb!r} (not in spec/interpretations.yaml)")
        return DlmSpec(groups["site_parameters"], groups["connector_parameters"],
                       groups["station_parameters"], rotations,
                       {k: tuple(v) for k, v in pnode.items()}, int(doc["imbalance_limit"]),
                       invariants, file)

    # ---- policy tables
    def build_policy(self, file: str, doc: MDict) -> Policy:
        name, key = doc["policy"], doc["key"]
        where = Where(file, doc.key_lines["policy"])
        param = self.parameters.get(key)
        if param is None or param.kind != "enum":
            raise SpecError(Where(file, doc.key_lines["key"]),
                            f"policy {name}: key {key!r} must be an enum parameter")
        columns = {c: tuple(v["values"]) for c, v in doc["columns"].items()}
        rows_node = doc["rows"]
        missing = [v for v in param.values if v not in rows_node]
        extra = [k for k in rows_node if k not in param.values]
        if missing or extra:
            raise SpecError(Where(file, doc.key_lines["rows"]),
                            f"policy {name}: rows must be exactly the values of {key} "
                            f"({', '.join(param.values)})"
                            + (f"; missing {', '.join(missing)}" if missing else "")
                            + (f"; unknown {', '.join(extra)}" if extra else ""))
        rows = {}
        for k in param.values:
            r = rows_node[k]
            rwhere = Where(file, rows_node.key_lines[k])
            vals = {}
            for col, allowed in columns.items():
                if col not in r:
                    raise SpecError(rwhere, f"policy {name}, row {k}: no value for column {col}")
                if r[col] not in allowed:
                    raise SpecError(Where(file, r.key_lines[col]),
                                    f"policy {name}, row {k}: {col} = {r[col]!r} is not one of "
                                    f"{', '.join(allowed)}")
                vals[col] = r[col]
            unknown = set(r) - set(columns) - {"source", "manual", "interpretation"}
            if unknown:
                col = sorted(unknown)[0]
                raise SpecError(Where(file, r.key_lines[col]),
                                f"policy {name}, row {k}: unknown column {col!r} "
                                f"(columns: {', '.join(columns)})")
            rows[k] = PolicyRow(k, vals, r["source"], self.ref(r, file), rwhere)
        return Policy(name, doc.get("title", name), key, columns,
                      {c: v["doc"] for c, v in doc["columns"].items()}, rows, file, where)

    def build_machine(self, file: str, doc: MDict, status_table: StatusTable) -> Machine:
        r = _MachineReader(self, file, doc)
        variables = r.variables()
        control, _ = r.control()
        events = r.events()
        def_docs = r.definitions()
        observations = r.observations()
        rules, notifies, filters, invariants = r.rules(), r.notify(), r.filters(), r.invariants()
        observed = self.build_observed(file, doc, {o.name for o in observations}, variables)
        for what, items_ in (("observations", observations), ("variables", variables),
                             ("rules", rules), ("events", events)):
            if not items_:  # the step function needs each; a machine without them is a typo
                raise SpecError(Where(file, doc.key_lines.get(what, doc.line)),
                                f"machine {r.name}: no {what}")
        return Machine(name=r.name, title=doc.get("title", r.name), file=file, control=control,
                       variables=variables, events=events, rules=tuple(rules),
                       observations=tuple(observations), notify=tuple(notifies),
                       filters=tuple(filters), definitions=def_docs,
                       invariants=tuple(invariants), observed=observed)

    @staticmethod
    def build_observed(file: str, doc: MDict, observation_names: set[str],
                       variables: Mapping[str, Any]) -> tuple[Observed, ...]:
        """`observed:` checked: each name an observation or a state variable as its `from`
        says, messages and indications at most once, no name twice."""
        node = doc.get("observed") or []
        out: list[Observed] = []
        for k, item in enumerate(node):
            where = Where(file, node.item_lines[k])
            name, source = item["name"], item["from"]
            if any(o.name == name for o in out):
                raise SpecError(where, f"observed: {name!r} is listed twice")
            if source == "observation" and name not in observation_names:
                raise SpecError(where, f"observed: {name!r} is not an observation of the "
                                       f"machine")
            if source == "state" and name not in variables:
                raise SpecError(where, f"observed: {name!r} is not a variable of the machine")
            if source in ("messages", "indications") and any(o.source == source for o in out):
                raise SpecError(where, f"observed: the {source} are listed twice")
            out.append(Observed(name, source, " ".join(str(item.get("doc", "")).split()),
                                where))
        return tuple(out)

    def build_emit(self, em: MDict, file: str, line: int, scope: Mapping[str, Type],
                   ctx: str) -> Emit:
        where = Where(file, line)
        if "indication" in em:
            return Emit(None, "call", (), em["indication"], where)
        action, kind = em["message"], em.get("kind", "call")
        info = ocpp16.message_fields(action, kind)
        if info is None:
            raise SpecError(where, f"{ctx}: {ocpp16.schema_name(action, kind)} is not an OCPP 1.6 "
                                   f"message (no official schema)")
        fields = []
        given = set()
        for fname, raw in (em.get("fields") or {}).items():
            fwhere = Where(file, em["fields"].key_lines[fname])
            if fname not in info:
                raise SpecError(fwhere, f"{ctx}: {action} has no field {fname!r} in the official "
                                        f"OCPP 1.6 schema (fields: {', '.join(sorted(info))})")
            e = substitute(parse(raw, fwhere), getattr(self, "_definitions", {}))
            t = check(e, scope, fwhere, context=f"{ctx}, {action}.{fname}")
            _check_ocpp_field(e, t, info[fname], fwhere, f"{ctx}, {action}.{fname}")
            fields.append((fname, e))
            given.add(fname)
        missing = [f for f, fi in info.items()
                   if fi.required and f not in given and f not in ocpp16.EDGE_FIELDS]
        if missing:
            raise SpecError(where, f"{ctx}: {action} needs field(s) {', '.join(missing)} "
                                   f"(required by the official OCPP 1.6 schema)")
        return Emit(action, kind, tuple(fields), None, where)


def _check_step_calls(e: Expr, where: Where, ctx: str) -> None:
    """The actions of sent/dropped/every are OCPP 1.6 actions ('*' for sent and dropped: every
    action) and every's field is a field of that action's request or answer."""
    for call in calls(e):
        if call.func not in STEP_FUNCS or call.func == "permitted":
            continue
        action = call.args[0].value  # type: ignore[attr-defined]
        kinds = [k for k in ("call", "result") if ocpp16.message_fields(action, k) is not None]
        if action == "*" and call.func != "every":
            continue
        if not kinds:
            raise SpecError(where, f"{ctx}: {call.func}({action!r}): {action!r} is not an OCPP "
                                   f"1.6 action" + ("" if call.func == "every" else
                                                    " ('*' for every action)"))
        if call.func == "every":
            field = call.args[1].value  # type: ignore[attr-defined]
            known = {f for k in kinds for f in ocpp16.message_fields(action, k) or {}}
            if field not in known:
                raise SpecError(where, f"{ctx}: {action} has no field {field!r} in the official "
                                       f"OCPP 1.6 schema (fields: {', '.join(sorted(known))})")


def _check_ocpp_field(e: Expr, t: Type, fi: ocpp16.FieldInfo, where: Where, ctx: str) -> None:
    if fi.json_type == "integer" and not isinstance(t, IntT):
        raise SpecError(where, f"{ctx} must be an integer, not {t.describe()}")
    if fi.json_type == "string" and isinstance(t, (IntT, BoolT)):
        raise SpecError(where, f"{ctx} must be a string, not {t.describe()}")
    if fi.enum is not None:
        if isinstance(t, EnumT) and not set(t.values) <= set(fi.enum):
            bad = sorted(set(t.values) - set(fi.enum))
            raise SpecError(where, f"{ctx}: {', '.join(map(repr, bad))} not allowed by the official "
                                   f"schema (one of {', '.join(fi.enum)})")
        if isinstance(e, Const) and e.value not in fi.enum:
            raise SpecError(where, f"{ctx}: {e.value!r} is not allowed by the official schema "
                                   f"(one of {', '.join(fi.enum)})")
        if isinstance(t, EnumT):
            bad = [v for v in t.values if v not in fi.enum]
            if bad:
                raise SpecError(where, f"{ctx}: value(s) {', '.join(bad)} are not allowed by the "
                                       f"official schema (one of {', '.join(fi.enum)})")


def _hint_bare_literal(e: Expr, t: Type, scope: Mapping[str, Type], where: Where, rid: str,
                       var: str) -> None:
    from .expr import Name

    if isinstance(e, Name) and e.id not in scope and isinstance(t, EnumT) and e.id in t.values:
        raise SpecError(where, f"rule {rid}, {var}: unknown name {e.id!r}; for the value write "
                               f"the string \"'{e.id}'\"")


def _declared_type(node: MDict, where: Where, what: str,
                   domains: Mapping[str, tuple[str, ...]] | None = None) -> Type:
    """The type a `type:` node declares.  `of:` / `values_from:` name a domain of the spec
    (`errors`: the error ids of spec/errors.yaml, in row order); `none: true` adds 'none'."""
    kind = node["type"]
    domains = domains or {}
    source = node.get("of", node.get("values_from"))
    if source is not None and source not in domains:
        raise SpecError(where, f"{what}: unknown domain {source!r} (known: {', '.join(domains)})")
    if kind == "token_set":
        return TokenSetT()
    if kind == "set":
        if source is None:
            raise SpecError(where, f"{what}: a set needs `of:` (its domain)")
        return SetT(domains[source])
    if kind == "enum" and source is not None:
        return EnumT((("none",) if node.get("none") else ()) + domains[source])
    if kind == "bool":
        return BoolT()
    if kind == "int":
        if node["min"] > node["max"]:
            raise SpecError(where, f"{what}: min {node['min']} > max {node['max']}")
        return IntT(int(node["min"]), int(node["max"]))
    if kind == "enum":
        if "values" not in node:
            raise SpecError(where, f"{what}: an enum needs `values:` or `values_from:`")
        return EnumT(tuple(str(v) for v in node["values"]))
    if kind == "token":
        return TokenT(nullable=bool(node.get("nullable", True)))
    raise SpecError(where, f"{what}: type {kind!r} is not allowed here")

