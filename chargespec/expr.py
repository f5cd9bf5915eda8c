"""The expression language of guards, updates and observations: one parser, typed AST, back ends.

Guards (`when:`), updates (`do:`), message fields and observations in `spec/*.yaml` are written
in a restricted subset of Python expression syntax.  This module is the only place that reads
them.  It parses with `ast` (never `eval`), rejects every construct outside the subset with the
file and line, type-checks names and literals against their finite domains, and hands the
resulting AST to back ends.  A back end is a `Backend` subclass with one `visit_<Node>` method
per node class; the Python closure compiler and the label printer live here, and the Z3,
Promela and diagram back ends are added beside them without touching the parser.

The subset:
  names      state variables, configuration parameters, fields of the rule's event,
             earlier observations (in observation expressions)
  literals   'strings' (enum values, tokens), integers, True, False, None (a token's "none")
  lists      [a, b, ...] on the right of `in` / `not in`
  compare    == != < <= > >= in, not in (chains like a < b < c are read as a < b and b < c)
  boolean    and, or, not
  integers   + and - (binary and unary), min(...) and max(...)
  choice     A if C else B
  sets       finite sets of one enum domain (the §9 error ids): `x in S`, `S | T`, `S & T`,
             `S - T`, `{a, b}` (a set display), `any(S)` (S is not empty), `first(S)` (the
             first member in domain order, or 'none'); sets of tokens (the authorization
             cache): `x in S`, `S | {x}`, `S - {x}`, and `{}` the empty set
  whitelist  `listed(uid, whitelist, n)`: uid is an entry of the list, plainly or with the
             connector postfix `#n` (§5.5)
  tables     `table[key]` reads a constant table of the spec (e.g. error_code[e]); a key
             outside the table is a load error
  steps      only in a step invariant (a property of one step of the machine): `old.x` and
             `new.x` are state variable or observation x before and after the step, `event` the
             event's name and `event.f` its field f; `sent('Action')` counts the messages of
             that OCPP action the step sends ('*': every message), `dropped('Action')` says the
             configuration's filters drop that action, `every('Action', 'field', v)` says each
             such message has field == v (v a list: field in v; an absent field is None), and
             `permitted(a, b)` says OCPP 1.6 §4.9 lets the connector status go from a to b
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import SpecError, Where
from .rfid import POSTFIX_SEPARATOR  # a whitelist entry's connector postfix (§5.5)

# ---------------------------------------------------------------------------------------------
# Types: every name has a finite domain, so every back end (Z3, Promela) can encode it.


@dataclass(frozen=True)
class Type:
    def describe(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__


@dataclass(frozen=True)
class BoolT(Type):
    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True)
class IntT(Type):
    lo: int
    hi: int

    def describe(self) -> str:
        return f"int {self.lo}..{self.hi}"


@dataclass(frozen=True)
class EnumT(Type):
    values: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class TokenT(Type):
    """An opaque identifier (an RFID UID, an idTag): only equality and list membership."""

    nullable: bool = True

    def describe(self) -> str:
        return "token" + (" or None" if self.nullable else "")


@dataclass(frozen=True)
class ListT(Type):
    elem: Type

    def describe(self) -> str:
        return f"list of {self.elem.describe()}"


@dataclass(frozen=True)
class SetT(Type):
    """A subset of a finite enum domain; `domain` is in its canonical order."""

    domain: tuple[str, ...]

    def describe(self) -> str:
        return "set of " + ", ".join(repr(v) for v in self.domain)


@dataclass(frozen=True)
class TokenSetT(Type):
    """A finite set of tokens (the authorization cache): membership, `| {x}`, `- {x}`, `{}`.

    Its members are the tokens the run has met, so back ends that need a finite domain encode
    it over the tokens of the exploration (the `explore:` values of token fields)."""

    def describe(self) -> str:
        return "set of tokens"


@dataclass(frozen=True)
class TableT(Type):
    """A constant table from enum keys to values of one type."""

    keys: tuple[str, ...]
    value: Type

    def describe(self) -> str:
        return f"table from {len(self.keys)} keys to {self.value.describe()}"


@dataclass(frozen=True)
class _LitStr(Type):
    """The type of a string literal before it meets an enum or token."""

    value: str

    def describe(self) -> str:
        return f"string {self.value!r}"


@dataclass(frozen=True)
class _NoneT(Type):
    def describe(self) -> str:
        return "None"


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Expr:
    pass


@dataclass(frozen=True)
class Const(Expr):
    value: Any  # str | int | bool | None


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class ListLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class SetLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Lookup(Expr):
    table: str
    key: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str  # "and" | "or"
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # "==" "!=" "<" "<=" ">" ">=" "in" "not in"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Arith(Expr):
    op: str  # "+" | "-" on integers; "|" "&" "-" on sets
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: str  # "min" | "max" | "any" | "first"
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


TRUE = Const(True)

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
        ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in"}
_FUNCS = ("min", "max", "any", "first", "listed", "sent", "dropped", "every", "permitted")
# the functions of one step (step invariants only), with their number of arguments; a back end
# asks its resolver for `name()` and calls what it gets with (back end, call): the step's
# messages and the configuration's filters are the caller's, not the language's
STEP_FUNCS = {"sent": 1, "dropped": 1, "every": 3, "permitted": 2}
# the names before the dot of `old.x`, `new.x`, `event.f`
STEP_PREFIXES = ("old", "new", "event")
MAX_SENT = 99  # the bound of sent(...): messages one step may send


def listed(uid: Any, entries: Any, charge_point: int) -> bool:
    """`uid` is in the whitelist `entries` for `charge_point`: plain, or with its postfix."""
    return uid is not None and (uid in entries or f"{uid}{POSTFIX_SEPARATOR}{charge_point}"
                                in entries)


def _listed_case_insensitive(uid: Any, entries: Any, charge_point: int) -> bool:
    return uid is not None and listed(str(uid).lower(), [str(e).lower() for e in entries],
                                      charge_point)


def _listed_any_postfix(uid: Any, entries: Any, charge_point: int) -> bool:
    return uid is not None and any(str(e).partition(POSTFIX_SEPARATOR)[0] == uid
                                   for e in entries)


def _listed_plain_only(uid: Any, entries: Any, charge_point: int) -> bool:
    return uid is not None and uid in entries


def _listed_prefix(uid: Any, entries: Any, charge_point: int) -> bool:
    return uid is not None and any(
        str(e).partition(POSTFIX_SEPARATOR)[0][:8] == str(uid)[:8]
        and (POSTFIX_SEPARATOR not in str(e)
             or str(e).partition(POSTFIX_SEPARATOR)[2] == str(charge_point))
        for e in entries)


# plausible wrong versions of the §5.5 match (mutation analysis, checkers/mutants.py)
WRONG_LISTED = {
    "case_insensitive": (_listed_case_insensitive, "whitelist entries match in any letter case"),
    "any_postfix": (_listed_any_postfix, "an entry with another charge point's postfix matches"),
    "plain_only": (_listed_plain_only, "entries with this charge point's postfix do not match"),
    "first_four_bytes": (_listed_prefix, "only the first 4 bytes of the UID are compared"),
}


def parse(source: Any, where: Where) -> Expr:
    """Parse one expression (a YAML scalar) into the AST, or raise SpecError at `where`."""
    if isinstance(source, bool) or source is None or isinstance(source, int):
        return Const(source)
    if not isinstance(source, str):
        raise SpecError(where, f"expected an expression, got {type(source).__name__} {source!r}")
    # folded YAML keeps the line breaks of more-indented lines; an expression is one line
    text = " ".join(line.strip() for line in source.strip().splitlines())
    if not text:
        raise SpecError(where, "empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise SpecError(where, f"syntax error in expression {text!r}: {exc.msg}") from None
    return _Converter(text, where).convert(tree.body)


class _Converter:
    def __init__(self, text: str, where: Where):
        self.text = text
        self.where = where

    def fail(self, node: ast.AST, what: str) -> SpecError:
        col = getattr(node, "col_offset", None)
        at = f" (column {col + 1})" if col is not None else ""
        return SpecError(self.where, f"{what} is not allowed in expression {self.text!r}{at}")

    def convert(self, node: ast.AST) -> Expr:
        method = getattr(self, "c_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, _describe_node(node))
        return method(node)

    def c_Constant(self, node: ast.Constant) -> Expr:
        if node.value is None or isinstance(node.value, (bool, int, str)):
            return Const(node.value)
        raise self.fail(node, f"the literal {node.value!r}")

    def c_Name(self, node: ast.Name) -> Expr:
        return Name(node.id)

    def c_List(self, node: ast.List) -> Expr:
        return ListLit(tuple(self.convert(e) for e in node.elts))

    c_Tuple = c_List

    def c_Set(self, node: ast.Set) -> Expr:
        return SetLit(tuple(self.convert(e) for e in node.elts))

    def c_Dict(self, node: ast.Dict) -> Expr:
        if node.keys:
            raise self.fail(node, "a dict")
        return SetLit(())  # `{}` is the empty set in this language

    def c_Attribute(self, node: ast.Attribute) -> Expr:
        if not (isinstance(node.value, ast.Name) and node.value.id in STEP_PREFIXES):
            raise self.fail(node, "attribute access (only old.x, new.x and event.f, in a step "
                                  "invariant)")
        return Name(f"{node.value.id}.{node.attr}")

    def c_Subscript(self, node: ast.Subscript) -> Expr:
        if not isinstance(node.value, ast.Name) or isinstance(node.slice, ast.Slice):
            raise self.fail(node, "indexing other than table[key]")
        return Lookup(node.value.id, self.convert(node.slice))

    def c_BoolOp(self, node: ast.BoolOp) -> Expr:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(op, tuple(self.convert(v) for v in node.values))

    def c_UnaryOp(self, node: ast.UnaryOp) -> Expr:
        if isinstance(node.op, ast.Not):
            return Not(self.convert(node.operand))
        if isinstance(node.op, ast.USub):
            inner = self.convert(node.operand)
            if isinstance(inner, Const) and type(inner.value) is int:
                return Const(-inner.value)
            return Arith("-", Const(0), inner)
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        raise self.fail(node, f"the operator {type(node.op).__name__}")

    def c_BinOp(self, node: ast.BinOp) -> Expr:
        ops = {ast.Add: "+", ast.Sub: "-", ast.BitOr: "|", ast.BitAnd: "&"}
        op = ops.get(type(node.op))
        if op is None:
            raise self.fail(node, f"the operator {type(node.op).__name__} (only + - | &)")
        return Arith(op, self.convert(node.left), self.convert(node.right))

    def c_Compare(self, node: ast.Compare) -> Expr:
        parts: list[Expr] = []
        left = self.convert(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            name = _CMP.get(type(op))
            if name is None:
                raise self.fail(node, f"the comparison {type(op).__name__}")
            right = self.convert(comparator)
            parts.append(Compare(name, left, right))
            left = right
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def c_IfExp(self, node: ast.IfExp) -> Expr:
        return IfExp(self.convert(node.test), self.convert(node.body), self.convert(node.orelse))

    def c_Call(self, node: ast.Call) -> Expr:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            callee = ast.unparse(node.func)
            raise self.fail(node, f"a call of {callee!r} (only {', '.join(_FUNCS)})")
        if node.keywords or not node.args or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"this form of {node.func.id}(...)")
        if node.func.id in ("any", "first") and len(node.args) != 1:
            raise self.fail(node, f"{node.func.id}(...) with {len(node.args)} arguments")
        if node.func.id == "listed" and len(node.args) != 3:
            raise self.fail(node, f"listed(...) with {len(node.args)} arguments "
                                  f"(listed(uid, whitelist, charge_point))")
        arity = STEP_FUNCS.get(node.func.id)
        if arity is not None and len(node.args) != arity:
            raise self.fail(node, f"{node.func.id}(...) with {len(node.args)} arguments "
                                  f"(it takes {arity})")
        return Call(node.func.id, tuple(self.convert(a) for a in node.args))


def _describe_node(node: ast.AST) -> str:
    return {
        "Attribute": "attribute access",
        "Lambda": "a lambda",
        "NamedExpr": "assignment (:=)",
        "Dict": "a dict",
        "ListComp": "a comprehension",
        "SetComp": "a comprehension",
        "DictComp": "a comprehension",
        "GeneratorExp": "a generator",
        "JoinedStr": "an f-string",
        "Await": "await",
        "Yield": "yield",
        "Starred": "unpacking",
    }.get(type(node).__name__, f"the construct {type(node).__name__}")


# ---------------------------------------------------------------------------------------------
# Type checking: every name known, every literal in its domain.


def check(expr: Expr, scope: Mapping[str, Type], where: Where, *, context: str = "",
          step: bool = False) -> Type:
    """Type-check `expr` against `scope` (name -> Type); return its type or raise SpecError.
    `step`: a step invariant's expression, which may call the step functions (STEP_FUNCS)."""
    return _Checker(scope, where, context, step).type_of(expr)


