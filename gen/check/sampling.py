"""The forms of one identity at one size assignment, compared at random points: one
driver, two methods.

`sample` draws points until enough are usable, redrawing at narrower magnitudes after a
point where something is undefined or not finite, and keeps the worst error per form. A
method says how a point is drawn, how the derivative of `of` is re-derived there and how
a form's value is compared with it:

- `Exact`: dyadic rationals with dual numbers (exact.py): the derivative is exact, the
  comparison is equality (or 256-bit agreement where a transcendental function enters);
  a form undefined where `of` is defined is wrong there (UNDEFINED); a differential with
  a part free of differentials is NOT_LINEAR.
- `Numeric`: floats over orders of magnitude (numeric.py): the derivative by complex
  step, the Hessian by Richardson-extrapolated differences of gradients, the comparison
  a relative error within NUMERIC_TOLERANCE; a point where a form is undefined is unusable.

Both evaluate trees through the one Evaluator (evaluate.py) over their algebra.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
import sympy
from matderiv.check import exact, numeric
from matderiv.check.evaluate import DomainError, Evaluator, KinkError
from matderiv.lang.forms import Prepared
from matderiv.lang.shapes import arrange

TRIES = 30  # draws per assignment before it is declared to have no usable point
NOT_LINEAR = -1.0  # the error of a differential that has a part without a differential
UNDEFINED = -2.0  # the error of a form undefined where `of` and its derivative are defined
NUMERIC_POINTS = 3
NUMERIC_TOLERANCE = 1e-6
HESSIAN_STEP = 1e-2  # first relative step of the differences of gradients
HESSIAN_AGREE = 1e-10  # two successive estimates this close (relative) end the search


def concrete(shape, sizes: dict) -> tuple[int, int]:
    """A declared shape (sympy sizes) at one assignment of the size names."""
    return _concrete_at(tuple(shape), tuple(sorted(sizes.items())))


@functools.lru_cache(maxsize=4096)
def _concrete_at(shape: tuple, sizes: tuple) -> tuple[int, int]:
    subs = {sympy.Symbol(n, positive=True, integer=True): v for n, v in sizes}
    return tuple(int(sympy.Integer(1) * s if not subs else (sympy.Integer(1) * s).subs(subs))
                 for s in shape)


def sample(method, forms, wanted: int, flip: bool) -> tuple[dict, int]:
    """(equal, error) per form, worst over `wanted` usable points, and how many were
    usable. `flip` alternates the orthant of orthogonal points from one usable point to
    the next. DomainError when none of TRIES draws is usable."""
    worst: dict = {}
    usable, level, last = 0, 0, ""
    for _ in range(TRIES):
        try:
            point = method.draw(level, flip != (usable % 2 == 1))
            errors = _errors_at(method, point, forms)
        except KinkError as exc:  # not a matter of magnitude: redraw at the same level
            last = str(exc)
            continue
        except DomainError as exc:
            level, last = level + 1, str(exc)
            continue
        if method.narrows:  # wide magnitudes first, then ever narrower ones
            level = max(level, usable + 1)
        worst = {name: _worse(worst.get(name, (True, 0.0)), found)
                 for name, found in errors.items()}
        usable += 1
        if usable == wanted:
            break
    if not usable:
        raise DomainError(last or "no usable point")
    return worst, usable


def _worse(old: tuple, new: tuple) -> tuple:
    """Equal only if equal at every point; a mark (NOT_LINEAR, UNDEFINED) outranks any
    size of error."""
    marks = [e for e in (old[1], new[1]) if e < 0]
    return (old[0] and new[0], min(marks) if marks else max(old[1], new[1]))


def _errors_at(method, point, forms) -> dict:
    D = method.derivative(point)
    errors = {}
    for form in forms:
        try:
            errors[form.name] = _form_error(method, point, form, D)
        except KinkError:  # a form's relu/sign/step/abs argument is at its kink: redraw
            raise
        except DomainError:
            if not method.undefined_is_wrong:
                raise
            errors[form.name] = (False, UNDEFINED)
    return errors


def _form_error(method, point, form, D) -> tuple:
    if form.name == "hessian":
        return method.hessian(point, form)
    if form.name == "differential":
        return method.differential(point, form, D)
    return method.layout(point, form, D)


def exact_check(prep: Prepared, forms, sizes: dict, seed: int, points: int = 1,
                flip: bool = False) -> tuple[dict, int]:
    """(equal, error) per form over `points` usable exact points, and the count."""
    return sample(Exact(prep, sizes, seed), forms, points, flip)


def numeric_check(prep: Prepared, forms, sizes: dict, seed: int,
                  flip: bool = False) -> tuple[dict, int]:
    """The worst relative error per form over NUMERIC_POINTS usable points, and the count."""
    found, count = sample(Numeric(prep, sizes, seed), forms, NUMERIC_POINTS, flip)
    return {name: error for name, (_, error) in found.items()}, count


# ---------------------------------------------------------------- exact


@dataclass
class _Point:
    """Values of every symbol at one point, and the derivatives of dependent symbols."""

    values: dict  # name -> value with dual parts (wrt, dependents)
    plain: dict  # name -> value without dual parts
    slopes: dict  # dependent name -> list over directions of its derivative matrix


def _unit(k: int, count: int) -> list:
    d = [exact.mpq(0)] * count
    d[k] = exact.mpq(1)
    return d


def _slope_array(slope: list, xr: int, xc: int) -> np.ndarray:
    """D[i, j, k, l] for a dependent symbol from its per-direction derivative matrices."""
    stack = np.array([[list(r) for r in s] for s in slope], dtype=object)  # (K, r, c)
    return stack.transpose(1, 2, 0).reshape(stack.shape[1], stack.shape[2], xr, xc)


def _wrap(array) -> list | None:
    if array is None:
        return None
    return [[exact.Dual(x) for x in row] for row in array]


class Exact:
    """Exact arithmetic with dual numbers: one dual part per entry of the variable."""

    narrows = True
    undefined_is_wrong = True  # a form may not narrow the domain of the claim

    def __init__(self, prep: Prepared, sizes: dict, seed: int):
        self.prep, self.sizes = prep, sizes
        self.rng = random.Random(seed)
        self.alg = exact.ExactAlgebra(seed)
        self.xr, self.xc = concrete(prep.wrt.shape, sizes)

    def draw(self, level: int, flip: bool) -> _Point:
        prep, rng = self.prep, self.rng
        wrt = prep.identity.wrt
        count = self.xr * self.xc
        values, plain, slopes = {}, {}, {}
        for name, decl in prep.decls.items():
            if decl.kind == "function":
                continue
            rows, cols = concrete(decl.shape, self.sizes)
            base = exact.matrix(rng, rows, cols, decl.props, level, flip)
            plain[name] = base
            if name == wrt:
                values[name] = [[exact.Dual(x.v, _unit(i * cols + j, count))
                                 for j, x in enumerate(row)] for i, row in enumerate(base)]
            elif decl.depends_on:
                slope = [exact.structured([[exact.scalar(rng, level=1) for _ in range(cols)]
                                           for _ in range(rows)], decl.props)
                         for _ in range(count)]
                slopes[name] = slope
                values[name] = [[exact.Dual(x.v, [s[i][j] for s in slope])
                                 for j, x in enumerate(row)] for i, row in enumerate(base)]
            else:
                values[name] = base
        return _Point(values, plain, slopes)

    def derivative(self, point: _Point) -> np.ndarray:
        """D[i, j, k, l] = ∂Y_ij/∂X_kl, exactly; DomainError where it is not finite."""
        y = Evaluator(self.alg, point.values, self.sizes)(self.prep.of)
        D = exact.jacobian(y, self.xr, self.xc)
        if not exact.finite(D):
            raise DomainError("the derivative is not finite")
        return D

    def _value(self, form, plain, diffs, expected):
        if form.zero:
            return np.full(expected.shape, exact.mpq(0), dtype=object)
        ev = Evaluator(self.alg, plain, self.sizes,
                       {k: v for k, v in diffs.items() if v is not None})
        return exact.to_array(ev(form.tree))

    def layout(self, point: _Point, form, D) -> tuple:
        prep = self.prep
        expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape, prep.keep_x)
        diffs = {name: _wrap(arrange(_slope_array(s, self.xr, self.xc), form.name,
                                     prep.decls[name].shape, prep.wrt.shape, prep.keep_x))
                 for name, s in point.slopes.items()}
        return exact.difference(self._value(form, point.plain, diffs, expected), expected)

    def hessian(self, point: _Point, form) -> tuple:
        """The Hessian re-derived with dual numbers nested in dual numbers: each entry of
        the variable is x + e_k (outer) with x itself x + e_k (inner, an exact.Nested), so
        the outer parts of `of` are its first derivatives, each carrying its own
        derivatives: H[k][l] = ∂²f/∂x_k∂x_l, exactly. Ordered as vec(X)."""
        prep, xr = self.prep, self.xr
        count = xr * self.xc
        values = dict(point.plain)
        values[prep.identity.wrt] = [
            [exact.Dual(exact.Nested(x.v, _unit(j * xr + i, count)), _unit(j * xr + i, count))
             for j, x in enumerate(row)] for i, row in enumerate(point.plain[prep.identity.wrt])]
        y = Evaluator(exact.HessianAlgebra(self.alg.seed), values, self.sizes)(prep.of)[0][0]
        expected = np.empty((count, count), dtype=object)
        for k in range(count):
            part = y.d[k] if y.d is not None else exact.mpq(0)
            slopes = part.s if isinstance(part, exact.Nested) else None
            for m in range(count):
                expected[k, m] = slopes[m] if slopes is not None else exact.mpq(0)
        if not exact.finite(expected):
            raise DomainError("the second derivative is not finite")
        return exact.difference(self._value(form, point.plain, {}, expected), expected)

    def differential(self, point: _Point, form, D) -> tuple:
        """The differential at once along every direction: dX carries a unit dual part per
        entry (and dU its slopes), so the dual parts of the form are its values along each
        unit direction. The form is linear in the differentials (checked when it was
        read), so its value part must vanish."""
        xr, xc = self.xr, self.xc
        count = xr * xc
        dmap = {self.prep.identity.wrt: [[exact.Dual(exact.mpq(0), _unit(i * xc + j, count))
                                          for j in range(xc)] for i in range(xr)]}
        for name, slope in point.slopes.items():
            rows, cols = len(slope[0]), len(slope[0][0])
            dmap[name] = [[exact.Dual(exact.mpq(0), [s[i][j] for s in slope])
                           for j in range(cols)] for i in range(rows)]
        if form.zero:
            value = [[exact.const(exact.mpq(0))] * D.shape[1] for _ in range(D.shape[0])]
        else:
            value = Evaluator(self.alg, point.plain, self.sizes, {}, dmap)(form.tree)
        constant = exact.to_array(value)
        equal, error = exact.difference(exact.jacobian(value, xr, xc), D)
        linear, _ = exact.difference(constant, np.zeros(constant.shape, dtype=object)
                                     + exact.mpq(0))
        return (equal, error) if linear else (False, NOT_LINEAR)


# ---------------------------------------------------------------- numeric


@dataclass
class _FloatPoint:
    values: dict  # name -> float array
    slopes: dict  # dependent name -> array over directions of its derivative
    f: object  # `of` as a function of the variable alone


class Numeric:
    """Floats: the derivative by complex step, relative errors."""

    narrows = False
    undefined_is_wrong = False  # a point where a form is undefined does not count

    def __init__(self, prep: Prepared, sizes: dict, seed: int):
        self.prep, self.sizes = prep, sizes
        self.rng = rng = np.random.default_rng(seed)
        generic = {name: np.concatenate([rng.uniform(-1, 1, 1), rng.choice([-1, 1], 2)
                                         * rng.uniform(0.5, 2, 2), rng.uniform(0.5, 1.5, 1),
                                         rng.uniform(-1, 1, 1)])
                   for name, d in prep.decls.items() if d.kind == "function"}
        self.alg = numeric.NumpyAlgebra(generic)
        self.xr, self.xc = concrete(prep.wrt.shape, sizes)

    def draw(self, level: int, flip: bool) -> _FloatPoint:
        """Values of every symbol, and for a dependent symbol U its derivative along each
        direction of the variable (a random one: the rule must hold for every function)."""
        count = self.xr * self.xc
        values, slopes = {}, {}
        for name, decl in self.prep.decls.items():
            if decl.kind == "function":
                continue
            rows, cols = concrete(decl.shape, self.sizes)
            values[name] = numeric.matrix(self.rng, rows, cols, decl.props, level, flip)
            if decl.depends_on:
                slopes[name] = np.array([numeric.structured(
                    self.rng.standard_normal((rows, cols)), decl.props) for _ in range(count)])
        return _FloatPoint(values, slopes, self._function(values, slopes))

    def _function(self, values: dict, slopes: dict):
        """of as a function of the variable alone; a dependent U moves with it along its
        slopes (only first derivatives at the point matter to a complex step)."""
        wrt = self.prep.identity.wrt
        x0 = values[wrt]

        def f(x):
            current = dict(values)
            current[wrt] = x
            delta = (x - x0).reshape(-1)
            moved = np.flatnonzero(delta)
            for name, slope in slopes.items():
                current[name] = values[name] + sum(delta[k] * slope[k] for k in moved)
            return Evaluator(self.alg, current, self.sizes)(self.prep.of)

        return f

    def derivative(self, point: _FloatPoint) -> np.ndarray:
        """DomainError where the value or the derivative is undefined or not finite."""
        x0 = point.values[self.prep.identity.wrt]
        with np.errstate(all="raise"):
            try:
                y0 = point.f(x0)
            except (FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
                raise DomainError(str(exc)) from None
        if not np.all(np.isfinite(y0)):
            raise DomainError("a value is not finite")
        with np.errstate(all="ignore"):
            D = numeric.jacobian(point.f, x0)
        if not np.all(np.isfinite(D)):
            raise DomainError("the derivative is not finite")
        return D

    def _compare(self, form, values, diffs, expected, differentials=None) -> tuple:
        with np.errstate(all="ignore"):
            if form.zero:
                value = np.zeros(expected.shape)
            else:
                try:
                    ev = Evaluator(self.alg, values, self.sizes,
                                   {k: v for k, v in diffs.items() if v is not None},
                                   differentials)
                    value = np.asarray(ev(form.tree), dtype=float)
                except (np.linalg.LinAlgError, ZeroDivisionError):
                    raise DomainError("a form is undefined") from None
            if not np.all(np.isfinite(value)):
                raise DomainError("a form is not finite")
            error = numeric.relative_error(value, expected)
        return error <= NUMERIC_TOLERANCE, error

    def layout(self, point: _FloatPoint, form, D) -> tuple:
        prep, xr, xc = self.prep, self.xr, self.xc
        expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape, prep.keep_x)
        diffs = {}
        for name, slope in point.slopes.items():
            array = slope.transpose(1, 2, 0).reshape(slope.shape[1], slope.shape[2], xr, xc)
            diffs[name] = arrange(array, form.name, prep.decls[name].shape, prep.wrt.shape,
                                  prep.keep_x)
        return self._compare(form, point.values, diffs, expected)

    def differential(self, point: _FloatPoint, form, D) -> tuple:
        """Along three random directions of the variable (dependents along their slopes)."""
        worst = (True, 0.0)
        for _ in range(3):
            direction = self.rng.standard_normal((self.xr, self.xc))
            dmap = {self.prep.identity.wrt: direction}
            with np.errstate(all="ignore"):
                for name, slope in point.slopes.items():
                    dmap[name] = np.tensordot(direction.reshape(-1), slope, axes=1)
                expected = np.tensordot(D, direction, axes=2)
            worst = _worse(worst, self._compare(form, point.values, {}, expected, dmap))
        return worst

    def hessian(self, point: _FloatPoint, form) -> tuple:
        with np.errstate(all="ignore"):
            expected = self._hessian(point.values)
        return self._compare(form, point.values, {}, expected)

    def _hessian(self, values: dict) -> np.ndarray:
        """The Hessian as the derivative of the gradient: the gradient by complex step
        (exact to rounding), its derivative along each entry by central differences of
        steps h and h/2 combined by Richardson extrapolation (error of order h⁴), h divided
        by 4 until two successive estimates agree (wide magnitudes: an eigenvalue of 10⁻³
        next to entries of 10³). Ordered as vec(X)."""
        f = self._function(values, {})
        x0 = values[self.prep.identity.wrt]
        xr, xc = x0.shape
        scale = max(float(np.max(np.abs(x0))), 1e-300)

        def gradient(x):
            return numeric.jacobian(f, x)[0, 0].reshape(-1, order="F")

        def central(i, j, step):
            e = np.zeros((xr, xc))
            e[i, j] = step
            return (gradient(x0 + e) - gradient(x0 - e)) / (2 * step)

        H = np.empty((xr * xc, xr * xc))
        for q in range(xr * xc):
            i, j = q % xr, q // xr
            h = HESSIAN_STEP * max(abs(float(x0[i, j])), 1e-3 * scale)
            H[:, q] = _extrapolate(lambda step, i=i, j=j: central(i, j, step), h)
        if not np.all(np.isfinite(H)):
            raise DomainError("the second derivative is not finite")
        return H


def _extrapolate(central, h: float) -> np.ndarray:
    """Richardson estimates at h, h/4, h/16, ...: the pair of successive estimates that
    agree best (truncation error has fallen, rounding not yet grown); NaN if none."""
    previous, best, gap = None, None, np.inf
    for _ in range(10):
        estimate = (4 * central(h / 2) - central(h)) / 3
        h /= 4
        if not np.all(np.isfinite(estimate)):
            continue
        if previous is not None:
            change = np.max(np.abs(estimate - previous)) / max(
                1.0, float(np.max(np.abs(estimate))))
            if change < gap:
                best, gap = estimate, change
            elif change > 16 * gap:
                break
            if change <= HESSIAN_AGREE:
                break
        previous = estimate
    return best if best is not None else np.nan
