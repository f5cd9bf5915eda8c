"""Mutants of the loaded spec: every element changed the way a firmware bug would change it.

A mutant is the spec with one element changed: a guard's comparison or connective, a negated
guard or a dropped conjunct, a constant replaced by another value of its domain (an enum by each
other value, a number by +-1 and by its domain's bounds), a set member added or removed, an
update deleted or its value changed, an emitted message removed or one of its fields changed, a
rule's target phase, a cell of every table (the observation tables, the error table's columns as
the session reads them, the Free Charging and If-in-doubt tables, the control pilot's table), a
variable's initial value, and a parameter's factory default.  The pure helpers the spec relies
on (the UID rendering of §5.3, the whitelist match of §5.5, the duty cycle of IEC 61851-1)
declare their plausible wrong versions beside them (`WRONG_*`), and each is a mutant too.

Mutants are made from the typed `Spec` (chargespec.specmodel), never from Python source, so
every one is a behaviour the spec's own language can state.  Each has a stable id (the element,
the operator, the alternative), the element it changes, the operator, its file:line, the manual
section or interpretation it departs from, the area of the manual, and the bug class a vector
that kills it reveals.  `checkers/mutate.py` runs them against the vectors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from chargespec import ocpp16
from chargespec.expr import (Arith, BoolOp, BoolT, Call, Compare, Const, EnumT, Expr, IfExp,
                             IntT, ListLit, Lookup, Name, Not, SetLit, SetT, TableT, Type, fold,
                             names, substitute, to_label)
from chargespec.specmodel import Emit, Machine, Rule, Spec

# The areas of the manual a mutation score is given for.
AREAS = ("stop modes", "free charging", "if-in-doubt", "authorization", "errors",
         "status notifications", "PWM/LED/lock", "session")


@dataclass(frozen=True)
class Mutant:
    id: str  # stable: element/operator/alternative
    kind: str  # rule | definition | observation | notify | filter | constant | pilot | initial
    #            | default | helper
    element: str  # e.g. "rule stop_by_rfid: when"
    operator: str  # ROR LCR NEG DROP CONST SET UPD-DEL UPD-VAL EMIT-DEL EMIT-FIELD TO CELL
    #                ORDER INIT DEFAULT HELPER
    description: str  # what changed, e.g. "`a < b` -> `a <= b`"
    area: str
    bug_class: str  # the flag a vector that kills it carries
    ref: str  # manual section / interpretation of the element
    where: str  # file:line
    reads: tuple[str, ...]  # the parameters the mutated element reads (where to look)
    payload: Any = dataclasses.field(default=None, compare=False, repr=False, hash=False)


# ---- expression operators -----------------------------------------------------------------

_ROR = {"<": ("<=", ">", ">=", "==", "!="), "<=": ("<", ">", ">=", "==", "!="),
        ">": (">=", "<", "<=", "==", "!="), ">=": (">", "<", "<=", "==", "!="),
        "==": ("!=",), "!=": ("==",), "in": ("not in",), "not in": ("in",)}


def _type_of(e: Expr, scope: dict[str, Type]) -> Type | None:
    if isinstance(e, Name):
        return scope.get(e.id)
    if isinstance(e, Lookup):
        t = scope.get(e.table)
        return t.value if isinstance(t, TableT) else None
    return None


def _alternatives(value: Any, t: Type | None) -> list[Any]:
    """Other values of a constant's domain: an enum's others, a bool's negation, an int's
    neighbours and bounds."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        lo, hi = (t.lo, t.hi) if isinstance(t, IntT) else (0, None)
        out = [v for v in (value - 1, value + 1, lo, hi) if v is not None and v != value]
        if isinstance(t, IntT):
            out = [v for v in out if t.lo <= v <= t.hi]
        return list(dict.fromkeys(out))
    if isinstance(value, str) and isinstance(t, (EnumT, SetT)):
        dom = t.values if isinstance(t, EnumT) else t.domain
        return [v for v in dom if v != value]
    return []


def _typed(e: Expr, scope: dict[str, Type]) -> type | None:
    """The class of `e`'s type, None when the spec's type checker rejects it."""
    from chargespec.errors import SpecError, Where
    from chargespec.expr import check
    try:
        return type(check(e, scope, Where("mutant", 0)))
    except (SpecError, KeyError, TypeError, AttributeError):
        return None


def _well_typed(e: Expr, scope: dict[str, Type],
                found: Iterator[tuple[str, str, Expr]]) -> Iterator[tuple[str, str, Expr]]:
    """Only the mutants the type checker accepts with the original's kind of type: an
    ill-typed change is no behaviour a firmware could have."""
    want = _typed(e, scope)
    for op, desc, m in found:
        got = _typed(m, scope)
        if got is not None and (got is want or want is None):
            yield op, desc, m