def check_bool(expr: Expr, scope: Mapping[str, Type], where: Where, *, context: str = "",
               step: bool = False) -> None:
    t = check(expr, scope, where, context=context, step=step)
    if not isinstance(t, BoolT):
        raise SpecError(where, f"{context or 'guard'} must be a condition, but "
                               f"{to_label(expr)!r} is {t.describe()}")


def check_assignable(expr: Expr, target: Type, scope: Mapping[str, Type], where: Where,
                     *, context: str) -> None:
    """Check that the value of `expr` fits a variable (or field) of type `target`."""
    t = check(expr, scope, where, context=context)
    if not _assignable(t, target):
        raise SpecError(where, f"{context}: {to_label(expr)!r} is {t.describe()}, "
                               f"which does not fit {target.describe()}")
    if isinstance(target, IntT) and isinstance(t, IntT) and (t.lo < target.lo or t.hi > target.hi):
        # A wider computed range is allowed only when it provably stays inside; constants must.
        if isinstance(expr, Const):
            raise SpecError(where, f"{context}: {expr.value} is outside {target.describe()}")


def _assignable(t: Type, target: Type) -> bool:
    if isinstance(target, EnumT):
        return (isinstance(t, _LitStr) and t.value in target.values) or (
            isinstance(t, EnumT) and set(t.values) <= set(target.values))
    if isinstance(target, TokenT):
        return isinstance(t, (TokenT, _LitStr)) or (isinstance(t, _NoneT) and target.nullable)
    if isinstance(target, IntT):
        return isinstance(t, IntT)
    if isinstance(target, BoolT):
        return isinstance(t, BoolT)
    if isinstance(target, ListT):
        return isinstance(t, ListT)
    if isinstance(target, SetT):
        return isinstance(t, SetT) and set(t.domain) <= set(target.domain)
    if isinstance(target, TokenSetT):
        return isinstance(t, TokenSetT) or (isinstance(t, SetT) and not t.domain)
    return False


