"""The safe expression parser: whitelisted syntax only, limits, and never any evaluation of
catalog text (property tests with hypothesis)."""

from __future__ import annotations

import ast
import builtins
import contextlib
from fractions import Fraction

import pytest
import sympy
import sympy.parsing.sympy_parser as sympy_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matderiv.errors import CatalogError
from matderiv.lang import expr as E

NODE_TYPES = (E.Num, E.Sym, E.Differential, E.Size, E.Neg, E.Bin, E.Transpose, E.Call,
              E.Apply, E.DiffOf)


def ctx(where: str = "of", differentials: bool = False, diffs: bool = False) -> E.Context:
    return E.Context(
        symbols=frozenset({"x", "y", "A", "B", "X", "t", "U"}), functions=frozenset({"g"}),
        sizes=frozenset({"n", "m"}), wrt="x", dependent=frozenset({"U"}),
        differentials=differentials, diffs=diffs, where=where,
    )


FORM = ctx("derivative.denominator", diffs=True)
DIFFERENTIAL = ctx("differential", differentials=True)


def code_of(text: str, context: E.Context | None = None) -> str:
    with pytest.raises(CatalogError) as info:
        E.parse(text, context or ctx())
    return info.value.code


# ---------------------------------------------------------------- what is accepted


def test_tree_of_a_quadratic_form():
    tree = E.parse("x.T*A*x", ctx())
    assert tree == E.Bin("*", E.Bin("*", E.Transpose(E.Sym("x")), E.Sym("A")), E.Sym("x"))


@pytest.mark.parametrize("text, tree", [
    ("2*x", E.Bin("*", E.Num(Fraction(2)), E.Sym("x"))),
    ("0.5*x", E.Bin("*", E.Num(Fraction(1, 2)), E.Sym("x"))),
    ("-x", E.Neg(E.Sym("x"))),
    ("+x", E.Sym("x")),
    ("x/2", E.Bin("/", E.Sym("x"), E.Num(Fraction(2)))),
    ("A**-1", E.Bin("**", E.Sym("A"), E.Neg(E.Num(Fraction(1))))),
    ("tr(A)", E.Call("tr", (E.Sym("A"),))),
    ("kron(A, B)", E.Call("kron", (E.Sym("A"), E.Sym("B")))),
    ("eye(n)", E.Call("eye", (E.Size("n"),))),
    ("zeros(m, 3)", E.Call("zeros", (E.Size("m"), E.Num(Fraction(3))))),
    ("g(x)", E.Apply("g", E.Sym("x"))),
])
def test_accepted_expressions(text, tree):
    assert E.parse(text, ctx()) == tree


def test_differentials_and_diffs_where_they_belong():
    assert E.parse("dx.T*A*x", DIFFERENTIAL) == E.Bin(
        "*", E.Bin("*", E.Transpose(E.Differential("x")), E.Sym("A")), E.Sym("x"))
    assert E.parse("dU", DIFFERENTIAL) == E.Differential("U")
    assert E.parse("diff(U, x)*y", FORM) == E.Bin("*", E.DiffOf("U", "x"), E.Sym("y"))
    assert E.parse("diff(g)(x)", FORM) == E.Apply("g", E.Sym("x"), 1)
    assert E.parse("diff(g)(x)", DIFFERENTIAL) == E.Apply("g", E.Sym("x"), 1)


