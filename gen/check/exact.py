"""Exact re-derivation: the derivative of `of`, entry by entry, at a concrete point.

Every entry of the variable carries a dual part (forward-mode differentiation), and every
matrix operation is carried out on scalars: products as sums of products, inverses and
determinants by Gaussian elimination. So the derivative comes from the scalar rules of
calculus alone, never from a matrix identity, and it is exact: with rational points the
arithmetic is rational (GMP), and where a transcendental function appears it is carried
in 256-bit floating point (about 77 digits), compared at about 1e-55 relative.
"""

from __future__ import annotations

import hashlib
import random

import gmpy2
import numpy as np
from gmpy2 import mpfr, mpq
from matderiv.check.evaluate import DomainError, KinkError

PRECISION = 256
gmpy2.get_context().precision = PRECISION
MPQ = type(mpq(1))
TOLERANCE = mpfr("1e-55")  # the working precision, less a margin for rounding
SINGULAR = mpfr(2) ** (16 - PRECISION)  # a float pivot this small, relative to the
# largest entry of its matrix, is zero (rounding left it over)
# (largest numerator, largest power of 2 in the denominator) per level: level 0 is the
# wide draw, 1 the narrow one; after a point where something is undefined or overflows,
# the next is drawn one level narrower.
LEVELS = ((10**6, 20), (10**3, 10), (100, 6), (10, 4), (4, 2), (2, 1))


class Dual:
    """v + sum_k d[k] e_k; d is None for a constant."""

    __slots__ = ("v", "d")

    def __init__(self, v, d=None):
        self.v = v
        self.d = d


def add(a: Dual, b: Dual) -> Dual:
    if a.d is None:
        d = b.d
    elif b.d is None:
        d = a.d
    else:
        d = [x + y for x, y in zip(a.d, b.d)]
    return Dual(a.v + b.v, d)


def neg(a: Dual) -> Dual:
    return Dual(-a.v, None if a.d is None else [-x for x in a.d])


def mul(a: Dual, b: Dual) -> Dual:
    if a.d is None:
        d = None if b.d is None else [a.v * y for y in b.d]
    elif b.d is None:
        d = [x * b.v for x in a.d]
    else:
        av, bv = a.v, b.v
        d = [x * bv + av * y for x, y in zip(a.d, b.d)]
    return Dual(a.v * b.v, d)


def div(a: Dual, b: Dual) -> Dual:
    if _is_zero(b.v):
        raise DomainError("division by zero")
    inv_b = 1 / b.v if isinstance(b.v, MPQ | Nested) else mpfr(1) / b.v
    v = a.v * inv_b
    if b.d is None:
        d = None if a.d is None else [x * inv_b for x in a.d]
    else:
        ad = a.d or [0] * len(b.d)
        d = [(x - v * y) * inv_b for x, y in zip(ad, b.d)]
    return Dual(v, d)


def chain(a: Dual, value, slope) -> Dual:
    """f(a) given f(a.v) and f'(a.v): the scalar chain rule."""
    return Dual(value, None if a.d is None else [slope * x for x in a.d])


def _is_zero(v) -> bool:
    return v == 0


def _scale(m) -> object:
    """The largest magnitude of a matrix's entries (what a pivot is measured against)."""
    return max(abs(x.v) for row in m for x in row)


def _singular(pivot, scale) -> bool:
    if isinstance(pivot, MPQ):
        return pivot == 0
    return abs(pivot) <= SINGULAR * scale


def _real(v):
    return v if not isinstance(v, MPQ) else mpfr(v)


def _log(a):
    if a.v <= 0:
        raise DomainError("log of a number that is not positive")
    return chain(a, gmpy2.log(_real(a.v)), 1 / _real(a.v))


def _exp(a):
    e = gmpy2.exp(_real(a.v))
    return chain(a, e, e)


def _sqrt(a):
    if a.v <= 0:
        raise DomainError("square root of a number that is not positive")
    r = gmpy2.sqrt(_real(a.v))
    return chain(a, r, 1 / (2 * r))


def _abs(a):
    if _is_zero(a.v):
        raise KinkError("abs is not differentiable at zero")
    return chain(a, abs(a.v), 1 if a.v > 0 else -1)


def _kink(a, name):
    if _is_zero(a.v):
        raise KinkError(f"{name} is not differentiable at zero")
    return a.v > 0


def _relu(a):
    return a if _kink(a, "relu") else Dual(0 * a.v)


def _sign(a):
    return Dual(mpq(1) if _kink(a, "sign") else mpq(-1))


def _step(a):
    return Dual(mpq(1) if _kink(a, "step") else mpq(0))


def _erf(a):
    x = _real(a.v)
    return chain(a, gmpy2.erf(x), 2 / gmpy2.sqrt(gmpy2.const_pi()) * gmpy2.exp(-x * x))


def _sin(a):
    return chain(a, gmpy2.sin(_real(a.v)), gmpy2.cos(_real(a.v)))


def _cos(a):
    return chain(a, gmpy2.cos(_real(a.v)), -gmpy2.sin(_real(a.v)))


def _tanh(a):
    t = gmpy2.tanh(_real(a.v))
    return chain(a, t, 1 - t * t)


def _sigmoid(a):
    s = 1 / (1 + gmpy2.exp(-_real(a.v)))
    return chain(a, s, s * (1 - s))


def _tan(a):
    x = _real(a.v)
    if _is_zero(gmpy2.cos(x)):
        raise DomainError("tan at a pole")
    t = gmpy2.tan(x)
    return chain(a, t, 1 + t * t)


SCALAR_FUNCTIONS = {"log": _log, "exp": _exp, "sqrt": _sqrt, "abs": _abs, "sin": _sin,
                    "cos": _cos, "tanh": _tanh, "sigmoid": _sigmoid, "relu": _relu,
                    "sign": _sign, "step": _step, "erf": _erf, "tan": _tan}


