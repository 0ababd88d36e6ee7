"""One identity -> a Verdict: every given (and derived) form checked exactly and numerically.

The sizes follow the size rule (sizerule.py): two exact assignments, with different
values per name, every pair of names in both orders, and one with every size at least the
identity's degree bound; the numeric check adds an assignment at larger sizes drawn per
identity. Points cover what the declarations allow. The verdict of a well-formed identity
is cached by a hash of its content and of the checking code, and identities are verified
in parallel across processes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import random
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy
from matderiv import __version__
from matderiv.catalog.load import Identity
from matderiv.catalog.schema import TRANSCENDENTAL
from matderiv.check import exact, numeric
from matderiv.check.budget import Budget, run_in_workers, too_costly
from matderiv.check.evaluate import DomainError, Evaluator, KinkError
from matderiv.check.opinion import opinion
from matderiv.check.sizerule import (
    Bound,
    degree_bound,
    equal_assignment,
    exact_assignments,
    exact_number_assignments,
    honour,
    integer_values,
    number_assignments,
    numeric_assignment,
    shape_function,
    size_number_degrees,
    with_integers,
)
from matderiv.errors import CODES, Problem
from matderiv.lang import expr as E
from matderiv.lang.forms import Prepared, prepare
from matderiv.lang.shapes import arrange, integer_exponent

EXACT_TRIES = 30
# points restricted to these may satisfy identities generic matrices do not (diagonal ones
# commute, triangular ones: products of commutators vanish, orthogonal ones: QᵀQ = I, the
# simplex: 1ᵀy = 1), so the theorem says nothing about them: such identities are checked
POINT_CONDITIONS = {"lower-triangular", "probability", "diagonal", "orthogonal"}
NOT_LINEAR = -1.0  # the error of a differential that has a part without a differential
UNDEFINED = -2.0  # the error of a form undefined where `of` and its derivative are defined
NUMERIC_POINTS = 3
NUMERIC_TOLERANCE = 1e-6
FORM_KEYS = {"numerator": "derivative.numerator", "denominator": "derivative.denominator",
             "vec": "derivative.vec", "vec_denominator": "derivative.vec",
             "differential": "differential", "hessian": "hessian",
             "symmetric_tied": "derivative.symmetric_tied"}


@dataclass
class Verdict:
    id: str
    status: str  # verified, failed, invalid, refuted
    category: str = ""
    failures: list = field(default_factory=list)  # (code, message, key)
    forms: dict = field(default_factory=dict)
    sizes: list = field(default_factory=list)
    points: int = 0
    max_error: float = 0.0
    exact: str = ""
    sympy: dict = field(default_factory=dict)
    seconds: float = 0.0
    guarantee: str = ""  # proved, checked (or empty when not verified)
    degree: int = 0
    bound: int = 0
    capped: bool = False
    evidence: list = field(default_factory=list)  # per check: sizes, kind, points, errors

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def size_names(prep: Prepared) -> list[str]:
    return sorted({s for d in prep.decls.values() for s in d.size_names})


def literal_sizes(prep: Prepared) -> frozenset:
    """The integer sizes written in declarations (`matrix n 3`): names never take them."""
    return frozenset(int(s) for d in prep.decls.values() for s in d.shape
                     if not s.free_symbols and int(s) > 1)


def size_assignments(prep: Prepared, bound: Bound | None = None) -> list[dict]:
    """The exact check's assignments (the numeric check adds one more)."""
    if bound is None:
        bound = degree_bound(prep, [f for f in prep.forms.values() if f.shape_ok])
    avoid = literal_sizes(prep)
    found = [honour(a, prep.conditions, avoid)
             for a in exact_assignments(size_names(prep), bound, avoid)]
    return with_integers(found, integer_values(prep))


def _concrete(shape, sizes) -> tuple[int, int]:
    return _concrete_at(tuple(shape), tuple(sorted(sizes.items())))


@functools.lru_cache(maxsize=4096)
def _concrete_at(shape: tuple, sizes: tuple) -> tuple[int, int]:
    subs = {sympy.Symbol(n, positive=True, integer=True): v for n, v in sizes}
    return tuple(int(sympy.Integer(1) * s if not subs else (sympy.Integer(1) * s).subs(subs))
                 for s in shape)


def seed_of(ident: Identity) -> int:
    text = json.dumps(ident.content(), sort_keys=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "big")


# ---------------------------------------------------------------- the exact check


@dataclass
class _Point:
    """Values of every symbol at one point, and the derivatives of dependent symbols."""

    values: dict  # name -> value with dual parts (wrt, dependents)
    plain: dict  # name -> value without dual parts
    slopes: dict  # dependent name -> list over directions of its derivative matrix


