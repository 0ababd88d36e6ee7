"""One identity -> a Verdict: every given (and derived) form checked exactly and numerically.

The size assignments follow the format's promise: different size names get different
values, every pair of names appears in both orders, every size is at least 3 once. The
verdict of a well-formed identity is cached by a hash of its content and of the tool's
own source, and identities are verified in parallel across processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from . import __version__, derive, numeric
from . import expr as E
from .errors import CODES, Problem
from .evaluate import DomainError, Evaluator
from .forms import Prepared, prepare
from .load import Identity
from .opinion import opinion
from .schema import TRANSCENDENTAL
from .shapes import arrange, integer_exponent

EXACT_TRIES = 30
NUMERIC_POINTS = 3
NUMERIC_TOLERANCE = 1e-6
FORM_KEYS = {"numerator": "derivative.numerator", "denominator": "derivative.denominator",
             "vec": "derivative.vec", "vec_denominator": "derivative.vec",
             "differential": "differential"}


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

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def size_assignments(prep: Prepared) -> list[dict]:
    names = sorted({s for d in prep.decls.values() for s in d.size_names})
    k = len(names)
    if k == 0:
        return [{}, {}]
    if k == 1:
        return [{names[0]: 3}, {names[0]: 2}]
    up = {n: 2 + i for i, n in enumerate(names)}
    down = {n: 2 + (k - 1 - i) for i, n in enumerate(names)}
    return [up, down]


def _concrete(shape, sizes) -> tuple[int, int]:
    return tuple(int(s.subs({sympy.Symbol(n, positive=True, integer=True): v
                             for n, v in sizes.items()})) for s in shape)


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
    weights: list  # a random direction, to check that the differential is linear


def _exact_point(prep: Prepared, sizes: dict, rng: random.Random) -> _Point:
    wrt = prep.identity.wrt
    xr, xc = _concrete(prep.wrt.shape, sizes)
    count = xr * xc
    values, plain, slopes = {}, {}, {}
    for name, decl in prep.decls.items():
        if decl.kind == "function":
            continue
        rows, cols = _concrete(decl.shape, sizes)
        base = derive.matrix(rng, rows, cols, decl.props)
        plain[name] = base
        if name == wrt:
            values[name] = [[derive.Dual(x.v, _unit(i * cols + j, count))
                             for j, x in enumerate(row)] for i, row in enumerate(base)]
        elif decl.depends_on:
            slope = [derive.structured([[derive.scalar(rng) for _ in range(cols)]
                                        for _ in range(rows)], decl.props) for _ in range(count)]
            slopes[name] = slope
            values[name] = [[derive.Dual(x.v, [s[i][j] for s in slope])
                             for j, x in enumerate(row)] for i, row in enumerate(base)]
        else:
            values[name] = base
    return _Point(values, plain, slopes, [derive.scalar(rng) for _ in range(count)])


def _unit(k: int, count: int) -> list:
    d = [derive.mpq(0)] * count
    d[k] = derive.mpq(1)
    return d


def _slope_array(slope: list, xr: int, xc: int) -> np.ndarray:
    """D[i, j, k, l] for a dependent symbol from its per-direction derivative matrices."""
    stack = np.array([[list(r) for r in s] for s in slope], dtype=object)  # (K, r, c)
    return stack.transpose(1, 2, 0).reshape(stack.shape[1], stack.shape[2], xr, xc)


def _exact_at(prep: Prepared, sizes: dict, alg, point: _Point, forms) -> dict:
    """Errors per form (relative), raising DomainError where anything is undefined."""
    xr, xc = _concrete(prep.wrt.shape, sizes)
    y = Evaluator(alg, point.values, sizes)(prep.of)
    D = derive.jacobian(y, xr, xc)
    errors = {}
    for form in forms:
        if form.name == "differential":
            errors[form.name] = _exact_differential(prep, sizes, alg, point, form, D)
            continue
        expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape)
        diffs = {name: _wrap(arrange(_slope_array(s, xr, xc), form.name,
                                     prep.decls[name].shape, prep.wrt.shape))
                 for name, s in point.slopes.items()}
        value = _exact_form(alg, form, point.plain, sizes, diffs, expected)
        errors[form.name] = derive.difference(value, expected)
    return errors


def _wrap(array) -> list | None:
    if array is None:
        return None
    return [[derive.Dual(x) for x in row] for row in array]


def _exact_form(alg, form, plain, sizes, diffs, expected, differentials=None):
    if form.zero:
        return np.full(expected.shape, derive.mpq(0), dtype=object)
    ev = Evaluator(alg, plain, sizes, {k: v for k, v in diffs.items() if v is not None},
                   differentials)
    return derive.to_array(ev(form.tree))


def _exact_differential(prep, sizes, alg, point, form, D):
    """Check d(of) along every unit direction and one random combination (linearity)."""
    wrt = prep.identity.wrt
    xr, xc = D.shape[2], D.shape[3]
    directions = [[1 if i == k else 0 for i in range(xr * xc)] for k in range(xr * xc)]
    directions.append(point.weights)
    worst = (True, 0.0)
    linear = True
    for index, coeffs in enumerate(directions):
        dx = [[derive.const(derive.mpq(coeffs[i * xc + j])) for j in range(xc)]
              for i in range(xr)]
        dmap = {wrt: dx}
        for name, slope in point.slopes.items():
            rows, cols = len(slope[0]), len(slope[0][0])
            dmap[name] = [[derive.const(sum(c * s[i][j] for c, s in zip(coeffs, slope)))
                           for j in range(cols)] for i in range(rows)]
        expected = np.tensordot(D, np.array(coeffs, dtype=object).reshape(xr, xc), axes=2)
        value = _exact_form(alg, form, point.plain, sizes, {}, expected, dmap)
        equal, error = derive.difference(value, expected)
        if not equal and index == len(directions) - 1 and worst[0]:
            linear = False  # right along every axis, wrong along a combination
        worst = (worst[0] and equal, max(worst[1], error))
    return worst if linear else (False, -error)


def exact_check(prep: Prepared, forms, sizes: dict, seed: int) -> dict:
    rng = random.Random(seed)
    alg = derive.ExactAlgebra(seed)
    last = ""
    for _ in range(EXACT_TRIES):
        point = _exact_point(prep, sizes, rng)
        try:
            return _exact_at(prep, sizes, alg, point, forms)
        except DomainError as exc:
            last = str(exc)
    raise DomainError(last)


# ---------------------------------------------------------------- the numeric check


def _numeric_point(prep: Prepared, sizes: dict, rng: np.random.Generator):
    xr, xc = _concrete(prep.wrt.shape, sizes)
    count = xr * xc
    values, slopes, bends = {}, {}, {}
    for name, decl in prep.decls.items():
        if decl.kind == "function":
            continue
        rows, cols = _concrete(decl.shape, sizes)
        values[name] = numeric.matrix(rng, rows, cols, decl.props)
        if decl.depends_on:
            slopes[name] = np.array([numeric.structured(rng.standard_normal((rows, cols)),
                                                        decl.props) for _ in range(count)])
            bends[name] = np.array([numeric.structured(0.3 * rng.standard_normal((rows, cols)),
                                                       decl.props) for _ in range(count)])
    return values, slopes, bends


def _numeric_function(prep, values, slopes, bends, alg, sizes):
    wrt = prep.identity.wrt
    x0 = values[wrt]

    def f(x):
        current = dict(values)
        current[wrt] = x
        delta = (x - x0).reshape(-1)
        for name in slopes:
            current[name] = (values[name] + np.tensordot(delta, slopes[name], axes=1)
                             + np.tensordot(delta * delta, bends[name], axes=1))
        return Evaluator(alg, current, sizes)(prep.of)

    return f


def _numeric_at(prep, sizes, alg, rng, forms, analytic) -> dict:
    values, slopes, bends = _numeric_point(prep, sizes, rng)
    f = _numeric_function(prep, values, slopes, bends, alg, sizes)
    wrt = prep.identity.wrt
    x0 = values[wrt]
    with np.errstate(all="raise"):
        try:
            y0 = f(x0)
        except (FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise DomainError(str(exc)) from None
    if not np.all(np.isfinite(y0)):
        raise DomainError("a value is not finite")
    with np.errstate(all="ignore"):
        D = numeric.jacobian(f, x0, analytic)
        return {form.name: _numeric_form(prep, sizes, alg, form, values, slopes, D, rng)
                for form in forms}


def _numeric_form(prep, sizes, alg, form, values, slopes, D, rng) -> float:
    xr, xc = D.shape[2], D.shape[3]
    if form.name == "differential":
        worst = 0.0
        for _ in range(3):
            direction = rng.standard_normal((xr, xc))
            dmap = {prep.identity.wrt: direction}
            for name, slope in slopes.items():
                dmap[name] = np.tensordot(direction.reshape(-1), slope, axes=1)
            expected = np.tensordot(D, direction, axes=2)
            value = _float_form(alg, form, values, sizes, {}, expected, dmap)
            worst = max(worst, numeric.relative_error(value, expected))
        return worst
    expected = arrange(D, form.name, prep.of_shape, prep.wrt.shape)
    diffs = {}
    for name, slope in slopes.items():
        array = slope.transpose(1, 2, 0).reshape(slope.shape[1], slope.shape[2], xr, xc)
        diffs[name] = arrange(array, form.name, prep.decls[name].shape, prep.wrt.shape)
    value = _float_form(alg, form, values, sizes, diffs, expected)
    return numeric.relative_error(value, expected)


def _float_form(alg, form, values, sizes, diffs, expected, differentials=None):
    if form.zero:
        return np.zeros(expected.shape)
    try:
        ev = Evaluator(alg, values, sizes, {k: v for k, v in diffs.items() if v is not None},
                       differentials)
        return np.asarray(ev(form.tree), dtype=float)
    except (np.linalg.LinAlgError, ZeroDivisionError):
        return np.full(expected.shape, np.nan)


def numeric_check(prep: Prepared, forms, sizes: dict, seed: int) -> tuple[dict, int]:
    rng = np.random.default_rng(seed)
    generic = {name: np.concatenate([rng.uniform(-1, 1, 1), rng.choice([-1, 1], 2)
                                     * rng.uniform(0.5, 2, 2), rng.uniform(0.5, 1.5, 1),
                                     rng.uniform(-1, 1, 1)])
               for name, d in prep.decls.items() if d.kind == "function"}
    alg = numeric.NumpyAlgebra(generic)
    analytic = not any(isinstance(n, E.Call) and n.fn == "abs" for n in E.walk(prep.of))
    worst: dict = {}
    points, tries = 0, 0
    while points < NUMERIC_POINTS:
        tries += 1
        if tries > EXACT_TRIES:
            raise DomainError("no numeric point where every expression is defined")
        try:
            errors = _numeric_at(prep, sizes, alg, rng, forms, analytic)
        except DomainError:
            continue
        points += 1
        for name, error in errors.items():
            worst[name] = max(worst.get(name, 0.0), error)
    return worst, points


# ---------------------------------------------------------------- one identity


def verify_identity(ident: Identity) -> Verdict:
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
        if form.shape_ok:
            checkable.append(form)
        else:
            _fail(verdict, form, "E401", got=_show(form.shape), layout=_layout_name(form.name),
                  expected=_show(form.expected) if form.expected is not None else
                  f"an array of more than two axes for a {prep.category} derivative "
                  "(give `vec` and `differential` instead)")
    _check_values(prep, checkable, verdict)
    if verdict.sizes:
        verdict.sympy = opinion(prep, verdict.sizes[0], seed_of(ident))
    _quiet_derived(verdict)
    _conclude(prep, verdict)
    verdict.seconds = round(time.perf_counter() - started, 3)
    return verdict


def _quiet_derived(verdict: Verdict) -> None:
    """A form derived from a wrong form is wrong too: report only the given one then."""
    if any(not r["ok"] for r in verdict.forms.values() if r["given"]):
        verdict.failures = [f for f in verdict.failures if "(derived)" not in f[1]]


def _show(shape) -> str:
    return " × ".join(str(s) for s in shape)


def _layout_name(name: str) -> str:
    return {"vec": "vec", "vec_denominator": "vec (denominator)"}.get(name, name + " layout")


def _fail(verdict: Verdict, form, code: str, **fields) -> None:
    verdict.forms[form.name]["ok"] = False
    label = form.name if form.given else f"{form.name} (derived)"
    message = CODES[code].format(form=label, **fields)
    verdict.failures.append((code, message, FORM_KEYS[form.name] if form.given else "derivative"))


def _check_values(prep: Prepared, forms, verdict: Verdict) -> None:
    seed = seed_of(prep.identity)
    for index, sizes in enumerate(size_assignments(prep)):
        verdict.sizes.append(sizes)
        label = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "as declared"
        try:
            exact = exact_check(prep, forms, sizes, seed + index)
            numbers, points = numeric_check(prep, forms, sizes, seed + 100 + index)
        except DomainError as exc:
            verdict.failures.append(("E404", CODES["E404"].format(sizes=label, detail=exc), "of"))
            return
        verdict.points += points
        for form in forms:
            equal, error = exact[form.name]
            if not isinstance(error, float) or error != error:
                error = float("inf")
            record = verdict.forms[form.name]
            record["exact_error"] = max(record["exact_error"] or 0.0, abs(error))
            record["numeric_error"] = max(record["numeric_error"] or 0.0, numbers[form.name])
            if not equal and record["ok"] and error < 0:
                _fail(verdict, form, "E407", d="d" + prep.identity.wrt)
            elif not equal and record["ok"]:
                _fail(verdict, form, "E402", sizes=label, error=error)
            elif numbers[form.name] > NUMERIC_TOLERANCE and record["ok"]:
                _fail(verdict, form, "E403", sizes=label, error=numbers[form.name])
    verdict.exact = ("200-bit arithmetic (about 60 digits)" if _transcendental(prep, forms)
                     else "rational arithmetic")
    verdict.max_error = max([r["numeric_error"] or 0.0 for r in verdict.forms.values()
                             if r["ok"]] + [0.0])


def _transcendental(prep: Prepared, forms) -> bool:
    trees = [prep.of] + [form.tree for form in forms]
    return any(
        isinstance(n, E.Call) and n.fn in TRANSCENDENTAL
        or isinstance(n, E.Bin) and n.op == "**" and integer_exponent(n.right) is None
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


def fingerprint() -> str:
    """The tool version and a hash of its own source: a changed verifier re-verifies."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
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
               progress=None) -> list[Verdict]:
    """Verdicts in the order of `identities`; cached ones are read, the rest computed."""
    tool = fingerprint()
    folder = cache_dir() / "verdicts"
    verdicts: list[Verdict | None] = [None] * len(identities)
    todo = []
    for i, ident in enumerate(identities):
        if ident.problems and any(p.makes_invalid for p in ident.problems):
            verdicts[i] = Verdict(ident.id, "invalid")
            continue
        cached = _read_cache(folder, _cache_key(ident, tool)) if use_cache else None
        if cached is not None:
            verdicts[i] = cached
        else:
            todo.append(i)
    done = len(identities) - len(todo)
    if progress:
        progress(done, len(identities))
    for i, verdict in _run(identities, todo, jobs):
        verdicts[i] = verdict
        if verdict.status != "invalid":
            _write_cache(folder, _cache_key(identities[i], tool), verdict)
        done += 1
        if progress:
            progress(done, len(identities))
    return verdicts


