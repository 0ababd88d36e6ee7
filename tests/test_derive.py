"""The exact backend: dual numbers over rationals, exact points that honour properties."""

from __future__ import annotations

import random

import numpy as np
import pytest
from gmpy2 import mpq
from matderiv.check import exact as D
from matderiv.check.evaluate import DomainError


def dual(v, *d):
    return D.Dual(mpq(v), [mpq(x) for x in d] if d else None)


def test_product_and_quotient_rules_are_exact():
    a, b = dual(3, 1, 0), dual(5, 0, 1)
    p = D.mul(a, b)
    assert (p.v, p.d) == (15, [5, 3])
    q = D.div(a, b)
    assert q.v == mpq(3, 5) and q.d == [mpq(1, 5), mpq(-3, 25)]
    s = D.add(a, D.neg(b))
    assert (s.v, s.d) == (-2, [1, -1])


def test_division_by_zero_is_a_domain_error():
    with pytest.raises(DomainError):
        D.div(dual(1), dual(0))


def test_log_of_non_positive_is_a_domain_error():
    with pytest.raises(DomainError):
        D._log(dual(0, 1))
    with pytest.raises(DomainError):
        D._log(dual(-1, 1))


def test_integer_power():
    p = D.power(dual(2, 1), 3)
    assert (p.v, p.d) == (8, [12])


def test_det_and_inverse_are_exact():
    m = [[D.const(mpq(v)) for v in row] for row in [[2, 1, 0], [1, 3, 1], [0, 1, 4]]]
    assert D.det(m).v == 2 * (12 - 1) - 1 * 4
    inv = D.inverse(m)
    product = D.matmul(m, inv)
    assert [[x.v for x in row] for row in product] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_singular_inverse_is_a_domain_error():
    m = [[D.const(mpq(v)) for v in row] for row in [[1, 2], [2, 4]]]
    with pytest.raises(DomainError):
        D.inverse(m)
    assert D.det(m).v == 0


def test_jacobian_layout():
    # y = [x0 * x1, x0 + x1] for X = [[x0, x1]] (1 x 2)
    x0, x1 = dual(2, 1, 0), dual(3, 0, 1)
    y = [[D.mul(x0, x1)], [D.add(x0, x1)]]
    J = D.jacobian(y, 1, 2)
    assert J.shape == (2, 1, 1, 2)
    assert J[:, 0, 0, :].tolist() == [[3, 2], [1, 1]]


def test_difference_is_exact_for_rationals():
    a = np.array([[mpq(1, 3)]], dtype=object)
    assert D.difference(a, a.copy()) == (True, 0.0)
    b = np.array([[mpq(1, 3) + mpq(1, 10**30)]], dtype=object)
    equal, error = D.difference(a, b)
    assert not equal  # a difference of 1e-30 is still a difference
    assert 0 < error < 1e-29


@pytest.mark.parametrize("props", [
    {"symmetric"}, {"skew-symmetric"}, {"diagonal"}, {"positive-definite"}, {"orthogonal"},
    {"positive"}, {"invertible"}, set(),
])
def test_exact_points_honour_properties(props):
    rng = random.Random(7)
    for _ in range(5):
        m = D.to_array(D.matrix(rng, 3, 3, props))
        assert all(isinstance(v, D.MPQ) for v in m.flat)
        if "symmetric" in props or "positive-definite" in props:
            assert (m == m.T).all()
        if "skew-symmetric" in props:
            assert (m == -m.T).all()
        if "diagonal" in props:
            assert all(m[i, j] == 0 for i in range(3) for j in range(3) if i != j)
            assert all(m[i, i] != 0 for i in range(3))
        if "positive" in props:
            assert all(v > 0 for v in m.flat)
        if "orthogonal" in props:
            assert (m.T.dot(m) == np.eye(3, dtype=int)).all()  # exactly, by Cayley transform
        if "positive-definite" in props:
            # leading principal minors all positive (Sylvester)
            for k in (1, 2, 3):
                sub = [[D.const(v) for v in row] for row in m[:k, :k]]
                assert D.det(sub).v > 0
        if props & {"invertible", "orthogonal", "positive-definite", "diagonal"}:
            assert D.det([[D.const(v) for v in row] for row in m]).v != 0


def test_exact_scalars_are_never_zero():
    rng = random.Random(1)
    values = {D.scalar(rng) for _ in range(200)}
    assert 0 not in values
    assert any(v < 0 for v in values) and any(v > 0 for v in values)
    assert all(D.scalar(rng, positive=True) > 0 for _ in range(50))