def _exact_point(prep: Prepared, sizes: dict, rng: random.Random, level: int,
                 flip: bool) -> _Point:
    wrt = prep.identity.wrt
    xr, xc = _concrete(prep.wrt.shape, sizes)
    count = xr * xc
    values, plain, slopes = {}, {}, {}
    for name, decl in prep.decls.items():
        if decl.kind == "function":
            continue
        rows, cols = _concrete(decl.shape, sizes)
        base = exact.matrix(rng, rows, cols, decl.props, level, flip)
        plain[name] = base
        if name == wrt:
            values[name] = [[exact.Dual(x.v, _unit(i * cols + j, count))
                             for j, x in enumerate(row)] for i, row in enumerate(base)]
        elif decl.depends_on:
            slope = [exact.structured([[exact.scalar(rng, level=1) for _ in range(cols)]
                                        for _ in range(rows)], decl.props) for _ in range(count)]
            slopes[name] = slope
            values[name] = [[exact.Dual(x.v, [s[i][j] for s in slope])
                             for j, x in enumerate(row)] for i, row in enumerate(base)]
        else:
            values[name] = base
    return _Point(values, plain, slopes)


def _unit(k: int, count: int) -> list:
    d = [exact.mpq(0)] * count
    d[k] = exact.mpq(1)
    return d


def _slope_array(slope: list, xr: int, xc: int) -> np.ndarray:
    """D[i, j, k, l] for a dependent symbol from its per-direction derivative matrices."""
    stack = np.array([[list(r) for r in s] for s in slope], dtype=object)  # (K, r, c)
    return stack.transpose(1, 2, 0).reshape(stack.shape[1], stack.shape[2], xr, xc)


def _exact_at(prep: Prepared, sizes: dict, alg, point: _Point, forms) -> dict:
    """(equal, error) per form. DomainError where `of` or its derivative is undefined or
    not finite (the point is redrawn); a form undefined where they are defined is wrong
    there (error UNDEFINED): a form may not narrow the domain of the claim."""
    xr, xc = _concrete(prep.wrt.shape, sizes)
    y = Evaluator(alg, point.values, sizes)(prep.of)
    D = exact.jacobian(y, xr, xc)
    if not exact.finite(D):
        raise DomainError("the derivative is not finite")
    errors = {}
    for form in forms:
        try:
            errors[form.name] = _exact_one(prep, sizes, alg, point, form, D)
        except KinkError:  # a form's relu/sign/step/abs argument is 0 here: redraw
            raise
        except DomainError:
            errors[form.name] = (False, UNDEFINED)
    return errors


def _exact_one(prep: Prepared, sizes: dict, alg, point: _Point, form, D) -> tuple:
    if form.name == "hessian":
        return _exact_hessian(prep, sizes, alg, point, form)
    if form.name == "differential":
        return _exact_differential(prep, sizes, alg, point, form, D)
    xr, xc = D.shape[2], D.shape[3]
    expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape, prep.keep_x)
    diffs = {name: _wrap(arrange(_slope_array(s, xr, xc), form.name,
                                 prep.decls[name].shape, prep.wrt.shape, prep.keep_x))
             for name, s in point.slopes.items()}
    value = _exact_form(alg, form, point.plain, sizes, diffs, expected)
    return exact.difference(value, expected)


def _exact_hessian(prep: Prepared, sizes: dict, alg, point: _Point, form) -> tuple:
    """The Hessian re-derived with dual numbers nested in dual numbers: each entry of the
    variable is x + e_k (outer) with x itself x + e_k (inner, a exact.Nested), so the
    outer parts of `of` are its first derivatives, each carrying its own derivatives:
    H[k][l] = ∂²f/∂x_k∂x_l, exactly. Ordered as vec(X) (columns stacked)."""
    wrt = prep.identity.wrt
    xr, xc = _concrete(prep.wrt.shape, sizes)
    count = xr * xc
    values = dict(point.plain)
    values[wrt] = [[exact.Dual(exact.Nested(x.v, _unit(j * xr + i, count)),
                                _unit(j * xr + i, count))
                    for j, x in enumerate(row)] for i, row in enumerate(point.plain[wrt])]
    y = Evaluator(exact.HessianAlgebra(alg.seed), values, sizes)(prep.of)[0][0]
    expected = np.empty((count, count), dtype=object)
    for k in range(count):
        part = y.d[k] if y.d is not None else exact.mpq(0)
        slopes = part.s if isinstance(part, exact.Nested) else None
        for m in range(count):
            expected[k, m] = slopes[m] if slopes is not None else exact.mpq(0)
    if not exact.finite(expected):
        raise DomainError("the second derivative is not finite")
    value = _exact_form(alg, form, point.plain, sizes, {}, expected)
    return exact.difference(value, expected)


