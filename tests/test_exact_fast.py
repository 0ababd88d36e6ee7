"""The exact check's shortcuts (matmul without intermediate Duals, exact rational zeros
not multiplied, values without dual parts multiplied alone, the row operations of
Gaussian elimination): the same numbers, of the same types, with dual parts present or
absent exactly where the operation-by-operation definition has them; and a wrong
identity whose forms go through them is still rejected."""

from __future__ import annotations

import random

import gmpy2
import numpy as np
import pytest
from conftest import codes, identity, verify_one, write
from gmpy2 import mpfr, mpq
from matderiv.catalog.load import load_file
from matderiv.check import exact as X
from matderiv.check.evaluate import Evaluator
from matderiv.lang.forms import prepare
from matderiv.lang.shapes import arrange


def _value(rng, kind):
    r = rng.random()
    if r < 0.4:
        return mpq(0)
    if kind == "nested" and r < 0.7:
        return X.Nested(X.scalar(rng, level=3), [X.scalar(rng, level=3), mpq(0)])
    if kind in ("rational", "nested") or r < 0.7:
        return X.scalar(rng, level=3)
    return mpfr(X.scalar(rng, level=3)) * gmpy2.const_pi()


def _dual(rng, k, kind, constant=False):
    v = _value(rng, kind)
    if constant or rng.random() < 0.4:
        return X.Dual(v)
    return X.Dual(v, [_value(rng, kind) for _ in range(k)])


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, X.Nested):
        return _same(a.a, b.a) and (a.s is None) == (b.s is None) and (
            a.s is None or all(_same(x, y) for x, y in zip(a.s, b.s)))
    return a == b


def _same_dual(x, y) -> bool:
    return _same(x.v, y.v) and (x.d is None) == (y.d is None) and (
        x.d is None or len(x.d) == len(y.d) and all(_same(p, q) for p, q in zip(x.d, y.d)))


@pytest.mark.parametrize("kind", ["rational", "float", "nested"])
@pytest.mark.parametrize("seed", range(6))
def test_matmul_is_the_reference_product(kind, seed):
    """Random shapes, exact zeros in two of five entries, constants and dual entries mixed,
    floats among rationals: every entry equal to the term-by-term definition, same type,
    dual part absent exactly where it is absent there."""
    rng = random.Random(seed)
    for _ in range(40):
        i, inner, j, k = (rng.randint(1, 5) for _ in range(4))
        plain_a, plain_b = rng.random() < 0.4, rng.random() < 0.4
        a = [[_dual(rng, k, kind, plain_a) for _ in range(inner)] for _ in range(i)]
        b = [[_dual(rng, k, kind, plain_b) for _ in range(j)] for _ in range(inner)]
        got = X.matmul(a, b)
        for row, got_row in zip(a, got):
            for col, entry in zip(X.transpose(b), got_row):
                assert _same_dual(entry, X._dot_reference(row, col))


@pytest.mark.parametrize("kind", ["rational", "float", "nested"])
def test_row_operation_is_the_reference(kind):
    rng = random.Random(11)
    for _ in range(200):
        k, n = rng.randint(1, 4), rng.randint(1, 6)
        xs = [_dual(rng, k, kind) for _ in range(n)]
        ys = [_dual(rng, k, kind) for _ in range(n)]
        f = _dual(rng, k, kind) if rng.random() < 0.6 else X.Dual(mpq(0))
        for got, x, y in zip(X._minus_multiple(xs, f, ys), xs, ys):
            assert _same_dual(got, X.add(x, X.neg(X.mul(f, y))))


def test_inverse_and_det_of_sparse_points_are_exact():
    """A diagonal-plus-one matrix (most entries exact zeros) with dual parts: A A⁻¹ = I and
    det A the product of the pivots, exactly."""
    rng = random.Random(5)
    n = 5
    a = [[X.Dual(X.scalar(rng) if i == j or j == i + 1 else mpq(0),
                 [X.scalar(rng) if (i == j and q == i) else mpq(0) for q in range(n)])
          for j in range(n)] for i in range(n)]
    product = X.matmul(a, X.inverse(a))
    for i in range(n):
        for j in range(n):
            assert product[i][j].v == (1 if i == j else 0)
            assert all(d == 0 for d in product[i][j].d or [])
    diagonal = mpq(1)
    for i in range(n):
        diagonal *= a[i][i].v
    assert X.det(a).v == diagonal


def test_values_without_dual_parts_dense_and_sparse(monkeypatch):
    """The values-only product: rational and sparse (the nonzero products only), float
    and dense (NumPy's loop over the objects), float and sparse (exact zeros skipped in
    order): each equal to the definition, each path taken."""
    rng = random.Random(3)
    eye = X.identity(6)
    dense = [[X.Dual(mpfr(X.scalar(rng))) for _ in range(6)] for _ in range(6)]
    rational = [[X.Dual(X.scalar(rng)) for _ in range(6)] for _ in range(6)]
    mostly = [[X.Dual(mpfr(X.scalar(rng)) if i == j else X.scalar(rng)) for j in range(6)]
              for i in range(6)]
    calls = {name: _spy(monkeypatch, name) for name in ("_matmul_rational", "_sum_values")}
    for a, b in ((eye, rational), (dense, dense), (eye, dense), (dense, eye), (eye, mostly),
                 (mostly, eye)):
        for row, got_row in zip(a, X.matmul(a, b)):
            for col, entry in zip(X.transpose(b), got_row):
                assert _same_dual(entry, X._dot_reference(row, col))
    assert all(calls.values())