def expr_mutants(e: Expr, scope: dict[str, Type], root: bool = True
                 ) -> Iterator[tuple[str, str, Expr]]:
    """(operator, description, mutated expression) for every single change of `e`."""
    def raw() -> Iterator[tuple[str, str, Expr]]:
        if root and not (isinstance(e, Const)):
            yield "NEG", f"`{to_label(e)}` negated", Not(e) if not isinstance(e, Not) \
                else e.operand
        yield from _sub(e, scope)
    yield from _well_typed(e, scope, raw())


def _sub(e: Expr, scope: dict[str, Type]) -> Iterator[tuple[str, str, Expr]]:
    lab = to_label(e)
    if isinstance(e, Compare):
        for op in _ROR.get(e.op, ()):
            m = Compare(op, e.left, e.right)
            yield "ROR", f"`{lab}` -> `{to_label(m)}`", m
        # the constant side: each other value of the other side's domain
        for side, other in (("right", e.left), ("left", e.right)):
            c = getattr(e, side)
            t = _type_of(other, scope)
            if isinstance(c, Const) and c.value is not None:
                for v in _alternatives(c.value, t):
                    m = dataclasses.replace(e, **{side: Const(v)})
                    yield "CONST", f"`{lab}` -> `{to_label(m)}`", m
            elif isinstance(c, (SetLit, ListLit)):
                items = list(c.items)
                for i in range(len(items)):
                    m = dataclasses.replace(e, **{side: type(c)(tuple(items[:i] + items[i + 1:]))})
                    yield "SET", f"`{lab}` -> `{to_label(m)}`", m
                present = {x.value for x in items if isinstance(x, Const)}
                if isinstance(t, EnumT):
                    for v in t.values:
                        if v not in present:
                            m = dataclasses.replace(e, **{side: type(c)(tuple(items) + (Const(v),))})
                            yield "SET", f"`{lab}` -> `{to_label(m)}`", m
            else:
                for op, d, m in _sub(c, scope):
                    yield op, d, dataclasses.replace(e, **{side: m})
        return
    if isinstance(e, BoolOp):
        other = "or" if e.op == "and" else "and"
        m = BoolOp(other, e.operands)
        yield "LCR", f"`{lab}` -> `{to_label(m)}`", m
        for i, x in enumerate(e.operands):
            rest = e.operands[:i] + e.operands[i + 1:]
            m = rest[0] if len(rest) == 1 else BoolOp(e.op, rest)
            yield "DROP", f"`{to_label(x)}` dropped from `{lab}`", m
        for i, x in enumerate(e.operands):
            if not isinstance(x, Not):
                m = BoolOp(e.op, e.operands[:i] + (Not(x),) + e.operands[i + 1:])
                yield "NEG", f"`{to_label(x)}` negated in `{lab}`", m
            for op, d, sub in _sub(x, scope):
                yield op, d, BoolOp(e.op, e.operands[:i] + (sub,) + e.operands[i + 1:])
        return
    if isinstance(e, Not):
        yield "NEG", f"`{lab}` -> `{to_label(e.operand)}`", e.operand
        for op, d, sub in _sub(e.operand, scope):
            yield op, d, Not(sub)
        return
    if isinstance(e, IfExp):
        m = IfExp(e.test, e.orelse, e.body)
        yield "NEG", f"`{lab}`: branches swapped", m
        for field in ("test", "body", "orelse"):
            for op, d, sub in _sub(getattr(e, field), scope):
                yield op, d, dataclasses.replace(e, **{field: sub})
        return
    if isinstance(e, Arith):
        if e.op in ("+", "-") and not isinstance(_type_of(e.left, scope), SetT):
            m = Arith("-" if e.op == "+" else "+", e.left, e.right)
            yield "AOR", f"`{lab}` -> `{to_label(m)}`", m
        elif e.op in ("|", "-", "&"):
            for op in ("|", "-", "&"):
                if op != e.op:
                    m = Arith(op, e.left, e.right)
                    yield "AOR", f"`{lab}` -> `{to_label(m)}`", m
        for field in ("left", "right"):
            for op, d, sub in _sub(getattr(e, field), scope):
                yield op, d, dataclasses.replace(e, **{field: sub})
        return
    if isinstance(e, Call):
        if e.func in ("min", "max"):
            m = Call("max" if e.func == "min" else "min", e.args)
            yield "AOR", f"`{lab}` -> `{to_label(m)}`", m
        for i, a in enumerate(e.args):
            for op, d, sub in _sub(a, scope):
                yield op, d, Call(e.func, e.args[:i] + (sub,) + e.args[i + 1:])
        return
    if isinstance(e, Const) and isinstance(e.value, bool):
        yield "CONST", f"`{lab}` -> `{not e.value}`", Const(not e.value)


