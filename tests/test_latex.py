"""The LaTeX printer: notation, precedence, and nothing but math commands."""

from __future__ import annotations

import re

import pytest
from matderiv.catalog.load import Identity
from matderiv.lang.forms import prepare
from matderiv.lang.latex import PlainPrinter, Printer, lhs, symbol
from matderiv.lang.shapes import ShapeEnv, infer


def _ident(of, symbols, wrt="X", **derivative):
    return Identity(id="t", title="t", symbols=symbols, of=of, wrt=wrt,
                    derivative=derivative, differential=None, tags=[], sources=[],
                    notes=None, see_also=[], status=None, corrected_by=None, file="t.yaml",
                    line=1)


def _tex(of, symbols, wrt="X", printer=Printer):
    prep = prepare(_ident(of, symbols, wrt, numerator="0"))
    prep.problems = [p for p in prep.problems if p.code != "E109"]  # forms do not matter here
    assert not prep.invalid, prep.problems
    env = ShapeEnv(prep.decls, wrt)
    return printer(prep.decls, lambda n: infer(n, env))(prep.of)


def _lhs(of, symbols, wrt="X", layout="numerator"):
    """The left-hand side as the export writes it: the printer's TeX and precedence."""
    prep = prepare(_ident(of, symbols, wrt, numerator="0"))
    prep.problems = [p for p in prep.problems if p.code != "E109"]
    env = ShapeEnv(prep.decls, wrt)
    printer = Printer(prep.decls, lambda n: infer(n, env))
    of_tex, of_prec = printer.tex(prep.of)
    from matderiv.lang import expr as E

    return lhs(of_tex, printer(E.Sym(wrt)), layout, of_prec=of_prec)


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
    assert "E.PRECEDENCE[op]" in inspect.getsource(snippet._Code)  # its binary rule


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


# ---------------------------------------------------------------- the left-hand side

MATRICES = {"X": "matrix n n", "A": "matrix n n"}


@pytest.mark.parametrize("of,expected", [
    ("log(det(X))", r"\frac{\partial \log \det\left(\mathbf{X}\right)}{\partial \mathbf{X}}"),
    ("tr(A*X)", r"\frac{\partial \operatorname{tr}\left(\mathbf{A} \mathbf{X}\right)}"
                r"{\partial \mathbf{X}}"),
    ("X", r"\frac{\partial \mathbf{X}}{\partial \mathbf{X}}"),
    ("X.T", r"\frac{\partial \mathbf{X}^{\top}}{\partial \mathbf{X}}"),
    ("inv(X)", r"\frac{\partial \mathbf{X}^{-1}}{\partial \mathbf{X}}"),
    ("norm(X)**2", r"\frac{\partial \left\lVert \mathbf{X} \right\rVert_F^{2}}"
                   r"{\partial \mathbf{X}}"),
])
def test_the_derivative_of_a_call_symbol_or_postfix_needs_no_parentheses(of, expected):
    """∂ log det X / ∂X, not ∂(log det X)/∂X: ∂ binds like a function name."""
    assert _lhs(of, MATRICES) == expected


@pytest.mark.parametrize("of", ["A*X", "A + X", "-X", "kron(A, X)", "hadamard(A, X)"])
def test_a_product_sum_or_negation_keeps_its_parentheses(of):
    assert _lhs(of, MATRICES).startswith(r"\frac{\partial \left(")


def test_the_differential_takes_atoms_only():
    """d tr(AX) and d log det X bare; d(X⁻¹), d(Xᵀ A X) and d(X²) keep theirs: bare, dX⁻¹
    would read as (dX)⁻¹."""
    assert _lhs("tr(A*X)", MATRICES, layout="differential") == (
        r"\mathrm{d}\operatorname{tr}\left(\mathbf{A} \mathbf{X}\right)")
    assert _lhs("X", MATRICES, layout="differential") == r"\mathrm{d}\mathbf{X}"
    for of in ("inv(X)", "X.T*A*X", "X**2"):
        assert _lhs(of, MATRICES, layout="differential").startswith(r"\mathrm{d}\left("), of


def test_hessian_and_tied_forms_follow_the_same_rule():
    assert _lhs("log(det(X))", MATRICES, layout="symmetric_tied").startswith(
        r"\left.\frac{\partial \log \det")
    x = {"x": "vector n", "A": "matrix n n"}
    assert r"\partial^2 \left(\mathbf{x}^{\top}" in _lhs("x.T*A*x", x, "x", "hessian")
    assert r"\partial^2 \left\lVert" in _lhs("norm(x)**2", x, "x", "hessian")


def test_without_a_precedence_the_parentheses_stay():
    """Callers that do not pass the precedence (gen/symbolic's derivation view) keep the
    old, always safe, form."""
    assert lhs(r"\mathbf{X}", r"\mathbf{X}", "numerator") == (
        r"\frac{\partial \left(\mathbf{X}\right)}{\partial \mathbf{X}}")


# ---------------------------------------------------------------- plain text


@pytest.mark.parametrize("of,symbols,wrt,expected", [
    ("x.T*A*x", {"x": "vector n", "A": "matrix n n"}, "x", "xᵀAx"),
    ("norm(X*W - Y)**2", {"X": "matrix m n", "W": "matrix n k", "Y": "matrix m k"}, "W",
     "‖XW − Y‖_F²"),
    ("norm(x - a)", {"x": "vector n", "a": "vector n"}, "x", "‖x − a‖"),
    ("log(det(X))", {"X": "matrix n n"}, "X", "log det(X)"),
    ("tr(A*inv(X).T)", MATRICES, "X", "tr(AX⁻ᵀ)"),
    ("a*tr(X)", {"a": "scalar", "X": "matrix n n"}, "X", "a tr(X)"),
    ("kron(A, X)*kron(A, X)", MATRICES, "X", "(A ⊗ X)(A ⊗ X)"),
    ("(A + X)*(A - X)", MATRICES, "X", "(A + X)(A − X)"),
    ("A*(-X)", MATRICES, "X", "A(−X)"),
    ("(X.T*X)**2", MATRICES, "X", "(XᵀX)²"),
    ("(X**2).T", MATRICES, "X", "(X²)ᵀ"),
    ("mu.T*Sigma*x1", {"mu": "vector n", "Sigma": "matrix n n", "x1": "vector n"}, "x1",
     "μᵀΣx₁"),
    ("sum(exp(x))", {"x": "vector n"}, "x", "sum(exp∘(x))"),
    ("exp(-norm(x)**2/(2*s**2))", {"x": "vector n", "s": "scalar"}, "x",
     "exp(−‖x‖²/(2s²))"),
])
def test_plain_printer_reads_like_the_formula(of, symbols, wrt, expected):
    """The plain-text twin of the TeX (browser tabs, tables of contents): Unicode from the
    parse tree, the same parentheses as the TeX, products side by side."""
    assert _tex(of, symbols, wrt, printer=PlainPrinter) == expected