class _Checker:
    def __init__(self, scope: Mapping[str, Type], where: Where, context: str, step: bool = False):
        self.scope = scope
        self.where = where
        self.context = context
        self.step = step

    def fail(self, message: str) -> SpecError:
        prefix = f"{self.context}: " if self.context else ""
        return SpecError(self.where, prefix + message)

    def type_of(self, e: Expr) -> Type:
        return getattr(self, "t_" + type(e).__name__)(e)

    def t_Const(self, e: Const) -> Type:
        v = e.value
        if v is None:
            return _NoneT()
        if isinstance(v, bool):
            return BoolT()
        if isinstance(v, int):
            return IntT(v, v)
        return _LitStr(v)

    def t_Name(self, e: Name) -> Type:
        if e.id in self.scope:
            return self.scope[e.id]
        if "." in e.id and not self.step:
            raise self.fail(f"{e.id!r}: old.x, new.x and event.f belong to step invariants")
        near = difflib.get_close_matches(e.id, list(self.scope), n=1, cutoff=0.5)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise self.fail(f"unknown name {e.id!r}: not a state variable, parameter, event field "
                        f"or observation here{hint}")

    def t_ListLit(self, e: ListLit) -> Type:
        types = [self.type_of(i) for i in e.items]
        if not types:
            return ListT(_NoneT())
        return ListT(types[0])

    def t_SetLit(self, e: SetLit) -> Type:
        domain: tuple[str, ...] | None = None
        item_types = [self.type_of(i) for i in e.items]
        if any(isinstance(t, TokenT) for t in item_types):
            bad = [to_label(i) for i, t in zip(e.items, item_types)
                   if not isinstance(t, (TokenT, _LitStr))]
            if bad:
                raise self.fail(f"a set of tokens cannot hold {bad[0]!r}")
            return TokenSetT()
        for item, t in zip(e.items, item_types):
            if isinstance(t, EnumT):
                domain = t.values if domain is None else domain
            elif not isinstance(t, _LitStr):
                raise self.fail(f"members of a set display are enum values, not {t.describe()} "
                                f"({to_label(item)!r})")
        if domain is None:
            # only literals: their own domain, checked against the other operand where used
            domain = tuple(dict.fromkeys(i.value for i in e.items))  # type: ignore[attr-defined]
        return SetT(domain)

    def t_Lookup(self, e: Lookup) -> Type:
        t = self.scope.get(e.table)
        if not isinstance(t, TableT):
            raise self.fail(f"{e.table!r} is not a table of the spec"
                            + ("" if t is None else f" (it is {t.describe()})"))
        kt = self.type_of(e.key)
        if isinstance(kt, _LitStr):
            if kt.value not in t.keys:
                raise self.fail(f"{kt.value!r} is not a key of table {e.table}")
        elif not (isinstance(kt, EnumT) and set(kt.values) <= set(t.keys)):
            raise self.fail(f"key {to_label(e.key)!r} of table {e.table} is {kt.describe()}; "
                            f"the table's keys are {', '.join(t.keys)}")
        return t.value

    def t_Not(self, e: Not) -> Type:
        self.want_bool(e.operand, "operand of 'not'")
        return BoolT()

    def t_BoolOp(self, e: BoolOp) -> Type:
        for o in e.operands:
            self.want_bool(o, f"operand of '{e.op}'")
        return BoolT()

    def want_bool(self, e: Expr, what: str) -> None:
        t = self.type_of(e)
        if not isinstance(t, BoolT):
            raise self.fail(f"{what} must be a condition, but {to_label(e)!r} is {t.describe()}")

    def t_Compare(self, e: Compare) -> Type:
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        if e.op in ("in", "not in") and isinstance(rt, TokenSetT):
            if not isinstance(lt, (TokenT, _LitStr)):
                raise self.fail(f"{to_label(e.left)!r} ({lt.describe()}) cannot be a member of "
                                f"{to_label(e.right)!r} (a set of tokens)")
            return BoolT()
        if e.op in ("in", "not in") and isinstance(rt, SetT):
            if isinstance(lt, _LitStr):
                ok = lt.value in rt.domain
            else:
                ok = isinstance(lt, EnumT) and set(lt.values) <= set(rt.domain) | {"none"}
            if not ok:
                raise self.fail(f"{to_label(e.left)!r} ({lt.describe()}) cannot be a member of "
                                f"{to_label(e.right)!r} ({rt.describe()})")
            return BoolT()
        if e.op in ("in", "not in"):
            if not isinstance(rt, ListT):
                raise self.fail(f"right side of '{e.op}' must be a list, got {rt.describe()}")
            if isinstance(e.right, ListLit):
                for item in e.right.items:
                    self.comparable(lt, self.type_of(item), e.left, item)
            else:
                self.comparable(lt, rt.elem, e.left, e.right)
            return BoolT()
        if e.op in ("<", "<=", ">", ">="):
            if not (isinstance(lt, IntT) and isinstance(rt, IntT)):
                raise self.fail(f"'{e.op}' compares integers, not {lt.describe()} and "
                                f"{rt.describe()} in {to_label(e)!r}")
            return BoolT()
        self.comparable(lt, rt, e.left, e.right)
        return BoolT()

    def comparable(self, a: Type, b: Type, ea: Expr, eb: Expr) -> None:
        for x, y, ex, ey in ((a, b, ea, eb), (b, a, eb, ea)):
            if isinstance(x, EnumT) and isinstance(y, _LitStr):
                if y.value not in x.values:
                    raise self.fail(f"{y.value!r} is not a value of {to_label(ex)!r} "
                                    f"({x.describe()})")
                return
        ok = (
            (isinstance(a, EnumT) and isinstance(b, EnumT) and set(a.values) & set(b.values))
            or (isinstance(a, SetT) and isinstance(b, SetT) and set(b.domain) <= set(a.domain))
            or (isinstance(a, SetT) and isinstance(b, SetT) and set(a.domain) <= set(b.domain))
            or (isinstance(a, IntT) and isinstance(b, IntT))
            or (isinstance(a, BoolT) and isinstance(b, BoolT))
            or (isinstance(a, (TokenT, _LitStr, _NoneT)) and isinstance(b, (TokenT, _LitStr, _NoneT))
                and (isinstance(a, TokenT) or isinstance(b, TokenT)))
            or (isinstance(a, _LitStr) and isinstance(b, _LitStr))
        )
        if not ok:
            raise self.fail(f"cannot compare {to_label(ea)!r} ({a.describe()}) with "
                            f"{to_label(eb)!r} ({b.describe()})")

    def t_Arith(self, e: Arith) -> Type:
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        if isinstance(lt, TokenSetT) or isinstance(rt, TokenSetT):
            for t, x in ((lt, e.left), (rt, e.right)):
                literal = isinstance(x, SetLit) and all(
                    isinstance(i, Const) and isinstance(i.value, str) for i in x.items)
                if not (isinstance(t, TokenSetT) or literal):
                    raise self.fail(f"a set of tokens cannot hold {to_label(x)!r} "
                                    f"({t.describe()}) in {to_label(e)!r}")
            return TokenSetT()
        if isinstance(lt, SetT) or isinstance(rt, SetT) or e.op in ("|", "&"):
            if not (isinstance(lt, SetT) and isinstance(rt, SetT)):
                raise self.fail(f"'{e.op}' combines two sets, not {lt.describe()} and "
                                f"{rt.describe()} in {to_label(e)!r}")
            big, small = (lt, rt) if len(lt.domain) >= len(rt.domain) else (rt, lt)
            if not set(small.domain) <= set(big.domain):
                raise self.fail(f"the sets of {to_label(e)!r} have different domains")
            return big
        if not (isinstance(lt, IntT) and isinstance(rt, IntT)):
            raise self.fail(f"'{e.op}' works on integers, not {lt.describe()} and {rt.describe()}")
        if e.op == "+":
            return IntT(lt.lo + rt.lo, lt.hi + rt.hi)
        return IntT(lt.lo - rt.hi, lt.hi - rt.lo)

    def t_Call(self, e: Call) -> Type:
        if e.func in STEP_FUNCS:
            return self.step_call(e)
        types = [self.type_of(a) for a in e.args]
        if e.func == "listed":
            u, lst, n = types
            if not (isinstance(u, (TokenT, _LitStr)) and isinstance(lst, ListT)
                    and isinstance(n, IntT)):
                raise self.fail(f"listed(uid, whitelist, charge_point) takes a token, a list and "
                                f"an integer, not {u.describe()}, {lst.describe()}, "
                                f"{n.describe()}")
            return BoolT()
        if e.func in ("any", "first"):
            (t,) = types
            if not isinstance(t, SetT):
                raise self.fail(f"{e.func}(...) takes a set, not {t.describe()}")
            return BoolT() if e.func == "any" else EnumT(("none",) + t.domain)
        if not all(isinstance(t, IntT) for t in types):
            raise self.fail(f"{e.func}(...) takes integers")
        los = [t.lo for t in types]  # type: ignore[attr-defined]
        his = [t.hi for t in types]  # type: ignore[attr-defined]
        f = min if e.func == "min" else max
        return IntT(f(los), f(his))

    def step_call(self, e: Call) -> Type:
        """sent / dropped / every / permitted: only in a step invariant; the action and field
        names are string literals (the loader checks them against the OCPP 1.6 schemas)."""
        if not self.step:
            raise self.fail(f"{e.func}(...) belongs to step invariants (it reads one step's "
                            f"messages or status change)")
        if e.func == "permitted":
            for a in e.args:
                t = self.type_of(a)
                if not isinstance(t, (EnumT, _LitStr)):
                    raise self.fail(f"permitted(old_status, new_status) takes connector statuses, "
                                    f"not {t.describe()}")
            return BoolT()
        literal = e.args[:2] if e.func == "every" else e.args
        for a in literal:
            if not (isinstance(a, Const) and isinstance(a.value, str)):
                raise self.fail(f"{e.func}(...) names an OCPP action"
                                + (" and a field" if e.func == "every" else "")
                                + f" as string literals, not {to_label(a)!r}")
        if e.func == "every":
            value = e.args[2]
            for v in value.items if isinstance(value, ListLit) else (value,):
                self.type_of(v)
            return BoolT()
        return IntT(0, MAX_SENT) if e.func == "sent" else BoolT()

    def t_IfExp(self, e: IfExp) -> Type:
        self.want_bool(e.test, "condition of 'if'")
        a, b = self.type_of(e.body), self.type_of(e.orelse)
        if isinstance(a, IntT) and isinstance(b, IntT):
            return IntT(min(a.lo, b.lo), max(a.hi, b.hi))
        if isinstance(a, _LitStr) and isinstance(b, _LitStr):
            return EnumT(tuple(dict.fromkeys((a.value, b.value))))
        if isinstance(a, EnumT) and isinstance(b, _LitStr):
            return a if b.value in a.values else EnumT(a.values + (b.value,))
        if isinstance(b, EnumT) and isinstance(a, _LitStr):
            return b if a.value in b.values else EnumT(b.values + (a.value,))
        if isinstance(a, (TokenT, _NoneT, _LitStr)) and isinstance(b, (TokenT, _NoneT, _LitStr)) \
                and (isinstance(a, TokenT) or isinstance(b, TokenT)):
            return TokenT(nullable=_NoneT() in (a, b) or any(
                isinstance(x, TokenT) and x.nullable for x in (a, b)))
        if type(a) is type(b):
            return a
        raise self.fail(f"both branches of 'if' must have one type, not {a.describe()} "
                        f"and {b.describe()}")