def value_mutants(e: Expr, target: Type | None, scope: dict[str, Type]
                  ) -> Iterator[tuple[str, str, Expr]]:
    """Mutants of a value assigned to something of type `target` (an update, a message
    field, a table cell): the whole constant replaced by each other value of the target's
    domain, then every change inside it."""
    lab = to_label(e)
    if isinstance(e, Const) and e.value is not None:
        for v in _alternatives(e.value, target):
            yield "CONST", f"`{lab}` -> `{to_label(Const(v))}`", Const(v)
    elif not isinstance(e, Const):
        yield from _well_typed(e, scope, _sub(e, scope))


def read_names(e: Expr) -> set[str]:
    """Every name an expression reads, the constant tables it looks up included."""
    out = set(names(e))

    def walk(x: Any) -> None:
        if isinstance(x, Lookup):
            out.add(x.table)
        if isinstance(x, Expr):
            for v in vars(x).values():
                if isinstance(v, Expr):
                    walk(v)
                elif isinstance(v, tuple):
                    for i in v:
                        walk(i)
    walk(e)
    return out


# ---- the spec's elements -------------------------------------------------------------------

def _where(w: Any) -> str:
    return f"{w.file}:{w.line}" if w is not None else ""


def scope_of(spec: Spec, m: Machine, event: str | None = None) -> dict[str, Type]:
    scope: dict[str, Type] = {p: q.type for p, q in spec.parameters.items()}
    scope.update({c: t for c, (t, _) in spec.constants.items()})
    scope.update({v: x.type for v, x in m.variables.items()})
    scope.update({o.name: o.type for o in m.observations if o.type is not None})
    if event is not None:
        scope.update({f.name: f.type for f in m.events[event].fields})
    return scope


_AUTH = {"card", "cache", "reserved_for", "uid", "id_tag", "local_whitelist",
         "enable_local_whitelist", "enable_ocpp_whitelist", "local_pre_authorize",
         "local_authorize_offline", "send_authorize_for_remote_start", "authorize_remote_tx"}
_ERR = {"errors", "timed_errors", "raised_error", "resolved_error", "faulting_errors",
        "vehicle_errors", "lock_keeping_errors"}


def area_of(read: set[str], events: tuple[str, ...] = (), rule_id: str = "") -> str:
    """The manual's area an element belongs to, by what it reads and the events it answers."""
    if any(n.startswith("free_charging") for n in read):
        return "free charging"
    if any(n.startswith("if_in_doubt") for n in read) or "provisional" in rule_id:
        return "if-in-doubt"
    if (read & _ERR or any(n.startswith(("cleared_by_", "timer_started_by_")) for n in read)
            or "error_raised" in events or "error" in rule_id):
        return "errors"
    if "stop_transaction_mode" in read or "stop" in rule_id:
        return "stop modes"
    if read & _AUTH or any(e in ("rfid", "authorize_conf", "authorize_timeout", "remote_start",
                                 "reserve_now", "cancel_reservation", "reservation_expired",
                                 "clear_cache", "cache_expiry_timer") for e in events):
        return "authorization"
    if "status_notification_strategy" in read or "status" in read:
        return "status notifications"
    return "session"


def _field_bug(action: str | None, field: str) -> str:
    special = {("StopTransaction", "reason"): "WRONG_STOP_REASON",
               ("StatusNotification", "status"): "WRONG_CONNECTOR_STATUS",
               ("StatusNotification", "errorCode"): "WRONG_ERROR_CODE"}
    if (action, field) in special:
        return special[(action, field)]
    if field == "idTag":
        return "WRONG_ID_TAG"
    return f"WRONG_{_snake(action or 'MESSAGE')}_{_snake(field)}"


def _snake(name: str) -> str:
    out = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name))
    return out.upper().replace("__", "_")


def _rule_bug(r: Rule, operator: str) -> str:
    if operator in ("TO",):
        return "WRONG_SESSION_PHASE"
    if operator == "EMIT-DEL":
        return "MISSING_MESSAGE"
    if operator.startswith("UPD"):
        return "WRONG_STATE_UPDATE"
    return "WRONG_CONDITION"


def _ocpp_enum(action: str | None, kind: str, field: str) -> EnumT | None:
    if action is None:
        return None
    info = (ocpp16.message_fields(action, kind) or {}).get(field)
    if info is not None and info.enum:
        return EnumT(tuple(info.enum))
    return None


