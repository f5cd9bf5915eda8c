"""The Promela back end: a machine under one configuration, as a model SPIN can check.

`export(engine, config, events)` writes one `init` process whose loop has one `d_step` per event
(each field value of `explore:` its own branch).  A step copies the state to `o_*` (rules read
the state before the step, as the step function does), fires the one rule whose guard holds (an
`else` that asserts false would mean the machine is incomplete), settles the kept observations
from the provisional state, resets the transient variables and the temporaries, and asserts
every state invariant of the spec.  The configuration is inlined as constants.

Encodings (every string is a number of one table, so comparisons across enums work):
  enum, token   a `short` code (None is 0); tokens are the events' `explore:` values and the
                configuration's tokens
  set of enum   an `int` bit mask over the domain (§9 error ids: 15 bits)
  token set     an `int` bit mask over the tokens
  observations  macros (#define), cases as nested conditional expressions

Because every step is one `d_step` and temporaries are zeroed, SPIN stores exactly the states
the explorer visits; the cross-check (tests/test_promela.py) compares the two counts and the
verdicts.
"""

from __future__ import annotations

from typing import Any

from chargespec.expr import (Arith, Backend, BoolOp, Call, Compare, Const, IfExp,
                             ListLit, ListT, Lookup, Name, Not, SetLit, SetT, TableT, TokenSetT,
                             TokenT, listed)
from chargespec.models.step import Engine
from chargespec.models.types import Event


