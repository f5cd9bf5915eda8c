"""The Z3 back end of the expression language, and a machine's situations as Z3 variables.

Every name of an expression becomes a Z3 term through `Z3Scope`:

  bool          Bool
  int lo..hi    Int, bounded by lo..hi
  enum          Int: the code of its value in one table of strings shared by every enum and
                literal, restricted to its values' codes (so 'Accepted' is one number whether it
                is an idTagInfo status or a RemoteStart answer)
  token         Int: any number, with NONE for None, string literals by their code; two tokens
                are equal exactly when their numbers are, so every possible card is covered
  list/token    an Array Int -> Bool (a whitelist), plus one per charge point for `listed`
  set of enum   one Bool per member of the domain
  token set     an Array Int -> Bool
  table         a constant: the lookup becomes a chain of If over the keys

`Z3Backend` compiles an AST to a term with the same `visit_<Node>` shape as the Python and
label back ends; the parser and the type checker are shared.
"""

from __future__ import annotations

from typing import Any, Callable

import z3

from chargespec.expr import (STEP_FUNCS, Arith, Backend, BoolOp, BoolT, Call, Compare, Const,
                             EnumT, IfExp, IntT, ListLit, ListT, Lookup, Name, Not, SetLit, SetT,
                             TableT, TokenSetT, TokenT, Type)

NONE = -1  # the token None


class Codes:
    """One number per string (enum values, string literals, token literals)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if text not in self._codes:
            self._codes[text] = 1_000_000 + len(self._codes)
        return self._codes[text]

    def name(self, code: int) -> str | None:
        for k, v in self._codes.items():
            if v == code:
                return k
        return None


class SymSet:
    """A subset of an enum domain: one Bool per member."""

    def __init__(self, domain: tuple[str, ...], members: dict[str, Any]):
        self.domain = domain
        self.members = members  # member -> BoolRef

    def get(self, m: str) -> Any:
        return self.members.get(m, z3.BoolVal(False))


class Z3Backend(Backend):
    """Compile an expression to a Z3 term; names come from `resolve(name) -> (term, Type)`."""

    def __init__(self, resolve: Callable[[str], tuple[Any, Type]], codes: Codes):
        self.resolve = resolve
        self.codes = codes

    # ---- leaves
    def visit_Const(self, e: Const) -> Any:
        v = e.value
        if v is None:
            return z3.IntVal(NONE)
        if isinstance(v, bool):
            return z3.BoolVal(v)
        if isinstance(v, int):
            return z3.IntVal(v)
        return z3.IntVal(self.codes(v))

    def visit_Name(self, e: Name) -> Any:
        return self.resolve(e.id)[0]

    def visit_ListLit(self, e: ListLit) -> Any:
        return [self.visit(i) for i in e.items]

    def visit_SetLit(self, e: SetLit) -> Any:
        return ("setlit", [self.visit(i) for i in e.items], e)

    def visit_Lookup(self, e: Lookup) -> Any:
        table, t = self.resolve(e.table)
        assert isinstance(t, TableT)
        key = self.visit(e.key)
        value_t = t.value
        if z3.is_int_value(key):  # a known key (a step invariant's event): the one value
            for k in t.keys:
                if self.codes(k) == key.as_long():
                    return self._const(table[k], value_t)
        out = None
        for k in reversed(t.keys):
            v = table[k]
            term = self._const(v, value_t)
            out = term if out is None else z3.If(key == self.codes(k), term, out)
        return out

    def _const(self, v: Any, t: Type) -> Any:
        if v is None:
            return z3.IntVal(NONE)
        if isinstance(v, bool):
            return z3.BoolVal(v)
        if isinstance(v, int):
            return z3.IntVal(v)
        return z3.IntVal(self.codes(v))

    # ---- operators
    def visit_Not(self, e: Not) -> Any:
        return z3.Not(self.visit(e.operand))

    def visit_BoolOp(self, e: BoolOp) -> Any:
        parts = [self.visit(x) for x in e.operands]
        return z3.And(*parts) if e.op == "and" else z3.Or(*parts)

    def visit_Compare(self, e: Compare) -> Any:
        a, b = self.visit(e.left), self.visit(e.right)
        op = e.op
        if op in ("in", "not in"):
            r = self._member(a, b, e)
            return r if op == "in" else z3.Not(r)
        if isinstance(a, SymSet) or isinstance(b, SymSet):
            domain = a.domain if isinstance(a, SymSet) else b.domain
            a, b = self._as_symset(a, domain), self._as_symset(b, domain)
            dom = tuple(dict.fromkeys(a.domain + b.domain))
            eq = z3.And(*[a.get(m) == b.get(m) for m in dom])
            return eq if op == "==" else z3.Not(eq)
        return {"==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
                "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b}[op]()

    def _member(self, x: Any, coll: Any, e: Compare) -> Any:
        if isinstance(coll, list):  # a list display
            return z3.Or(*[x == i for i in coll]) if coll else z3.BoolVal(False)
        if isinstance(coll, tuple) and coll and coll[0] == "setlit":
            return z3.Or(*[x == i for i in coll[1]]) if coll[1] else z3.BoolVal(False)
        if isinstance(coll, SymSet):
            return z3.Or(*[z3.And(x == self.codes(m), coll.get(m)) for m in coll.domain])
        if isinstance(coll, Whitelist):
            return z3.Select(coll.plain, x)
        return z3.Select(coll, x)  # token set

    def visit_Arith(self, e: Arith) -> Any:
        a, b = self.visit(e.left), self.visit(e.right)
        if isinstance(a, (SymSet, tuple)) or isinstance(b, (SymSet, tuple)):
            if isinstance(a, z3.ArrayRef) or isinstance(b, z3.ArrayRef):
                return self._token_set_op(e.op, a, b)
            return self._set_op(e.op, a, b)
        if isinstance(a, z3.ArrayRef) or isinstance(b, z3.ArrayRef):
            return self._token_set_op(e.op, a, b)
        return a + b if e.op == "+" else a - b

    def _set_op(self, op: str, a: Any, b: Any) -> SymSet:
        domain = a.domain if isinstance(a, SymSet) else (b.domain if isinstance(b, SymSet)
                                                        else None)
        sa, sb = self._as_symset(a, domain), self._as_symset(b, domain)
        dom = tuple(dict.fromkeys(sa.domain + sb.domain))
        f = {"|": z3.Or, "&": z3.And, "-": lambda x, y: z3.And(x, z3.Not(y))}[op]
        return SymSet(dom, {m: z3.simplify(f(sa.get(m), sb.get(m))) for m in dom})

    def _as_symset(self, v: Any, domain: tuple[str, ...] | None = None) -> SymSet:
        if isinstance(v, SymSet):
            return v
        _, terms, node = v
        names = [i.value for i in node.items if isinstance(i, Const)]
        if len(names) == len(node.items) and domain is None:
            return SymSet(tuple(names), {n: z3.BoolVal(True) for n in names})
        dom = domain or ()
        return SymSet(dom, {m: z3.Or(*[t == self.codes(m) for t in terms]) if terms
                            else z3.BoolVal(False) for m in dom})

    def _token_set_op(self, op: str, a: Any, b: Any) -> Any:
        base = a
        if isinstance(b, tuple) and b[0] == "setlit":
            for t in b[1]:
                base = z3.Store(base, t, op == "|")
            return base
        if op == "-" and isinstance(b, z3.ArrayRef):
            x = z3.Int("_x")
            return z3.Lambda([x], z3.And(z3.Select(a, x), z3.Not(z3.Select(b, x))))
        raise TypeError(f"token set {op}")

    def visit_Call(self, e: Call) -> Any:
        if e.func in STEP_FUNCS:  # the caller's: its resolver knows the step
            return self.resolve(e.func + "()")[0](self, e)
        args = [self.visit(a) for a in e.args]
        if e.func == "any":
            s = self._as_symset(args[0])
            return z3.Or(*[s.get(m) for m in s.domain]) if s.domain else z3.BoolVal(False)
        if e.func == "first":
            s = self._as_symset(args[0])
            out: Any = z3.IntVal(self.codes("none"))
            for m in reversed(s.domain):
                out = z3.If(s.get(m), z3.IntVal(self.codes(m)), out)
            return out
        if e.func == "listed":
            uid, wl, n = args
            assert isinstance(wl, Whitelist)
            return z3.And(uid != NONE, z3.Or(z3.Select(wl.plain, uid),
                                              z3.If(n == 1, z3.Select(wl.cp1, uid),
                                                    z3.Select(wl.cp2, uid))))
        f = z3.If
        acc = args[0]
        for x in args[1:]:
            acc = f(x < acc, x, acc) if e.func == "min" else f(x > acc, x, acc)
        return acc

    def visit_IfExp(self, e: IfExp) -> Any:
        t, a, b = self.visit(e.test), self.visit(e.body), self.visit(e.orelse)
        if isinstance(a, (SymSet, tuple)) or isinstance(b, (SymSet, tuple)):
            sa, sb = self._as_symset(a), self._as_symset(b)
            dom = tuple(dict.fromkeys(sa.domain + sb.domain))
            return SymSet(dom, {m: z3.If(t, sa.get(m), sb.get(m)) for m in dom})
        return z3.If(t, a, b)


class Whitelist:
    """A list parameter of tokens: plain entries and entries with each charge point's postfix."""

    def __init__(self, name: str):
        self.plain = z3.Array(f"{name}", z3.IntSort(), z3.BoolSort())
        self.cp1 = z3.Array(f"{name}#1", z3.IntSort(), z3.BoolSort())
        self.cp2 = z3.Array(f"{name}#2", z3.IntSort(), z3.BoolSort())


