"""Format 1.2, declarations and forms (issue 15): `hessian`, `k: integer`, shape
`conditions` and the derivative by a symmetric matrix with tied entries. Each next to a
deliberately wrong twin that must fail, and their invalid uses."""

from __future__ import annotations

import pytest
from matderiv.catalog.load import Identity
from matderiv.catalog.schema import reference_markdown
from matderiv.check.sizerule import honour, integer_values
from matderiv.check.verify import verify_identity
from matderiv.lang.forms import Condition, prepare


def ident(of, wrt, symbols, derivative=None, hessian=None, conditions=(), id_="t"):
    return Identity(id_, id_, dict(symbols), of, wrt, dict(derivative or {}), None, [], [],
                    None, [], None, None, "<test>", 1, hessian=hessian,
                    conditions=list(conditions))


def verdict(*args, **kwargs):
    return verify_identity(ident(*args, **kwargs))


def codes(v) -> set[str]:
    return {code for code, _, _ in v.failures}


# ---------------------------------------------------------------- hessian

QUAD = {"x": "vector n", "A": "matrix n n"}
TRXAX = {"X": "matrix m n", "A": "matrix m m"}

HESSIANS = {
    # (of, wrt, symbols, derivative, right Hessian, wrong Hessian)
    "quadratic-form": ("x.T*A*x", "x", QUAD, {"denominator": "(A + A.T)*x"},
                       "A + A.T", "2*A"),
    "quadratic-form-alone": ("x.T*A*x", "x", QUAD, None, "A + A.T", "2*A.T"),
    "trace-by-matrix": ("tr(X.T*A*X)", "X", TRXAX, {"denominator": "(A + A.T)*X"},
                        "kron(eye(n), A + A.T)", "kron(A + A.T, eye(n))"),
    "softplus": ("log(1 + exp(a.T*x))", "x", {"x": "vector n", "a": "vector n"}, None,
                 "sigmoid(a.T*x)*(1 - sigmoid(a.T*x))*a*a.T", "sigmoid(a.T*x)*a*a.T"),
    "scalar": ("1/t", "t", {"t": "scalar positive"}, None, "2/t**3", "-2/t**3"),
}


@pytest.mark.parametrize("name", sorted(HESSIANS))
def test_hessian_right_verifies_and_wrong_fails(name):
    of, wrt, symbols, derivative, right, wrong = HESSIANS[name]
    good = verdict(of, wrt, symbols, derivative, hessian=right)
    assert good.status == "verified", good.failures
    assert good.forms["hessian"]["ok"]
    bad = verdict(of, wrt, symbols, derivative, hessian=wrong)
    assert bad.status == "failed"
    assert codes(bad) & {"E402", "E403"}
    assert all(key == "hessian" for _, _, key in bad.failures)


def test_a_right_hessian_beside_a_wrong_gradient_fails_on_the_gradient_only():
    v = verdict("x.T*A*x", "x", QUAD, {"denominator": "2*A*x"}, hessian="A + A.T")
    assert v.status == "failed"
    assert v.forms["hessian"]["ok"] and not v.forms["denominator"]["ok"]


def test_hessian_shape_is_checked():
    v = verdict("tr(X.T*A*X)", "X", TRXAX, hessian="A + A.T")
    assert v.status == "failed" and codes(v) == {"E401"}


@pytest.mark.parametrize("of, symbols, hessian", [
    ("A*x", QUAD, "0"),
    ("a.T*u", {"x": "vector n", "a": "vector n", "u": "vector n of x"}, "0"),
])
def test_hessian_of_a_vector_or_with_dependents_is_invalid(of, symbols, hessian):
    prep = prepare(ident(of, "x", symbols, {"numerator": "0"}, hessian=hessian))
    assert [p.code for p in prep.problems] == ["E123"]


# ---------------------------------------------------------------- k: integer

TRK = {"X": "matrix n n", "k": "integer"}


@pytest.mark.parametrize("of, symbols, right, wrong", [
    ("tr(X**k)", TRK, "k*(X**(k - 1)).T", "k*X**(k - 1)"),
    ("tr(A*X**k)", {"X": "matrix n n invertible", "A": "matrix n n", "k": "integer"},
     None, None),
    ("det(X**k)", {"X": "matrix n n invertible", "k": "integer"},
     "k*det(X**k)*inv(X).T", "k*det(X**k)*inv(X)"),
    ("x**(2*k)", {"x": "scalar positive", "k": "integer"}, "2*k*x**(2*k - 1)",
     "2*k*x**(2*k)"),
])
def test_integer_power_right_and_wrong(of, symbols, right, wrong):
    if right is None:
        return
    good = verdict(of, "X" if "X" in symbols else "x", symbols, {"denominator": right})
    assert good.status == "verified", good.failures
    assert good.guarantee == "checked"
    bad = verdict(of, "X" if "X" in symbols else "x", symbols, {"denominator": wrong})
    assert bad.status == "failed"