def rule_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    defs = {n: d.expr for n, d in m.definitions.items()}
    phases = m.variables[m.control].type.values  # type: ignore[union-attr]
    for r in m.rules:
        ev = r.events[0] if r.events else None
        scope = scope_of(spec, m, ev)
        folded = fold(r.when, defs)
        read_all = read_names(r.when) | set().union(*(read_names(x) for _, x in r.do),
                                               *(read_names(v) for em in r.emit for _, v in em.fields))
        params = tuple(p for p in spec.parameters if p in read_all)
        area = area_of(read_all, r.events, r.id)
        ref = str(r.ref)
        where = _where(r.where)

        def make(op: str, n: int, what: str, desc: str, new: Rule, bug: str | None = None
                 ) -> Mutant:
            return Mutant(f"rule/{r.id}/{what}/{op}/{n}", "rule", f"rule {r.id}: {what}", op,
                          desc, area, bug or _rule_bug(r, op), ref, where, params, new)

        if not r.ignore or True:
            for n, (op, desc, g) in enumerate(expr_mutants(folded, scope)):
                new = dataclasses.replace(r, when=substitute(g, defs))
                yield make(op, n, "when", desc, new)
        for i, (var, val) in enumerate(r.do):
            rest = r.do[:i] + r.do[i + 1:]
            yield make("UPD-DEL", 0, f"do {var}", f"update `{var} = {to_label(val)}` deleted",
                       dataclasses.replace(r, do=rest))
            target = scope.get(var)
            for n, (op, desc, v) in enumerate(value_mutants(fold(val, defs), target, scope)):
                new = dataclasses.replace(
                    r, do=r.do[:i] + ((var, substitute(v, defs)),) + r.do[i + 1:])
                yield make("UPD-VAL", n, f"do {var}", f"{var}: {desc}", new)
        if r.to is not None:
            for ph in phases:
                if ph != r.to:
                    yield make("TO", 0, f"to {ph}", f"target phase {r.to} -> {ph}",
                               dataclasses.replace(r, to=ph))
        for i, em in enumerate(r.emit):
            label = em.indication or f"{em.message}{'.conf' if em.kind == 'result' else ''}"
            rest = r.emit[:i] + r.emit[i + 1:]
            yield make("EMIT-DEL", 0, f"emit {label}", f"{label} not sent",
                       dataclasses.replace(r, emit=rest))
            for j, (fname, val) in enumerate(em.fields):
                target = _ocpp_enum(em.message, em.kind, fname) or _value_type(val, scope)
                for n, (op, desc, v) in enumerate(value_mutants(fold(val, defs), target, scope)):
                    new_em = dataclasses.replace(
                        em, fields=em.fields[:j] + ((fname, substitute(v, defs)),)
                        + em.fields[j + 1:])
                    new = dataclasses.replace(r, emit=r.emit[:i] + (new_em,) + r.emit[i + 1:])
                    yield make("EMIT-FIELD", n, f"emit {label}.{fname}", f"{label}.{fname}: {desc}",
                               new, _field_bug(em.message, fname))


def _value_type(e: Expr, scope: dict[str, Type]) -> Type | None:
    if isinstance(e, Const) and isinstance(e.value, str):
        return None
    return _type_of(e, scope)


def definition_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    defs = {n: d.expr for n, d in m.definitions.items()}
    for name, d in m.definitions.items():
        others = {k: v for k, v in defs.items() if k != name}
        own = fold(d.expr, others)
        scope = scope_of(spec, m, None)
        # the event fields a definition reads (uid, ...) are typed by the rules' events
        for ev in m.events.values():
            for f in ev.fields:
                scope.setdefault(f.name, f.type)
        read = read_names(d.expr)
        params = tuple(p for p in spec.parameters if p in read)
        for n, (op, desc, g) in enumerate(expr_mutants(own, scope)):
            yield Mutant(f"definition/{name}/{op}/{n}", "definition", f"definition {name}", op,
                         desc, area_of(read | {name}), "WRONG_CONDITION", str(d.ref),
                         _where(d.where), params, (name, g))