# ---------------------------------------------------------------------------------------------
# Back ends


class Backend:
    """Base of every back end: dispatches on the node class to `visit_<Class>`."""

    def visit(self, e: Expr) -> Any:
        return getattr(self, "visit_" + type(e).__name__)(e)


def names(e: Expr) -> set[str]:
    """Every name an expression reads (for dependency and coverage analysis)."""
    out: set[str] = set()

    def walk(x: Expr) -> None:
        if isinstance(x, Name):
            out.add(x.id)
        for v in vars(x).values():
            if isinstance(v, Expr):
                walk(v)
            elif isinstance(v, tuple):
                for i in v:
                    if isinstance(i, Expr):
                        walk(i)

    walk(e)
    return out


def calls(e: Expr) -> list[Call]:
    """Every call in an expression, outermost first."""
    out: list[Call] = []

    def walk(x: Expr) -> None:
        if isinstance(x, Call):
            out.append(x)
        for v in vars(x).values():
            for i in (v if isinstance(v, tuple) else (v,)):
                if isinstance(i, Expr):
                    walk(i)

    walk(e)
    return out


def substitute(e: Expr, definitions: Mapping[str, Expr]) -> Expr:
    """`e` with every name of `definitions` replaced by its (already expanded) expression.

    Definitions are macros: back ends never see them, so each back end stays a visitor of the
    same few node classes."""
    if not definitions:
        return e
    if isinstance(e, Name):
        return definitions.get(e.id, e)
    changes = {}
    for k, v in vars(e).items():
        if isinstance(v, Expr):
            changes[k] = substitute(v, definitions)
        elif isinstance(v, tuple) and v and isinstance(v[0], Expr):
            changes[k] = tuple(substitute(i, definitions) for i in v)
    return type(e)(**{**vars(e), **changes})


