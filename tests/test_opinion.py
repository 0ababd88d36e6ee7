"""SymPy's second opinion: recorded, right where SymPy is right, never decisive."""

from __future__ import annotations

from matderiv.catalog.load import Identity
from matderiv.check.opinion import opinion
from matderiv.check.verify import verify_identity
from matderiv.lang.forms import prepare


def _ident(of, symbols, wrt, **derivative):
    return Identity(id="t", title="t", symbols=symbols, of=of, wrt=wrt,
                    derivative=derivative, differential=None, tags=[], sources=[],
                    notes=None, see_also=[], status=None, corrected_by=None, file="t.yaml",
                    line=1)


def test_sympy_agrees_on_a_trace():
    ident = _ident("tr(A*X)", {"X": "matrix m n", "A": "matrix n m"}, "X", numerator="A")
    result = opinion(prepare(ident), {"m": 2, "n": 3}, 1)
    assert result["agrees"] is True
    assert result["closed_form"]


def test_sympy_wrong_on_log_det_does_not_fail_the_identity():
    ident = _ident("log(det(X))", {"X": "matrix n n positive-definite"}, "X",
                   denominator="inv(X)")
    verdict = verify_identity(ident)
    assert verdict.status == "verified"
    assert verdict.sympy["agrees"] is not True  # SymPy 1.14 answers 0 here


def test_dependent_symbols_are_beyond_sympy():
    ident = _ident("u*v", {"x": "vector n", "u": "scalar of x", "v": "scalar of x"}, "x",
                   numerator="u*diff(v, x) + v*diff(u, x)")
    result = opinion(prepare(ident), {"n": 3}, 1)
    assert result["agrees"] is None and "unknown-function" in result["note"]
