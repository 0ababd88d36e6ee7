"""SymPy's own matrix calculus as a second opinion, recorded and never decisive.

The expression is rebuilt from the parse tree as SymPy matrix expressions
(`MatrixSymbol`, `Trace`, `Determinant`, `Inverse`, `KroneckerProduct`, ...), SymPy
differentiates it with `diff`, and its closed form is evaluated at a random point and
compared with our numerical derivative. SymPy 1.14 is known to answer 0 for log det and
some products with det; that shows up here as a disagreement, not as a failed identity.
"""

from __future__ import annotations

import signal
import warnings
from contextlib import contextmanager

import numpy as np
import sympy
from matderiv.check import numeric
from matderiv.check.evaluate import Evaluator
from matderiv.lang import expr as E
from matderiv.lang.shapes import arrange
from sympy import (
    Determinant,
    HadamardProduct,
    Identity,
    Inverse,
    KroneckerProduct,
    MatPow,
    MatrixSymbol,
    OneMatrix,
    Trace,
    ZeroMatrix,
)

CPU_SECONDS = 1  # of this process's own CPU time, not the wall clock: a loaded machine
# gives the same answer (SymPy either answers within a fraction of it or never does)
SCALAR_FUNCTIONS = {"log": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt, "sin": sympy.sin,
                    "cos": sympy.cos, "tanh": sympy.tanh}


class Unsupported(Exception):
    pass


@contextmanager
def _cpu_deadline(seconds: float):
    """TimeoutError after `seconds` of CPU time spent here (ITIMER_VIRTUAL): an operation
    budget, independent of how busy the machine is."""
    def stop(signum, frame):
        raise TimeoutError

    try:
        previous = signal.signal(signal.SIGVTALRM, stop)
    except ValueError:  # not the main thread: run without a deadline
        yield
        return
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def opinion(prep, sizes: dict, seed: int) -> dict:
    """{"agrees": True/False/None, "note": ..., "closed_form": text or None}."""
    if any(d.depends_on or d.kind == "function" for d in prep.decls.values()):
        return {"agrees": None, "note": "SymPy has no unknown-function matrix symbols",
                "closed_form": None}
    try:
        with _cpu_deadline(CPU_SECONDS), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _compare(prep, sizes, seed)
    except Unsupported as exc:
        return {"agrees": None, "note": f"SymPy's matrix calculus has no rule for {exc}",
                "closed_form": None}
    except TimeoutError:
        return {"agrees": None, "note": f"SymPy gave no answer within {CPU_SECONDS} s of CPU "
                "time",
                "closed_form": None}
    except Exception as exc:  # noqa: BLE001 - SymPy's failures are data here
        return {"agrees": None, "note": f"SymPy failed: {type(exc).__name__}",
                "closed_form": None}


def _compare(prep, sizes: dict, seed: int) -> dict:
    builder = _Builder(prep, sizes)
    of = builder.scalar_or_matrix(prep.of)
    result = of.diff(builder.symbols[prep.identity.wrt])
    closed = str(result)
    rng = np.random.default_rng(seed)
    values = {n: numeric.matrix(rng, *builder.shape(n), d.props)
              for n, d in prep.decls.items()}
    explicit = _evaluate(result, builder, values)
    reference = _reference(prep, values, sizes)
    if explicit is None or explicit.size != reference.size:
        return {"agrees": False, "note": "SymPy's answer has another shape",
                "closed_form": closed}
    agrees = numeric.relative_error(explicit.reshape(reference.shape), reference) < 1e-6
    note = "SymPy's closed form agrees" if agrees else "SymPy's closed form differs"
    return {"agrees": bool(agrees), "note": note, "closed_form": closed[:300]}


def _reference(prep, values: dict, sizes: dict) -> np.ndarray:
    """Our numerical derivative in denominator layout, SymPy's order of axes."""
    alg = numeric.NumpyAlgebra({})
    wrt = prep.identity.wrt

    def f(x):
        return Evaluator(alg, {**values, wrt: x}, sizes)(prep.of)

    D = numeric.jacobian(f, values[wrt])
    shapes = (prep.of_shape, prep.wrt.shape, prep.keep_x)
    layout = "denominator" if arrange(D, "denominator", *shapes) is not None else "vec_denominator"
    return np.asarray(arrange(D, layout, *shapes), dtype=float)


