"""Derived forms: the other layout and the differential are built by pushing transposes
through the tree, and every one of them is verified like a given form."""

from __future__ import annotations

import pytest
from matderiv.catalog.load import Identity
from matderiv.check.verify import verify_identity
from matderiv.lang.forms import prepare


def _ident(of, symbols, wrt, differential=None, **derivative):
    return Identity(id="t", title="t", symbols=symbols, of=of, wrt=wrt,
                    derivative=derivative, differential=differential, tags=[], sources=[],
                    notes=None, see_also=[], status=None, corrected_by=None, file="t.yaml",
                    line=1)


CASES = [
    ("a.T*X*b", {"X": "matrix m n", "a": "vector m", "b": "vector n"}, "X",
     {"numerator": "b*a.T"}, "a*b.T"),
    ("x.T*A*x", {"x": "vector n", "A": "matrix n n"}, "x",
     {"denominator": "(A + A.T)*x"}, "x.T*(A.T + A)"),
    ("log(det(X))", {"X": "matrix n n invertible"}, "X", {"numerator": "inv(X)"},
     "inv(X.T)"),
    ("U*v", {"t": "scalar", "U": "matrix m n of t", "v": "vector n of t"}, "t",
     {"numerator": "diff(U, t)*v + U*diff(v, t)"}, "v.T*diff(U, t) + diff(v, t)*U.T"),
    ("A*X*B", {"X": "matrix m n", "A": "matrix p m", "B": "matrix n q"}, "X",
     {"vec": "kron(B.T, A)", "differential": "A*dX*B"}, "kron(B, A.T)"),
]


@pytest.mark.parametrize("of,symbols,wrt,given,derived", CASES)
def test_derived_layout(of, symbols, wrt, given, derived):
    given = dict(given)
    differential = given.pop("differential", None)
    prep = prepare(_ident(of, symbols, wrt, differential, **given))
    (name,) = given
    target = {"numerator": "denominator", "denominator": "numerator",
              "vec": "vec_denominator"}[name]
    assert prep.forms[target].text == derived
    assert not prep.forms[target].given
    verdict = verify_identity(_ident(of, symbols, wrt, differential, **given))
    assert verdict.status == "verified"
    assert verdict.forms[target]["ok"] and not verdict.forms[target]["given"]


def test_differential_derived_from_numerator():
    prep = prepare(_ident("tr(A*X)", {"X": "matrix m n", "A": "matrix n m"}, "X",
                          numerator="A"))
    assert prep.forms["differential"].text == "tr(A*dX)"


def test_wrong_given_form_is_reported_once_not_through_its_derived_twins():
    verdict = verify_identity(_ident("x.T*A*x", {"x": "vector n", "A": "matrix n n"}, "x",
                                     numerator="2*x.T*A"))
    assert verdict.status == "failed"
    assert [code for code, _, _ in verdict.failures] == ["E402"]