def _total(xs):
    total = xs[0]
    for x in xs[1:]:
        total = add(total, x)
    return total


def _softmax_list(xs):
    exps = [_exp(x) for x in xs]
    total = _total(exps)
    return [div(e, total) for e in exps]


def _logsumexp_list(xs):
    return _log(_total([_exp(x) for x in xs]))


def const(v) -> Dual:
    return Dual(v, None)


def power(a: Dual, k: int) -> Dual:
    if k < 0:
        return div(const(mpq(1)), power(a, -k))
    result = const(mpq(1))
    for _ in range(k):
        result = mul(result, a)
    return result


# ---------------------------------------------------------------- matrices (lists of rows)


def shape(m):
    return len(m), len(m[0])


def transpose(m):
    return [list(col) for col in zip(*m)]


def broadcast(a, b):
    """Two matrices brought to one shape (format 1.1: scalar, row and column broadcasting;
    the shapes were checked when the expression was read)."""
    (ar, ac), (br, bc) = shape(a), shape(b)
    rows, cols = max(ar, br), max(ac, bc)

    def grow(m, r, c):
        if (r, c) == (rows, cols):
            return m
        return [[m[i if r > 1 else 0][j if c > 1 else 0] for j in range(cols)]
                for i in range(rows)]

    return grow(a, ar, ac), grow(b, br, bc)


def elementwise(f, *ms):
    return [[f(*xs) for xs in zip(*rows)] for rows in zip(*ms)]


def matmul(a, b):
    """The product, entry by entry: the sum over l of a[i][l]·b[l][j] with the product
    rule in each term, in the order of l (what `_dot_reference` spells out with `mul` and
    `add`). Two shortcuts that change no value:

    - a term that is an exact rational zero is not computed: adding an exact zero to a
      rational is exact, and to a float changes at most the sign of a zero, which nothing
      reads (a zero is refused as a divisor, a pivot or an argument of log and sqrt, and
      errors are magnitudes). Terms with a float factor are always computed (inf · 0 is
      NaN, which must reach `finite`). Kronecker products, diag, eye, commutation matrices
      and triangular or diagonal points are mostly such zeros;
    - without dual parts on either side, the values alone are multiplied: by NumPy's loop
      over the objects, which sums in the same order, when few entries are zero;
    - where every value and dual part is rational, the arithmetic is exact and its order
      free: only the nonzero products are formed (a unit dual part has one nonzero of its
      n·m entries)."""
    bt = transpose(b)
    if _constant(a) and _constant(bt):
        return _matmul_values([[x.v for x in row] for row in a],
                              [[y.v for y in col] for col in bt])
    if all(_wholly_rational(x) for row in a for x in row) and all(
            _wholly_rational(y) for col in bt for y in col):
        return _matmul_rational_duals(a, b)
    zeros_a = [{l for l, x in enumerate(row) if x.d is None and _rational_zero(x.v)}
               for row in a]
    zeros_b = [{l for l, y in enumerate(col) if y.d is None and _rational_zero(y.v)}
               for col in bt]
    if not any(zeros_a) and not any(zeros_b):
        return [[_dot(row, col) for col in bt] for row in a]
    rational_a = [[_wholly_rational(x) for x in row] for row in a]
    rational_b = [[_wholly_rational(y) for y in col] for col in bt]
    return [[_dot_sparse(row, col, za, zb, ra, rb)
             for col, zb, rb in zip(bt, zeros_b, rational_b)]
            for row, za, ra in zip(a, zeros_a, rational_a)]


def _dot_reference(row, col):
    """The definition: what `_dot` and `_dot_sparse` compute, operation for operation."""
    total = mul(row[0], col[0])
    for x, y in zip(row[1:], col[1:]):
        total = add(total, mul(x, y))
    return total


def _dot(row, col):
    """`_dot_reference` without the intermediate Duals: the same products and sums."""
    tv = td = None
    first = True
    for x, y in zip(row, col):
        xv, xd, yv, yd = x.v, x.d, y.v, y.d
        v = xv * yv
        if xd is None:
            d = None if yd is None else [xv * q for q in yd]
        elif yd is None:
            d = [p * yv for p in xd]
        else:
            d = [p * yv + xv * q for p, q in zip(xd, yd)]
        if first:
            tv, td, first = v, d, False
            continue
        tv = tv + v
        if td is None:
            td = d
        elif d is not None:
            td = [s + t for s, t in zip(td, d)]
    return Dual(tv, td)


def _dot_sparse(row, col, zeros_row, zeros_col, rational_row, rational_col):
    """`_dot` skipping a term whose factor is a constant exact zero while the other factor
    is wholly rational (its value and dual parts): the term is an exact rational zero, its
    dual part zeros or none. Where the running dual part is none and the skipped term's
    is zeros, it becomes zeros, as adding the term would have made it."""
    tv = td = None
    first = True
    for index, (x, y) in enumerate(zip(row, col)):
        xv, xd, yv, yd = x.v, x.d, y.v, y.d
        if (index in zeros_row and rational_col[index]) or (
                index in zeros_col and rational_row[index]):
            width = xd if yd is None else yd
            if first:
                tv, td, first = _ZERO, None if width is None else [_ZERO] * len(width), False
            elif td is None and width is not None:
                td = [_ZERO] * len(width)
            continue
        v = xv * yv
        if xd is None:
            d = None if yd is None else [xv * q for q in yd]
        elif yd is None:
            d = [p * yv for p in xd]
        else:
            d = [p * yv + xv * q for p, q in zip(xd, yd)]
        if first:
            tv, td, first = v, d, False
            continue
        tv = tv + v
        if td is None:
            td = d
        elif d is not None:
            td = [s + t for s, t in zip(td, d)]
    return Dual(tv, td)


_ZERO = mpq(0)


def _rational_zero(v) -> bool:
    return type(v) is MPQ and not v


