"""The expression language: the subset it accepts, what it rejects (with file:line), types."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from chargespec.errors import SpecError, Where
from chargespec.expr import (BoolT, EnumT, IntT, ListT, PythonBackend, SetT, TableT, TokenT,
                             check, parse, to_label)

W = Where("spec/session.yaml", 42)
SCOPE = {"cp": EnumT(("A", "B", "C")), "n": IntT(0, 80), "flag": BoolT(),
         "card": TokenT(), "uid": TokenT(nullable=False), "wl": ListT(TokenT(nullable=False))}


def evaluate(text, **env):
    resolve = lambda name: (lambda s, c, e, o: env[name])  # noqa: E731
    return PythonBackend(resolve).visit(parse(text, W))(None, None, None, None)


@pytest.mark.parametrize("text, env, expected", [
    ("cp == 'A'", {"cp": "A"}, True),
    ("cp in ['B', 'C']", {"cp": "A"}, False),
    ("cp not in ['B', 'C']", {"cp": "A"}, True),
    ("n + 2 - 1 >= 7", {"n": 6}, True),
    ("-n < 0", {"n": 3}, True),
    ("0 < n <= 10", {"n": 10}, True),
    ("0 < n <= 10", {"n": 11}, False),
    ("not flag and n > 1 or cp == 'C'", {"flag": True, "n": 5, "cp": "C"}, True),
    ("'x' if flag else 'y'", {"flag": False}, "y"),
    ("min(n, 16, 32)", {"n": 20}, 16),
    ("max(n, 6)", {"n": 2}, 6),
    ("card == None", {"card": None}, True),
    ("uid in wl", {"uid": "a", "wl": ("a", "b")}, True),
])
def test_python_backend_evaluates_the_subset(text, env, expected):
    assert evaluate(text, **env) == expected


@pytest.mark.parametrize("text, what", [
    ("__import__('os').system('true')", "__import__"),
    ("__import__('os')", "call of '__import__'"),
    ("open('/etc/passwd')", "call of 'open'"),
    ("cp.lower()", "call of 'cp.lower'"),
    ("cp.value == 1", "attribute access"),
    ("wl[0:1]", "indexing other than table[key]"),
    ("wl.x[0]", "indexing other than table[key]"),
    ("lambda: 1", "lambda"),
    ("n * 2", "Mult"),
    ("n / 2", "Div"),
    ("f'{cp}'", "f-string"),
    ("(x := 1)", "assignment"),
    ("{1: 2}", "a dict"),
    ("[i for i in wl]", "comprehension"),
    ("1.5 > n", "literal 1.5"),
    ("n ** 2", "Pow"),
    ("cp is None", "Is"),
])
def test_constructs_outside_the_subset_are_load_errors_with_file_and_line(text, what):
    with pytest.raises(SpecError) as err:
        parse(text, W)
    assert str(err.value).startswith("spec/session.yaml:42: ")
    assert what in str(err.value)


def test_syntax_error_names_file_and_line():
    with pytest.raises(SpecError, match=r"^spec/session.yaml:42: syntax error"):
        parse("cp == ", W)


@pytest.mark.parametrize("text, message", [
    ("cq == 'A'", "unknown name 'cq'.*did you mean 'cp'"),
    ("cp == 'Z'", "'Z' is not a value of 'cp'"),
    ("cp < 'B'", "compares integers"),
    ("n + flag > 1", "works on integers"),
    ("flag and n", "must be a condition"),
    ("cp == n", "cannot compare"),
    ("uid in cp", "must be a list"),
    ("('a' if flag else 3) == cp", "one type"),
])
def test_type_errors_name_the_problem(text, message):
    with pytest.raises(SpecError, match=message):
        check(parse(text, W), SCOPE, W)


# -- sets over one enum domain, and constant tables (the error model of §9)

ERR = ("a", "b", "c")
SET_SCOPE = {"errs": SetT(ERR), "stopping": SetT(ERR), "e": EnumT(ERR),
             "code": TableT(("none",) + ERR, EnumT(("NoError", "X", "Y"))), "n": IntT(0, 9)}
ORDER = {v: i for i, v in enumerate(ERR)}


def evaluate_sets(text, **env):
    resolve = lambda name: (lambda s, c, e, o: env[name])  # noqa: E731
    return PythonBackend(resolve, ORDER).visit(parse(text, W))(None, None, None, None)


@pytest.mark.parametrize("text, env, expected", [
    ("e in errs", {"e": "a", "errs": frozenset({"a"})}, True),
    ("e not in errs", {"e": "a", "errs": frozenset({"a"})}, False),
    ("errs | {e}", {"e": "b", "errs": frozenset({"a"})}, frozenset({"a", "b"})),
    ("errs - {'a'}", {"errs": frozenset({"a", "c"})}, frozenset({"c"})),
    ("any(errs & stopping)", {"errs": frozenset({"a"}), "stopping": frozenset({"b"})}, False),
    ("any(errs & stopping)", {"errs": frozenset({"b"}), "stopping": frozenset({"b"})}, True),
    ("first(errs)", {"errs": frozenset({"c", "b"})}, "b"),  # domain order, not string order
    ("first(errs)", {"errs": frozenset()}, "none"),
    ("code[first(errs)]", {"errs": frozenset({"a"}), "code": {"none": "NoError", "a": "X"}}, "X"),
])
def test_sets_and_tables_evaluate(text, env, expected):
    assert evaluate_sets(text, **env) == expected


def test_set_types():
    assert check(parse("errs | {e}", W), SET_SCOPE, W) == SetT(ERR)
    assert check(parse("first(errs)", W), SET_SCOPE, W) == EnumT(("none",) + ERR)
    assert check(parse("code[first(errs)]", W), SET_SCOPE, W) == EnumT(("NoError", "X", "Y"))
    assert check(parse("any(errs - stopping)", W), SET_SCOPE, W) == BoolT()


@pytest.mark.parametrize("text, message", [
    ("'z' in errs", "cannot be a member"),
    ("n in errs", "cannot be a member"),
    ("errs | n", "combines two sets"),
    ("any(n)", "takes a set"),
    ("n[e]", "'n' is not a table"),
    ("code['z']", "'z' is not a key of table code"),
    ("code[n]", "key 'n' of table code"),
    ("{n} == errs", "members of a set display are enum values"),
    ("first(errs, errs) == 'a'", r"first\(...\) with 2 arguments"),
])
def test_set_and_table_type_errors(text, message):
    with pytest.raises(SpecError, match=message):
        check(parse(text, W), SET_SCOPE, W)


def test_comparisons_are_typed_as_conditions():
    assert check(parse("n >= 6 and cp != 'A'", W), SCOPE, W) == BoolT()
    assert check(parse("n + 2", W), SCOPE, W) == IntT(2, 82)


# -- the label back end prints what the parser reads: parse(label(e)) == e, for all e

names = st.sampled_from(["n", "flag", "cp"])
ints = st.integers(-5, 99).map(str)


def int_expr():
    return st.recursive(
        st.one_of(ints, st.just("n")),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"min({', '.join(xs)})"),
        ), max_leaves=6)


def bool_expr():
    atom = st.one_of(
        st.just("flag"),
        st.tuples(int_expr(), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), int_expr())
          .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.sampled_from(["A", "B", "C"]).map(lambda v: f"cp == '{v}'"),
        st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3)
          .map(lambda vs: f"cp in {vs!r}"))
    return st.recursive(atom, lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]}) if ({t[1]}) else ({t[2]})"),
    ), max_leaves=8)


@given(bool_expr())
def test_labels_parse_back_to_the_same_expression(text):
    e = parse(text, W)
    assert parse(to_label(e), W) == e


@given(bool_expr(), st.integers(0, 80), st.booleans(), st.sampled_from(["A", "B", "C"]))
def test_label_evaluates_like_the_expression(text, n, flag, cp):
    env = {"n": n, "flag": flag, "cp": cp}
    assert evaluate(to_label(parse(text, W)), **env) == evaluate(text, **env)


# ---------------------------------------------------------------- token sets, listed, definitions

from chargespec.expr import Name, TokenSetT, listed, substitute  # noqa: E402

TSCOPE = {**SCOPE, "cache": TokenSetT()}


@pytest.mark.parametrize("text, env, expected", [
    ("uid in cache", {"uid": "a", "cache": frozenset({"a"})}, True),
    ("uid not in cache", {"uid": "a", "cache": frozenset()}, True),
    ("cache | {uid}", {"uid": "a", "cache": frozenset({"b"})}, frozenset({"a", "b"})),
    ("cache - {card}", {"card": "b", "cache": frozenset({"a", "b"})}, frozenset({"a"})),
    ("cache - {card}", {"card": None, "cache": frozenset({"a"})}, frozenset({"a"})),
    ("{}", {}, frozenset()),
    ("listed(uid, wl, 1)", {"uid": "a", "wl": ("a#2",)}, False),
    ("listed(uid, wl, 2)", {"uid": "a", "wl": ("a#2",)}, True),
    ("listed(uid, wl, 2)", {"uid": "a", "wl": ("a",)}, True),
    ("listed(card, wl, 1)", {"card": None, "wl": ("a",)}, False),
])
def test_token_sets_and_listed_evaluate(text, env, expected):
    assert evaluate(text, **env) == expected


def test_token_set_types():
    assert check(parse("cache | {uid}", W), TSCOPE, W) == TokenSetT()
    assert check(parse("cache - {}", W), TSCOPE, W) == TokenSetT()
    assert check(parse("listed(uid, wl, n)", W), TSCOPE, W) == BoolT()


@pytest.mark.parametrize("text, message", [
    ("cp in cache", "cannot be a member of"),
    ("cache | {cp}", "cannot hold"),
    ("listed(uid, cache, 1)", "takes a token, a list and an integer"),
    ("listed(uid, wl)", "listed(...) with 2 arguments"),
    ("{'a': 1}", "a dict"),
])
def test_token_set_errors(text, message):
    with pytest.raises(SpecError) as err:
        check(parse(text, W), TSCOPE, W)
    assert message in str(err.value) and "spec/session.yaml:42" in str(err.value)


@given(st.text("ab#12", max_size=6), st.lists(st.text("ab#12", max_size=6), max_size=4),
       st.sampled_from([1, 2]))
def test_listed_is_plain_membership_or_this_charge_points_postfix(uid, entries, n):
    assert listed(uid, tuple(entries), n) == (uid in entries or f"{uid}#{n}" in entries)


def test_definitions_are_expanded_before_any_back_end_sees_them():
    defs = {"online": parse("n > 0 and not flag", W)}
    e = substitute(parse("online or cp == 'A'", W), defs)
    assert "online" not in to_label(e) and to_label(e) == "n > 0 and not flag or cp == 'A'"
    assert substitute(Name("other"), defs) == Name("other")


def test_a_folded_multi_line_expression_is_one_expression():
    text = "flag\nand not (n > 1\n         and cp == 'A')\nor n == 0"
    assert evaluate(text, flag=True, n=5, cp="B") is True
