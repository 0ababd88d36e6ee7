"""The numeric check: floating-point points that honour the properties, and derivatives by
complex step.

Independent of the exact check: NumPy's own det and inv, random real points, nothing
shared but the tree walker.
"""

from __future__ import annotations

import ctypes
import functools
import math

import numpy as np
import numpy.random  # noqa: F401 - NumPy 2 loads it on first use: in every forked worker
from matderiv.catalog.schema import ELEMENTWISE
from matderiv.check.evaluate import DomainError, KinkError

STEP_COMPLEX = 1e-30
MAX_COND = 100.0


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


KINK_MARGIN = 1e-6  # an argument of relu, sign, step, abs this near 0 (relative) is redrawn


def _away_from_kink(x, name):
    """Refuse a point where an argument of a non-smooth function is within KINK_MARGIN of 0,
    relative to the scale of the argument's entries (at least 1)."""
    real = np.real(x)
    scale = max(1.0, float(np.max(np.abs(real), initial=0.0)))
    if np.any(np.abs(real) <= KINK_MARGIN * scale):
        raise KinkError(f"an argument of {name} is too near 0")
    return real


def _abs(x):
    """|x| that carries a complex step: x·sign(Re x) is analytic away from 0."""
    real = _away_from_kink(x, "abs")
    return x * np.sign(real) if np.iscomplexobj(x) else np.abs(x)


def _relu(x):
    return x * (_away_from_kink(x, "relu") > 0)


def _sign(x):
    return np.sign(_away_from_kink(x, "sign")).astype(float)


def _step(x):
    return (_away_from_kink(x, "step") > 0).astype(float)


_ERF = np.vectorize(math.erf, otypes=[float])


def _erf(x):
    """erf carrying a complex step: erf(Re z) + i Im z · 2/√π · exp(−(Re z)²), exact to first
    order in Im z, which is all the complex step reads."""
    real = np.real(x)
    value = _ERF(real)
    if not np.iscomplexobj(x):
        return value
    return value + 1j * np.imag(x) * 2 / math.sqrt(math.pi) * np.exp(-real * real)


def _softmax_vector(a):
    e = np.exp(a - a.real.max())
    return e / e.sum()


def _logsumexp(a):
    top = a.real.max()
    return np.log(np.sum(np.exp(a - top))) + top


NP_FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": _abs, "sin": np.sin,
                "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid, "relu": _relu,
                "sign": _sign, "step": _step, "erf": _erf, "tan": np.tan}


# ---------------------------------------------------------------- matrix functions
# Built from products and LU solves only (no eigenvectors, no SVD, no conjugation), so that
# they are analytic and carry a complex step: NumPy's own routines (and SciPy's, which is
# not a dependency) would not.

EXPM_MAX_NORM = 64.0


def _norm1(a) -> float:
    return float(np.max(np.sum(np.abs(np.real(a)), axis=0)))


def expm(a):
    """Scaling and squaring with a Taylor series of degree 18 at 1-norm <= 1/8."""
    norm = _norm1(a)
    if not np.isfinite(norm) or norm > EXPM_MAX_NORM:
        raise DomainError("expm of a matrix of large norm")
    squarings = max(0, int(np.ceil(np.log2(norm))) + 3) if norm > 0 else 0
    x = a / 2.0 ** squarings
    eye = np.eye(a.shape[0])
    r = eye
    for j in range(18, 0, -1):
        r = eye + x @ r / j
    for _ in range(squarings):
        r = r @ r
    return r


def logm_center(a) -> float:
    """The geometric mean of the eigenvalues' magnitudes; DomainError where the principal
    logarithm is undefined (an eigenvalue on or within 1e-6 of the closed negative real
    axis, relative) or the eigenvalues leave 2^-20 .. 2^20 (as in the exact check)."""
    real = np.real(a)
    if not np.all(np.isfinite(real)):
        raise DomainError("logm of a matrix with an entry that is not finite")
    eigenvalues = np.linalg.eigvals(real)
    size = np.abs(eigenvalues)
    if np.any(size < 2.0 ** -20) or np.any(size > 2.0 ** 20):
        raise DomainError("logm of a matrix with an eigenvalue of magnitude outside "
                          "2^-20 .. 2^20")
    if np.any((eigenvalues.real <= 0) & (np.abs(eigenvalues.imag) <= 1e-6 * size)):
        raise DomainError("logm of a matrix with an eigenvalue on the closed negative real axis")
    return float(np.exp(np.mean(np.log(size))))