def _wholly_rational(x: Dual) -> bool:
    return type(x.v) is MPQ and (x.d is None or all(type(q) is MPQ for q in x.d))


def _constant(m) -> bool:
    return all(x.d is None for row in m for x in row)


def _matmul_values(rows, cols):
    """Products of values without dual parts (rows of a, columns of b), as Duals.

    All rational: the sum over the nonzero products only, in any order (exact).
    Otherwise, in the order of l, skipping the terms that are exact rational zeros (see
    matmul); where few products are such zeros, NumPy's loop over the objects (the same
    order, every product)."""
    inner = len(cols[0]) if cols else 0
    rational = all(type(v) is MPQ for r in (rows, cols) for xs in r for v in xs)
    if rational and any(_rational_zero(v) for r in (rows, cols) for xs in r for v in xs):
        return _matmul_rational(rows, cols)
    if _skippable(rows, cols) < 0.5:
        a = np.empty((len(rows), inner), dtype=object)
        a[:] = rows
        b = np.empty((inner, len(cols)), dtype=object)
        b[:] = list(zip(*cols))
        return [[Dual(v) for v in row] for row in (a @ b).tolist()]
    return [[Dual(_sum_values(xs, ys)) for ys in cols] for xs in rows]


def _skippable(rows, cols) -> float:
    """About the share of the products x·y that are exact rational zeros (one factor an
    exact zero, the other rational), from the shares of such entries in each matrix:
    below one half, NumPy's loop over all products is the faster."""
    def shares(lists):
        entries = [v for xs in lists for v in xs]
        zero = sum(1 for v in entries if _rational_zero(v)) / len(entries)
        rational = sum(1 for v in entries if type(v) is MPQ) / len(entries)
        return zero, rational

    (zero_a, rational_a), (zero_b, rational_b) = shares(rows), shares(cols)
    return min(1.0, zero_a * rational_b + zero_b * rational_a)


def _matmul_rational(rows, cols):
    """Rational values: the nonzero products only, accumulated row by row."""
    brows = [[(j, y) for j, y in enumerate(brow) if y] for brow in zip(*cols)]
    out = []
    for xs in rows:
        acc: dict = {}
        for l, x in enumerate(xs):
            if not x:
                continue
            for j, y in brows[l]:
                p = x * y
                acc[j] = acc[j] + p if j in acc else p
        out.append([Dual(acc.get(j, _ZERO)) for j in range(len(cols))])
    return out


def _matmul_rational_duals(a, b):
    """The product of two wholly rational matrices of Duals, nonzero products only: the
    value Σ_l x_il·y_lj and the dual part Σ_l (x_il' y_lj + x_il y_lj'), exactly as the
    sums of `_dot` are (rational arithmetic is exact, so their order and the zero terms
    do not matter). A dual part is absent exactly where `_dot` leaves it absent: where no
    term has one, that is, where neither row i of a nor column j of b has one."""
    cols = len(b[0])
    width = next((len(x.d) for m in (a, b) for row in m for x in row if x.d is not None), 0)
    b_values = [[(j, y.v) for j, y in enumerate(brow) if y.v] for brow in b]
    b_duals = [[(j, [(k, q) for k, q in enumerate(y.d) if q]) for j, y in enumerate(brow)
                if y.d is not None] for brow in b]
    col_has = [any(brow[j].d is not None for brow in b) for j in range(cols)]
    out = []
    for row in a:
        values: dict = {}
        duals: list = [None] * cols
        for l, x in enumerate(row):
            xv, xd = x.v, x.d
            if xv:
                for j, yv in b_values[l]:
                    p = xv * yv
                    values[j] = values[j] + p if j in values else p
                for j, parts in b_duals[l]:
                    acc = duals[j]
                    if acc is None:
                        acc = duals[j] = {}
                    for k, q in parts:
                        t = xv * q
                        acc[k] = acc[k] + t if k in acc else t
            if xd is not None:
                parts = [(k, p) for k, p in enumerate(xd) if p]
                if not parts:
                    continue
                for j, yv in b_values[l]:
                    acc = duals[j]
                    if acc is None:
                        acc = duals[j] = {}
                    for k, p in parts:
                        t = p * yv
                        acc[k] = acc[k] + t if k in acc else t
        row_has = any(x.d is not None for x in row)
        entries = []
        for j in range(cols):
            if row_has or col_has[j]:
                acc = duals[j] or {}
                d = [acc.get(k, _ZERO) for k in range(width)]
            else:
                d = None
            entries.append(Dual(values.get(j, _ZERO), d))
        out.append(entries)
    return out


def _sum_values(xs, ys):
    total = None
    for x, y in zip(xs, ys):
        if (type(x) is MPQ and type(y) is MPQ) and (not x or not y):
            if total is None:
                total = _ZERO
            continue
        p = x * y
        total = p if total is None else total + p
    return total


def identity(n):
    return [[const(mpq(int(i == j))) for j in range(n)] for i in range(n)]


def _eliminate(m):
    """Gaussian elimination with row pivoting; returns (upper rows, sign, operations)."""
    n = len(m)
    rows = [list(r) for r in m]
    sign = 1
    scale = _scale(m)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col].v))
        if _singular(rows[pivot][col].v, scale):
            raise DomainError("singular matrix")
        if pivot != col:
            rows[col], rows[pivot] = rows[pivot], rows[col]
            sign = -sign
        for r in range(col + 1, n):
            if _is_zero(rows[r][col].v) and rows[r][col].d is None:
                continue
            factor = div(rows[r][col], rows[col][col])
            rows[r] = _minus_multiple(rows[r], factor, rows[col])
    return rows, sign