def domain_facts(term: Any, t: Type, codes: Codes) -> list:
    """The constraints that keep a variable of type `t` inside its domain."""
    if isinstance(t, BoolT):
        return []
    if isinstance(t, IntT):
        return [term >= t.lo, term <= t.hi]
    if isinstance(t, EnumT):
        return [z3.Or(*[term == codes(v) for v in t.values])]
    if isinstance(t, TokenT):
        # any token: NONE, a string literal's code, or any other number; never a code of
        # another string than it is (codes are >= 1,000,000: keep free tokens apart)
        return [] if t.nullable else [term != NONE]
    return []


def variable(name: str, t: Type, codes: Codes) -> tuple[Any, list]:
    """A fresh Z3 variable of type `t` and its domain facts."""
    if isinstance(t, BoolT):
        return z3.Bool(name), []
    if isinstance(t, (IntT, EnumT, TokenT)):
        v = z3.Int(name)
        return v, domain_facts(v, t, codes)
    if isinstance(t, SetT):
        return SymSet(t.domain, {m: z3.Bool(f"{name}.{m}") for m in t.domain}), []
    if isinstance(t, TokenSetT):
        return z3.Array(name, z3.IntSort(), z3.BoolSort()), []
    if isinstance(t, ListT):
        if isinstance(t.elem, TokenT):
            return Whitelist(name), []
        return [z3.Int(f"{name}[{k}]") for k in range(3)], []
    raise TypeError(f"no Z3 encoding for {t.describe()}")