def _evaluate(result, builder, values: dict):
    subs = {}
    for name, sym in builder.symbols.items():
        value = values[name]
        subs[sym] = float(value[0, 0]) if isinstance(sym, sympy.Symbol) else sympy.Matrix(value)
    out = result.subs(subs).doit()
    if hasattr(out, "as_explicit"):
        out = out.as_explicit()
    try:
        return np.array(sympy.N(out).tolist() if hasattr(out, "tolist") else [[sympy.N(out)]],
                        dtype=float)
    except (TypeError, ValueError):
        return None


class _Builder:
    def __init__(self, prep, sizes: dict):
        self.prep = prep
        self.sizes = sizes
        self.symbols = {}
        for name, decl in prep.decls.items():
            rows, cols = self.shape(name)
            self.symbols[name] = (sympy.Symbol(name) if decl.kind == "scalar"
                                  else MatrixSymbol(name, rows, cols))

    def shape(self, name) -> tuple[int, int]:
        subs = {sympy.Symbol(k, positive=True, integer=True): v for k, v in self.sizes.items()}
        return tuple(int(s.subs(subs)) for s in self.prep.decls[name].shape)

    def scalar_or_matrix(self, node):
        value = self.build(node)
        return Trace(value) if _is_matrix(value) and value.shape == (1, 1) else value

    def build(self, node):
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise Unsupported(type(node).__name__)
        return method(node)

    def _Num(self, node):
        return sympy.Rational(node.value.numerator, node.value.denominator)

    def _Sym(self, node):
        return self.symbols[node.name]

    def _Neg(self, node):
        return -self.build(node.arg)

    def _Transpose(self, node):
        value = self.build(node.arg)
        return value.T if _is_matrix(value) else value

    def _Bin(self, node):
        left, right = self.build(node.left), self.build(node.right)
        if node.op in "+-":
            return left + right if node.op == "+" else left - right
        if node.op == "/":
            return left / _scalar(right)
        if node.op == "**":
            if _is_matrix(left) and left.shape != (1, 1):
                if left.shape[0] != left.shape[1]:
                    raise Unsupported("the entry-by-entry power of a vector")
                return MatPow(left, right)
            return _scalar(left) ** _scalar(right)
        if _is_matrix(left) and _is_matrix(right):
            if left.shape[1] == right.shape[0]:
                return left * right
            if left.shape == (1, 1):
                return Trace(left) * right
            return left * _scalar(right)
        return left * right

    def _Call(self, node):
        fn = node.fn
        if fn == "eye":
            return Identity(self._size(node.args[0]))
        if fn in ("ones", "zeros"):
            dims = [self._size(a) for a in node.args] + ([1] if len(node.args) == 1 else [])
            return (OneMatrix if fn == "ones" else ZeroMatrix)(*dims)
        args = [self.build(a) for a in node.args]
        a = args[0]
        if fn == "tr":
            return Trace(a)
        if fn == "det":
            return Determinant(a)
        if fn == "inv":
            return Inverse(a) if _is_matrix(a) and a.shape != (1, 1) else 1 / _scalar(a)
        if fn == "kron":
            return KroneckerProduct(*args)
        if fn == "hadamard":
            return HadamardProduct(*args)
        if fn == "norm" and _is_matrix(a):
            return sympy.sqrt(Trace(a.T * a))
        if fn in SCALAR_FUNCTIONS and not (_is_matrix(a) and a.shape != (1, 1)):
            return SCALAR_FUNCTIONS[fn](_scalar(a))
        raise Unsupported(f"`{fn}` here")

    def _size(self, node):
        return int(node.value) if isinstance(node, E.Num) else self.sizes[node.name]


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixExpr)


def _scalar(value):
    if _is_matrix(value):
        if value.shape != (1, 1):
            raise Unsupported("a product of a matrix with a matrix used as a scalar")
        return Trace(value)
    return value