def _sqrtm(a):
    """The principal square root by the Denman-Beavers iteration (two more steps after the
    values settle, so that a complex step settles too)."""
    y, z = a, np.eye(a.shape[0])
    extra = None
    for _ in range(100):
        y_next = (y + np.linalg.inv(z)) / 2
        z = (z + np.linalg.inv(y)) / 2
        settled = _norm1(y_next - y) <= 1e-14 * _norm1(y_next)
        y = y_next
        if extra is None and settled:
            extra = 2
        if extra is not None:
            if extra == 0:
                return y
            extra -= 1
    raise DomainError("the square root iteration of logm did not converge")


def logm(a):
    """Inverse scaling and squaring: square roots of a/c (c a power of 2) until within 1/4
    of I, then 2 atanh((A - I)(A + I)^-1) by its series."""
    shift = round(np.log2(logm_center(a)))
    eye = np.eye(a.shape[0])
    x = a / 2.0 ** shift
    roots = 0
    while _norm1(x - eye) > 0.25:
        if roots > 40:
            raise DomainError("logm: too many square roots")
        x = _sqrtm(x)
        roots += 1
    z = np.linalg.solve((x + eye).T, (x - eye).T).T
    z2 = z @ z
    total, term = z, z
    for j in range(1, 30):
        term = term @ z2
        total = total + term / (2 * j + 1)
    return total * 2.0 ** (roots + 1) + eye * (shift * np.log(2.0))


def pinv(a):
    """(XᵀX)⁻¹Xᵀ for a tall X, Xᵀ(XXᵀ)⁻¹ for a wide one (plain transposes: analytic)."""
    rows, cols = a.shape
    if rows == cols:
        return np.linalg.inv(a)
    if rows > cols:
        return np.linalg.solve(a.T @ a, a.T)
    return np.linalg.solve(a @ a.T, a).T