@pytest.mark.parametrize("text, context, code", [
    ("dx", ctx(), "E208"),  # a differential in `of`
    ("dx", FORM, "E208"),  # ... or in a derivative form
    ("dA", DIFFERENTIAL, "E208"),  # A neither the variable nor dependent on it
    ("diff(U, x)", ctx(), "E208"),  # diff only in forms
    ("diff(U, x)", DIFFERENTIAL, "E208"),
    ("diff(A, x)", FORM, "E208"),  # A does not depend on x
    ("diff(U, t)", FORM, "E208"),  # the variable is x
    ("diff(U)", FORM, "E207"),
    ("diff(U, x, x)", FORM, "E207"),
    ("diff(g)(x)", ctx(), "E208"),  # diff(g)(u) not in `of`
    ("diff(g)(x, y)", FORM, "E207"),
    ("tr(A)(x)", FORM, "E201"),
    ("g", ctx(), "E208"),  # a function must be applied
    ("tr", ctx(), "E208"),
    ("x.T*x**n", ctx(), "E209"),  # format 1.1: a size is a number, but never an exponent
    ("x.T*x**(n - 1)", ctx(), "E209"),
    ("k*x", ctx(), "E202"),  # a name no declaration uses as a size
    ("g(x, y)", ctx(), "E207"),
    ("eye(k)", ctx(), "E207"),  # undeclared size
    ("eye(0)", ctx(), "E207"),
    ("eye(65)", ctx(), "E207"),
    ("eye(2.5)", ctx(), "E207"),
    ("eye(x)", ctx(), "E207"),
    ("eye(n, n)", ctx(), "E207"),
    ("ones()", ctx(), "E207"),
    ("zeros(1, 2, 3)", ctx(), "E207"),
    ("tr(A, B)", ctx(), "E207"),
    ("kron(A)", ctx(), "E207"),
    ("tr(x=A)", ctx(), "E201"),
    ("tr(*A)", ctx(), "E201"),
    ("foo(x)", ctx(), "E203"),
    ("z", ctx(), "E202"),
    ("x.H", ctx(), "E204"),
    ("x.T.I", ctx(), "E204"),
    ("True", ctx(), "E201"),
    ("None", ctx(), "E201"),
    ("'x'", ctx(), "E201"),
    ("b'x'", ctx(), "E201"),
    ("1j", ctx(), "E201"),
    ("...", ctx(), "E201"),
    ("x**13", ctx(), "E206"),
    ("x**(2**3)", ctx(), "E206"),  # an exponent that is itself a power: a tower
    ("t**9**9**9", ctx(), "E206"),
    ("t**(10**6)", ctx(), "E206"),
    ("t**(2*1000)", ctx(), "E206"),  # a constant exponent is evaluated against the limit
    ("x**-13", ctx(), "E206"),
    ("1000001*x", ctx(), "E206"),
    ("1e999", ctx(), "E206"),
    ("x // 2", ctx(), "E201"),
    ("x % 2", ctx(), "E201"),
    ("x @ A", ctx(), "E201"),
    ("~x", ctx(), "E201"),
    ("not x", ctx(), "E201"),
    ("x < y", ctx(), "E201"),
    ("x and y", ctx(), "E201"),
    ("(x, y)", ctx(), "E201"),
    ("[x]", ctx(), "E201"),
    ("{x: y}", ctx(), "E201"),
    ("x +", ctx(), "E200"),
    ("", ctx(), "E200"),
    ("x = 1", ctx(), "E200"),
])
def test_rejected_expressions(text, context, code):
    assert code_of(text, context) == code


def test_exponent_limit_boundary():
    assert E.parse("x**12", ctx()) == E.Bin("**", E.Sym("x"), E.Num(Fraction(12)))
    assert E.parse("x**-12", ctx()).op == "**"
    assert code_of("x**12.5") == "E206"


