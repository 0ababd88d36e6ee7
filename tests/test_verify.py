"""Verification: for every kind of check, a deliberately wrong identity that is rejected,
next to its true twin that verifies."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, codes, identity, verify_json, verify_one, write
from matderiv.catalog.load import load_file
from matderiv.check import verify as V
from matderiv.lang.forms import prepare

VEC = {"x": "vector n"}

# (case, true twin, wrong identity, code of the wrong one)
CASES = [
    (
        "dropped-transpose-rectangular",
        identity("t", {"A": "matrix n m", "X": "matrix m n"}, "tr(A*X)", "X",
                 {"denominator": "A.T", "numerator": "A"}),
        identity("w", {"A": "matrix n m", "X": "matrix m n"}, "tr(A*X)", "X",
                 {"denominator": "A"}),
        "E401",
    ),
    (
        "dropped-transpose-square",
        identity("t", {"A": "matrix n n", "X": "matrix n n"}, "tr(A*X)", "X",
                 {"denominator": "A.T"}),
        identity("w", {"A": "matrix n n", "X": "matrix n n"}, "tr(A*X)", "X",
                 {"denominator": "A"}),
        "E402",
    ),
    (
        "swapped-product",
        identity("t", {"A": "matrix n n", "B": "matrix n n", "x": "vector n"}, "A*B*x", "x",
                 {"numerator": "A*B"}),
        identity("w", {"A": "matrix n n", "B": "matrix n n", "x": "vector n"}, "A*B*x", "x",
                 {"numerator": "B*A"}),
        "E402",
    ),
    (
        "wrong-coefficient",
        identity("t", VEC, "x.T*x", "x", {"denominator": "2*x"}),
        identity("w", VEC, "x.T*x", "x", {"denominator": "x"}),
        "E402",
    ),
    (
        "wrong-kronecker-order",
        identity("t", {"A": "matrix m n", "X": "matrix n p", "B": "matrix p q"}, "A*X*B", "X",
                 {"vec": "kron(B.T, A)"}, "A*dX*B"),
        identity("w", {"A": "matrix m n", "X": "matrix n p", "B": "matrix p q"}, "A*X*B", "X",
                 {"vec": "kron(A, B.T)"}, "A*dX*B"),
        "E402",
    ),
    (
        "true-only-for-2x2",  # Cayley-Hamilton: X^2 - tr(X) X + det(X) I = 0 for 2x2 only
        identity("t", {"X": "matrix 2 2"}, "X*X - tr(X)*X + det(X)*eye(2)", "X",
                 differential="0"),
        identity("w", {"X": "matrix n n"}, "X*X - tr(X)*X + det(X)*eye(n)", "X",
                 differential="0"),
        "E402",
    ),
    (
        "true-only-for-square-shapes",  # d det(AXB)/dX = det(AXB) X^-T needs square A, B
        identity("t", {"A": "matrix n n", "X": "matrix n n invertible", "B": "matrix n n"},
                 "det(A*X*B)", "X", {"denominator": "det(A*X*B)*inv(X).T"}),
        identity("w", {"A": "matrix p n", "X": "matrix n n invertible", "B": "matrix n p"},
                 "det(A*X*B)", "X", {"denominator": "det(A*X*B)*inv(X).T"}),
        "E402",
    ),
    (
        "true-only-for-symmetric",
        identity("t", {"x": "vector n", "A": "matrix n n symmetric"}, "x.T*A*x", "x",
                 {"denominator": "2*A*x"}),
        identity("w", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                 {"denominator": "2*A*x"}),
        "E402",
    ),
    (
        "wrong-differential",
        identity("t", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                 {"denominator": "(A + A.T)*x"}, "dx.T*(A + A.T)*x"),
        identity("w", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                 {"denominator": "(A + A.T)*x"}, "2*dx.T*A*x"),
        "E402",
    ),
    (
        # dx.T*dx is 1 = the right value along every unit direction: only the check along
        # a combination of directions (linearity) can reject it.
        "differential-not-linear",
        identity("t", VEC, "ones(n).T*x", "x", {"denominator": "ones(n)"}, "ones(n).T*dx"),
        identity("w", VEC, "ones(n).T*x", "x", {"denominator": "ones(n)"}, "dx.T*dx"),
        "E407",
    ),
    (
        "product-rule-wrong-order",
        identity("t", {"t": "scalar", "U": "matrix n n of t", "V": "matrix n n of t"}, "U*V",
                 "t", {"numerator": "diff(U, t)*V + U*diff(V, t)"}, "dU*V + U*dV"),
        identity("w", {"t": "scalar", "U": "matrix n n of t", "V": "matrix n n of t"}, "U*V",
                 "t", {"numerator": "V*diff(U, t) + U*diff(V, t)"}),
        "E402",
    ),
    (
        "product-rule-wrong-order-differential",
        identity("t", {"t": "scalar", "U": "matrix n n of t", "V": "matrix n n of t"}, "U*V",
                 "t", {"numerator": "diff(U, t)*V + U*diff(V, t)"}, "dU*V + U*dV"),
        identity("w", {"t": "scalar", "U": "matrix n n of t", "V": "matrix n n of t"}, "U*V",
                 "t", {"numerator": "diff(U, t)*V + U*diff(V, t)"}, "V*dU + U*dV"),
        "E402",
    ),
    (
        "generic-chain-rule",
        identity("t", {"x": "vector n", "a": "vector n", "g": "function"}, "g(a.T*x)", "x",
                 {"denominator": "diff(g)(a.T*x)*a"}),
        identity("w", {"x": "vector n", "a": "vector n", "g": "function"}, "g(a.T*x)", "x",
                 {"denominator": "diff(g)(a.T*x)*x"}),
        "E402",
    ),
    (
        "generic-chain-rule-missing-inner-derivative",
        identity("t", {"x": "vector n", "g": "function"}, "g(x)", "x",
                 {"numerator": "diag(diff(g)(x))"}),
        identity("w", {"x": "vector n", "g": "function"}, "g(x)", "x",
                 {"numerator": "diag(g(x))"}),
        "E402",
    ),
    (
        "wrong-layout",
        identity("t", {"x": "vector n", "a": "vector n"}, "a.T*x", "x", {"denominator": "a"}),
        identity("w", {"x": "vector n", "a": "vector n"}, "a.T*x", "x", {"denominator": "a.T"}),
        "E401",
    ),
    (
        "wrong-layout-jacobian",
        identity("t", {"x": "vector n", "A": "matrix m n"}, "A*x", "x", {"numerator": "A"}),
        identity("w", {"x": "vector n", "A": "matrix m n"}, "A*x", "x", {"denominator": "A"}),
        "E401",
    ),
    (
        # an odd-sized skew-symmetric matrix is singular: the point must still be usable
        "skew-symmetric-quadratic-form-vanishes",
        identity("t", {"x": "vector n", "A": "matrix n n skew-symmetric"}, "x.T*A*x", "x",
                 {"denominator": "zeros(n)"}),
        identity("w", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                 {"denominator": "zeros(n)"}),
        "E402",
    ),
    (
        "log-det-positive-definite",
        identity("t", {"X": "matrix n n positive-definite"}, "log(det(X))", "X",
                 {"denominator": "inv(X)"}),
        identity("w", {"X": "matrix n n invertible"}, "log(abs(det(X)))", "X",
                 {"denominator": "inv(X)"}),
        "E402",
    ),
    (
        "inverse-matrix-by-scalar",
        identity("t", {"t": "scalar", "U": "matrix n n invertible of t"}, "inv(U)", "t",
                 {"numerator": "-inv(U)*diff(U, t)*inv(U)"}),
        identity("w", {"t": "scalar", "U": "matrix n n invertible of t"}, "inv(U)", "t",
                 {"numerator": "-inv(U)*inv(U)*diff(U, t)"}),
        "E402",
    ),
    (
        "softmax-jacobian",
        identity("t", VEC, "softmax(x)", "x",
                 {"numerator": "diag(softmax(x)) - softmax(x)*softmax(x).T"}),
        identity("w", VEC, "softmax(x)", "x", {"numerator": "diag(softmax(x))"}),
        "E402",
    ),
]


@pytest.mark.parametrize("case, true, wrong, code", CASES, ids=[c[0] for c in CASES])
def test_true_twin_verifies(tmp_path, case, true, wrong, code):
    row = verify_one(tmp_path, true)
    assert row["status"] == "verified", row["message"]
    assert codes(row) == []
    for record in row["forms"].values():
        assert record["ok"]
        assert record["numeric_error"] is not None and record["numeric_error"] < 1e-6


@pytest.mark.parametrize("case, true, wrong, code", CASES, ids=[c[0] for c in CASES])
def test_wrong_identity_is_rejected(tmp_path, case, true, wrong, code):
    row = verify_one(tmp_path, wrong)
    assert row["status"] == "failed", row
    assert set(codes(row)) == {code}, row["message"]
    bad = [name for name, r in row["forms"].items() if r["given"] and not r["ok"]]
    assert bad, row["forms"]
    if code == "E407":
        # read off the form itself, before any point is drawn
        assert all(row["forms"][name]["exact_error"] is None for name in bad)
    if code == "E402":
        # both checks see it, independently: the exact error and the numeric error
        for name in bad:
            assert row["forms"][name]["exact_error"] > 0
            assert row["forms"][name]["numeric_error"] > 1e-6


@pytest.mark.parametrize("case, true, wrong, code", CASES, ids=[c[0] for c in CASES])
def test_wrong_identity_as_erratum_is_refuted(tmp_path, case, true, wrong, code):
    row = verify_one(tmp_path, {**wrong, "status": "erratum"})
    assert row["status"] == "refuted", row["message"]
    assert set(codes(row)) == {code}


@pytest.mark.parametrize("case, true, wrong, code", CASES[:4], ids=[c[0] for c in CASES[:4]])
def test_true_identity_as_erratum_fails_with_e405(tmp_path, case, true, wrong, code):
    row = verify_one(tmp_path, {**true, "status": "erratum"})
    assert row["status"] == "failed"
    assert codes(row) == ["E405"]


def test_failure_message_names_form_sizes_and_error(tmp_path):
    row = verify_one(tmp_path, identity("w", VEC, "x.T*x", "x", {"denominator": "x"}))
    (p,) = row["problems"]
    assert p["code"] == "E402"
    assert "denominator" in p["message"] and "n=" in p["message"]
    assert "largest error" in p["message"]


def test_numeric_check_alone_rejects_a_float_cancellation():
    """E403: exact arithmetic agrees, float64 cannot: the numeric check still counts."""
    _, report = verify_json(FIXTURES / "failing" / "E403-cancellation.yaml")
    (row,) = report["identities"]
    record = row["forms"]["numerator"]
    assert record["exact_error"] == pytest.approx(0, abs=1e-30)
    assert record["numeric_error"] > 1e-6


def test_valid_fixtures_verify():
    code, report = verify_json(FIXTURES / "valid")
    statuses = {row["id"]: row["status"] for row in report["identities"]}
    assert statuses["erratum-refuted"] == "refuted"
    assert set(statuses.values()) == {"verified", "refuted"}
    assert code == 0


def test_derived_forms_are_checked_and_listed(tmp_path):
    row = verify_one(tmp_path, identity("t", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x",
                                        "x", {"denominator": "(A + A.T)*x"}))
    forms = row["forms"]
    assert forms["denominator"]["given"]
    assert not forms["numerator"]["given"] and forms["numerator"]["ok"]
    assert not forms["differential"]["given"] and forms["differential"]["ok"]


def test_zero_literal_stands_for_the_zero_array(tmp_path):
    row = verify_one(tmp_path, identity("t", {"x": "vector n", "a": "vector n"}, "a", "x",
                                        {"numerator": "0"}))
    assert row["status"] == "verified", row["message"]


def test_zero_numerator_of_a_constant_vector_of_another_size(tmp_path):
    row = verify_one(tmp_path, identity("t", {"x": "vector n", "a": "vector m"}, "a", "x",
                                        {"numerator": "0"}))
    assert row["status"] == "verified", row["message"]


def test_nan_is_never_a_pass(tmp_path):
    # the form divides by zero everywhere: it must not pass as "no error"
    row = verify_one(tmp_path, identity("w", {"t": "scalar"}, "t", "t",
                                        {"numerator": "(t - t)/(t - t)"}))
    assert row["status"] == "failed", row


# ---------------------------------------------------------------- size assignments


def _prepared(tmp_path, symbols):
    item = identity("s", symbols, "x.T*x", "x", {"denominator": "2*x"})
    (ident,), _ = load_file(write(tmp_path, item))
    return prepare(ident)


@pytest.mark.parametrize("names", [["n"], ["m", "n"], ["m", "n", "p"], ["k", "m", "n", "p"]])
def test_size_assignments_keep_the_promise(tmp_path, names):
    symbols = {"x": "vector n"} | {f"A{i}": f"vector {s}" for i, s in enumerate(names)}
    prep = _prepared(tmp_path, symbols)
    sizes = V.size_assignments(prep)
    assert len(sizes) >= 2
    for assignment in sizes:
        assert set(assignment) == set(names)
        assert len(set(assignment.values())) == len(names)  # distinct values per name
        assert all(v >= 2 for v in assignment.values())
    for name in names:
        assert any(a[name] >= 3 for a in sizes), name
    for a in names:
        for b in names:
            if a != b:
                assert any(s[a] < s[b] for s in sizes) and any(s[a] > s[b] for s in sizes)


def test_size_assignments_without_sizes(tmp_path):
    prep = _prepared(tmp_path, {"x": "vector 3"})
    assert V.size_assignments(prep) == [{}, {}]


def test_verdict_is_deterministic(tmp_path):
    item = identity("w", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                    {"denominator": "2*A*x"})
    (ident,), _ = load_file(write(tmp_path, item))
    first, second = V.verify_identity(ident), V.verify_identity(ident)
    assert first.status == second.status == "failed"
    assert first.failures == second.failures


# ---------------------------------------------------------------- help at the point of failure


def _messages(row: dict) -> str:
    return " ".join(p["message"] for p in row["problems"])


@pytest.mark.parametrize("symbols, of, wrt, given, other", [
    ({"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x", {"numerator": "(A + A.T)*x"},
     "denominator"),                                     # wrong shape: a column for a row
    ({"X": "matrix n n", "A": "matrix n n"}, "tr(A*X)", "X", {"numerator": "A.T"},
     "denominator"),                                     # right shape, the transpose
    ({"X": "matrix n n", "A": "matrix n n"}, "tr(A*X)", "X", {"denominator": "A"},
     "numerator"),
    ({"x": "vector n", "A": "matrix m n"}, "A*x", "x", {"denominator": "A"}, "numerator"),
])
def test_a_form_under_the_wrong_layout_says_where_it_belongs(tmp_path, symbols, of, wrt,
                                                               given, other):
    row = verify_one(tmp_path, identity("misplaced", symbols, of, wrt, given))
    assert row["status"] == "failed"
    assert f"put it under `derivative.{other}`" in _messages(row), row


def test_a_plainly_wrong_form_gets_no_layout_hint(tmp_path):
    row = verify_one(tmp_path, identity("wrong", {"x": "vector n", "A": "matrix n n"},
                                        "x.T*A*x", "x", {"denominator": "2*A*x"}))
    assert row["status"] == "failed" and "put it under" not in _messages(row)