# Python: compile once to closures of (state, config, event, observations).

Env = Callable[[Any, Any, Any, Any], Any]
Resolver = Callable[[str], Env]


class PythonBackend(Backend):
    """Compiles an AST to a closure `f(state, config, event, obs)`; names via `resolve`.

    Sets are frozensets at run time; `first` needs the canonical order of their domain, given as
    `order` (member -> rank; the spec has one set domain, the §9 error ids).
    """

    def __init__(self, resolve: Resolver, order: Mapping[str, int] | None = None,
                 listed_fn: Callable[[Any, Any, int], bool] | None = None):
        self.resolve = resolve
        self.order = dict(order or {})
        # the whitelist match; mutation analysis swaps in its plausible wrong versions
        self.listed = listed_fn or listed

    def visit_SetLit(self, e: SetLit) -> Env:
        if all(isinstance(i, Const) for i in e.items):
            frozen = frozenset(i.value for i in e.items)  # type: ignore[attr-defined]
            return lambda s, c, ev, o: frozen
        items = [self.visit(i) for i in e.items]
        return lambda s, c, ev, o: frozenset(f(s, c, ev, o) for f in items)

    def visit_Lookup(self, e: Lookup) -> Env:
        table, key = self.resolve(e.table), self.visit(e.key)
        return lambda s, c, ev, o: table(s, c, ev, o)[key(s, c, ev, o)]

    def visit_Const(self, e: Const) -> Env:
        v = e.value
        return lambda s, c, ev, o: v

    def visit_Name(self, e: Name) -> Env:
        return self.resolve(e.id)

    def visit_ListLit(self, e: ListLit) -> Env:
        items = [self.visit(i) for i in e.items]
        if all(isinstance(i, Const) for i in e.items):
            frozen = frozenset(i.value for i in e.items)  # type: ignore[attr-defined]
            return lambda s, c, ev, o: frozen
        return lambda s, c, ev, o: [f(s, c, ev, o) for f in items]

    def visit_Not(self, e: Not) -> Env:
        f = self.visit(e.operand)
        return lambda s, c, ev, o: not f(s, c, ev, o)

    def visit_BoolOp(self, e: BoolOp) -> Env:
        fs = [self.visit(x) for x in e.operands]
        # fold into nested two-operand closures: short-circuit without a generator per call
        acc = fs[-1]
        for f in reversed(fs[:-1]):
            acc = self._and(f, acc) if e.op == "and" else self._or(f, acc)
        return acc

    @staticmethod
    def _and(a: Env, b: Env) -> Env:
        return lambda s, c, ev, o: a(s, c, ev, o) and b(s, c, ev, o)

    @staticmethod
    def _or(a: Env, b: Env) -> Env:
        return lambda s, c, ev, o: a(s, c, ev, o) or b(s, c, ev, o)

    def visit_Compare(self, e: Compare) -> Env:
        a, b = self.visit(e.left), self.visit(e.right)
        op = e.op
        if op == "==":
            return lambda s, c, ev, o: a(s, c, ev, o) == b(s, c, ev, o)
        if op == "!=":
            return lambda s, c, ev, o: a(s, c, ev, o) != b(s, c, ev, o)
        if op == "<":
            return lambda s, c, ev, o: a(s, c, ev, o) < b(s, c, ev, o)
        if op == "<=":
            return lambda s, c, ev, o: a(s, c, ev, o) <= b(s, c, ev, o)
        if op == ">":
            return lambda s, c, ev, o: a(s, c, ev, o) > b(s, c, ev, o)
        if op == ">=":
            return lambda s, c, ev, o: a(s, c, ev, o) >= b(s, c, ev, o)
        if op == "in":
            return lambda s, c, ev, o: a(s, c, ev, o) in b(s, c, ev, o)
        return lambda s, c, ev, o: a(s, c, ev, o) not in b(s, c, ev, o)

    def visit_Arith(self, e: Arith) -> Env:
        a, b = self.visit(e.left), self.visit(e.right)
        if e.op == "+":
            return lambda s, c, ev, o: a(s, c, ev, o) + b(s, c, ev, o)
        if e.op == "|":
            return lambda s, c, ev, o: a(s, c, ev, o) | b(s, c, ev, o)
        if e.op == "&":
            return lambda s, c, ev, o: a(s, c, ev, o) & b(s, c, ev, o)
        return lambda s, c, ev, o: a(s, c, ev, o) - b(s, c, ev, o)  # ints and sets alike

    def visit_Call(self, e: Call) -> Env:
        if e.func in STEP_FUNCS:  # the caller's: its resolver knows the step
            return self.resolve(e.func + "()")(self, e)
        fs = [self.visit(x) for x in e.args]
        if e.func == "any":
            (g,) = fs
            return lambda s, c, ev, o: bool(g(s, c, ev, o))
        if e.func == "listed":
            u, lst, n = fs
            match = self.listed
            return lambda s, c, ev, o: match(u(s, c, ev, o), lst(s, c, ev, o), n(s, c, ev, o))
        if e.func == "first":
            (g,) = fs
            rank = self.order.get

            def first(s: Any, c: Any, ev: Any, o: Any) -> Any:
                members = g(s, c, ev, o)
                return min(members, key=rank) if members else "none"
            return first
        f = min if e.func == "min" else max
        return lambda s, c, ev, o: f(g(s, c, ev, o) for g in fs)

    def visit_IfExp(self, e: IfExp) -> Env:
        t, a, b = self.visit(e.test), self.visit(e.body), self.visit(e.orelse)
        return lambda s, c, ev, o: a(s, c, ev, o) if t(s, c, ev, o) else b(s, c, ev, o)