def _wrap(array) -> list | None:
    if array is None:
        return None
    return [[exact.Dual(x) for x in row] for row in array]


def _exact_form(alg, form, plain, sizes, diffs, expected):
    if form.zero:
        return np.full(expected.shape, exact.mpq(0), dtype=object)
    ev = Evaluator(alg, plain, sizes, {k: v for k, v in diffs.items() if v is not None})
    return exact.to_array(ev(form.tree))


def _exact_differential(prep, sizes, alg, point, form, D):
    """The differential at once along every direction: dX carries a unit dual part per
    entry (and dU its slopes), so the dual parts of the form are its values along each
    unit direction. The form is linear in the differentials (checked when it was read),
    so its value part must vanish."""
    xr, xc = D.shape[2], D.shape[3]
    count = xr * xc
    dmap = {prep.identity.wrt: [[exact.Dual(exact.mpq(0), _unit(i * xc + j, count))
                                 for j in range(xc)] for i in range(xr)]}
    for name, slope in point.slopes.items():
        rows, cols = len(slope[0]), len(slope[0][0])
        dmap[name] = [[exact.Dual(exact.mpq(0), [s[i][j] for s in slope])
                       for j in range(cols)] for i in range(rows)]
    if form.zero:
        value = [[exact.const(exact.mpq(0))] * D.shape[1] for _ in range(D.shape[0])]
    else:
        value = Evaluator(alg, point.plain, sizes, {}, dmap)(form.tree)
    constant = exact.to_array(value)
    equal, error = exact.difference(exact.jacobian(value, xr, xc), D)
    linear, _ = exact.difference(constant, np.zeros(constant.shape, dtype=object)
                                  + exact.mpq(0))
    return (equal, error) if linear else (False, NOT_LINEAR)


def exact_check(prep: Prepared, forms, sizes: dict, seed: int, points: int = 1,
                flip: bool = False) -> dict:
    """Errors per form, worst over `points` usable points (wide, then narrow magnitudes).

    After a point where anything is undefined or not finite, the next is drawn narrower.
    Raises DomainError when no point in EXACT_TRIES is usable."""
    rng = random.Random(seed)
    alg = exact.ExactAlgebra(seed)
    worst: dict = {}
    usable, level, last = 0, 0, ""
    for _ in range(EXACT_TRIES):
        point = _exact_point(prep, sizes, rng, level, flip=flip != (usable % 2 == 1))
        try:
            errors = _exact_at(prep, sizes, alg, point, forms)
        except KinkError as exc:  # not a matter of magnitude: redraw at the same level
            last = str(exc)
            continue
        except DomainError as exc:
            level, last = level + 1, str(exc)
            continue
        level = max(level, usable + 1)
        for name, (equal, error) in errors.items():
            old = worst.get(name, (True, 0.0))
            marks = [e for e in (old[1], error) if e < 0]
            worst[name] = (old[0] and equal, min(marks) if marks else max(old[1], error))
        usable += 1
        if usable == points:
            return worst
    if usable:
        return worst
    raise DomainError(last or "no usable point")


# ---------------------------------------------------------------- the numeric check


def _numeric_point(prep: Prepared, sizes: dict, rng: np.random.Generator, level: int,
                   flip: bool):
    """Values of every symbol, and for a dependent symbol U its derivative along each
    direction of the variable (a random one: the rule must hold for every function)."""
    xr, xc = _concrete(prep.wrt.shape, sizes)
    count = xr * xc
    values, slopes = {}, {}
    for name, decl in prep.decls.items():
        if decl.kind == "function":
            continue
        rows, cols = _concrete(decl.shape, sizes)
        values[name] = numeric.matrix(rng, rows, cols, decl.props, level, flip)
        if decl.depends_on:
            slopes[name] = np.array([numeric.structured(rng.standard_normal((rows, cols)),
                                                        decl.props) for _ in range(count)])
    return values, slopes


def _numeric_function(prep, values, slopes, alg, sizes):
    """of as a function of the variable alone; a dependent U moves with it along its
    slopes (only first derivatives at the point matter to a complex step)."""
    wrt = prep.identity.wrt
    x0 = values[wrt]

    def f(x):
        current = dict(values)
        current[wrt] = x
        delta = (x - x0).reshape(-1)
        moved = np.flatnonzero(delta)
        for name, slope in slopes.items():
            current[name] = values[name] + sum(delta[k] * slope[k] for k in moved)
        return Evaluator(alg, current, sizes)(prep.of)

    return f