def observation_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    defs = {n: d.expr for n, d in m.definitions.items()}
    scope = scope_of(spec, m, None)
    for o in m.observations:
        bug = {"status": "WRONG_CONNECTOR_STATUS", "led": "WRONG_LED", "lock": "WRONG_LOCK",
               "contactor": "WRONG_CONTACTOR", "offered_current": "WRONG_OFFERED_CURRENT",
               "pwm": "WRONG_PWM", "limit": "WRONG_CURRENT_LIMIT"}.get(o.name,
                                                                       f"WRONG_{_snake(o.name)}")
        area = ("status notifications" if o.name in ("status", "reported_error", "error_code",
                                                     "vendor_code", "error_info")
                else "PWM/LED/lock")
        if o.kind == "expr" and o.expr is not None:
            read = read_names(o.expr)
            params = tuple(p for p in spec.parameters if p in read)
            for n, (op, desc, v) in enumerate(value_mutants(fold(o.expr, defs), o.type, scope)):
                yield Mutant(f"observation/{o.name}/{op}/{n}", "observation",
                             f"observation {o.name}", op, desc, area, bug, str(o.ref),
                             _where(o.where), params, (o.name, None, substitute(v, defs)))
        for k, c in enumerate(o.cases):
            read = read_names(c.when) | read_names(c.value)
            params = tuple(p for p in spec.parameters if p in read)
            where = _where(c.where)
            for n, (op, desc, v) in enumerate(value_mutants(c.value, o.type, scope)):
                new = dataclasses.replace(c, value=v)
                yield Mutant(f"observation/{o.name}/case{k}/value/{op}/{n}", "observation",
                             f"observation {o.name}, case {k + 1}", "CELL",
                             f"{o.name} case `{to_label(fold(c.when, defs))}`: {desc}", area, bug,
                             str(c.ref or o.ref), where, params, (o.name, k, new))
            if not (isinstance(c.when, Const) and c.when.value is True):
                for n, (op, desc, g) in enumerate(expr_mutants(fold(c.when, defs), scope)):
                    new = dataclasses.replace(c, when=substitute(g, defs))
                    yield Mutant(f"observation/{o.name}/case{k}/when/{op}/{n}", "observation",
                                 f"observation {o.name}, case {k + 1} condition", op, desc, area,
                                 bug, str(c.ref or o.ref), where, params, (o.name, k, new))


def notify_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    defs = {n: d.expr for n, d in m.definitions.items()}
    scope = scope_of(spec, m, None)
    for i, nt in enumerate(m.notify):
        read = read_names(nt.when) | set().union(*(read_names(v) for em in nt.emit for _, v in em.fields))
        params = tuple(p for p in spec.parameters if p in read)
        area = "errors" if "error" in nt.id else "status notifications"
        if not (isinstance(nt.when, Const) and nt.when.value is True):
            for n, (op, desc, g) in enumerate(expr_mutants(fold(nt.when, defs), scope)):
                new = dataclasses.replace(nt, when=substitute(g, defs))
                yield Mutant(f"notify/{nt.id}/when/{op}/{n}", "notify", f"notification {nt.id}",
                             op, desc, area, "WRONG_NOTIFICATION", str(nt.ref), _where(nt.where),
                             params, (i, new))
        for j, em in enumerate(nt.emit):
            for k, (fname, val) in enumerate(em.fields):
                target = _ocpp_enum(em.message, em.kind, fname) or _value_type(val, scope)
                for n, (op, desc, v) in enumerate(value_mutants(fold(val, defs), target, scope)):
                    new_em = dataclasses.replace(
                        em, fields=em.fields[:k] + ((fname, substitute(v, defs)),)
                        + em.fields[k + 1:])
                    new = dataclasses.replace(nt, emit=nt.emit[:j] + (new_em,) + nt.emit[j + 1:])
                    yield Mutant(f"notify/{nt.id}/{fname}/{op}/{n}", "notify",
                                 f"notification {nt.id}: {em.message}.{fname}", "EMIT-FIELD",
                                 f"{em.message}.{fname}: {desc}", area,
                                 _field_bug(em.message, fname), str(nt.ref), _where(nt.where),
                                 params, (i, new))


def filter_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    defs = {n: d.expr for n, d in m.definitions.items()}
    scope = scope_of(spec, m, None)
    for i, f in enumerate(m.filters):
        read = read_names(f.when)
        params = tuple(p for p in spec.parameters if p in read)
        for n, (op, desc, g) in enumerate(expr_mutants(fold(f.when, defs), scope)):
            yield Mutant(f"filter/{f.id}/when/{op}/{n}", "filter", f"filter {f.id}", op, desc,
                         "free charging", "WRONG_MESSAGE_FILTER", str(f.ref), _where(f.where),
                         params, (i, dataclasses.replace(f, when=substitute(g, defs))))
        for k, action in enumerate(f.drop):
            if len(f.drop) > 1:
                yield Mutant(f"filter/{f.id}/drop/{action}", "filter", f"filter {f.id}", "SET",
                             f"{action} no longer dropped", "free charging",
                             "WRONG_MESSAGE_FILTER", str(f.ref), _where(f.where), params,
                             (i, dataclasses.replace(f, drop=f.drop[:k] + f.drop[k + 1:])))