def commutation(m: int, n: int) -> np.ndarray:
    """K (mn × mn) with K vec(A) = vec(Aᵀ) for A m × n."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1.0
    return k


# ---------------------------------------------------------------- BLAS threads

# The names OpenBLAS builds give their thread setter (NumPy's wheels bundle scipy-openblas)
BLAS_THREAD_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads")
_blas_threads_set = False


def single_threaded_blas() -> bool:
    """Ask the BLAS that NumPy loaded for one thread in this process (once; True when a
    setter was found and called).

    The numeric check runs in a worker per core and does one matrix product at a time
    between steps of Python. A threaded OpenBLAS splits each product above about 80 x 80
    over its threads, which then spin waiting for the next one: with the cores already
    busy with workers, the spinning costs far more CPU than the products (measured here:
    an 81 x 81 product between steps of Python, 15 ms of CPU with two threads, 0.3 ms with
    one; the whole catalog's numeric check, 27 s of CPU against 14 s). One thread runs the
    same kernels on the same blocks, so the values do not change (the whole catalog's
    verdicts, errors included, are identical)."""
    global _blas_threads_set
    if _blas_threads_set:
        return True
    _blas_threads_set = True
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return False
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in BLAS_THREAD_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                return True
    return False


# At import: the process that forks the workers imports this module first, so every worker
# starts with one thread instead of setting it after the fork, when OpenBLAS has already
# been re-initialised for two (measured: 61 identities, one forked worker each, 6.5-7.5 s
# of CPU with the setting made in each worker, 4.0-4.1 s with it inherited).
single_threaded_blas()


@functools.lru_cache(maxsize=1024)
def _float(value) -> float:
    """A literal (a Fraction) as a float, once per literal."""
    return float(value)


def _softmax_rows(a):
    e = np.exp(a - a.real.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# The functions of NumpyAlgebra.call other than the elementwise ones, by name: each takes
# the first argument and the list of all of them
CALLS = {
    "tr": lambda a, args: np.array([[np.trace(a)]]),
    "det": lambda a, args: np.array([[np.linalg.det(a)]]),
    "inv": lambda a, args: np.linalg.inv(a),
    "softmax": lambda a, args: _softmax_vector(a),
    "softmax_rows": lambda a, args: _softmax_rows(a),
    "log_softmax": lambda a, args: a - _logsumexp(a),
    "logsumexp": lambda a, args: np.array([[_logsumexp(a)]]),
    "sum": lambda a, args: np.array([[np.sum(a)]]),
    "mean": lambda a, args: np.array([[np.mean(a)]]),
    "norm": lambda a, args: np.array([[np.sqrt(np.sum(a * a))]]),
    "kron": lambda a, args: np.kron(a, args[1]),
    "hadamard": lambda a, args: a * args[1],
    "diag": lambda a, args: np.diag(a[:, 0]) if a.shape[1] == 1 else np.diag(a).reshape(-1, 1),
    "vec": lambda a, args: a.reshape(-1, 1, order="F"),
    "hadamard_pow": lambda a, args: a ** args[1][0, 0],
    "hadamard_div": lambda a, args: a / args[1],
    "expm": lambda a, args: expm(a),
    "logm": lambda a, args: logm(a),
    "pinv": lambda a, args: pinv(a),
}


class NumpyAlgebra:
    """Evaluator backend on 2-D NumPy arrays (real or complex)."""

    def __init__(self, generic: dict):
        self.generic = generic  # name -> coefficients of its smooth stand-in
        single_threaded_blas()

    def const(self, value):
        return np.array([[_float(value)]])

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
        return a / b if b.shape != (1, 1) else a / b[0, 0]

    def constant(self, name):
        if name == "pi":
            return np.array([[np.pi]])
        raise ValueError(name)

    def power(self, a, p, k):
        if a.shape == (1, 1):
            return a ** (k if k is not None else p[0, 0])
        if 1 in a.shape:  # a vector: entry by entry (format 1.2)
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
        rule = CALLS.get(fn)
        if rule is None:
            raise ValueError(fn)
        return rule(a, args)

    def commutation(self, m, n):
        return commutation(m, n)

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
        conditioned = props & {"positive-definite", "positive", "diagonal", "orthogonal",
                               "lower-triangular", "probability"}
        if (rows != cols or rows == 1 or singular_by_design or conditioned
                or np.linalg.cond(m) <= MAX_COND):
            return m
    raise DomainError("no well-conditioned matrix found")


def _draw(rng, rows, cols, props, level, flip):
    if "probability" in props:  # inside the simplex: a column, or each row, sums to 1
        w = rng.uniform(0.05, 1.0, (rows, cols))
        return w / w.sum() if cols == 1 else w / w.sum(axis=1, keepdims=True)
    if "lower-triangular" in props:  # unit-scale diagonal: well conditioned
        m = np.tril(rng.standard_normal((rows, cols)), -1) / max(rows, 1)
        return m + np.diag(rng.choice([-1.0, 1.0], rows) * rng.uniform(0.5, 2.0, rows))
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
    # x0 + 1j·h·e_kl entry by entry: x0 + (0 + 0i) off (k, l), x0 + (0 + hi) at it, built
    # from one complex copy of x0 instead of a unit matrix and two array operations a step
    base, step = x0 + 0j, 1j * STEP_COMPLEX
    for k in range(rows):
        for l in range(cols):
            x = base.copy()
            x[k, l] += step
            out[:, :, k, l] = f(x).imag / STEP_COMPLEX
    return out


def relative_error(form: np.ndarray, expected: np.ndarray) -> float:
    """max |form - expected| / max(1, max |expected|); NaN or Inf anywhere is infinite."""
    if not (np.all(np.isfinite(form)) and np.all(np.isfinite(expected))):
        return float("inf")
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return float(np.max(np.abs(form - expected), initial=0.0)) / scale