def _run(identities, todo, jobs):
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(todo) < 4:
        for i in todo:
            yield i, verify_identity(identities[i])
        return
    order = sorted(todo, key=lambda i: -_weight(identities[i]))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {i: pool.submit(verify_identity, identities[i]) for i in order}
        for i in order:
            yield i, futures[i].result()


def _weight(ident: Identity) -> int:
    return len(ident.of) + sum(len(v) for v in ident.symbols.values())


def _read_cache(folder: Path, key: str) -> Verdict | None:
    path = folder / key[:2] / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        data["failures"] = [tuple(f) for f in data["failures"]]
        return Verdict(**data)
    except (OSError, ValueError, TypeError):
        return None


def _write_cache(folder: Path, key: str, verdict: Verdict) -> None:
    path = folder / key[:2] / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(verdict.as_dict(), default=str))
        tmp.replace(path)
    except OSError:  # an unwritable cache only costs speed: verify without it
        return


def problems_of(ident: Identity, verdict: Verdict) -> list[Problem]:
    """Schema problems plus verification failures, each with FILE:LINE."""
    found = prepare(ident).problems if verdict.status == "invalid" else list(ident.problems)
    for code, message, key in verdict.failures:
        found.append(Problem(code, message, ident.file, ident.line_of(key)))
    return found