def _numeric_at(prep, sizes, alg, rng, forms, level: int, flip: bool) -> dict:
    """Errors per form at one random point; DomainError where anything is undefined or
    not finite (the value, the derivative, a form): such a point never counts."""
    values, slopes = _numeric_point(prep, sizes, rng, level, flip)
    f = _numeric_function(prep, values, slopes, alg, sizes)
    x0 = values[prep.identity.wrt]
    with np.errstate(all="raise"):
        try:
            y0 = f(x0)
        except (FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise DomainError(str(exc)) from None
    if not np.all(np.isfinite(y0)):
        raise DomainError("a value is not finite")
    with np.errstate(all="ignore"):
        D = numeric.jacobian(f, x0)
        if not np.all(np.isfinite(D)):
            raise DomainError("the derivative is not finite")
        return {form.name: _numeric_form(prep, sizes, alg, form, values, slopes, D, rng)
                for form in forms}


def _numeric_form(prep, sizes, alg, form, values, slopes, D, rng) -> float:
    xr, xc = D.shape[2], D.shape[3]
    if form.name == "hessian":
        expected = _numeric_hessian(prep, sizes, alg, values)
        return _relative(_float_form(alg, form, values, sizes, {}, expected), expected)
    if form.name == "differential":
        worst = 0.0
        for _ in range(3):
            direction = rng.standard_normal((xr, xc))
            dmap = {prep.identity.wrt: direction}
            for name, slope in slopes.items():
                dmap[name] = np.tensordot(direction.reshape(-1), slope, axes=1)
            expected = np.tensordot(D, direction, axes=2)
            value = _float_form(alg, form, values, sizes, {}, expected, dmap)
            worst = max(worst, _relative(value, expected))
        return worst
    expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape, prep.keep_x)
    diffs = {}
    for name, slope in slopes.items():
        array = slope.transpose(1, 2, 0).reshape(slope.shape[1], slope.shape[2], xr, xc)
        diffs[name] = arrange(array, form.name, prep.decls[name].shape, prep.wrt.shape,
                              prep.keep_x)
    value = _float_form(alg, form, values, sizes, diffs, expected)
    return _relative(value, expected)


HESSIAN_STEP = 1e-2  # first relative step of the differences of gradients
HESSIAN_AGREE = 1e-10  # two successive estimates this close (relative) end the search


def _numeric_hessian(prep, sizes, alg, values) -> np.ndarray:
    """The Hessian as the derivative of the gradient: the gradient by complex step (exact
    to rounding), its derivative along each entry by central differences of steps h and
    h/2 combined by Richardson extrapolation (error of order h⁴), h divided by 4 until two
    successive estimates agree (wide magnitudes: an eigenvalue of 10⁻³ next to entries of
    10³). Ordered as vec(X)."""
    f = _numeric_function(prep, values, {}, alg, sizes)
    x0 = values[prep.identity.wrt]
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
        previous, best, gap = None, None, np.inf
        for _ in range(10):
            estimate = (4 * central(i, j, h / 2) - central(i, j, h)) / 3
            h /= 4
            if not np.all(np.isfinite(estimate)):
                continue
            if previous is not None:
                change = np.max(np.abs(estimate - previous)) / max(
                    1.0, float(np.max(np.abs(estimate))))
                if change < gap:  # the pair that agrees best: truncation error has
                    best, gap = estimate, change  # fallen, rounding not yet grown
                elif change > 16 * gap:
                    break
                if change <= HESSIAN_AGREE:
                    break
            previous = estimate
        H[:, q] = best if best is not None else np.nan
    if not np.all(np.isfinite(H)):
        raise DomainError("the second derivative is not finite")
    return H


def _relative(value, expected) -> float:
    if not np.all(np.isfinite(value)):
        raise DomainError("a form is not finite")
    return numeric.relative_error(value, expected)


def _float_form(alg, form, values, sizes, diffs, expected, differentials=None):
    if form.zero:
        return np.zeros(expected.shape)
    try:
        ev = Evaluator(alg, values, sizes, {k: v for k, v in diffs.items() if v is not None},
                       differentials)
        return np.asarray(ev(form.tree), dtype=float)
    except (np.linalg.LinAlgError, ZeroDivisionError):
        raise DomainError("a form is undefined") from None