class Table:
    """Codes of strings (starting at 1; 0 is None)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if text not in self.codes:
            self.codes[text] = len(self.codes) + 1
        return self.codes[text]


class PromelaBackend(Backend):
    """An expression as Promela text; names resolve through `resolve(name) -> (text, type)`."""

    def __init__(self, resolve, table: Table, tokens: list[str], config: Any):
        self.resolve = resolve
        self.table = table
        self.tokens = tokens  # the token domain, in bit order
        self.config = config

    def visit_Const(self, e: Const) -> str:
        v = e.value
        if v is None:
            return "0"
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, int):
            return str(v)
        return str(self.table(v))

    def visit_Name(self, e: Name) -> str:
        return self.resolve(e.id)[0]

    def visit_ListLit(self, e: ListLit) -> list[str]:
        return [self.visit(i) for i in e.items]  # type: ignore[return-value]

    def visit_SetLit(self, e: SetLit) -> tuple[str, list]:
        return ("setlit", [self.visit(i) for i in e.items])  # type: ignore[return-value]

    def visit_Lookup(self, e: Lookup) -> str:
        table, t = self.resolve(e.table)
        key = self.visit(e.key)
        out = "0"
        for k in reversed(t.keys):
            out = f"(({key}) == {self.table(k)} -> {self._lit(table[k])} : {out})"
        return out

    def _lit(self, v: Any) -> str:
        if v is None:
            return "0"
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, int):
            return str(v)
        return str(self.table(v))

    def visit_Not(self, e: Not) -> str:
        return f"!({self.visit(e.operand)})"

    def visit_BoolOp(self, e: BoolOp) -> str:
        op = " && " if e.op == "and" else " || "
        return "(" + op.join(f"({self.visit(x)})" for x in e.operands) + ")"

    def _mask_of(self, e, text) -> tuple[str, tuple[str, ...]] | None:
        """(mask expression, domain) when `e` is a set of enum."""
        t = self._type(e)
        if isinstance(t, SetT):
            return text, t.domain
        return None

    def _type(self, e) -> Any:
        if isinstance(e, Name):
            return self.resolve(e.id)[1]
        return None

    def bit(self, x: str, domain: tuple[str, ...]) -> str:
        out = "0"
        for i, m in reversed(list(enumerate(domain))):
            out = f"(({x}) == {self.table(m)} -> {1 << i} : {out})"
        return out

    def token_bit(self, x: str) -> str:
        out = "0"
        for i, tok in reversed(list(enumerate(self.tokens))):
            out = f"(({x}) == {self.table(tok)} -> {1 << i} : {out})"
        return out

    def visit_Compare(self, e: Compare) -> str:
        if e.op in ("in", "not in"):
            x = self.visit(e.left)
            r = self._member(x, e.right)
            return r if e.op == "in" else f"!({r})"
        a, b = self.visit(e.left), self.visit(e.right)
        op = {"==": "==", "!=": "!="}.get(e.op, e.op)
        return f"(({a}) {op} ({b}))"

    def _member(self, x: str, right) -> str:
        if isinstance(right, ListLit):
            items = [self.visit(i) for i in right.items]
            return "(" + " || ".join(f"({x}) == {i}" for i in items) + ")" if items else "0"
        if isinstance(right, SetLit):
            items = [self.visit(i) for i in right.items]
            return "(" + " || ".join(f"({x}) == {i}" for i in items) + ")" if items else "0"
        t = self._type(right)
        if isinstance(t, ListT):  # a list parameter: which tokens of the domain are in it
            values = getattr(self.config, right.id)  # type: ignore[attr-defined]
            hits = [tok for tok in self.tokens if tok in values]
            return "(" + " || ".join(f"({x}) == {self.table(h)}" for h in hits) + ")" \
                if hits else "0"
        if isinstance(t, TokenSetT):
            return f"((({self.visit(right)}) & {self.token_bit(x)}) != 0)"
        if isinstance(t, SetT) or isinstance(right, (Arith, Name)):
            dom = self._domain(right)
            return f"((({self.visit(right)}) & {self.bit(x, dom)}) != 0)"
        raise TypeError(f"membership in {right!r}")

    def _domain(self, e) -> tuple[str, ...]:
        if isinstance(e, Name):
            t = self.resolve(e.id)[1]
            if isinstance(t, SetT):
                return t.domain
        if isinstance(e, Arith):
            for side in (e.left, e.right):
                try:
                    return self._domain(side)
                except TypeError:
                    continue
        raise TypeError(f"no set domain for {e!r}")

    def visit_Arith(self, e: Arith) -> str:
        lt, rt = self._type(e.left), self._type(e.right)
        tokenset = isinstance(lt, TokenSetT) or isinstance(rt, TokenSetT)
        setlike = tokenset or isinstance(e.left, SetLit) or isinstance(e.right, SetLit) or \
            e.op in ("|", "&") or self._is_set(e)
        if not setlike:
            a, b = self.visit(e.left), self.visit(e.right)
            return f"(({a}) {e.op} ({b}))"
        a, b = self._mask(e.left, tokenset), self._mask(e.right, tokenset)
        if e.op == "|":
            return f"(({a}) | ({b}))"
        if e.op == "&":
            return f"(({a}) & ({b}))"
        return f"(({a}) & ~({b}))"

    def _is_set(self, e) -> bool:
        try:
            self._domain(e)
            return True
        except TypeError:
            return False

    def _mask(self, e, tokenset: bool) -> str:
        if isinstance(e, SetLit):
            if tokenset:
                parts = [self.token_bit(self.visit(i)) for i in e.items]
            else:
                dom = self._sibling_domain
                parts = [self.bit(self.visit(i), dom) for i in e.items]
            return " | ".join(f"({p})" for p in parts) or "0"
        if isinstance(e, Arith):
            return self.visit(e)
        if not tokenset:
            self._sibling_domain = self._domain(e)
        return self.visit(e)

    _sibling_domain: tuple[str, ...] = ()

    def visit_Call(self, e: Call) -> str:
        if e.func == "any":
            return f"(({self.visit(e.args[0])}) != 0)"
        if e.func == "first":
            dom = self._domain(e.args[0])
            s = self.visit(e.args[0])
            out = str(self.table("none"))
            for i, m in reversed(list(enumerate(dom))):
                out = f"((({s}) & {1 << i}) != 0 -> {self.table(m)} : {out})"
            return out
        if e.func == "listed":
            uid = self.visit(e.args[0])
            values = getattr(self.config, e.args[1].id)  # type: ignore[attr-defined]
            # the charge point is a configuration expression: a constant here
            from chargespec.expr import PythonBackend
            config = self.config
            number = PythonBackend(lambda n: (lambda s, c, ev, o: getattr(config, n))).visit(
                e.args[2])(None, None, None, None)
            hits = [tok for tok in self.tokens if listed(tok, values, number)]
            return "(" + " || ".join(f"({uid}) == {self.table(h)}" for h in hits) + ")" \
                if hits else "0"
        args = [self.visit(a) for a in e.args]
        acc = args[0]
        for x in args[1:]:
            cmp = "<" if e.func == "min" else ">"
            acc = f"(({x}) {cmp} ({acc}) -> ({x}) : ({acc}))"
        return acc

    def visit_IfExp(self, e: IfExp) -> str:
        if self._is_set(e.body) or self._is_set(e.orelse) or isinstance(e.body, SetLit):
            self._sibling_domain = self._domain(e.body) if self._is_set(e.body) else \
                self._domain(e.orelse)
        return f"(({self.visit(e.test)}) -> ({self._value(e.body)}) : ({self._value(e.orelse)}))"

    def _value(self, e) -> str:
        if isinstance(e, SetLit):
            return self._mask(e, False)
        return self.visit(e)


def export(engine: Engine, config: Any, events: list[Event]) -> str:
    """The machine under `config` with `events` as a Promela model."""
    return export_all(engine, [config], events)


class _Encoding:
    """How one export writes values: the tokens the configurations and events use (bits of
    the token sets' masks), the enum table, each state field's and observation's type, and the
    back end that writes an expression under one configuration."""

    def __init__(self, engine: Engine, configs: list[Any], events: list[Event]) -> None:
        m, spec = engine.machine, engine.spec
        self.spec, self.table, self.tokens = spec, Table(), []
        for config in configs:
            for ev in events:
                for f in m.events[ev.name].fields:
                    if isinstance(f.type, TokenT):
                        self._token(engine.compiled.normalize(config, ev).as_dict()[f.name])
            for pid, p in spec.parameters.items():
                if isinstance(p.type, TokenT):
                    self._token(getattr(config, pid))
        if len(self.tokens) > 15:
            raise ValueError("more than 15 tokens: the token sets' masks would overflow")
        self.state_types = {v: m.variables[v].type if v in m.variables else
                            next(o.type for o in m.observations if o.name == v)
                            for v in m.state_fields}
        self.obs_types = {o.name: o.type for o in m.observations}

    def _token(self, v: Any) -> None:
        if isinstance(v, str) and v not in self.tokens:
            self.tokens.append(v)

    def encode(self, value: Any, t: Any) -> str:
        """A value of type `t` as a Promela literal."""
        if isinstance(t, SetT):
            return str(sum(1 << i for i, x in enumerate(t.domain) if x in value))
        if isinstance(t, TokenSetT):
            return str(sum(1 << self.tokens.index(x) for x in value))
        if value is None:
            return "0"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return str(value)
        return str(self.table(value))

    def backend(self, config: Any, k: int, prefix: str, fields: dict[str, Any]
                ) -> PromelaBackend:
        """Expressions under configuration number `k`: state fields as `prefix + name`, the
        observations as configuration k's macros, parameters and constants as literals."""
        spec, constants = self.spec, self.spec.constants

        def resolve(name: str):
            if name in fields:
                return f"e_{name}", fields[name]
            if name in self.state_types:
                return f"{prefix}{name}", self.state_types[name]
            if name in self.obs_types:
                return f"OBS{k}_{name}", self.obs_types[name]
            if name in spec.parameters:
                t = spec.parameters[name].type
                v = getattr(config, name)
                if isinstance(t, ListT):
                    return "0", t
                return self.encode(v, t), t
            ctype, value = constants[name]
            if isinstance(ctype, TableT):
                return value, ctype
            return self.encode(value, ctype), ctype
        return PromelaBackend(resolve, self.table, self.tokens, config)


def _per_configuration(engine: Engine, enc: _Encoding, configs: list[Any]
                       ) -> tuple[list[str], list[str], list[list[str]], list[list[str]]]:
    """For each configuration: its observations as macros, the inline that stores the kept
    ones, its initial state's assignments, and its state invariants as asserts."""
    m = engine.machine
    kept = [o for o in m.observations if o.keep]
    invariants = [i for i in m.invariants if i.kind == "state"]
    macros: list[str] = []
    settles: list[str] = []
    inits: list[list[str]] = []
    asserts: list[list[str]] = []
    for k, config in enumerate(configs):
        obe = enc.backend(config, k, "", {})
        for o in m.observations:
            if o.kind == "expr":
                macros.append(f"#define OBS{k}_{o.name} ({obe.visit(o.expr)})")
            elif o.kind == "cases":
                out = "0"
                for c in reversed(o.cases):
                    out = f"(({obe.visit(c.when)}) -> ({obe.visit(c.value)}) : {out})"
                macros.append(f"#define OBS{k}_{o.name} {out}")
        settles.append(f"inline settle{k}() {{")
        for o in kept:
            settles.append(f"  kept_tmp = OBS{k}_{o.name}; {o.name} = kept_tmp; kept_tmp = 0;")
        settles.append("}")
        init_state = engine.initial(config)
        inits.append([f"{v} = {enc.encode(getattr(init_state, v), t)}"
                      for v, t in enc.state_types.items()])
        asserts.append([f"assert({obe.visit(i.expr)}); /* {i.id} */" for i in invariants])
    return macros, settles, inits, asserts


def _declarations(engine: Engine, enc: _Encoding, inits: list[list[str]],
                  fields_all: dict[str, Any]) -> list[str]:
    """The global variables: each state field and its copy before the step (`o_`), the
    event's fields, and the configuration chosen at init when there are several."""
    single = len(inits) == 1
    lines = []
    for v, t in enc.state_types.items():
        kind = "bool" if t.describe() == "bool" else ("int" if isinstance(t, (SetT, TokenSetT))
                                                       else "short")
        first = ""
        if single:
            first = f" = {inits[0][list(enc.state_types).index(v)].split(' = ', 1)[1]}"
        lines.append(f"{kind} {v}{first};")
        lines.append(f"{kind} o_{v};")
    for f in fields_all:
        lines.append(f"short e_{f};")
    lines.append("short kept_tmp;")
    if not single:
        lines.append("byte cfg;")
    return lines


def _event_step(engine: Engine, enc: _Encoding, configs: list[Any], ev: Event,
                asserts: list[list[str]]) -> list[str]:
    """One event as an atomic step of the loop: the state copied, the rules of the event as
    guarded commands under the configuration (else: no rule applies, an error), the kept
    observations settled, the invariants asserted, the transient variables reset."""
    m, table, single = engine.machine, enc.table, len(configs) == 1
    fields = {f.name: f.type for f in m.events[ev.name].fields}
    body = [f"  :: d_step {{ /* {ev.label()} */"]
    body += [f"       o_{v} = {v};" for v in enc.state_types]
    if not single:
        body.append("       if")
    for k, config in enumerate(configs):
        be = enc.backend(config, k, "o_", fields)
        pad = "       " if single else "         "
        if not single:
            body.append(f"       :: cfg == {k} ->")
        for fname, value in engine.compiled.normalize(config, ev).as_dict().items():
            body.append(f"{pad}e_{fname} = {enc.encode(value, fields[fname])};")
        body.append(f"{pad}if")
        for r in m.rules:
            if ev.name not in r.events:
                continue
            src = " || ".join(f"o_{m.control} == {table(s)}" for s in r.sources)
            guard = f"({src}) && ({be.visit(r.when)})"
            acts = [f"{var} = {be._value(expr)}" for var, expr in r.do]
            if r.to is not None:
                acts.append(f"{m.control} = {table(r.to)}")
            act = "; ".join(acts) if acts else "skip"
            body.append(f"{pad}:: ({guard}) -> {act} /* {r.id} */")
        body.append(f"{pad}:: else -> assert(false) /* no rule applies */")
        body.append(f"{pad}fi;")
        body.append(f"{pad}settle{k}();")
        body += [pad + a for a in asserts[k]]
    if not single:
        body.append("       fi;")
    body.append("       reset()")
    body.append("     }")
    return body


def export_all(engine: Engine, configs: list[Any], events: list[Event]) -> str:
    """The machine under each of `configs`: one configuration, or several chosen
    nondeterministically at init (SPIN then stores 1 + the sum of their states: the state
    before the choice, and each configuration's own)."""
    m = engine.machine
    enc = _Encoding(engine, configs, events)
    fields_all = {f.name: f.type for ev in m.events.values() for f in ev.fields}
    macros, settles, inits, asserts = _per_configuration(engine, enc, configs)

    lines: list[str] = [f"/* {m.title}: generated by chargespec export promela */"]
    for k, config in enumerate(configs):
        lines.append(f"/* configuration {k}: {engine.compiled.describe_config(config)} */")
    lines += [""] + macros + [""]
    lines += _declarations(engine, enc, inits, fields_all)
    lines.append("")
    lines += settles
    lines.append("inline reset() {")
    for v in m.variables.values():
        if v.transient:
            lines.append(f"  {v.name} = {enc.encode(v.initial.value, v.type)};")  # type: ignore[attr-defined]
    for v in enc.state_types:
        lines.append(f"  o_{v} = 0;")
    for f in fields_all:
        lines.append(f"  e_{f} = 0;")
    lines.append("}")
    lines.append("")
    lines.append("init {")
    # the initial state's invariants are the explorer's to check: a statement before the loop
    # would add a state SPIN counts and the explorer does not
    if len(configs) > 1:
        lines.append("  if")
        for k in range(len(configs)):
            lines.append(f"  :: d_step {{ cfg = {k}; {'; '.join(inits[k])} }}")
        lines.append("  fi;")
    lines.append("  do")
    for ev in events:
        lines += _event_step(engine, enc, configs, ev, asserts)
    lines.append("  od")
    lines.append("}")
    return "\n".join(lines) + "\n"


def run_spin(model: str, workdir, optimize: str = "-O0", depth: int = 100_000
             ) -> dict[str, Any]:
    """Compile and run SPIN on a model: stored states, errors, seconds (pan only and total).
    `-O0` compiles pan six times faster, which is what tests want; benchmarks pass -O2.
    `depth` is pan's first DFS stack size (-m), ten times deeper on each rerun it needs."""
    import re
    import subprocess
    import time
    from pathlib import Path

    work = Path(workdir)
    (work / "model.pml").write_text(model, encoding="utf-8")
    t0 = time.perf_counter()
    for cmd in (["spin", "-a", "model.pml"],
                ["gcc", optimize, "-DSAFETY", "-DNOREDUCE", "-DVECTORSZ=4096", "-o", "pan", "pan.c"]):
        p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    # pan allocates its DFS stack (-m) and hash table (-w) up front: sized for ten million
    # steps and 2^24 slots that is 587 MB and 0.4 s before the first state, ten times the
    # search itself.  So it starts small and runs again, deeper, if the stack was too short.
    while True:
        t1 = time.perf_counter()
        p = subprocess.run(["./pan", f"-m{depth}", "-w20"], cwd=work, capture_output=True,
                           text=True, timeout=600)
        t2 = time.perf_counter()
        if "max search depth too small" not in p.stdout or depth >= 100_000_000:
            break
        depth *= 10
    stored = re.search(r"(\d+) states, stored", p.stdout)
    errors = re.search(r"errors: (\d+)", p.stdout)
    if stored is None or errors is None:
        raise RuntimeError(f"pan printed no verdict: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    return {"states": int(stored.group(1)), "errors": int(errors.group(1)),
            "pan_seconds": t2 - t1, "total_seconds": t2 - t0, "depth_limit": depth,
            "output": p.stdout}
