"""The numeric check: floating-point points that honour the properties, and derivatives by
complex step.

Independent of the exact check: NumPy's own det and inv, random real points, nothing
shared but the tree walker.
"""

from __future__ import annotations

import numpy as np

from .evaluate import DomainError
from .schema import ELEMENTWISE

STEP_COMPLEX = 1e-30
MAX_COND = 100.0


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _abs(x):
    """|x| that carries a complex step: x·sign(Re x) is analytic away from 0."""
    return x * np.sign(x.real) if np.iscomplexobj(x) else np.abs(x)


NP_FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": _abs, "sin": np.sin,
                "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid}


class NumpyAlgebra:
    """Evaluator backend on 2-D NumPy arrays (real or complex)."""

    def __init__(self, generic: dict):
        self.generic = generic  # name -> coefficients of its smooth stand-in

    def const(self, value):
        return np.array([[float(value)]])

    def neg(self, a):
        return -a

    def transpose(self, a):
        return a.T

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        if a.shape == (1, 1) or b.shape == (1, 1):
            return a * b
        return a @ b

    def div(self, a, b):
        return a / b[0, 0]

    def power(self, a, p, k):
        if a.shape == (1, 1):
            return a ** (k if k is not None else p[0, 0])
        if k < 0:
            a, k = np.linalg.inv(a), -k
        return np.linalg.matrix_power(a, k)

    def eye(self, n):
        return np.eye(n)

    def full(self, rows, cols, value):
        return np.full((rows, cols), float(value))

    def call(self, fn, args):
        a = args[0]
        if fn in ELEMENTWISE:
            return NP_FUNCTIONS[fn](a)
        if fn == "tr":
            return np.array([[np.trace(a)]])
        if fn == "det":
            return np.array([[np.linalg.det(a)]])
        if fn == "inv":
            return np.linalg.inv(a)
        if fn == "softmax":
            e = np.exp(a - a.real.max())
            return e / e.sum()
        if fn == "norm":
            return np.array([[np.sqrt(np.sum(a * a))]])
        if fn == "kron":
            return np.kron(a, args[1])
        if fn == "hadamard":
            return a * args[1]
        if fn == "diag":
            return np.diag(a[:, 0]) if a.shape[1] == 1 else np.diag(a).reshape(-1, 1)
        if fn == "vec":
            return a.reshape(-1, 1, order="F")
        raise ValueError(fn)

    def apply(self, fn, a, order):
        c = self.generic[fn]
        inner = c[3] * a + c[4]
        if order == 0:
            return c[0] + c[1] * a + c[2] * np.sin(inner)
        if order == 1:
            return c[1] + c[2] * c[3] * np.cos(inner)
        return -c[2] * c[3] ** 2 * np.sin(inner)


# ---------------------------------------------------------------- points

SPREAD = 3.0  # positive values and eigenvalues: log-uniform in 10^-3 .. 10^3 at level 0


def magnitude(rng: np.random.Generator, level: int, size=None):
    """Log-uniform magnitudes; each retry after an overflow (level + 1) narrows them."""
    spread = SPREAD / (1 + level)
    return 10.0 ** rng.uniform(-spread, spread, size)


def scalar(rng: np.random.Generator, positive=False, level=0) -> float:
    value = float(magnitude(rng, level))
    return value if positive or rng.random() < 0.5 else -value


def matrix(rng: np.random.Generator, rows: int, cols: int, props, level=0,
           flip=False) -> np.ndarray:
    """A float point honouring the declared properties.

    A general matrix is a well-conditioned Gaussian one (wide magnitudes are the exact
    check's job: in floating point they turn sound formulas such as log(1 − sigmoid(x))
    into cancellation); positive values, nonzero magnitudes and the eigenvalues of
    positive-definite matrices are log-uniform over orders of magnitude; orthogonal
    matrices have determinant −1 when `flip`, +1 otherwise."""
    for _ in range(200):
        m = _draw(rng, rows, cols, props, level, flip)
        singular_by_design = "skew-symmetric" in props and rows % 2 == 1
        conditioned = props & {"positive-definite", "positive", "diagonal", "orthogonal"}
        if (rows != cols or rows == 1 or singular_by_design or conditioned
                or np.linalg.cond(m) <= MAX_COND):
            return m
    raise DomainError("no well-conditioned matrix found")


def _draw(rng, rows, cols, props, level, flip):
    if "positive" in props:
        return magnitude(rng, level, (rows, cols))
    m = rng.standard_normal((rows, cols))
    if "nonzero" in props:
        m = np.sign(m) * magnitude(rng, level, (rows, cols))
    if "positive-definite" in props:
        q = _orthogonal(rng, rows, False)
        m = (q * magnitude(rng, level, rows)) @ q.T
        return (m + m.T) / 2
    if "orthogonal" in props:
        return _orthogonal(rng, rows, flip)
    if "symmetric" in props:
        return (m + m.T) / 2
    if "skew-symmetric" in props:
        return (m - m.T) / 2
    if "diagonal" in props:
        return np.diag(np.sign(np.diag(m)) * magnitude(rng, level, rows))
    return m


def _orthogonal(rng, n: int, flip: bool) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) < 0) != flip:
        q[:, 0] = -q[:, 0]
    return q


def structured(m: np.ndarray, props) -> np.ndarray:
    if props & {"symmetric", "positive-definite"}:
        return (m + m.T) / 2
    if "skew-symmetric" in props:
        return (m - m.T) / 2
    if "diagonal" in props:
        return np.diag(np.diag(m))
    return m


def jacobian(f, x0: np.ndarray) -> np.ndarray:
    """D[i, j, k, l] = d f(X)[i, j] / d X[k, l] at x0, by complex step (exact to rounding:
    no difference of nearby values is taken; abs carries the step as x·sign(Re x))."""
    rows, cols = x0.shape
    y0 = f(x0)
    out = np.empty((*y0.shape, rows, cols))
    for k in range(rows):
        for l in range(cols):
            e = np.zeros((rows, cols))
            e[k, l] = 1.0
            out[:, :, k, l] = f(x0 + 1j * STEP_COMPLEX * e).imag / STEP_COMPLEX
    return out


def relative_error(form: np.ndarray, expected: np.ndarray) -> float:
    """max |form - expected| / max(1, max |expected|); NaN or Inf anywhere is infinite."""
    if not (np.all(np.isfinite(form)) and np.all(np.isfinite(expected))):
        return float("inf")
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return float(np.max(np.abs(form - expected), initial=0.0)) / scale