def numeric_check(prep: Prepared, forms, sizes: dict, seed: int,
                  flip: bool = False) -> tuple[dict, int]:
    """Worst relative error per form over NUMERIC_POINTS usable points.

    After a point that overflows or leaves the domain, the next is drawn at a narrower
    spread of magnitudes; DomainError when no point in EXACT_TRIES is usable."""
    rng = np.random.default_rng(seed)
    generic = {name: np.concatenate([rng.uniform(-1, 1, 1), rng.choice([-1, 1], 2)
                                     * rng.uniform(0.5, 2, 2), rng.uniform(0.5, 1.5, 1),
                                     rng.uniform(-1, 1, 1)])
               for name, d in prep.decls.items() if d.kind == "function"}
    alg = numeric.NumpyAlgebra(generic)
    worst: dict = {}
    points, level, last = 0, 0, ""
    for _ in range(EXACT_TRIES):
        try:
            errors = _numeric_at(prep, sizes, alg, rng, forms, level, flip != (points % 2 == 1))
        except KinkError as exc:
            last = str(exc)
            continue
        except DomainError as exc:
            level, last = level + 1, str(exc)
            continue
        points += 1
        for name, error in errors.items():
            worst[name] = max(worst.get(name, 0.0), error)
        if points == NUMERIC_POINTS:
            break
    if not points:
        raise DomainError(last or "no usable point")
    return worst, points


# ---------------------------------------------------------------- one identity


def verify_identity(ident: Identity, hints: bool = True) -> Verdict:
    """Check one identity; `hints`: when a given form fails, also try it under the other
    layout's key and say so in the message if it holds there."""
    started = time.perf_counter()
    prep = prepare(ident)
    verdict = Verdict(ident.id, "verified", prep.category)
    if prep.invalid:
        verdict.status = "invalid"
        return verdict
    checkable = []
    verdict.failures += prep.refutations
    for form in prep.forms.values():
        verdict.forms[form.name] = {"given": form.given, "text": form.text, "ok": True,
                                    "exact_error": None, "numeric_error": None}
        if form.name == "differential" and prep.nonlinear:
            _fail(verdict, form, "E407", d="d" + prep.identity.wrt)
        elif form.shape_ok:
            checkable.append(form)
        else:
            _fail(verdict, form, "E401", got=_show(form.shape), layout=_layout_name(form.name),
                  expected=_show(form.expected) if form.expected is not None else
                  f"an array of more than two axes for a {prep.category} derivative "
                  "(give `vec` and `differential` instead)")
    _check_values(prep, checkable, verdict)
    if verdict.status == "invalid":
        return verdict
    if verdict.sizes:
        verdict.sympy = opinion(prep, verdict.sizes[0], seed_of(ident))
    _quiet_derived(verdict)
    _conclude(prep, verdict)
    if verdict.status != "verified":
        verdict.guarantee = ""
        if hints and ident.status != "erratum":
            _layout_hints(ident, verdict)
    verdict.seconds = round(time.perf_counter() - started, 3)
    return verdict


# Where a failing form may belong instead: the other layout first, then the vec form.
ELSEWHERE = {"numerator": ("denominator", "vec"), "denominator": ("numerator", "vec_denominator"),
             "vec": ("vec_denominator", "numerator"), "vec_denominator": ("vec", "denominator")}


def _layout_hints(ident: Identity, verdict: Verdict) -> None:
    """Help at the point of failure: a given form that fails but holds under another key
    (its transpose is the other layout's derivative; a Kronecker form is a vec form) gets
    a message saying where to put it."""
    for key, places in ELSEWHERE.items():
        record = verdict.forms.get(key)
        if key not in ident.derivative or not record or record["ok"]:
            continue
        for other in places:
            trial_ident = dataclasses.replace(ident, derivative={other: ident.derivative[key]},
                                              differential=None, hessian=None)
            trial = verify_identity(trial_ident, hints=False).forms.get(other)
            if trial and trial["ok"]:
                words = {"vec": "the vec form", "vec_denominator": "the vec (denominator) form"}
                where = words.get(other, f"the {other}-layout derivative")
                verdict.failures = [
                    (code, f"{message}; it holds as {where}: put it under `derivative.{other}`"
                     if place == FORM_KEYS[key] else message, place)
                    for code, message, place in verdict.failures]
                break


def _quiet_derived(verdict: Verdict) -> None:
    """A form derived from a wrong form is wrong too: report only the given one then."""
    if any(not r["ok"] for r in verdict.forms.values() if r["given"]):
        verdict.failures = [f for f in verdict.failures if f[2] != DERIVED]


def _show(shape) -> str:
    return " × ".join(str(s) for s in shape)