def test_integer_values_tried_include_0_1_and_larger_and_negatives_only_if_invertible():
    v = verdict("tr(X**k)", "X", TRK, {"denominator": "k*(X**(k - 1)).T"})
    tried = {step["sizes"]["k"] for step in v.evidence if step["check"] == "exact"}
    assert tried == {0, 1, 2, 3, 5}
    inv = {"X": "matrix n n invertible", "k": "integer"}
    v = verdict("tr(X**k)", "X", inv, {"denominator": "k*(X**(k - 1)).T"})
    assert v.status == "verified", v.failures
    tried = {step["sizes"]["k"] for step in v.evidence if step["check"] == "exact"}
    assert tried == {0, 1, 2, 3, 5, -1, -2}


def test_a_form_right_only_for_some_k_fails():
    # k*X**(k-1) transposed is right; X**(k-1)*k*k agrees at k = 0 and 1 only
    v = verdict("tr(X**k)", "X", TRK, {"denominator": "k*k*(X**(k - 1)).T"})
    assert v.status == "failed"


def test_integer_in_an_exponent_of_a_size_is_still_refused():
    prep = prepare(ident("tr(X**n)", "X", TRK, {"denominator": "n*(X**(n - 1)).T"}))
    assert "E209" in {p.code for p in prep.problems}


def test_integer_values_unit():
    prep = prepare(ident("tr(X**k)", "X", TRK, {"denominator": "k*(X**(k - 1)).T"}))
    assert integer_values(prep) == {"k": (0, 1, 2, 3, 5)}


# ---------------------------------------------------------------- conditions

LOGDET = ("log(det(X.T*X))", "X", {"X": "matrix m n"}, {"denominator": "2*X*inv(X.T*X)"})


def test_condition_makes_a_tall_identity_verify_and_without_it_fails():
    of, wrt, symbols, derivative = LOGDET
    good = verdict(of, wrt, symbols, derivative, conditions=["m >= n"])
    assert good.status == "verified", good.failures
    assert all(s["m"] >= s["n"] for s in good.sizes)
    bad = verdict(of, wrt, symbols, derivative)
    assert bad.status == "failed"


def test_wide_condition_does_not_rescue_a_tall_identity():
    of, wrt, symbols, derivative = LOGDET
    v = verdict(of, wrt, symbols, derivative, conditions=["m < n"])
    assert v.status == "failed"


def test_strict_condition_and_lower_bound_are_honoured():
    v = verdict("tr(A*X)", "X", {"X": "matrix m n", "A": "matrix n m", "B": "matrix p p"},
                {"denominator": "A.T"}, conditions=["m > n", "n >= 4"])
    assert v.status == "verified", v.failures
    assert v.sizes and all(s["m"] > s["n"] >= 4 for s in v.sizes)
    pairs = {(s["m"] > s["p"]) for s in v.sizes}
    assert pairs == {True, False}  # a pair the conditions leave free: both orders


def test_honour_keeps_values_and_orders():
    conds = [Condition("m >= n", "m", "n", False)]
    assert honour({"m": 2, "n": 3}, conds) == {"m": 3, "n": 2}
    assert honour({"m": 5, "n": 4}, conds) == {"m": 5, "n": 4}
    assert honour({"m": 6, "n": 6}, conds) == {"m": 6, "n": 6}  # the equal assignment
    strict = [Condition("m > n", "m", "n", True)]
    assert honour({"m": 6, "n": 6}, strict) == {"m": 7, "n": 6}


@pytest.mark.parametrize("conditions, code", [
    (["m >= p"], "E124"), (["m == n"], "E124"), (["3 >= n"], "E124"), (["m >= "], "E124"),
    (["m > n", "n > m"], "E125"), (["m >= n", "n >= m"], "E125"), (["m > m"], "E125"),
])
def test_bad_conditions(conditions, code):
    of, wrt, symbols, derivative = LOGDET
    prep = prepare(ident(of, wrt, symbols, derivative, conditions=conditions))
    assert {p.code for p in prep.problems} == {code}


