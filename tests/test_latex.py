"""The LaTeX printer: notation, precedence, and nothing but math commands."""

from __future__ import annotations

import re

import pytest
from matderiv.catalog.load import Identity
from matderiv.lang.forms import prepare
from matderiv.lang.latex import Printer, symbol
from matderiv.lang.shapes import ShapeEnv, infer


def _ident(of, symbols, wrt="X", **derivative):
    return Identity(id="t", title="t", symbols=symbols, of=of, wrt=wrt,
                    derivative=derivative, differential=None, tags=[], sources=[],
                    notes=None, see_also=[], status=None, corrected_by=None, file="t.yaml",
                    line=1)


def _tex(of, symbols, wrt="X"):
    prep = prepare(_ident(of, symbols, wrt, numerator="0"))
    prep.problems = [p for p in prep.problems if p.code != "E109"]  # forms do not matter here
    assert not prep.invalid, prep.problems
    env = ShapeEnv(prep.decls, wrt)
    return Printer(prep.decls, lambda n: infer(n, env))(prep.of)


@pytest.mark.parametrize("name,kind,expected", [
    ("x", "vector", r"\mathbf{x}"), ("X", "matrix", r"\mathbf{X}"), ("a", "scalar", "a"),
    ("Sigma", "matrix", r"\boldsymbol{\Sigma}"), ("mu", "vector", r"\boldsymbol{\mu}"),
    ("x1", "vector", r"\mathbf{x}_{1}"), ("lam", "scalar", r"\lambda"),
])
def test_symbols(name, kind, expected):
    assert symbol(name, kind) == expected


def test_transpose_inverse_and_functions():
    tex = _tex("tr(A*inv(X).T) + log(det(X))", {"X": "matrix n n", "A": "matrix n n"})
    assert tex == (r"\operatorname{tr}\left(\mathbf{A} \mathbf{X}^{-\top}\right) + "
                   r"\log \det\left(\mathbf{X}\right)")  # no redundant parentheses


def test_elementwise_functions_are_marked():
    """exp of a vector is taken entry by entry: exp_∘(x), never read as a matrix function;
    of a scalar it is plain exp."""
    assert _tex("sum(exp(x))", {"x": "vector n"}, "x") == (
        r"\operatorname{sum}\left(\exp_{\circ}\left(\mathbf{x}\right)\right)")
    assert _tex("exp(t)", {"t": "scalar"}, "t") == r"\exp\left(t\right)"
    assert r"\sigma_{\circ}" in _tex("sum(sigmoid(X))", {"X": "matrix m n"})


def test_one_precedence_table():
    """The text, LaTeX and NumPy printers share lang/expr's table."""
    import inspect

    from matderiv.lang import expr as E
    from matderiv.lang import latex
    from matderiv.publish import snippet

    assert (latex.SUM, latex.OTIMES, latex.PRODUCT, latex.NEG, latex.POSTFIX, latex.ATOM) == (
        E.SUM, E.OTIMES, E.PRODUCT, E.NEG, E.POWER, E.ATOM)
    assert E._PRECEDENCE is E.PRECEDENCE
    assert "E.PRECEDENCE[op]" in inspect.getsource(snippet._Code._bin)


def test_kronecker_inside_a_product_is_parenthesised():
    tex = _tex("kron(A, X)*kron(A, X)", {"X": "matrix n n", "A": "matrix n n"})
    assert tex.startswith(r"\left(\mathbf{A} \otimes \mathbf{X}\right) \left(")


def test_negative_right_factor_is_parenthesised():
    tex = _tex("A*(-X)", {"X": "matrix n n", "A": "matrix n n"})
    assert tex == r"\mathbf{A} \left(-\mathbf{X}\right)"


def test_sum_inside_product_and_norms():
    tex = _tex("norm(X - A)**2", {"X": "matrix m n", "A": "matrix m n"})
    assert tex == r"\left\lVert \mathbf{X} - \mathbf{A} \right\rVert_F^{2}"
    tex = _tex("norm(x)", {"x": "vector n"}, wrt="x")
    assert tex == r"\left\lVert \mathbf{x} \right\rVert"


def test_only_whitelisted_commands():
    tex = _tex("softmax(x).T*diag(exp(x))*ones(n) + sigmoid(x).T*x/sqrt(x.T*x)",
               {"x": "vector n"}, wrt="x")
    commands = set(re.findall(r"\\[A-Za-z]+", tex))
    assert commands <= {r"\operatorname", r"\mathbf", r"\left", r"\right", r"\exp",
                        r"\sigma", r"\frac", r"\sqrt", r"\top", r"\circ"}


@pytest.mark.parametrize("of", ["expm(X).T", "pinv(X).T", "(X**2).T", "inv(X).T",
                                "hadamard_pow(X, 2).T", "(expm(X)**2).T", "expm(X.T).T"])
def test_no_double_superscript(of):
    """A superscripted result (e^X, X^+, X^2) is wrapped before another superscript:
    TeX and KaTeX refuse `e^{X}^{\\top}`."""
    tex = _tex(of, {"X": "matrix n n"})
    depth, last_closed_sup = 0, False
    i = 0
    while i < len(tex):  # a `^` right after a closing superscript group is a double one
        if tex[i] == "^":
            assert not last_closed_sup, tex
            if tex[i + 1] == "{":
                depth, start = 0, i + 1
                for j in range(start, len(tex)):
                    depth += {"{": 1, "}": -1}.get(tex[j], 0)
                    if depth == 0:
                        i = j
                        break
            else:
                i += 1
            last_closed_sup = True
        elif not tex[i].isspace():
            last_closed_sup = False
        i += 1