# Labels: a readable rendering for diagrams, error messages and reports.

_PREC = {"IfExp": 0, "or": 1, "and": 2, "not": 3, "cmp": 4, "arith": 5, "atom": 6}


class LabelBackend(Backend):
    def visit(self, e: Expr) -> tuple[str, int]:  # type: ignore[override]
        return super().visit(e)

    def visit_Const(self, e: Const) -> tuple[str, int]:
        v = e.value
        if isinstance(v, (set, frozenset)):  # a value folded in: in a stable order
            return "{" + ", ".join(sorted(map(repr, v))) + "}", _PREC["atom"]
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(map(repr, v)) + "]", _PREC["atom"]
        return repr(v), _PREC["atom"]

    def visit_Name(self, e: Name) -> tuple[str, int]:
        return e.id, _PREC["atom"]

    def visit_ListLit(self, e: ListLit) -> tuple[str, int]:
        return "[" + ", ".join(self.visit(i)[0] for i in e.items) + "]", _PREC["atom"]

    def visit_SetLit(self, e: SetLit) -> tuple[str, int]:
        return "{" + ", ".join(self.visit(i)[0] for i in e.items) + "}", _PREC["atom"]

    def visit_Lookup(self, e: Lookup) -> tuple[str, int]:
        return f"{e.table}[{self.visit(e.key)[0]}]", _PREC["atom"]

    def wrap(self, e: Expr, prec: int) -> str:
        text, p = self.visit(e)
        return f"({text})" if p < prec else text

    def visit_Not(self, e: Not) -> tuple[str, int]:
        return "not " + self.wrap(e.operand, _PREC["not"]), _PREC["not"]

    def visit_BoolOp(self, e: BoolOp) -> tuple[str, int]:
        p = _PREC[e.op]
        return f" {e.op} ".join(self.wrap(x, p + 1) for x in e.operands), p

    def visit_Compare(self, e: Compare) -> tuple[str, int]:
        p = _PREC["cmp"]
        return f"{self.wrap(e.left, p + 1)} {e.op} {self.wrap(e.right, p + 1)}", p

    def visit_Arith(self, e: Arith) -> tuple[str, int]:
        p = _PREC["arith"]
        return f"{self.wrap(e.left, p)} {e.op} {self.wrap(e.right, p + 1)}", p

    def visit_Call(self, e: Call) -> tuple[str, int]:
        return f"{e.func}({', '.join(self.visit(a)[0] for a in e.args)})", _PREC["atom"]

    def visit_IfExp(self, e: IfExp) -> tuple[str, int]:
        p = _PREC["IfExp"]
        return (f"{self.wrap(e.body, p + 1)} if {self.wrap(e.test, p + 1)} else "
                f"{self.wrap(e.orelse, p)}"), p