def test_length_limit_boundary():
    text = "x" + "+x" * ((E.MAX_LENGTH - 1) // 2)
    assert len(text) <= E.MAX_LENGTH
    assert code_of(text) == "E205"  # many nodes
    assert code_of(" " * (E.MAX_LENGTH + 1) + "x") == "E205"


def test_depth_and_node_limits():
    deep = E.MAX_PARENTHESES
    assert isinstance(E.parse("(" * deep + "x" + ")" * deep, ctx()), E.Sym)
    assert code_of("(" * (deep + 1) + "x" + ")" * (deep + 1)) == "E205"
    assert code_of("-" * (E.MAX_DEPTH + 5) + "x") == "E205"  # deep without parentheses
    assert code_of("+".join(["x"] * (E.MAX_NODES // 2 + 10))) == "E205"


def test_real_expressions_fit_the_limits():
    """A 1,000-node expression with many parentheses (as in SymPy's own tests) parses."""
    term = "(x.T*x)*(x.T*x) + tr(A*A.T)*(x.T*A*x)"
    text = " + ".join(f"({term})" for _ in range(40))
    tree = E.parse(text, ctx())
    assert sum(1 for _ in E.walk(tree)) > 900


def test_not_a_text():
    assert code_of(42) == "E200"  # type: ignore[arg-type]


def test_messages_name_the_place():
    with pytest.raises(CatalogError) as info:
        E.parse("foo(x)", ctx("derivative.vec"))
    assert str(info.value) == "derivative.vec: unknown function `foo`"


@pytest.mark.parametrize("text", [
    "x.T*A*x", "-x.T*(A + A.T)*x", "(A*B).T", "inv(A).T*x", "A**-1", "(-A)**2", "-A**2",
    "x/(2*t)", "x - (y - x)", "x/t/t", "kron(A, B.T)", "diag(x)*y", "2**t", "t**0.5",
    "eye(n) - A", "ones(m, n)", "g(x.T*y)", "0.25*x", "---x",
])
def test_to_text_round_trips(text):
    tree = E.parse(text, ctx())
    assert E.parse(E.to_text(tree), ctx()) == tree


# ---------------------------------------------------------------- property tests

ATOMS = ["x", "y", "A", "B", "X", "t", "U", "g", "n", "m", "dx", "dU", "1", "2", "0.5", "1e9",
         "10**6", "9", "tr", "det", "inv", "log", "exp", "kron", "diag", "vec", "eye", "ones",
         "zeros", "diff", "softmax", "norm", "__import__", "os", "eval", "exec", "open",
         "lambda", "import", "if", "else", "for", "in", "not", "None", "True", "'s'", "f'{x}'",
         "__class__", "__dict__", "__globals__", "self", "q"]
PUNCT = ["+", "-", "*", "/", "**", "@", ".T", ".", "(", ")", "(", ")", ",", ":", ";", "[", "]",
         "{", "}", "=", ":=", "==", "<", "~", "%", "//", "&", "|", "^", " ", "\n", "\\", "#",
         "\0", "'", '"', "`", "$"]
TOKENS = st.sampled_from(ATOMS + PUNCT)
SOUPS = st.lists(TOKENS, max_size=40).map("".join)
SPACED = st.lists(TOKENS, max_size=40).map(" ".join)
CONTEXTS = st.sampled_from([ctx(), FORM, DIFFERENTIAL])


ALLOWED_IMPORTS = {"collections", "unicodedata"}  # the stdlib itself: ast.walk, NFKC names


class _Forbidden(AssertionError):
    pass


@contextlib.contextmanager
def no_evaluation():
    """eval, exec, bytecode compilation, imports and sympify all raise while active.

    `ast.parse` calls `compile` with the only-AST flag, which builds a syntax tree and runs
    nothing; every other use of `compile` is forbidden. `ast.walk` imports `collections`
    (already loaded) inside the standard library; every other import is forbidden.
    """
    real_compile = builtins.compile
    real_import = builtins.__import__

    def stdlib_only(name, *args, **kwargs):
        if name not in ALLOWED_IMPORTS:
            raise _Forbidden(f"import of {name!r} during parse")
        return real_import(name, *args, **kwargs)

    def forbid(name):
        def raiser(*args, **kwargs):
            raise _Forbidden(f"{name} called during parse")
        return raiser

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            raise _Forbidden("compile to bytecode during parse")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile", "__import__")}
    saved_sympy = (sympy.sympify, sympy_parser.parse_expr)
    builtins.eval = forbid("eval")
    builtins.exec = forbid("exec")
    builtins.compile = ast_only
    builtins.__import__ = stdlib_only
    sympy.sympify = forbid("sympify")
    sympy_parser.parse_expr = forbid("parse_expr")
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(builtins, name, value)
        sympy.sympify, sympy_parser.parse_expr = saved_sympy


def guarded_parse(text, context):
    """Parse with evaluation forbidden; only a tree or a CatalogError may come out."""
    try:
        with no_evaluation():
            tree = E.parse(text, context)
    except CatalogError as exc:
        assert exc.code.startswith("E2"), exc.code
        assert str(exc).startswith(context.where + ":")
        return None
    assert all(isinstance(node, NODE_TYPES) for node in E.walk(tree))
    return tree


def test_the_guard_catches_evaluation():
    """The guard itself must be able to fail."""
    with pytest.raises(_Forbidden), no_evaluation():
        eval("1")  # noqa: S307
    with pytest.raises(_Forbidden), no_evaluation():
        import os  # noqa: F401
    with pytest.raises(_Forbidden), no_evaluation():
        sympy.sympify("x")
    with pytest.raises(_Forbidden), no_evaluation():
        compile("1", "<s>", "eval")
    assert builtins.eval("1") == 1  # noqa: S307  (restored)


FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=200), CONTEXTS)
def test_random_text_never_crashes_nor_evaluates(text, context):
    guarded_parse(text, context)


@FAST
@given(SOUPS, CONTEXTS)
def test_token_soup_never_crashes_nor_evaluates(text, context):
    guarded_parse(text, context)


@FAST
@given(SPACED, CONTEXTS)
def test_spaced_token_soup_never_crashes_nor_evaluates(text, context):
    guarded_parse(text, context)


# well-formed expressions built from the grammar: accepted, and they round-trip
LEAVES = st.sampled_from(["x", "y", "t", "A", "B", "2", "0.5", "eye(n)", "ones(n)"])


def _grow(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"({c}).T"),
        st.tuples(children, st.integers(-12, 12)).map(lambda p: f"({p[0]})**{p[1]}"),
        st.tuples(st.sampled_from(["tr", "det", "inv", "log", "exp", "vec", "diag", "g"]),
                  children).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(st.sampled_from(["kron", "hadamard"]), children, children).map(
            lambda p: f"{p[0]}({p[1]}, {p[2]})"),
    )


GRAMMAR = st.recursive(LEAVES, _grow, max_leaves=12)


@FAST
@given(GRAMMAR)
def test_grammar_expressions_parse_and_print_stably(text):
    tree = guarded_parse(text, ctx())
    if tree is None:  # the one documented limit the grammar can reach: power towers (E206)
        with pytest.raises(CatalogError, match="powers of powers of powers"):
            E.parse(text, ctx())
        return
    printed = E.to_text(tree)
    again = E.parse(printed, ctx())
    # equal up to the associativity of + (x + (y + z) prints as x + y + z)
    assert E.to_text(again) == printed
    if "+" not in printed and "-" not in printed:
        assert again == tree


def test_transpose_of_a_number_prints_parseably():
    tree = E.parse("(2).T*x", ctx())
    assert E.parse(E.to_text(tree), ctx()) == tree
