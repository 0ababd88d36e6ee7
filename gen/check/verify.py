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
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from matderiv import __version__
from matderiv.catalog.load import Identity
from matderiv.catalog.schema import TRANSCENDENTAL
from matderiv.check import exact
from matderiv.check.budget import Budget, run_in_workers, too_costly
from matderiv.check.evaluate import DomainError
from matderiv.check.opinion import opinion
from matderiv.check.sampling import (
    NOT_LINEAR,
    NUMERIC_TOLERANCE,
    UNDEFINED,
    exact_check,
    numeric_check,
)
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
from matderiv.lang.shapes import integer_exponent

# points restricted to these may satisfy identities generic matrices do not (diagonal ones
# commute, triangular ones: products of commutators vanish, orthogonal ones: QᵀQ = I, the
# simplex: 1ᵀy = 1), so the theorem says nothing about them: such identities are checked
POINT_CONDITIONS = {"lower-triangular", "probability", "diagonal", "orthogonal"}
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


def seed_of(ident: Identity) -> int:
    text = json.dumps(ident.content(), sort_keys=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "big")


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
    for check, sizes_list, seed_base, odd in (("exact", exact_sizes, seed, True),
                                              ("numeric", numeric_sizes, seed + 100, False)):
        for index, sizes in enumerate(sizes_list):
            try:
                if check == "exact":
                    found, count = exact_check(prep, forms, sizes, seed_base + index, points,
                                               flip=(index % 2 == 1) == odd)
                else:
                    errors, count = numeric_check(prep, forms, sizes, seed_base + index,
                                                  flip=(index % 2 == 1) == odd)
                    found = {k: (e <= NUMERIC_TOLERANCE, e) for k, e in errors.items()}
            except DomainError as exc:
                _no_point(verdict, sizes, exc)
                return
            if check == "numeric":
                verdict.points += count
            _record(verdict, check, sizes, count, {k: v[1] for k, v in found.items()})
            _judge(check, forms, verdict, sizes, found, prep.identity.wrt)
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


JUDGED = {"exact": ("exact_error", "E402"), "numeric": ("numeric_error", "E403")}


def _judge(check: str, forms, verdict: Verdict, sizes: dict, found: dict, wrt: str) -> None:
    """Each form's worst (equal, error) at one assignment onto the verdict: the first
    failure of a form is recorded (E402 exact, E403 numeric, E407 not linear, E408 a form
    undefined where `of` is defined), the largest error kept."""
    key, code = JUDGED[check]
    for form in forms:
        equal, error = found[form.name]
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
        record[key] = max(record[key] or 0.0, error)
        if not equal and record["ok"]:
            _fail(verdict, form, code, sizes=_label(sizes), error=error)


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
                 "check/exact.py", "check/numeric.py", "check/opinion.py", "check/sampling.py",
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