# ---------------------------------------------------------------- symmetric_tied

SYM = {"X": "matrix n n symmetric", "A": "matrix n n"}


@pytest.mark.parametrize("of, symbols, right, wrong", [
    ("tr(A*X)", SYM, "A + A.T - hadamard(A, eye(n))", "(A + A.T)/2"),
    ("log(det(X))", {"X": "matrix n n positive-definite"},
     "2*inv(X) - hadamard(inv(X), eye(n))", "inv(X)"),
    ("det(X)", {"X": "matrix n n symmetric invertible"},
     "det(X)*(2*inv(X) - hadamard(inv(X), eye(n)))", "det(X)*inv(X)"),
])
def test_symmetric_tied_right_and_wrong(of, symbols, right, wrong):
    good = verdict(of, "X", symbols, {"symmetric_tied": right})
    assert good.status == "verified", good.failures
    assert good.guarantee == "checked"
    bad = verdict(of, "X", symbols, {"symmetric_tied": wrong})
    assert bad.status == "failed" and codes(bad) & {"E402", "E403"}


def test_symmetric_tied_beside_the_ordinary_gradient():
    v = verdict("tr(A*X)", "X", SYM, {"denominator": "A.T",
                                       "symmetric_tied": "A + A.T - hadamard(A, eye(n))"})
    assert v.status == "verified", v.failures


@pytest.mark.parametrize("symbols, of", [
    ({"X": "matrix n n", "A": "matrix n n"}, "tr(A*X)"),
    ({"X": "matrix n n symmetric", "A": "matrix n n"}, "A*X"),
])
def test_symmetric_tied_needs_a_symmetric_variable_and_a_scalar(symbols, of):
    prep = prepare(ident(of, "X", symbols, {"symmetric_tied": "A"}))
    assert "E126" in {p.code for p in prep.problems}


def test_reference_documents_the_new_keys():
    text = reference_markdown()
    for word in ("`hessian`", "`conditions`", "`symmetric_tied`", "integer", "(G + Gᵀ)/2"):
        assert word in text


# ---------------------------------------------------------------- the record, the card, the sheets


def _record(ident_):
    from matderiv.publish.export import record

    release = {"version": "0", "date": "2026-01-01", "site_url": "https://example.org/"}
    return record(prepare(ident_), verify_identity(ident_), release, {})


def test_record_shows_conditions_hessian_integers_and_tied_forms():
    of, wrt, symbols, derivative = LOGDET
    rec = _record(ident(of, wrt, symbols, derivative, conditions=["m>=n"]))
    assert rec["conditions"] == ["m >= n"]
    assert all(s["m"] >= s["n"] for s in rec["verification"]["sizes"])
    rec = _record(ident("tr(X.T*A*X)", "X", TRXAX, {"denominator": "(A + A.T)*X"},
                        hessian="kron(eye(n), A + A.T)"))
    assert "conditions" not in rec
    assert rec["forms"]["hessian"]["text"] == "kron(eye(n), A + A.T)"
    assert r"\operatorname{vec}" in rec["forms"]["hessian"]["lhs"]
    assert "hessian" in rec["verification"]["forms_checked"]
    rec = _record(ident("tr(X**k)", "X", TRK, {"denominator": "k*(X**(k - 1)).T"}))
    k = next(s for s in rec["symbols"] if s["name"] == "k")
    assert k["kind"] == "integer" and "0, 1, 2, 3, 5" in k["words"]
    rec = _record(ident("tr(A*X)", "X", SYM, {"denominator": "A.T",
                                               "symmetric_tied": "A + A.T - hadamard(A, eye(n))"}))
    assert rec["forms"]["symmetric_tied"]["given"]
    assert "symmetric_tied" in rec["verification"]["forms_checked"]


def test_sheet_conditions_print_the_shape_conditions_and_integers():
    from matderiv.render.pdf import _conditions

    symbols = [{"name": "X", "latex": r"\mathbf{X}", "declaration": "matrix m n",
                "words": "", "depends_on": None},
               {"name": "k", "latex": "k", "declaration": "integer", "words": "",
                "depends_on": None}]
    text = _conditions(symbols, ["m >= n"])
    assert r"m \geq n" in text and r"k\in\mathbb{Z}" in text
    with pytest.raises(ValueError):
        _conditions(symbols, ["m >= n}"])
