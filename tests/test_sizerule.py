"""The size rule: degree bounds counted as catalog-format.md says, which identities the
Procesi–Razmyslov theorem covers, and assignments that keep the format's promise. Next to
each rule, a false identity that only that rule exposes."""

from __future__ import annotations

import pytest
from conftest import identity, verify_one, write
from matderiv.catalog.load import load_file
from matderiv.check.sizerule import (
    EXACT_CAP,
    NUMERIC_FLOOR,
    degree_bound,
    exact_assignments,
    numeric_assignment,
)
from matderiv.lang.forms import prepare


def _bound(tmp_path, symbols, of, wrt, derivative=None, differential=None):
    item = identity("b", symbols, of, wrt, derivative or {}, differential)
    (ident,), _ = load_file(write(tmp_path, item))
    prep = prepare(ident)
    return degree_bound(prep, [f for f in prep.forms.values() if f.given])


@pytest.mark.parametrize("of, wrt, symbols, derivative, degree, bound, covered", [
    # scalar of: the bound is the degree
    ("x.T*A*x", "x", {"x": "vector n", "A": "matrix n n"},
     {"denominator": "(A + A.T)*x"}, 3, 3, True),
    ("tr(X*X*X*X)", "X", {"X": "matrix n n"}, {"denominator": "4*(X.T*X.T*X.T)"}, 4, 4, True),
    # matrix-valued of: one more (contract with one more matrix)
    ("X*X*X", "X", {"X": "matrix n n"}, None, 3, 4, True),
    # outside the theorem: det, inverse, entrywise functions (doubled)
    ("log(det(X))", "X", {"X": "matrix n n"}, {"denominator": "inv(X).T"}, 2, 2, False),
])
def test_degree_bound(tmp_path, of, wrt, symbols, derivative, degree, bound, covered):
    differential = "dX*X*X + X*dX*X + X*X*dX" if derivative is None else None
    got = _bound(tmp_path, symbols, of, wrt, derivative, differential)
    assert (got.degree, got.bound, got.covered) == (degree, bound, covered)


def test_hadamard_doubles_the_bound(tmp_path):
    got = _bound(tmp_path, {"X": "matrix n n"}, "tr(hadamard(X, X)*X)", "X",
                 {"denominator": "2*hadamard(X, X.T) + hadamard(X, X)"})
    assert not got.covered and got.bound == 2 * got.degree


def test_exact_assignments_keep_the_promise():
    class B:
        exact_size = 6
    for names in (["n"], ["m", "n"], ["k", "m", "n", "p"]):
        small, large = exact_assignments(names, B)
        for a in (small, large):
            assert len(set(a.values())) == len(names)
        assert all(v >= 6 for v in large.values())
        for a in names:
            for b in names:
                if a != b:
                    assert (small[a] < small[b]) != (large[a] < large[b])


def test_numeric_assignment_is_large_and_takes_the_missing_parity():
    class B:
        bound, covered = 4, True
    earlier = [{"m": 2, "n": 3}, {"m": 5, "n": 4}]
    sizes = numeric_assignment(["m", "n"], B, earlier, 7)
    assert min(sizes.values()) >= NUMERIC_FLOOR and sizes["m"] != sizes["n"]
    one = [{"n": 2}, {"n": 4}]
    assert numeric_assignment(["n"], B, one, 7)["n"] % 2 == 1


# ---------------------------------------------------------------- rules against false claims


def test_cayley_hamilton_rewrite_true_only_at_n3_fails(tmp_path):
    """d(X³) with X² replaced by its 3×3 Cayley–Hamilton reduction: the bound is 4."""
    ch = ("tr(X)*X - (tr(X)**2 - tr(X*X))/2*eye(n) + det(X)*inv(X)")
    item = identity("ch", {"X": "matrix n n"}, "X*X*X", "X", {},
                    f"dX*({ch}) + X*dX*X + X*X*dX")
    row = verify_one(tmp_path, item)
    assert row["status"] == "failed", row


def test_trace_identity_of_degree_four_needs_n4(tmp_path):
    """4 tr(X³)ᵀ... written with the 3×3 reduction of X³ is right for n ≤ 3 only."""
    reduced = ("tr(X)*X*X - (tr(X)**2 - tr(X*X))/2*X + "
               "(tr(X)**3 - 3*tr(X)*tr(X*X) + 2*tr(X*X*X))/6*eye(n)")
    row = verify_one(tmp_path, identity("t4", {"X": "matrix n n"}, "tr(X*X*X*X)", "X",
                                        {"numerator": f"4*({reduced})"}))
    assert row["status"] == "failed", row
    true = verify_one(tmp_path, identity("t4", {"X": "matrix n n"}, "tr(X*X*X*X)", "X",
                                         {"numerator": "4*X*X*X"}))
    assert true["status"] == "verified" and true["guarantee"] == "proved", true


def test_guarantee_checked_outside_the_theorem(tmp_path):
    row = verify_one(tmp_path, identity("ld", {"X": "matrix n n"}, "log(det(X))", "X",
                                        {"denominator": "inv(X).T"}))
    # where det X < 0 the log is undefined: such points are redrawn, never counted
    assert row["status"] == "verified" and row["guarantee"] == "checked", row
    row = verify_one(tmp_path, identity("d", {"X": "matrix n n"}, "det(X)", "X",
                                        {"denominator": "det(X)*inv(X).T"}))
    assert row["status"] == "verified" and row["guarantee"] == "checked", row


def test_the_cap_is_said(tmp_path):
    row = verify_one(tmp_path, identity("c", {"X": "matrix n n"}, "tr(X**10)", "X",
                                        {"numerator": "10*X**9"}))
    assert row["status"] == "verified" and row["capped"] and row["bound"] > EXACT_CAP
    assert row["guarantee"] == "checked", row


def test_names_never_take_a_literal_size():
    class B:
        exact_size, bound, covered = 3, 3, True
    small, large = exact_assignments(["m", "n"], B, frozenset({3}))
    assert 3 not in small.values() and 3 not in large.values()
    assert 3 not in numeric_assignment(["n"], B, [small, large], 1, frozenset({6, 7})).values()


def test_a_size_name_is_never_checked_at_a_literal_size_of_the_identity(tmp_path):
    """A is n × 3: with n = 3 the wrong form A.T would have the right shape."""
    symbols = {"A": "matrix n 3", "x": "vector 3", "y": "vector n"}
    row = verify_one(tmp_path, identity("lit", symbols, "y.T*A*x", "A",
                                        {"denominator": "y*x.T"}))
    assert row["status"] == "verified"
    sizes = [s for step in row["evidence"] for s in [step["sizes"]["n"]]]
    assert 3 not in sizes


def test_structured_points_are_never_proved(tmp_path):
    """Diagonal matrices commute, orthogonal ones satisfy QᵀQ = I: the theorem is about
    generic matrices, so an identity stated on such points is checked, not proved."""
    row = verify_one(tmp_path, identity("dg", {"D": "matrix n n diagonal", "X": "matrix n n"},
                                        "tr(D*X)", "X", {"denominator": "D"}))
    assert row["status"] == "verified" and row["guarantee"] == "checked", row
    row = verify_one(tmp_path, identity("gn", {"A": "matrix n n", "X": "matrix n n"},
                                        "tr(A*X)", "X", {"denominator": "A.T"}))
    assert row["guarantee"] == "proved", row