def _minus_multiple(xs, f: Dual, ys) -> list:
    """[add(x, neg(mul(f, y))) for x, y in zip(xs, ys)], the same operations without the
    intermediate Duals; a term f·y that is an exact rational zero (f or y a constant exact
    zero, the other wholly rational) is not computed (see matmul): x is kept, its dual
    part made zeros where the term's would have made it so."""
    fv, fd = f.v, f.d
    f_zero = fd is None and _rational_zero(fv)
    f_rational = _wholly_rational(f)
    out = []
    for x, y in zip(xs, ys):
        xv, xd, yv, yd = x.v, x.d, y.v, y.d
        if (f_zero and _wholly_rational(y)) or (
                f_rational and yd is None and _rational_zero(yv)):
            width = fd if yd is None else yd
            if xd is None and width is not None:
                out.append(Dual(xv, [_ZERO] * len(width)))
            else:
                out.append(x)
            continue
        v = xv + -(fv * yv)
        if fd is None:
            if yd is None:
                d = xd
            elif xd is None:
                d = [-(fv * q) for q in yd]
            else:
                d = [s + -(fv * q) for s, q in zip(xd, yd)]
        elif yd is None:
            d = [-(p * yv) for p in fd] if xd is None else [
                s + -(p * yv) for s, p in zip(xd, fd)]
        elif xd is None:
            d = [-(p * yv + fv * q) for p, q in zip(fd, yd)]
        else:
            d = [s + -(p * yv + fv * q) for s, p, q in zip(xd, fd, yd)]
        out.append(Dual(v, d))
    return out


def det(m):
    """Gaussian elimination; at a singular point (det = 0, slope maybe not) Laplace expansion."""
    try:
        rows, sign = _eliminate(m)
    except DomainError:
        if len(m) > 8:
            raise
        return _laplace(m)
    result = const(mpq(sign))
    for i in range(len(rows)):
        result = mul(result, rows[i][i])
    return result


def _laplace(m):
    if len(m) == 1:
        return m[0][0]
    total = const(mpq(0))
    for j, entry in enumerate(m[0]):
        minor = [row[:j] + row[j + 1:] for row in m[1:]]
        term = mul(entry, _laplace(minor))
        total = add(total, term if j % 2 == 0 else neg(term))
    return total


def inverse(m):
    n = len(m)
    aug = [list(r) + e for r, e in zip(m, identity(n))]
    scale = _scale(m)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r][col].v))
        if _singular(aug[pivot][col].v, scale):
            raise DomainError("singular matrix")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        p = aug[col][col]
        aug[col] = [div(x, p) for x in aug[col]]
        for r in range(n):
            if r != col:
                aug[r] = _minus_multiple(aug[r], aug[r][col], aug[col])
    return [row[n:] for row in aug]


