"""Format 1.2 functions (issue 15, item 1): expm, logm, pinv, tan, hadamard_pow,
hadamard_div, commutation, and `/` and `**` entry by entry: each next to a deliberately
wrong twin (dropped transpose, wrong factor, wrong order) that must fail; invalid uses with
their codes; the size rule, the budget, LaTeX, the NumPy snippet and derive's rules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from matderiv.catalog.load import Identity
from matderiv.check import exact, numeric
from matderiv.check.budget import too_costly
from matderiv.check.evaluate import DomainError
from matderiv.check.sizerule import degree_bound
from matderiv.check.verify import size_assignments, verify_identity
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.lang.forms import prepare
from matderiv.lang.latex import Printer
from matderiv.publish.snippet import snippet
from matderiv.symbolic import derive


def _ident(of, wrt, symbols, derivative=None, differential=None, id_="t"):
    return Identity(id_, id_, dict(symbols), of, wrt, dict(derivative or {}), differential,
                    [], [], None, [], None, None, "<test>", 1)


def verdict(of, wrt, symbols, **forms):
    differential = forms.pop("differential", None)
    return verify_identity(_ident(of, wrt, symbols, forms, differential))


SQUARE = {"X": "matrix n n"}
PD = {"X": "matrix n n positive-definite"}
TALL = {"X": "matrix m n", "A": "matrix m n"}
PINV_RIGHT = ("-pinv(X)*A*pinv(X) + pinv(X)*pinv(X).T*A.T*(eye(m) - X*pinv(X)) "
              "+ (eye(n) - pinv(X)*X)*A.T*pinv(X).T*pinv(X)")

# (of, wrt, symbols, the right form, a wrong form of the same kind)
PAIRS = {
    "expm-trace-dropped-transpose": (
        "tr(expm(X))", "X", SQUARE, {"denominator": "expm(X).T"}, {"denominator": "expm(X)"}),
    "expm-scaled-wrong-factor": (
        "expm(t*A)", "t", {"t": "scalar", "A": "matrix n n"},
        {"numerator": "A*expm(t*A)"}, {"numerator": "t*A*expm(t*A)"}),
    "expm-line-extra-factor": (
        # A + tB and B do not commute, yet under tr the derivative is tr(B e^(A + tB))
        "tr(expm(A + t*B))", "t", {"t": "scalar", "A": "matrix n n", "B": "matrix n n"},
        {"numerator": "tr(B*expm(A + t*B))"}, {"numerator": "tr(B*expm(A + t*B)*B)"}),
    "logm-trace-wrong-factor": (
        "tr(logm(X))", "X", PD, {"denominator": "inv(X).T"}, {"denominator": "2*inv(X).T"}),
    "logm-scaled-wrong-factor": (
        "logm(t*A)", "t", {"t": "scalar positive", "A": "matrix n n positive-definite"},
        {"numerator": "eye(n)/t"}, {"numerator": "A/t"}),
    "pinv-missing-correction-terms": (
        "tr(A*pinv(X))", "X", TALL, {"numerator": PINV_RIGHT},
        {"numerator": "-pinv(X)*A*pinv(X)"}),
    "pinv-differential-wrong-sign": (
        "pinv(X)", "X", {"X": "matrix m n"},
        {"differential": "-pinv(X)*dX*pinv(X) + pinv(X)*pinv(X).T*dX.T*(eye(m) - X*pinv(X)) "
                         "+ (eye(n) - pinv(X)*X)*dX.T*pinv(X).T*pinv(X)"},
        {"differential": "-pinv(X)*dX*pinv(X) - pinv(X)*pinv(X).T*dX.T*(eye(m) - X*pinv(X)) "
                         "+ (eye(n) - pinv(X)*X)*dX.T*pinv(X).T*pinv(X)"}),
    "tan-wrong-slope": (
        "sum(tan(X))", "X", {"X": "matrix m n"},
        {"denominator": "ones(m, n) + hadamard(tan(X), tan(X))"},
        {"denominator": "ones(m, n) - hadamard(tan(X), tan(X))"}),
    "hadamard-pow-wrong-exponent": (
        "sum(hadamard_pow(X, p))", "X", {"X": "matrix m n positive", "p": "scalar"},
        {"denominator": "p*hadamard_pow(X, p - 1)"}, {"denominator": "p*hadamard_pow(X, p)"}),
    "vector-power-wrong-factor": (
        "sum((X*w - y)**2)", "w", {"X": "matrix m n", "w": "vector n", "y": "vector m"},
        {"denominator": "2*X.T*(X*w - y)"}, {"denominator": "X.T*(X*w - y)"}),
    "hadamard-div-wrong-sign": (
        "sum(hadamard_div(A, X))", "X", {"A": "matrix m n", "X": "matrix m n nonzero"},
        {"denominator": "-hadamard_div(A, hadamard(X, X))"},
        {"denominator": "hadamard_div(A, hadamard(X, X))"}),
    "slash-quotient-wrong-operand": (
        "x / y", "y", {"x": "vector n", "y": "vector n nonzero"},
        {"numerator": "-diag(x / y**2)"}, {"numerator": "-diag(y / x**2)"}),
    "commutation-wrong-order": (
        "X.T", "X", {"X": "matrix m n"}, {"vec": "commutation(m, n)"},
        {"vec": "commutation(n, m)"}),
    "commutation-gram-dropped": (
        "X*X.T", "X", {"X": "matrix m n"},
        {"vec": "kron(X, eye(m)) + kron(eye(m), X)*commutation(m, n)"},
        {"vec": "kron(X, eye(m)) + kron(eye(m), X)"}),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_right_verified_wrong_failed(name):
    of, wrt, symbols, right, wrong = PAIRS[name]
    good = verdict(of, wrt, symbols, **right)
    assert good.status == "verified", good.failures
    assert good.guarantee == "checked"  # outside the trace-polynomial theorem: never proved
    bad = verdict(of, wrt, symbols, **wrong)
    assert bad.status == "failed", name
    assert {code for code, _, _ in bad.failures} <= {"E402", "E403"}


# ---------------------------------------------------------------- invalid uses


def _shape(text, symbols):
    decls = {n: S.parse_declaration(n, t) for n, t in symbols.items()}
    sizes = frozenset(s for d in decls.values() for s in d.size_names)
    ctx = E.Context(frozenset(decls), frozenset(), sizes, next(iter(decls)), frozenset())
    return S.infer(E.parse(text, ctx), S.ShapeEnv(decls, next(iter(decls))))


@pytest.mark.parametrize("text, symbols, code", [
    ("expm(A)", {"A": "matrix m n"}, "E302"),
    ("logm(x)", {"x": "vector n"}, "E302"),
    ("hadamard_pow(X, x)", {"X": "matrix m n", "x": "vector n"}, "E302"),
    ("hadamard_div(X, X.T)", {"X": "matrix m n"}, "E302"),
    ("X / X.T", {"X": "matrix m n"}, "E303"),
    ("A**2", {"A": "matrix m n"}, "E303"),
    ("hadamard_pow(X, 13)", {"X": "matrix m n"}, "E206"),
    ("hadamard_pow(X, n)", {"X": "matrix m n"}, "E209"),
    ("commutation(m)", {"X": "matrix m n"}, "E207"),
    ("commutation(X, n)", {"X": "matrix m n"}, "E207"),
    ("pinv(X, X)", {"X": "matrix m n"}, "E207"),
])
def test_invalid_uses(text, symbols, code):
    with pytest.raises(CatalogError) as info:
        _shape(text, symbols)
    assert info.value.code == code


@pytest.mark.parametrize("text, symbols, shape", [
    ("pinv(X)", {"X": "matrix m n"}, ("n", "m")),
    ("expm(X)", {"X": "matrix n n"}, ("n", "n")),
    ("commutation(m, n)", {"X": "matrix m n"}, ("m*n", "m*n")),
    ("x**3", {"x": "vector n"}, ("n", "1")),
    ("x.T**0.5", {"x": "vector n"}, ("1", "n")),
    ("X / Y", {"X": "matrix m n", "Y": "matrix m n"}, ("m", "n")),
    ("tan(X)", {"X": "matrix m n"}, ("m", "n")),
])
def test_valid_shapes(text, symbols, shape):
    got = _shape(text, symbols)
    assert tuple(str(s) for s in got) == shape


def test_expm_differential_is_not_the_commuting_one():
    """d e^X is not e^X dX (X and dX do not commute): the naive chain rule fails."""
    assert verdict("expm(X)", "X", SQUARE, differential="expm(X)*dX").status == "failed"


def test_pinv_two_term_formula_needs_full_column_rank():
    """Golub-Pereyra without its third term holds for m >= n only (conditions, 1.2)."""
    two = ("-pinv(X)*dX*pinv(X) + pinv(X)*pinv(X).T*dX.T*(eye(m) - X*pinv(X))")
    ident = _ident("pinv(X)", "X", {"X": "matrix m n"}, {}, two)
    assert verify_identity(ident).status == "failed"
    tall = Identity("t", "t", {"X": "matrix m n"}, "pinv(X)", "X", {}, two, [], [], None, [],
                    None, None, "<test>", 1, conditions=["m >= n"])
    assert verify_identity(tall).status == "verified"


def test_old_files_may_name_symbols_like_the_new_functions():
    result = verdict("tan*x", "x", {"tan": "scalar", "x": "vector n"}, numerator="tan*eye(n)")
    assert result.status == "verified"


# ---------------------------------------------------------------- the backends


def test_exact_expm_and_logm_invert_each_other():
    import numpy as np
    from gmpy2 import mpq

    values = np.array([[mpq(1, 2), mpq(1, 3)], [mpq(-1, 5), mpq(3, 2)]], dtype=object)
    e, _ = exact.expm_parts(values, None)
    back, _ = exact.logm_parts(e, None)
    assert max(abs(back[i, j] - values[i, j]) for i in range(2) for j in range(2)) < 1e-60


def test_logm_refuses_the_negative_real_axis():
    import numpy as np

    with pytest.raises(DomainError):
        numeric.logm(np.diag([-1.0, 2.0]))
    from gmpy2 import mpq

    with pytest.raises(DomainError):
        exact.logm_parts(np.array([[mpq(-1), mpq(0)], [mpq(0), mpq(2)]], dtype=object), None)


def test_numeric_expm_logm_agree_with_their_series():
    import numpy as np

    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 5))
    assert np.allclose(numeric.logm(numeric.expm(a / 4)), a / 4, atol=1e-10)
    k = numeric.commutation(2, 3)
    m = rng.standard_normal((2, 3))
    assert np.array_equal(k @ m.reshape(-1, 1, order="F"), m.T.reshape(-1, 1, order="F"))


def test_pinv_is_rational_in_the_exact_check():
    result = verdict("tr(A*pinv(X))", "X", TALL, numerator=PINV_RIGHT)
    assert result.exact == "rational arithmetic"
    assert verdict("tr(expm(X))", "X", SQUARE, denominator="expm(X).T").exact.startswith("256")


def test_size_rule_never_proves_the_new_functions():
    for of, wrt, symbols, right, _ in PAIRS.values():
        prep = prepare(_ident(of, wrt, symbols, right.copy()))
        forms = [f for f in prep.forms.values() if f.shape_ok]
        assert not degree_bound(prep, forms).covered, of


def test_expm_sizes_reach_the_heuristic_cap():
    prep = prepare(_ident("tr(expm(X))", "X", SQUARE, {"denominator": "expm(X).T"}))
    assert max(a["n"] for a in size_assignments(prep)) == 5


def test_budget_counts_matrix_functions():
    prep = prepare(_ident("tr(logm(X))", "X", PD, {"denominator": "inv(X).T"}))
    forms = list(prep.forms.values())
    assert too_costly(prep, forms, [{"n": 5}]) is None
    assert "exact dual" in too_costly(prep, forms, [{"n": 40}])


# ---------------------------------------------------------------- LaTeX, NumPy, derive


def test_latex_notations():
    symbols = {"X": "matrix m n", "Y": "matrix m n", "x": "vector n", "A": "matrix n n",
               "p": "scalar"}
    prep = prepare(_ident("sum(X)", "X", symbols, {"numerator": "ones(n, m)"}))
    env = S.ShapeEnv(prep.decls, "X", None)
    tex = Printer(prep.decls, lambda node: S.infer(node, env))

    def show(text):
        return tex(E.parse(text, E.Context(frozenset(prep.decls), frozenset(),
                                           frozenset({"m", "n"}), "X", frozenset())))

    assert show("expm(A)") == r"e^{\mathbf{A}}"
    assert r"\operatorname{logm}" in show("logm(A)")
    assert show("pinv(X)") == r"\mathbf{X}^{+}"
    assert r"\oslash" in show("X / Y") and r"\oslash" in show("hadamard_div(X, Y)")
    assert r"^{\circ p}" in show("hadamard_pow(X, p)") and r"^{\circ 2}" in show("x**2")
    assert show("commutation(m, n)") == r"\mathbf{K}_{m n}"
    assert r"\tan" in show("tan(X)")


@pytest.mark.parametrize("name", ["expm-trace-dropped-transpose", "logm-trace-wrong-factor",
                                  "pinv-missing-correction-terms", "commutation-wrong-order",
                                  "vector-power-wrong-factor", "slash-quotient-wrong-operand"])
def test_snippet_runs(name, tmp_path):
    of, wrt, symbols, right, _ = PAIRS[name]
    text = snippet(prepare(_ident(of, wrt, symbols, right)))
    assert text is not None
    path = tmp_path / "check.py"
    path.write_text(text)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr


@pytest.mark.parametrize("of, wrt, symbols, form", [
    ("tr(expm(X))", "X", SQUARE, ("denominator", "expm(X).T")),
    ("expm(t*A)", "t", {"t": "scalar", "A": "matrix n n"}, ("numerator", "A*expm(t*A)")),
    ("tr(logm(X))", "X", PD, ("denominator", "inv(X)")),
    ("sum(hadamard_pow(X, p))", "X", {"X": "matrix m n positive", "p": "scalar"},
     ("denominator", "p*hadamard_pow(X, p - 1)")),
    ("commutation(m, n)*vec(X)", "X", {"X": "matrix m n"}, ("vec", "commutation(m, n)")),
    ("X.T", "X", {"X": "matrix m n"}, ("vec", "commutation(m, n)")),
    ("X*X.T", "X", {"X": "matrix m n"},
     ("vec", "kron(X, eye(m)) + kron(eye(m), X)*commutation(m, n)")),
])
def test_derive_new_rules(of, wrt, symbols, form):
    result = derive(of, wrt, symbols)
    assert result.verified
    assert result.forms[form[0]] == form[1]


def test_derive_refuses_expm_without_a_closed_form():
    from matderiv.symbolic.core import Refused

    with pytest.raises(Refused):
        derive("expm(X)", "X", SQUARE)