def _layout_name(name: str) -> str:
    return {"vec": "vec", "vec_denominator": "vec (denominator)", "hessian": "Hessian",
            "symmetric_tied": "symmetric (tied entries)"}.get(name, name + " layout")


# The place of a failure of a form matderiv derived (a given form's place is its key).
DERIVED = "derivative"


def _fail(verdict: Verdict, form, code: str, **fields) -> None:
    verdict.forms[form.name]["ok"] = False
    label = form.name if form.given else f"{form.name} (derived)"
    message = CODES[code].format(form=label, **fields)
    verdict.failures.append((code, message, FORM_KEYS[form.name] if form.given else DERIVED))


def _label(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "as declared"


def _check_values(prep: Prepared, forms, verdict: Verdict) -> None:
    """The exact check at the size rule's assignments, then the numeric check there and at
    one larger assignment; every failure is recorded on the verdict."""
    seed = seed_of(prep.identity)
    names = size_names(prep)
    bound = degree_bound(prep, forms)
    verdict.degree, verdict.bound, verdict.capped = bound.degree, bound.bound, bound.capped
    avoid = literal_sizes(prep)
    exact_sizes = exact_assignments(names, bound, avoid)
    numbers = size_number_degrees([prep.of] + [f.tree for f in forms], shape_function(prep))
    numbers = {n: c for n, c in numbers.items() if n not in prep.integers}
    exact_sizes += exact_number_assignments(names, exact_sizes, numbers, avoid)
    numeric_sizes = exact_sizes + [numeric_assignment(names, bound, exact_sizes, seed, avoid)]
    numeric_sizes += number_assignments(names, bound, numbers, seed, avoid)
    numeric_sizes += equal_assignment(names, bound, avoid)
    if prep.conditions:  # format 1.2: every assignment satisfies the shape conditions
        exact_sizes = _unique([honour(a, prep.conditions, avoid) for a in exact_sizes])
        numeric_sizes = _unique([honour(a, prep.conditions, avoid) for a in numeric_sizes])
    integers = integer_values(prep)
    exact_sizes = with_integers(exact_sizes, integers)
    numeric_sizes = with_integers(numeric_sizes, integers)
    costly = too_costly(prep, forms, exact_sizes, numeric_sizes[-1])
    if costly:
        verdict.status = "invalid"
        verdict.failures.append(("E210", CODES["E210"].format(detail=costly), "of"))
        return
    points = 1 if bound.covered else 3
    for index, sizes in enumerate(exact_sizes):
        try:
            found = exact_check(prep, forms, sizes, seed + index, points, flip=index % 2 == 1)
        except DomainError as exc:
            _no_point(verdict, sizes, exc)
            return
        _record(verdict, "exact", sizes, points, {k: v[1] for k, v in found.items()})
        _judge_exact(forms, verdict, sizes, found, prep.identity.wrt)
    for index, sizes in enumerate(numeric_sizes):
        try:
            numbers, count = numeric_check(prep, forms, sizes, seed + 100 + index,
                                           flip=index % 2 == 0)
        except DomainError as exc:
            _no_point(verdict, sizes, exc)
            return
        verdict.points += count
        _record(verdict, "numeric", sizes, count, numbers)
        _judge_numeric(forms, verdict, sizes, numbers)
    verdict.exact = (f"{exact.PRECISION}-bit arithmetic (about 77 digits)"
                     if _transcendental(prep, forms) else "rational arithmetic")
    verdict.max_error = max([r["numeric_error"] or 0.0 for r in verdict.forms.values()
                             if r["ok"]] + [0.0])
    structured = any(d.props & POINT_CONDITIONS for d in prep.decls.values()) or (
        "symmetric_tied" in prep.forms)  # its G∘I is outside the theorem
    proved = (bound.covered and not bound.capped and verdict.exact == "rational arithmetic"
              and not structured)
    verdict.guarantee = "proved" if proved else "checked"


def _unique(assignments: list[dict]) -> list[dict]:
    out = []
    for sizes in assignments:
        if sizes not in out:
            out.append(sizes)
    return out


def _no_point(verdict: Verdict, sizes: dict, exc: DomainError) -> None:
    verdict.failures.append(("E404", CODES["E404"].format(sizes=_label(sizes), detail=exc),
                             "of"))


def _record(verdict: Verdict, check: str, sizes: dict, points: int, errors: dict) -> None:
    if sizes not in verdict.sizes:
        verdict.sizes.append(sizes)
    verdict.evidence.append({"check": check, "sizes": sizes, "points": points,
                             "errors": {k: _finite(v) for k, v in errors.items()}})


def _finite(error) -> float:
    if not isinstance(error, float) or error != error:
        return float("inf")
    return error


def _judge_exact(forms, verdict: Verdict, sizes: dict, exact: dict, wrt: str) -> None:
    for form in forms:
        equal, error = exact[form.name]
        error = _finite(error)
        record = verdict.forms[form.name]
        if error == NOT_LINEAR:
            if record["ok"]:
                _fail(verdict, form, "E407", d="d" + wrt)
            continue
        if error == UNDEFINED:
            if record["ok"]:
                _fail(verdict, form, "E408", sizes=_label(sizes))
            continue
        record["exact_error"] = max(record["exact_error"] or 0.0, error)
        if not equal and record["ok"]:
            _fail(verdict, form, "E402", sizes=_label(sizes), error=error)


def _judge_numeric(forms, verdict: Verdict, sizes: dict, numbers: dict) -> None:
    for form in forms:
        record = verdict.forms[form.name]
        record["numeric_error"] = max(record["numeric_error"] or 0.0, numbers[form.name])
        if numbers[form.name] > NUMERIC_TOLERANCE and record["ok"]:
            _fail(verdict, form, "E403", sizes=_label(sizes), error=numbers[form.name])


def _transcendental(prep: Prepared, forms) -> bool:
    trees = [prep.of] + [form.tree for form in forms]
    return any(
        isinstance(n, E.Apply | E.Const) or isinstance(n, E.Call) and n.fn in TRANSCENDENTAL
        or isinstance(n, E.Bin) and n.op == "**" and integer_exponent(n.right) is None
        or isinstance(n, E.Call) and n.fn == "hadamard_pow"
        and integer_exponent(n.args[1]) is None
        for tree in trees for n in E.walk(tree)
    )


def _conclude(prep: Prepared, verdict: Verdict) -> None:
    failed = bool(verdict.failures)
    if prep.identity.status == "erratum":
        domain = any(code == "E404" for code, _, _ in verdict.failures)
        if failed and not domain:
            verdict.status = "refuted"
        else:
            verdict.status = "failed"
            if not failed:
                verdict.failures.append(("E405", CODES["E405"], "status"))
    elif failed:
        verdict.status = "failed"


# ---------------------------------------------------------------- many identities


# The modules whose code decides a verdict (paths inside the package): a change to any of
# them re-verifies everything; a change to rendering, export or the command line does not.
# tests/test_cli.py holds this list equal to what the verifier imports, transitively.
CHECKING_CODE = ("errors.py", "resources.py", "catalog/schema.py", "catalog/load.py",
                 "lang/expr.py", "lang/shapes.py", "lang/forms.py", "check/budget.py",
                 "check/evaluate.py",
                 "check/exact.py", "check/numeric.py", "check/opinion.py",
                 "check/sizerule.py", "check/verify.py")


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """The tool version and a hash of the checking code's source."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).parent.parent
    for name in CHECKING_CODE:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    env = os.environ.get("MATDERIV_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "matderiv"


def _cache_key(ident: Identity, tool: str) -> str:
    text = json.dumps([tool, ident.content()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_all(identities: list[Identity], jobs: int = 0, use_cache: bool = True,
               progress=None, budget: Budget | None = None) -> list[Verdict]:
    """Verdicts in the order of `identities`; cached ones are read, the rest computed,
    each in a worker of its own under `budget`."""
    tool = fingerprint()
    folder = cache_dir() / "verdicts"
    verdicts: list[Verdict | None] = [None] * len(identities)
    todo = []
    for i, ident in enumerate(identities):
        if ident.problems and any(p.makes_invalid for p in ident.problems):
            verdicts[i] = Verdict(ident.id, "invalid")
            continue
        cached = _read_cache(folder, _cache_key(ident, tool), ident) if use_cache else None
        if cached is not None:
            verdicts[i] = cached
        else:
            todo.append(i)
    done = len(identities) - len(todo)
    if progress:
        progress(done, len(identities))
    for i, verdict in _run(identities, todo, jobs, budget or Budget()):
        verdicts[i] = verdict
        if verdict.status != "invalid":
            _write_cache(folder, _cache_key(identities[i], tool), verdict)
        done += 1
        if progress:
            progress(done, len(identities))
    return verdicts


def _run(identities, todo, jobs, budget: Budget):
    jobs = jobs or os.cpu_count() or 1
    order = sorted(todo, key=lambda i: -_weight(identities[i]))
    items = [identities[i] for i in order]
    for index, kind, payload in run_in_workers(verify_identity, items, budget, jobs):
        i = order[index]
        if kind == "ok":
            yield i, payload
            continue
        message = CODES["E211"].format(detail=payload)
        yield i, Verdict(identities[i].id, "invalid", failures=[("E211", message, "of")])


def _weight(ident: Identity) -> int:
    return len(ident.of) + sum(len(v) for v in ident.symbols.values())


CACHE_MAX_BYTES = 1 << 20
_CACHE_TYPES = {"id": str, "status": str, "category": str, "failures": list, "forms": dict,
                "sizes": list, "points": int, "max_error": float, "exact": str,
                "sympy": dict, "seconds": float, "guarantee": str, "degree": int,
                "bound": int, "capped": bool, "evidence": list}


def _read_cache(folder: Path, key: str, ident: Identity) -> Verdict | None:
    """A cached verdict, or None for anything that is not exactly what _write_cache wrote
    for this identity: a regular file, not a link, small, its key inside matching its
    name, every field of the right type. A malformed or planted entry is a miss."""
    data = read_cache_entry(folder / key[:2] / f"{key}.json")
    try:
        return _valid_verdict(data, key, ident)
    except (ValueError, TypeError):
        return None


def read_cache_entry(path: Path):
    """The JSON of a cache entry, or None: only a small regular file, never through a link,
    and nothing that does not parse (the derivation cache reads its entries this way too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            raw = handle.read(CACHE_MAX_BYTES + 1)
        return json.loads(raw) if len(raw) <= CACHE_MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None


def _valid_verdict(data, key: str, ident: Identity) -> Verdict | None:
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    fields = data.get("verdict")
    if not isinstance(fields, dict) or set(fields) != set(_CACHE_TYPES):
        return None
    for name, kind in _CACHE_TYPES.items():
        value = fields[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            fields[name] = value = float(value)
        if not isinstance(value, kind) or kind is int and isinstance(value, bool):
            return None
    if fields["id"] != ident.id or fields["status"] not in ("verified", "failed", "refuted"):
        return None
    failures = fields["failures"]
    if not all(isinstance(f, list) and len(f) == 3 and all(isinstance(x, str) for x in f)
               for f in failures):
        return None
    if (fields["status"] == "verified") != (not failures):
        return None
    fields["failures"] = [tuple(f) for f in failures]
    return Verdict(**fields)


def _write_cache(folder: Path, key: str, verdict: Verdict) -> None:
    path = folder / key[:2] / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "verdict": verdict.as_dict()}, default=str))
        tmp.replace(path)
    except OSError:  # an unwritable cache only costs speed: verify without it
        return