class ExactAlgebra:
    """The backend of Evaluator for exact values: matrices are lists of rows of Dual."""

    def __init__(self, seed: int):
        self.seed = seed

    def const(self, value):
        return [[const(mpq(value.numerator, value.denominator))]]

    def neg(self, a):
        return elementwise(neg, a)

    def transpose(self, a):
        return transpose(a)

    def add(self, a, b):
        return elementwise(add, *broadcast(a, b))

    def sub(self, a, b):
        return elementwise(lambda x, y: add(x, neg(y)), *broadcast(a, b))

    def constant(self, name):
        if name == "pi":
            return [[Dual(gmpy2.const_pi())]]
        raise ValueError(name)

    def mul(self, a, b):
        if shape(a) == (1, 1):
            return elementwise(lambda y: mul(a[0][0], y), b)
        if shape(b) == (1, 1):
            return elementwise(lambda x: mul(x, b[0][0]), a)
        return matmul(a, b)

    def div(self, a, b):
        if shape(b) != (1, 1):  # two arrays of one shape: entry by entry (format 1.2)
            return elementwise(div, a, b)
        return elementwise(lambda x: div(x, b[0][0]), a)

    def power(self, a, p, k):
        if shape(a) == (1, 1):
            base = a[0][0]
            if k is not None and p[0][0].d is None:
                return [[power(base, k)]]
            return [[_exp(mul(p[0][0], _log(base)))]]
        if 1 in shape(a):  # a vector: entry by entry (format 1.2)
            return self._hadamard_pow(a, p)
        result = identity(len(a))
        step = inverse(a) if k < 0 else a
        for _ in range(abs(k)):
            result = matmul(result, step)
        return result

    def eye(self, n):
        return identity(n)

    def full(self, rows, cols, value):
        return [[const(mpq(value)) for _ in range(cols)] for _ in range(rows)]

    def call(self, fn, args):
        a = args[0]
        if fn in SCALAR_FUNCTIONS:
            return elementwise(SCALAR_FUNCTIONS[fn], a)
        return getattr(self, "_" + fn)(*args)

    def _tr(self, a):
        total = a[0][0]
        for i in range(1, len(a)):
            total = add(total, a[i][i])
        return [[total]]

    def _det(self, a):
        return [[det(a)]]

    def _inv(self, a):
        return inverse(a)

    def _softmax(self, a):
        if len(a[0]) == 1:
            return [[s] for s in _softmax_list([row[0] for row in a])]
        return [_softmax_list(a[0])]

    def _softmax_rows(self, a):
        return [_softmax_list(row) for row in a]

    def _log_softmax(self, a):
        xs = [x for row in a for x in row]
        lse = _logsumexp_list(xs)
        return [[add(x, neg(lse)) for x in row] for row in a]

    def _logsumexp(self, a):
        return [[_logsumexp_list([x for row in a for x in row])]]

    def _sum(self, a):
        return [[_total([x for row in a for x in row])]]

    def _mean(self, a):
        count = len(a) * len(a[0])
        return [[div(_total([x for row in a for x in row]), const(mpq(count)))]]

    def _norm(self, a):
        total = const(mpq(0))
        for row in a:
            for x in row:
                total = add(total, mul(x, x))
        return [[_sqrt(total)]]

    def _kron(self, a, b):
        (ar, ac), (br, bc) = shape(a), shape(b)
        return [[mul(a[i // br][j // bc], b[i % br][j % bc]) for j in range(ac * bc)]
                for i in range(ar * br)]

    def _hadamard(self, a, b):
        return elementwise(mul, a, b)

    def _hadamard_pow(self, a, p):
        exponent = p[0][0]
        k = _small_integer(exponent)
        if k is not None:
            return elementwise(lambda x: power(x, k), a)
        return elementwise(lambda x: _exp(mul(exponent, _log(x))), a)

    def _hadamard_div(self, a, b):
        return elementwise(div, a, b)

    def _pinv(self, a):
        """(XᵀX)⁻¹Xᵀ, Xᵀ(XXᵀ)⁻¹ or X⁻¹: at a rank-deficient point the inverse is singular
        and the point is redrawn (DomainError)."""
        rows, cols = shape(a)
        if rows == cols:
            return inverse(a)
        at = transpose(a)
        if rows > cols:
            return matmul(inverse(matmul(at, a)), at)
        return matmul(at, inverse(matmul(a, at)))

    def _expm(self, a):
        values, slopes = _parts(a)
        return _duals(*expm_parts(values, slopes))

    def _logm(self, a):
        values, slopes = _parts(a)
        return _duals(*logm_parts(values, slopes))

    def commutation(self, m, n):
        return [[const(mpq(int(col == (row % n) * m + row // n))) for col in range(m * n)]
                for row in range(m * n)]

    def _diag(self, a):
        rows, cols = shape(a)
        if cols == 1:
            return [[a[i][0] if i == j else const(mpq(0)) for j in range(rows)]
                    for i in range(rows)]
        return [[a[i][i]] for i in range(rows)]

    def _vec(self, a):
        return [[x] for col in transpose(a) for x in col]

    def apply(self, fn, a, order):
        return elementwise(lambda x: self._generic(fn, x, order), a)

    def _generic(self, fn: str, x: Dual, order: int) -> Dual:
        """An unknown smooth function, random per identity and name:
        g(x) = c0 + c1·x + c2·sin(c3·x + c4), so g, g', g'' are independent enough that
        a rule true only for linear g, or for g' = g, fails, and nearby arguments give
        nearby values (the function is smooth, not a table of independent draws)."""
        return chain(x, self._generic_value(fn, order, x.v),
                     self._generic_value(fn, order + 1, x.v))

    def _generic_value(self, fn: str, order: int, at):
        c = self._coefficients(fn)
        phase = c[3] * _real(at) + c[4]
        wave = c[2] * c[3] ** order * gmpy2.sin(phase + order * gmpy2.const_pi() / 2)
        if order == 0:
            return c[0] + c[1] * _real(at) + wave
        return (c[1] if order == 1 else 0) + wave

    def _coefficients(self, fn: str) -> list:
        digest = hashlib.blake2b(f"{self.seed}|{fn}".encode(), digest_size=40).digest()
        draws = [int.from_bytes(digest[8 * i:8 * i + 8], "big") for i in range(5)]
        c = [mpq(1 + d % 997, 257) * (1 if (d >> 32) % 2 else -1) for d in draws]
        c[3] = abs(c[3]) / 2 + mpq(1, 2)  # a frequency between 1/2 and about 2.4
        return c


# ---------------------------------------------------------------- matrix functions
#
# expm and logm of a rational matrix are not rational: they are carried in floating point
# (256 bits, logm internally at LOGM_PRECISION), on NumPy object arrays of mpfr: the values
# V (n × n) and the slopes D (k × n × n), one per dual direction, so that the matrix
# products are NumPy's own loops over exact-rounding mpfr operations.

EXPM_MAX_NORM = 16  # larger arguments are redrawn narrower: e^16 leaves ~70 digits
LOGM_PRECISION = 384
LOGM_RANGE = 20  # eigenvalue magnitudes within 2^-20 .. 2^20
NEGATIVE_AXIS = 1e-6  # an eigenvalue this near the closed negative real axis is refused


def _small_integer(d: Dual) -> int | None:
    """The value of a constant integer exponent of at most MAX_EXPONENT (12), else None."""
    v = d.v
    if d.d is not None or not isinstance(v, MPQ) or v.denominator != 1 or abs(v) > 12:
        return None
    return int(v)


def _parts(m):
    """(V, D) of a matrix of Duals; D is None when no entry has a dual part."""
    rows, cols = shape(m)
    values = np.empty((rows, cols), dtype=object)
    k = max((len(x.d) for row in m for x in row if x.d is not None), default=0)
    slopes = np.empty((k, rows, cols), dtype=object) if k else None
    zero = mpfr(0)
    for i, row in enumerate(m):
        for j, x in enumerate(row):
            values[i, j] = _real(x.v)
            if k:
                slopes[:, i, j] = x.d if x.d is not None else [zero] * k
    return values, slopes


def _duals(values, slopes):
    rows, cols = values.shape
    return [[Dual(values[i, j], None if slopes is None else list(slopes[:, i, j]))
             for j in range(cols)] for i in range(rows)]


def _eye(n):
    out = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            out[i, j] = mpfr(int(i == j))
    return out


def _norm1(values) -> object:
    return max(sum(abs(x) for x in values[:, j]) for j in range(values.shape[1]))


def expm_parts(values, slopes, max_norm=EXPM_MAX_NORM):
    """exp(V) and its Fréchet derivative along each slope: scaling and squaring with a
    Taylor series, every step differentiated (the derivative of the approximant is the
    approximant of the derivative, at the same precision)."""
    n = values.shape[0]
    norm = _norm1(values)
    if norm > max_norm:
        raise DomainError(f"expm of a matrix of 1-norm above {max_norm} (redrawn narrower)")
    squarings = 0
    while norm > mpfr(2) ** -8:
        norm /= 2
        squarings += 1
    scale = mpfr(2) ** -squarings
    a, da = values * scale, None if slopes is None else slopes * scale
    precision = gmpy2.get_context().precision
    terms = 2
    while 8 * terms + sum(gmpy2.log2(mpfr(j)) for j in range(1, terms + 1)) < precision + 24:
        terms += 1
    eye = _eye(n)
    r, dr = eye, None if da is None else np.zeros(da.shape, dtype=object) + mpfr(0)
    for j in range(terms, 0, -1):  # Horner: I + A/j (I + A/(j+1) (...))
        if dr is not None:
            dr = (da @ r + a @ dr) / j
        r = eye + (a @ r) / j
    for _ in range(squarings):
        if dr is not None:
            dr = dr @ r + r @ dr
        r = r @ r
    return r, dr


def _inverse_values(m):
    """The inverse of an object array of mpfr by Gauss-Jordan with row pivoting."""
    n = m.shape[0]
    aug = np.concatenate([m, _eye(n)], axis=1)
    scale = max(abs(x) for x in m.flat)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r, col]))
        if abs(aug[pivot, col]) <= SINGULAR * scale:
            raise DomainError("singular matrix")
        if pivot != col:
            aug[[col, pivot]] = aug[[pivot, col]]
        aug[col] = aug[col] / aug[col, col]
        for r in range(n):
            if r != col:
                aug[r] = aug[r] - aug[r, col] * aug[col]
    return aug[:, n:]


def _solve(a, b):
    """a⁻¹ b for an object array a (n × n) and b (n × k), by the inverse above."""
    return _inverse_values(a) @ b


def _logm_domain(values) -> None:
    """Refuse (DomainError) a point with an eigenvalue on or near the closed negative real
    axis, or of a magnitude outside 2^-LOGM_RANGE .. 2^LOGM_RANGE (located in double
    precision: only the choice of points depends on it, never a value)."""
    floats = np.array([[float(x) for x in row] for row in values])
    if not np.all(np.isfinite(floats)):
        raise DomainError("logm of a matrix with an entry out of range")
    eigenvalues = np.linalg.eigvals(floats)
    size = np.abs(eigenvalues)
    if np.any(size < 2.0 ** -LOGM_RANGE) or np.any(size > 2.0 ** LOGM_RANGE):
        raise DomainError("logm of a matrix with an eigenvalue of magnitude outside "
                          f"2^-{LOGM_RANGE} .. 2^{LOGM_RANGE} (redrawn)")
    near = (eigenvalues.real <= 0) & (np.abs(eigenvalues.imag) <= NEGATIVE_AXIS * size)
    if np.any(near):
        raise DomainError("logm of a matrix with an eigenvalue on the closed negative real "
                          "axis, where the principal logarithm is not defined")
    return float(np.exp(np.mean(np.log(size))))


def _sqrtm_values(m, eye):
    """The principal square root by the Denman-Beavers iteration."""
    y, z = m, eye
    tiny = mpfr(2) ** (24 - gmpy2.get_context().precision)
    for _ in range(200):
        y_next = (y + _inverse_values(z)) / 2
        z = (z + _inverse_values(y)) / 2
        change = _norm1(y_next - y)
        y = y_next
        if change <= tiny * _norm1(y):
            return y
    raise DomainError("the square root iteration of logm did not converge")


def _logm_values(values, center: float):
    """log(V) by inverse scaling and squaring: V/c for c a power of 2 near the geometric
    mean of the eigenvalues' magnitudes, square roots until within 2^-10 of I, then
    log(A) = 2 atanh((A - I)(A + I)^-1) by its series; L = 2^s log(A) + log(c) I."""
    n = values.shape[0]
    eye = _eye(n)
    shift = round(np.log2(center))
    a = values * mpfr(2) ** -shift
    roots = 0
    while _norm1(a - eye) > mpfr(2) ** -10:
        if roots > 64:
            raise DomainError("logm: too many square roots")
        a = _sqrtm_values(a, eye)
        roots += 1
    z = (a - eye) @ _inverse_values(a + eye)
    z2 = z @ z
    total, term, j = z, z, 1
    tiny = mpfr(2) ** (-gmpy2.get_context().precision - 8)
    while _norm1(term) > tiny * max(_norm1(total), tiny):
        term = term @ z2
        total = total + term / (2 * j + 1)
        j += 1
    return total * 2 ** (roots + 1) + eye * (shift * gmpy2.log(mpfr(2))), shift


def logm_parts(values, slopes):
    """log(V) and its Fréchet derivative along each slope: dL solves L_exp(L, dL) = dX,
    with the Jacobian of expm at L (n² × n²) from expm_parts's derivative."""
    center = _logm_domain(values)
    n = values.shape[0]
    with gmpy2.context(gmpy2.get_context(), precision=LOGM_PRECISION):
        log, shift = _logm_values(values, center)
        if slopes is None:
            return log, None
        # expm(L) = 2^shift expm(L - shift log 2 I): the Jacobian at the shifted L, scaled
        shifted = log - _eye(n) * (shift * gmpy2.log(mpfr(2)))
        units = np.empty((n * n, n, n), dtype=object)
        for q in range(n * n):
            units[q] = _eye(n) * 0
            units[q].flat[q] = mpfr(1)
        _, frechet = expm_parts(shifted, units, max_norm=64 * n)
        jac = np.empty((n * n, n * n), dtype=object)
        for q in range(n * n):
            jac[:, q] = frechet[q].reshape(-1) * mpfr(2) ** shift
        rhs = np.empty((n * n, slopes.shape[0]), dtype=object)
        for i in range(slopes.shape[0]):
            rhs[:, i] = slopes[i].reshape(-1)
        solved = _solve(jac, rhs)
        out = np.empty(slopes.shape, dtype=object)
        for i in range(slopes.shape[0]):
            out[i] = solved[:, i].reshape(n, n)
    return log, out


# ---------------------------------------------------------------- points


def scalar(rng: random.Random, positive=False, level=0):
    """A rational p/2^k, p up to 10^6 and 2^k up to 2^20 at level 0 (10^3 and 2^10 at
    level 1, narrower after): magnitudes over orders of magnitude, both signs unless
    positive, from a set of some 2·10^7 values, far too large for a false polynomial
    identity of moderate degree to vanish on by chance (Schwartz–Zippel: probability at
    most degree / 2,100,000 per point, the likeliest single value being drawn with
    probability 1/2,100,000). Dyadic denominators keep exact sums cheap."""
    top, shift = LEVELS[min(level, len(LEVELS) - 1)]
    value = mpq(rng.randint(1, top), 1 << rng.randint(0, shift))
    return value if positive or rng.random() < 0.5 else -value


def matrix(rng: random.Random, rows: int, cols: int, props, level=0, flip=False) -> list:
    """Rational values honouring the declared properties.

    positive-definite: L D Lᵀ with a unit lower-triangular L and a diagonal D of wide
    positive values, so eigenvalues fall far below and above 1; orthogonal: a Cayley
    rotation, times a Householder reflection when `flip` (determinant −1)."""
    positive = "positive" in props
    if "positive-definite" in props:
        lower = [[const(mpq(1) if i == j else scalar(rng, level=level + 1) if i > j
                        else mpq(0)) for j in range(rows)] for i in range(rows)]
        d = [[const(scalar(rng, True, level) if i == j else mpq(0)) for j in range(rows)]
             for i in range(rows)]
        return matmul(matmul(lower, d), transpose(lower))
    if "orthogonal" in props:
        skew = matrix(rng, rows, rows, {"skew-symmetric"}, level + 1)
        eye = identity(rows)
        minus = elementwise(lambda x, y: add(x, neg(y)), eye, skew)
        rotation = matmul(minus, inverse(elementwise(add, eye, skew)))
        return matmul(rotation, _householder(rng, rows)) if flip else rotation
    if "probability" in props:
        return _probability(rng, rows, cols, level)
    values = [[const(scalar(rng, positive, level)) for _ in range(cols)] for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            if "lower-triangular" in props and i < j:
                values[i][j] = const(mpq(0))
            elif "diagonal" in props and i != j or "skew-symmetric" in props and i == j:
                values[i][j] = const(mpq(0))
            elif i > j and "symmetric" in props:
                values[i][j] = values[j][i]
            elif i > j and "skew-symmetric" in props:
                values[i][j] = neg(values[j][i])
    if "invertible" in props and _is_zero(det(values).v):
        return matrix(rng, rows, cols, props, level, flip)
    return values


def _probability(rng: random.Random, rows: int, cols: int, level: int) -> list:
    """Positive rationals normalised: a column vector sums to 1, a matrix row by row
    (inside the simplex: every entry positive)."""
    values = [[scalar(rng, True, min(level + 1, len(LEVELS) - 1)) for _ in range(cols)]
              for _ in range(rows)]
    if cols == 1:
        total = sum(row[0] for row in values)
        return [[const(row[0] / total)] for row in values]
    out = []
    for row in values:
        total = sum(row)
        out.append([const(x / total) for x in row])
    return out


def _householder(rng: random.Random, n: int) -> list:
    """I − 2 v vᵀ / (vᵀ v): a rational reflection, determinant −1."""
    v = [scalar(rng, level=1) for _ in range(n)]
    norm = sum(x * x for x in v)
    return [[const(mpq(int(i == j)) - 2 * v[i] * v[j] / norm) for j in range(n)]
            for i in range(n)]


def structured(values, props) -> list:
    """Project a matrix of numbers onto the structure the properties impose."""
    n = len(values)
    out = [list(r) for r in values]
    for i in range(n):
        for j in range(len(out[0])):
            if ("diagonal" in props and i != j) or ("skew-symmetric" in props and i == j):
                out[i][j] = 0 * out[i][j]
            elif i > j and props & {"symmetric", "positive-definite"}:
                out[i][j] = out[j][i]
            elif i > j and "skew-symmetric" in props:
                out[i][j] = -out[j][i]
    return out


def to_array(m) -> np.ndarray:
    """The values of a matrix of Duals, as a NumPy object array."""
    return np.array([[x.v for x in row] for row in m], dtype=object)


def jacobian(y, rows: int, cols: int) -> np.ndarray:
    """D[i, j, k, l] = d y[i][j] / d X[k, l] from the dual parts (directions row-major)."""
    k = rows * cols
    out = np.empty((len(y), len(y[0]), rows, cols), dtype=object)
    for i, row in enumerate(y):
        for j, x in enumerate(row):
            d = x.d if x.d is not None else [mpq(0)] * k
            out[i, j] = np.array(d, dtype=object).reshape(rows, cols)
    return out


def finite(array: np.ndarray) -> bool:
    for v in array.flat:
        if type(v) is not MPQ and not (isinstance(v, MPQ | int) or gmpy2.is_finite(v)):
            return False
    return True


def difference(form: np.ndarray, expected: np.ndarray) -> tuple[bool, float]:
    """(equal, largest error of an entry relative to max(1, |that entry|)).

    Rationals are compared exactly: any nonzero difference, however small, is a failure.
    Floating-point values (a transcendental function appeared) are compared entry by
    entry at the working precision, TOLERANCE relative (absolute below 1), so a large
    entry cannot mask a wrong small one. A value that is not finite makes the point
    unusable (DomainError): an overflow on both sides is never agreement."""
    if not (finite(form) and finite(expected)):
        raise DomainError("a value is not finite")
    got_all, want_all = form.ravel().tolist(), expected.ravel().tolist()
    if (all(type(v) is MPQ for v in got_all) and all(type(v) is MPQ for v in want_all)
            and all(g == w for g, w in zip(got_all, want_all))):
        return True, 0.0  # rationals, equal: what the loop below finds, without it
    exact, worst = True, mpfr(0)
    for got, want in zip(form.flat, expected.flat):
        gap = got - want
        if isinstance(gap, MPQ | int):
            exact = exact and gap == 0
            size = abs(_real(gap))
        else:
            size = abs(gap)
        worst = max(worst, size / max(mpfr(1), abs(_real(want))))
    if all(isinstance(v, MPQ | int) for v in (*form.flat, *expected.flat)):
        return exact, float(worst)
    return exact and worst <= TOLERANCE, float(worst)


# ---------------------------------------------------------------- second derivatives (1.2)


class Nested:
    """a + Σ s_l ε_l with ε_l ε_m = 0: a number carrying its own first derivatives. Put in
    the place of the rationals inside a Dual, it makes the Dual's parts first derivatives
    that carry their derivatives: second derivatives, exactly (the `hessian` check).
    Comparisons read the value `a` (pivoting, signs, zero tests)."""

    __slots__ = ("a", "s")

    def __init__(self, a, s=None):
        self.a = a
        self.s = s

    def __add__(self, other):
        a, s = _nested(other)
        return Nested(self.a + a, _combine(self.s, 1, s, 1))

    __radd__ = __add__

    def __neg__(self):
        return Nested(-self.a, None if self.s is None else [-x for x in self.s])

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        a, s = _nested(other)
        return Nested(self.a * a, _combine(self.s, a, s, self.a))

    __rmul__ = __mul__

    def __truediv__(self, other):
        a, s = _nested(other)
        if a == 0:
            raise DomainError("division by zero")
        inverse = 1 / a
        value = self.a * inverse
        slope = _combine(self.s, inverse, s, -value * inverse)
        return Nested(value, slope)

    def __rtruediv__(self, other):
        return Nested(other) / self

    def __abs__(self):
        return -self if self.a < 0 else self

    def __eq__(self, other):
        return self.a == _nested(other)[0]

    __hash__ = None

    def __lt__(self, other):
        return self.a < _nested(other)[0]

    def __le__(self, other):
        return self.a <= _nested(other)[0]

    def __gt__(self, other):
        return self.a > _nested(other)[0]

    def __ge__(self, other):
        return self.a >= _nested(other)[0]


def _nested(x):
    return (x.a, x.s) if isinstance(x, Nested) else (x, None)


def _combine(s, p, t, q):
    """p·s + q·t for slope lists that may be None (zero)."""
    if s is None:
        return None if t is None else [q * y for y in t]
    if t is None:
        return [p * x for x in s]
    return [p * x + q * y for x, y in zip(s, t)]


def _lift(f):
    """A scalar function of a Dual whose value may be Nested: f(r) -> (f, f', f'') at a
    real r gives f(a) and f'(a) each with their inner derivatives."""

    def lifted(a: Dual) -> Dual:
        v = a.v
        if not isinstance(v, Nested):
            f0, f1, _ = f(_real(v))
            return chain(a, f0, f1)
        f0, f1, f2 = f(_real(v.a))
        inner = v.s
        value = Nested(f0, None if inner is None else [f1 * x for x in inner])
        slope = Nested(f1, None if inner is None else [f2 * x for x in inner])
        return chain(a, value, slope)

    return lifted


def _positive(v, name):
    if v <= 0:
        raise DomainError(f"{name} of a number that is not positive")
    return v


def _sigmoid3(r):
    s = 1 / (1 + gmpy2.exp(-r))
    return s, s * (1 - s), s * (1 - s) * (1 - 2 * s)


def _tanh3(r):
    t = gmpy2.tanh(r)
    return t, 1 - t * t, -2 * t * (1 - t * t)


def _erf3(r):
    g = 2 / gmpy2.sqrt(gmpy2.const_pi()) * gmpy2.exp(-r * r)
    return gmpy2.erf(r), g, -2 * r * g


LIFTED = {
    "log": _lift(lambda r: (gmpy2.log(_positive(r, "log")), 1 / r, -1 / (r * r))),
    "exp": _lift(lambda r: (gmpy2.exp(r),) * 3),
    "sqrt": _lift(lambda r: (gmpy2.sqrt(_positive(r, "square root")),
                             1 / (2 * gmpy2.sqrt(r)), -1 / (4 * r * gmpy2.sqrt(r)))),
    "sin": _lift(lambda r: (gmpy2.sin(r), gmpy2.cos(r), -gmpy2.sin(r))),
    "cos": _lift(lambda r: (gmpy2.cos(r), -gmpy2.sin(r), -gmpy2.cos(r))),
    "tanh": _lift(_tanh3), "sigmoid": _lift(_sigmoid3), "erf": _lift(_erf3),
}


class HessianAlgebra(ExactAlgebra):
    """ExactAlgebra whose transcendental functions accept Nested values (the rational
    operations, det and inv accept them already)."""

    def call(self, fn, args):
        if fn in LIFTED:
            return elementwise(LIFTED[fn], args[0])
        return super().call(fn, args)

    def power(self, a, p, k):
        if shape(a) == (1, 1) and not (k is not None and p[0][0].d is None):
            return [[LIFTED["exp"](mul(p[0][0], LIFTED["log"](a[0][0])))]]
        return super().power(a, p, k)

    def _softmax_list(self, xs):
        exps = [LIFTED["exp"](x) for x in xs]
        total = _total(exps)
        return [div(e, total) for e in exps]

    def _lse(self, xs):
        return LIFTED["log"](_total([LIFTED["exp"](x) for x in xs]))

    def _softmax(self, a):
        if len(a[0]) == 1:
            return [[s] for s in self._softmax_list([row[0] for row in a])]
        return [self._softmax_list(a[0])]

    def _softmax_rows(self, a):
        return [self._softmax_list(row) for row in a]

    def _log_softmax(self, a):
        lse = self._lse([x for row in a for x in row])
        return [[add(x, neg(lse)) for x in row] for row in a]

    def _logsumexp(self, a):
        return [[self._lse([x for row in a for x in row])]]

    def _norm(self, a):
        total = const(mpq(0))
        for row in a:
            for x in row:
                total = add(total, mul(x, x))
        return [[LIFTED["sqrt"](total)]]