def test_rational_duals_product_is_the_definition(monkeypatch):
    """Unit dual parts (the variable's) times a rational constant and times each other:
    the nonzero products only, the same entries as term by term, dual parts absent
    exactly where the definition leaves them absent."""
    calls = _spy(monkeypatch, "_matmul_rational_duals")
    rng = random.Random(8)
    n, k = 4, 12
    x = [[X.Dual(X.scalar(rng), [mpq(int(q == i * 3 + j)) for q in range(k)]) for j in range(3)]
         for i in range(n)]
    a = [[X.Dual(X.scalar(rng) if rng.random() < 0.7 else mpq(0)) for _ in range(n)]
         for _ in range(3)]
    half = [[X.Dual(X.scalar(rng), None if j % 2 else [X.scalar(rng) for _ in range(k)])
             for j in range(n)] for _ in range(3)]
    for left, right in ((x, a), (a, x), (x, half), (half, x), (X.matmul(x, a), x)):
        for row, got_row in zip(left, X.matmul(left, right)):
            for col, entry in zip(X.transpose(right), got_row):
                assert _same_dual(entry, X._dot_reference(row, col))
    assert calls


def test_difference_shortcut_agrees_with_the_loop():
    equal = np.array([[mpq(1, 3), mpq(-2)]], dtype=object)
    assert X.difference(equal, equal.copy()) == (True, 0.0)
    off = np.array([[mpq(1, 3), mpq(-2) + mpq(1, 10**30)]], dtype=object)
    same, error = X.difference(off, equal)
    assert not same and 0 < error < 1e-29  # any nonzero rational gap fails


# ---------------------------------------------------------------- wrong identities


def _exact_errors(tmp_path, item: dict, form: str, sizes: dict) -> tuple:
    """The exact check's core at one point: `of` with dual parts on the variable, the form
    at the plain values, compared entry by entry."""
    (ident,), _ = load_file(write(tmp_path, item))
    prep = prepare(ident)
    rng = random.Random(2)
    plain = {}
    for name, decl in prep.decls.items():
        rows, cols = (sizes.get(str(s), s) for s in decl.shape)
        plain[name] = X.matrix(rng, int(rows), int(cols), decl.props)
    wrt = prep.identity.wrt
    rows, cols = len(plain[wrt]), len(plain[wrt][0])
    values = dict(plain)
    values[wrt] = [[X.Dual(x.v, [mpq(int(q == i * cols + j)) for q in range(rows * cols)])
                    for j, x in enumerate(row)] for i, row in enumerate(plain[wrt])]
    alg = X.ExactAlgebra(1)
    D = X.jacobian(Evaluator(alg, values, sizes)(prep.of), rows, cols)
    expected = arrange(D, form, prep.of_shape, prep.wrt.shape, prep.keep_x)
    value = X.to_array(Evaluator(alg, plain, sizes)(prep.forms[form].tree))
    return X.difference(value, expected)


KRON_SYMBOLS = {"A": "matrix m n", "X": "matrix n p", "B": "matrix p p"}
TRUE_VEC = "kron(B.T, eye(m))*kron(eye(p), A)"  # = kron(B.T, A)
WRONG_VEC = "kron(B, eye(m))*kron(eye(p), A)"  # a lost transpose


def _spy(monkeypatch, name) -> list:
    calls = []
    original = getattr(X, name)

    def spy(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(X, name, spy)
    return calls


def test_wrong_kronecker_form_rejected_through_the_rational_sparse_product(
        tmp_path, monkeypatch):
    """d(A X B) as a vec form, a product of Kronecker products with I (rational matrices
    that are mostly zeros): it holds; with a transpose lost it does not."""
    calls = _spy(monkeypatch, "_matmul_rational")
    sizes = {"m": 2, "n": 3, "p": 4}
    item = identity("s", KRON_SYMBOLS, "A*X*B", "X", {"vec": TRUE_VEC})
    assert _exact_errors(tmp_path, item, "vec", sizes) == (True, 0.0)
    assert calls
    wrong = identity("s", KRON_SYMBOLS, "A*X*B", "X", {"vec": WRONG_VEC})
    equal, error = _exact_errors(tmp_path, wrong, "vec", sizes)
    assert not equal and error > 1e-3


def test_wrong_softmax_jacobian_rejected_through_the_float_sparse_product(
        tmp_path, monkeypatch):
    """softmax's Jacobian diag(s) I (I − 1 sᵀ) in 256-bit floats: diag(s) is mostly exact
    zeros next to floats, I rational, so their product skips zeros in order; the same
    with 1 sᵀ turned into s 1ᵀ is rejected."""
    calls = _spy(monkeypatch, "_sum_values")
    true = identity("f", {"x": "vector n"}, "softmax(x)", "x",
                    {"numerator": "diag(softmax(x))*eye(n)*(eye(n) - ones(n)*softmax(x).T)"})
    assert _exact_errors(tmp_path, true, "numerator", {"n": 4})[0]
    assert calls
    wrong = identity("f", {"x": "vector n"}, "softmax(x)", "x",
                     {"numerator": "diag(softmax(x))*eye(n)*(eye(n) - softmax(x)*ones(n).T)"})
    equal, error = _exact_errors(tmp_path, wrong, "numerator", {"n": 4})
    assert not equal and error > 1e-3


@pytest.mark.parametrize("form, ok", [(TRUE_VEC, True), (WRONG_VEC, False)])
def test_whole_check_of_a_sparse_kronecker_form(tmp_path, form, ok):
    row = verify_one(tmp_path, identity("k", KRON_SYMBOLS, "A*X*B", "X", {"vec": form}))
    assert row["status"] == ("verified" if ok else "failed")
    assert ok or codes(row) == ["E402"]