def problems_of(ident: Identity, verdict: Verdict) -> list[Problem]:
    """Schema problems plus verification failures, each with FILE:LINE."""
    found = prepare(ident).problems if verdict.status == "invalid" else list(ident.problems)
    for code, message, key in verdict.failures:
        found.append(Problem(code, message, ident.file, ident.line_of(key)))
    return found


# ---------------------------------------------------------------- the evidence, in words


def explain(ident: Identity, verdict: Verdict) -> str:
    """What was checked for one identity and what decided: for `verify --explain`."""
    lines = [f"{ident.id}: {verdict.status}"
             + (f", {verdict.guarantee}" if verdict.guarantee else "")]
    if verdict.bound:
        cap = " (the exact check stops at the cap: not proved)" if verdict.capped else ""
        lines.append(f"  degree {verdict.degree}, size bound {verdict.bound}{cap}")
    for step in verdict.evidence:
        kind = ("exact, rational points of both signs over 12 orders of magnitude"
                if step["check"] == "exact" else "numeric, random float points")
        errors = ", ".join(f"{name} {error:.1e}" for name, error in step["errors"].items())
        lines.append(f"  {kind}: sizes {_label(step['sizes'])}, {step['points']} "
                     f"point(s); largest error {errors or '-'}")
    for code, message, _ in verdict.failures:
        lines.append(f"  decided by {code}: {message}")
    if verdict.status == "verified":
        lines.append("  " + GUARANTEES[verdict.guarantee])
    return "\n".join(lines)


GUARANTEES = {
    "proved": "proved: a trace polynomial in the matrices and their transposes, equal in exact "
    "rational arithmetic at sizes at least its degree bound (Procesi 1976, Razmyslov 1974), "
    "at random points where a false claim vanishes with probability at most "
    "degree/2,100,000 per point (Schwartz–Zippel, the likeliest value of a coordinate)",
    "checked": "checked: outside the theorem (det, inverse, entrywise or transcendental "
    "functions, or a capped bound): equal exactly or at 256-bit precision and numerically at "
    "every size and point tried, not proved for every size",
}