def to_label(e: Expr) -> str:
    return LabelBackend().visit(e)[0]


# Views for readers: definitions folded back into their names, guards specialised to one
# configuration.  Both are AST to AST, so every back end (the label above for diagrams) reads
# their result.


def fold(e: Expr, definitions: Mapping[str, Expr]) -> Expr:
    """`e` with every subexpression equal to a definition's expansion written as its name.

    The loader expands definitions where they are used (`substitute`); a diagram or a report
    reads better with `online` than with its expansion.  Larger definitions win: the tree is
    matched top-down, so a definition built from another one folds whole."""
    if not definitions:
        return e
    by_expr = {x: Name(n) for n, x in definitions.items()}

    def walk(x: Expr) -> Expr:
        hit = by_expr.get(x)
        if hit is not None:
            return hit
        changes: dict[str, Any] = {}
        for k, v in vars(x).items():
            if isinstance(v, Expr):
                changes[k] = walk(v)
            elif isinstance(v, tuple) and v and isinstance(v[0], Expr):
                changes[k] = tuple(walk(i) for i in v)
        return type(x)(**{**vars(x), **changes}) if changes else x

    return walk(e)


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


def specialize(e: Expr, known: Mapping[str, Any], symbolic: Iterable[str] = ()) -> Expr:
    """`e` with the names of `known` replaced by their values and every constant part folded.

    What a guard still asks once the configuration is fixed: `known` maps parameters,
    constants and (already specialised, constant) definitions to values.  `and`/`or` drop their
    decided operands, so a guard that the configuration makes true becomes `True`.  Names in
    `symbolic` (the spec's named sets and tables) are known but stay names where they do not
    fold away: `error in faulting_errors` reads better than the set spelled out."""
    keep = frozenset(symbolic)

    def const(x: Expr) -> bool:
        return isinstance(x, Const) or (isinstance(x, Name) and x.id in keep and x.id in known)

    def val(x: Expr) -> Any:
        return x.value if isinstance(x, Const) else known[x.id]  # type: ignore[attr-defined]

    def walk(x: Expr) -> Expr:
        if isinstance(x, Name):
            return Const(known[x.id]) if x.id in known and x.id not in keep else x
        if isinstance(x, Const):
            return x
        if isinstance(x, Not):
            a = walk(x.operand)
            return Const(not val(a)) if const(a) else Not(a)
        if isinstance(x, BoolOp):
            stop = x.op == "or"  # the value that decides the whole expression
            rest: list[Expr] = []
            for o in x.operands:
                w = walk(o)
                if const(w):
                    if bool(val(w)) == stop:
                        return Const(stop)
                    continue
                rest.append(w)
            if not rest:
                return Const(not stop)
            return rest[0] if len(rest) == 1 else BoolOp(x.op, tuple(rest))
        if isinstance(x, Compare):
            a, b = walk(x.left), walk(x.right)
            if const(a) and const(b):
                try:
                    return Const(_COMPARE[x.op](val(a), val(b)))
                except TypeError:
                    pass
            if const(a) and isinstance(b, (ListLit, SetLit)) and x.op in ("in", "not in") \
                    and all(const(i) for i in b.items):  # 'idle' in ['transaction', ...]
                try:
                    return Const(_COMPARE[x.op](val(a), [val(i) for i in b.items]))
                except TypeError:
                    pass
            return Compare(x.op, a, b)
        if isinstance(x, Lookup):
            k = walk(x.key)
            if x.table in known and const(k):
                return Const(known[x.table][val(k)])
            return Lookup(x.table, k)
        if isinstance(x, IfExp):
            t = walk(x.test)
            if const(t):
                return walk(x.body if val(t) else x.orelse)
            return IfExp(t, walk(x.body), walk(x.orelse))
        if isinstance(x, Arith):
            a, b = walk(x.left), walk(x.right)
            if const(a) and const(b) and x.op == "+":
                return Const(val(a) + val(b))
            return Arith(x.op, a, b)
        if isinstance(x, Call):
            args = tuple(walk(a) for a in x.args)
            if all(const(a) for a in args):
                vals = [val(a) for a in args]
                if x.func == "any":
                    return Const(bool(vals[0]))
                if x.func == "listed":
                    return Const(listed(*vals))
                if x.func in ("min", "max"):
                    return Const((min if x.func == "min" else max)(vals))
            return Call(x.func, args)
        if isinstance(x, (ListLit, SetLit)):
            return type(x)(tuple(walk(i) for i in x.items))
        return x  # pragma: no cover - every node class is handled above

    return walk(e)