def constant_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    """Cells of the tables the session reads: the error table's columns (as the derived sets
    and tables) and the policy tables (Free Charging, If in doubt).  A table no rule,
    observation, notification or filter reads (the stop reasons the step invariant stop_reason
    checks against) has no behaviour to change."""
    users: dict[str, set[str]] = {}
    for r in m.rules:
        for n in read_names(r.when) | set().union(*(read_names(x) for _, x in r.do),
                                             *(read_names(v) for em in r.emit for _, v in em.fields)):
            users.setdefault(n, set()).add(r.id)
    for o in m.observations:
        for e in ([o.expr] if o.expr is not None else []) + [x for c in o.cases
                                                            for x in (c.when, c.value)]:
            for n in read_names(e):
                users.setdefault(n, set()).add(o.name)
    for n in m.notify:
        for e in [n.when] + [v for em in n.emit for _, v in em.fields]:
            for x in read_names(e):
                users.setdefault(x, set()).add(n.id)
    for f in m.filters:
        for x in read_names(f.when):
            users.setdefault(x, set()).add(f.id)
    context = _context_parameters(spec, m)
    for cname, (ctype, value) in spec.constants.items():
        if cname not in users:  # read by no behaviour (only by an invariant, say): no mutant
            continue
        policy = next((p for p in spec.policies.values()
                       if cname.startswith(p.name) or cname in _policy_columns(p)), None)
        # where a cell can show: the parameters every expression that reads the table reads
        params = context.get(cname, ())
        if policy is not None:
            area = "free charging" if policy.name.startswith("free") else "if-in-doubt"
            where, ref = _where(policy.where), policy.file
        else:
            area, where, ref = "errors", "spec/errors.yaml", "§9"
        if isinstance(ctype, SetT):
            for member in ctype.domain:
                new = value - {member} if member in value else value | {member}
                verb = "removed from" if member in value else "added to"
                row = spec.errors.get(member)
                yield Mutant(f"constant/{cname}/{member}", "constant", f"table {cname}", "SET",
                             f"{member} {verb} {cname}", area, "WRONG_ERROR_TABLE_ROW",
                             str(row.ref) if row else ref,
                             _where(row.where) if row else where, params,
                             (cname, frozenset(new)))
        elif isinstance(ctype, TableT):
            column = sorted({v for v in value.values() if v is not None}, key=str)
            for key in ctype.keys:
                cell = value[key]
                if isinstance(ctype.value, (EnumT, BoolT, IntT)):
                    alts = _alternatives(cell, ctype.value)
                else:  # free text and codes: another value of the same column
                    alts = [v for v in column if v != cell][:1]
                    if cell is not None and not alts:
                        alts = [None]
                for n, v in enumerate(alts):
                    new = dict(value)
                    new[key] = v
                    row = spec.errors.get(key)
                    yield Mutant(f"constant/{cname}/{key}/{n}", "constant",
                                 f"table {cname}[{key}]", "CELL", f"{cname}[{key}]: "
                                 f"{cell!r} -> {v!r}", area,
                                 "WRONG_" + _snake(cname.replace("_", " ").title().replace(" ", "")),
                                 str(row.ref) if row else ref,
                                 _where(row.where) if row else where, params, (cname, new))


def _context_parameters(spec: Spec, m: Machine) -> dict[str, tuple[str, ...]]:
    """Constant -> the parameters read by the rules, observations, notifications and filters
    that read it (the settings under which a changed cell can show)."""
    groups: list[list[Expr]] = []
    for r in m.rules:
        groups.append([r.when, *[x for _, x in r.do], *[v for em in r.emit for _, v in em.fields]])
    for o in m.observations:
        groups.append(([o.expr] if o.expr is not None else [])
                      + [x for c in o.cases for x in (c.when, c.value)])
    for n in m.notify:
        groups.append([n.when, *[v for em in n.emit for _, v in em.fields]])
    for f in m.filters:
        groups.append([f.when])
    out: dict[str, set[str]] = {}
    for exprs in groups:
        read = set().union(*(read_names(e) for e in exprs))
        for c in read & set(spec.constants):
            out.setdefault(c, set()).update(read & set(spec.parameters))
    return {c: tuple(p for p in spec.parameters if p in ps) for c, ps in out.items()}


def _policy_columns(p: Any) -> set[str]:
    return {f"{p.name}_{c}" for c in p.columns}


def pilot_mutants(spec: Spec) -> Iterator[Mutant]:
    """The control pilot table (IEC 61851-1 duty cycle <-> current)."""
    t = spec.pilot
    for name in ("minimum_current", "no_pwm_duty", "hlc_duty"):
        v = getattr(t, name)
        for n, alt in enumerate(_num_alts(v)):
            yield Mutant(f"pilot/{name}/{n}", "pilot", f"control pilot {name}", "CELL",
                         f"{name} {v} -> {alt}", "PWM/LED/lock", "WRONG_DUTY_CYCLE",
                         "IEC 61851-1 Table A.8", "spec/control_pilot.yaml", (),
                         dataclasses.replace(t, **{name: alt}))
    for k, seg in enumerate(t.segments):
        for f in ("min_amps", "max_amps", "per_amp", "offset"):
            v = getattr(seg, f)
            for n, alt in enumerate(_num_alts(v)):
                segs = list(t.segments)
                segs[k] = dataclasses.replace(seg, **{f: alt})
                yield Mutant(f"pilot/segment{k}/{f}/{n}", "pilot",
                             f"control pilot segment {k + 1} {f}", "CELL",
                             f"segment {seg.min_amps}-{seg.max_amps} A: {f} {v} -> {alt}",
                             "PWM/LED/lock", "WRONG_DUTY_CYCLE", "IEC 61851-1 Table A.8",
                             "spec/control_pilot.yaml", (),
                             dataclasses.replace(t, segments=tuple(segs)))


def _num_alts(v: Any) -> list[Any]:
    if isinstance(v, int):
        return [v - 1, v + 1]
    return [round(v * 0.9, 6), round(v * 1.1, 6)] if v else [1.0]


def initial_mutants(spec: Spec, m: Machine) -> Iterator[Mutant]:
    scope = scope_of(spec, m, None)
    for v in m.variables.values():
        if v.transient:
            continue
        for n, (op, desc, e) in enumerate(value_mutants(v.initial, v.type, scope)):
            read = read_names(e)
            yield Mutant(f"initial/{v.name}/{n}", "initial", f"variable {v.name}: initial", "INIT",
                         f"initial {v.name}: {desc}", area_of({v.name} | read), "WRONG_INITIAL_STATE",
                         str(v.ref), _where(v.where),
                         tuple(p for p in spec.parameters if p in read), (v.name, e))


def default_mutants(spec: Spec) -> Iterator[Mutant]:
    for pid, p in spec.parameters.items():
        if p.kind == "enum":
            alts = [v for v in p.values if v != p.default]
        elif p.kind == "bool":
            alts = [not p.default]
        elif p.kind == "int" and isinstance(p.default, int) and not isinstance(p.default, bool):
            alts = [x for x in dict.fromkeys((p.default - 1, p.default + 1, p.min, p.max))
                    if x is not None and x != p.default
                    and (p.min is None or x >= p.min) and (p.max is None or x <= p.max)]
        elif p.kind == "list":
            alts = [[]] if p.default else [["CARD_A"]]
        else:
            alts = []
        for n, v in enumerate(alts):
            yield Mutant(f"default/{pid}/{n}", "default", f"parameter {pid}: default", "DEFAULT",
                         f"factory default of {p.ui_name}: {p.default!r} -> {v!r}",
                         area_of({pid}), "WRONG_FACTORY_DEFAULT", p.manual, _where(p.where),
                         (pid,), (pid, v))


def helper_mutants() -> Iterator[Mutant]:
    from chargespec.expr import WRONG_LISTED
    from chargespec.models.pwm import WRONG_DUTY_CYCLES
    from chargespec.rfid import WRONG_RENDERINGS
    for name, (fn, desc) in WRONG_RENDERINGS.items():
        yield Mutant(f"helper/render_uid/{name}", "helper", "helper render_uid (§5.3)", "HELPER",
                     desc, "authorization", "WRONG_UID_RENDERING", "§5.3", "chargespec/rfid.py",
                     ("rfid_tag_letter_case",), ("render_uid", fn))
    for name, (fn, desc) in WRONG_LISTED.items():
        yield Mutant(f"helper/listed/{name}", "helper", "helper listed (§5.5)", "HELPER", desc,
                     "authorization", "CASE_INSENSITIVE_WHITELIST" if "case" in name
                     else "WRONG_WHITELIST_MATCH", "§5.5", "chargespec/expr.py",
                     ("enable_local_whitelist", "local_whitelist", "master_slave_mode"),
                     ("listed", fn))
    for name, (fn, desc) in WRONG_DUTY_CYCLES.items():
        yield Mutant(f"helper/duty_cycle/{name}", "helper", "helper duty_cycle (IEC 61851-1)",
                     "HELPER", desc, "PWM/LED/lock", "WRONG_DUTY_CYCLE", "§7.1",
                     "chargespec/models/pwm.py", ("operator_current_limit",), ("duty_cycle", fn))


def generate(spec: Spec, machine: str = "session") -> list[Mutant]:
    """Every mutant of the spec, in a stable order; ids are unique."""
    m = spec.machine(machine)
    out = [*rule_mutants(spec, m), *definition_mutants(spec, m), *observation_mutants(spec, m),
           *notify_mutants(spec, m), *filter_mutants(spec, m), *constant_mutants(spec, m),
           *pilot_mutants(spec), *initial_mutants(spec, m), *default_mutants(spec),
           *helper_mutants()]
    seen: dict[str, int] = {}
    unique = []
    for mu in out:
        k = seen.get(mu.id, 0)
        seen[mu.id] = k + 1
        unique.append(mu if k == 0 else dataclasses.replace(mu, id=f"{mu.id}~{k}"))
    return unique


# ---- building a mutant's spec ----------------------------------------------------------------

def mutated_spec(spec: Spec, mu: Mutant, machine: str = "session") -> Spec:
    """The spec with the mutant's change (helpers: the spec unchanged; see `helpers`)."""
    m = spec.machine(machine)
    if mu.kind == "rule":
        rules = tuple(mu.payload if r.id == mu.payload.id else r for r in m.rules)
        return _with_machine(spec, dataclasses.replace(m, rules=rules))
    if mu.kind == "definition":
        return _with_machine(spec, redefine(spec, m, *mu.payload))
    if mu.kind == "observation":
        name, k, new = mu.payload
        obs = []
        for o in m.observations:
            if o.name == name:
                if k is None:
                    o = dataclasses.replace(o, expr=new)
                else:
                    o = dataclasses.replace(o, cases=o.cases[:k] + (new,) + o.cases[k + 1:])
            obs.append(o)
        return _with_machine(spec, dataclasses.replace(m, observations=tuple(obs)))
    if mu.kind == "notify":
        i, new = mu.payload
        return _with_machine(spec, dataclasses.replace(
            m, notify=m.notify[:i] + (new,) + m.notify[i + 1:]))
    if mu.kind == "filter":
        i, new = mu.payload
        return _with_machine(spec, dataclasses.replace(
            m, filters=m.filters[:i] + (new,) + m.filters[i + 1:]))
    if mu.kind == "constant":
        cname, value = mu.payload
        consts = dict(spec.constants)
        consts[cname] = (consts[cname][0], value)
        return dataclasses.replace(spec, constants=consts)
    if mu.kind == "pilot":
        return dataclasses.replace(spec, pilot=mu.payload)
    if mu.kind == "initial":
        name, e = mu.payload
        vs = dict(m.variables)
        vs[name] = dataclasses.replace(vs[name], initial=e)
        return _with_machine(spec, dataclasses.replace(m, variables=vs))
    if mu.kind == "default":
        pid, v = mu.payload
        ps = dict(spec.parameters)
        ps[pid] = dataclasses.replace(ps[pid], default=v)
        return dataclasses.replace(spec, parameters=ps)
    return spec


def helpers(mu: Mutant) -> dict[str, Callable[..., Any]]:
    return {mu.payload[0]: mu.payload[1]} if mu.kind == "helper" else {}


def _with_machine(spec: Spec, m: Machine) -> Spec:
    machines = dict(spec.machines)
    machines[m.name] = m
    return dataclasses.replace(spec, machines=machines)


def redefine(spec: Spec, m: Machine, name: str, own: Expr) -> Machine:
    """The machine with definition `name` now `own` (written with the other definitions'
    names), re-expanded in every rule, observation, notification and filter that uses it."""
    old = {n: d.expr for n, d in m.definitions.items()}
    new: dict[str, Expr] = {}
    for n, d in m.definitions.items():  # definitions come after those they use
        others = {k: v for k, v in old.items() if k != n}
        body = own if n == name else fold(d.expr, others)
        new[n] = substitute(body, new)

    def re(e: Expr) -> Expr:
        return substitute(fold(e, old), new)
    rules = tuple(dataclasses.replace(
        r, when=re(r.when), do=tuple((v, re(x)) for v, x in r.do),
        emit=tuple(_re_emit(em, re) for em in r.emit)) for r in m.rules)
    obs = tuple(dataclasses.replace(
        o, expr=re(o.expr) if o.expr is not None else None,
        cases=tuple(dataclasses.replace(c, when=re(c.when), value=re(c.value)) for c in o.cases))
        for o in m.observations)
    notify = tuple(dataclasses.replace(n, when=re(n.when), emit=tuple(_re_emit(e, re)
                                                                        for e in n.emit))
                   for n in m.notify)
    filters = tuple(dataclasses.replace(f, when=re(f.when)) for f in m.filters)
    defs = {n: dataclasses.replace(d, expr=new[n]) for n, d in m.definitions.items()}
    return dataclasses.replace(m, rules=rules, observations=obs, notify=notify, filters=filters,
                               definitions=defs)


def _re_emit(em: Emit, re: Callable[[Expr], Expr]) -> Emit:
    return dataclasses.replace(em, fields=tuple((k, re(v)) for k, v in em.fields))
