"""Benchmark of the symbolic engine on the catalog: per category, how many identities are
derived from `of`, `wrt` and `symbols` alone, how many of those the verifier accepts, how
many are refused and why; readability (parse-tree nodes of the derived form against the
catalog's hand-written form of the same layout); the time per derivation.

In the same run, on the same expressions, SymPy's `MatrixSymbol.diff` (through the bridge
of gen/opinion.py, at the verifier's first sizes): derived (an answer, right or wrong),
correct (its closed form, evaluated at a random point, agrees with the numerical
derivative: the judge of gen/opinion.py), readability (nodes of SymPy's expression tree
against the catalog's hand-written form; SymPy has no layouts, so the form compared is the
denominator layout, else the numerator one, else vec) and the time of `diff` alone.
Both are then printed side by side per category.

    python -m matderiv.symbolic.bench [--jobs N] [--no-verify] [--no-sympy] [--worst K]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from matderiv.catalog.load import load_file
from matderiv.lang.forms import prepare
from matderiv.symbolic.api import check_result, derive
from matderiv.symbolic.core import Refused, count

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = ("numerator", "denominator", "vec")


def catalog_identities(folder: Path = ROOT / "catalog"):
    out = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name in ("references.yaml", "gaps.yaml", "release.yaml"):
            continue
        identities, _ = load_file(path)
        out += [i for i in identities if i.status != "erratum"]
    return out


def _sympy(prep) -> dict:
    """SymPy's MatrixSymbol.diff on the same expression: status derived / refused, correct,
    nodes of its answer, the time of diff alone."""
    import warnings

    import numpy as np
    import sympy
    from matderiv.check import numeric
    from matderiv.check.opinion import (
        CPU_SECONDS,
        Unsupported,
        _Builder,
        _cpu_deadline,
        _evaluate,
        _reference,
    )
    from matderiv.check.verify import seed_of, size_assignments

    row = {"status": "refused", "correct": False, "judged": False, "nodes": None,
           "seconds": None, "reason": ""}
    if any(d.depends_on or d.kind == "function" for d in prep.decls.values()):
        row["reason"] = "dependent symbols or unknown functions"
        return row
    try:
        sizes = {k: max(v, 3) for k, v in size_assignments(prep)[0].items()}
        with _cpu_deadline(4 * CPU_SECONDS), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            builder = _Builder(prep, sizes)
            of = builder.scalar_or_matrix(prep.of)
            started = time.perf_counter()
            result = of.diff(builder.symbols[prep.identity.wrt])
            row["seconds"] = time.perf_counter() - started
            row["status"] = "derived"
            row["nodes"] = sum(1 for _ in sympy.preorder_traversal(result))
            rng = np.random.default_rng(seed_of(prep.identity))
            values = {n: numeric.matrix(rng, *builder.shape(n), d.props)
                      for n, d in prep.decls.items()}
            explicit = _evaluate(result, builder, values)
            reference = _reference(prep, values, sizes)
            row["judged"] = explicit is not None and explicit.size == reference.size
            row["correct"] = bool(row["judged"] and numeric.relative_error(
                explicit.reshape(reference.shape), reference) < 1e-6)
    except Unsupported as exc:
        row["reason"] = f"no rule for {exc}"
    except TimeoutError:
        row["reason"] = "no answer in time"
    except Exception as exc:  # noqa: BLE001 - SymPy's failures are data here
        if row["status"] == "refused":
            row["reason"] = f"{type(exc).__name__}"
    return row


def _catalog_nodes(prep) -> int | None:
    for name in ("denominator", "numerator", "vec"):
        form = prep.forms.get(name)
        if form is not None and form.given:
            return count(form.tree)
    return None


def _one(ident, verify: bool, sympy_too: bool = True) -> dict:
    row = _matderiv_one(ident, verify)
    if sympy_too:
        prep = prepare(ident)
        row["sympy"] = _sympy(prep)
        row["sympy"]["catalog_nodes"] = _catalog_nodes(prep)
    return row


def _matderiv_one(ident, verify: bool) -> dict:
    row = {"id": ident.id, "category": "", "status": "refused", "reason": "", "ratios": {},
           "seconds": None}
    prep = prepare(ident)
    row["category"] = prep.category
    started = time.perf_counter()
    try:
        result = derive(ident.of, ident.wrt, ident.symbols, check=False, id=ident.id,
                        title=ident.title)
    except Refused as exc:
        row["reason"] = f"{exc.construct}: {exc.reason}"
        row["seconds"] = time.perf_counter() - started
        return row
    except Exception as exc:  # noqa: BLE001 - a bug is counted, not hidden
        row["reason"] = f"engine error {type(exc).__name__}: {exc}"
        return row
    row["seconds"] = time.perf_counter() - started
    row["status"] = "derived"
    row["forms"] = dict(result.forms)
    for name in LAYOUTS + ("differential",):
        given = prep.forms.get(name)
        if given is None or not given.given or name not in result.trees:
            continue
        row["ratios"][name] = (count(result.trees[name]), count(given.tree))
    if verify:
        try:
            check_result(result)
            row["status"] = "verified"
        except Refused as exc:
            row["status"] = "failed"
            row["reason"] = exc.reason[:300]
    return row


def _work(args):
    return _one(*args)


def run(jobs: int = 0, verify: bool = True, sympy_too: bool = True) -> list[dict]:
    identities = catalog_identities()
    jobs = jobs or os.cpu_count() or 1
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_work, [(i, verify, sympy_too) for i in identities],
                             chunksize=4))


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    - "


def _ms(seconds: list) -> tuple[str, str]:
    if not seconds:
        return "     -", "     -"
    ms = sorted(s * 1000 for s in seconds)
    return f"{statistics.median(ms):6.1f}", f"{ms[-1]:6.0f}"


def side_by_side(rows: list[dict]) -> str:
    """Per category, matderiv and SymPy: share derived, share correct, readability (share
    of answers with no more nodes than the catalog's form), median and worst time (ms)."""
    by_cat: dict = defaultdict(list)
    for row in rows:
        by_cat[row["category"]].append(row)
    head = (f"{'category':20} {'n':>4} | {'matderiv: derived':>17} {'correct':>7} "
            f"{'readable':>8} {'median':>6} {'worst':>6} | {'SymPy: derived':>14} "
            f"{'correct':>7} {'unjudged':>8} {'readable':>8} {'median':>6} {'worst':>6}")
    lines = ["matderiv derive and SymPy MatrixSymbol.diff, same expressions, same run "
             "(times in ms; correct: verified for matderiv, the numeric judge for SymPy)",
             head]
    for cat in sorted(by_cat) + ["all"]:
        group = rows if cat == "all" else by_cat[cat]
        n = len(group)
        ours = [r for r in group if r["status"] != "refused"]
        right = [r for r in group if r["status"] == "verified"]
        pairs = [p for r in group for k, p in r["ratios"].items() if k in LAYOUTS]
        readable = sum(1 for a, b in pairs if a <= b)
        med, worst = _ms([r["seconds"] for r in group if r["seconds"] is not None])
        theirs = [r["sympy"] for r in group if "sympy" in r]
        s_derived = [t for t in theirs if t["status"] == "derived"]
        s_right = [t for t in s_derived if t["correct"]]
        s_unjudged = [t for t in s_derived if not t["judged"]]
        s_pairs = [(t["nodes"], t["catalog_nodes"]) for t in s_right if t["catalog_nodes"]]
        s_readable = sum(1 for a, b in s_pairs if a <= b)
        s_med, s_worst = _ms([t["seconds"] for t in s_derived])
        lines.append(
            f"{cat:20} {n:4} | {_share(len(ours), n):>17} {_share(len(right), n):>7} "
            f"{_share(readable, len(pairs)):>8} {med:>6} {worst:>6} | "
            f"{_share(len(s_derived), n):>14} {_share(len(s_right), n):>7} "
            f"{_share(len(s_unjudged), n):>8} "
            f"{_share(s_readable, len(s_pairs)):>8} {s_med:>6} {s_worst:>6}")
    lines.append("readable: share of layout forms (SymPy: of its correct answers) with no more "
                 "parse-tree nodes than the catalog's hand-written form; SymPy's nodes are "
                 "those of its own expression tree; unjudged: SymPy answered, but in a shape "
                 "the judge cannot compare (its tensor results), counted as not correct")
    return "\n".join(lines)


def timing(identities, repeat: int = 3) -> list[float]:
    """Median time of the derivation alone (no verification), per identity, in-process."""
    times = []
    for ident in identities:
        best = None
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                derive(ident.of, ident.wrt, ident.symbols, check=False)
            except Exception:  # noqa: BLE001, S112 - refusals are timed too
                pass
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        times.append(best)
    return times


def report(rows: list[dict], times: list[float], show_refused: bool = True,
           worst: int = 10) -> str:
    lines = []
    by_cat: dict = defaultdict(list)
    for row in rows:
        by_cat[row["category"]].append(row)
    head = f"{'category':20} {'total':>5} {'derived':>7} {'verified':>8} {'failed':>6} " \
           f"{'refused':>7} {'<=':>6} {'>2x':>4}"
    lines.append(head)
    all_pairs = []
    for cat in sorted(by_cat):
        group = by_cat[cat]
        st = Counter(r["status"] for r in group)
        derived = st["derived"] + st["verified"] + st["failed"]
        pairs = [p for r in group for k, p in r["ratios"].items() if k in LAYOUTS]
        all_pairs += pairs
        le = sum(1 for a, b in pairs if a <= b)
        over = sum(1 for a, b in pairs if a > 2 * b)
        share = f"{100 * le / len(pairs):5.1f}%" if pairs else "   -  "
        lines.append(f"{cat:20} {len(group):5} {derived:7} {st['verified']:8} "
                     f"{st['failed']:6} {st['refused']:7} {share:>6} {over:4}")
    st = Counter(r["status"] for r in rows)
    derived = st["derived"] + st["verified"] + st["failed"]
    le = sum(1 for a, b in all_pairs if a <= b)
    over = sum(1 for a, b in all_pairs if a > 2 * b)
    lines.append(f"{'all':20} {len(rows):5} {derived:7} {st['verified']:8} {st['failed']:6} "
                 f"{st['refused']:7} {100 * le / max(1, len(all_pairs)):5.1f}% {over:4}")
    diffs = [p for r in rows for k, p in r["ratios"].items() if k == "differential"]
    if diffs:
        dle = sum(1 for a, b in diffs if a <= b)
        lines.append(f"differential forms: {dle}/{len(diffs)} with no more nodes than the "
                     f"catalog's, {sum(1 for a, b in diffs if a > 2 * b)} over 2x")
    lines.append(f"readability: {le}/{len(all_pairs)} layout forms (numerator, denominator, "
                 "vec) with no more nodes than the catalog's hand-written form")
    if times:
        ms = sorted(t * 1000 for t in times)
        lines.append(f"derivation alone: median {statistics.median(ms):.2f} ms, 90th "
                     f"percentile {ms[int(0.9 * (len(ms) - 1))]:.2f} ms, worst {ms[-1]:.1f} ms "
                     f"({len(ms)} expressions, one process)")
    checked = [r for r in rows if r["status"] in ("verified", "failed")]
    if checked:
        lines.append(f"verified {len([r for r in checked if r['status'] == 'verified'])} of "
                     f"{len(checked)} derived")
    if show_refused:
        for status in ("failed", "refused"):
            for r in rows:
                if r["status"] == status:
                    lines.append(f"  {status}: {r['id']} [{r['category']}]: {r['reason']}")
        worst_rows = sorted(((a / b, r["id"], k, r["forms"].get(k))
                             for r in rows for k, (a, b) in r["ratios"].items()
                             if k in LAYOUTS), reverse=True)[:worst]
        for ratio, ident, k, text in worst_rows:
            lines.append(f"  readability {ratio:.2f}x {ident} {k}: {text}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matderiv.symbolic.bench")
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--no-sympy", action="store_true", help="matderiv alone")
    parser.add_argument("--quiet", action="store_true", help="figures only")
    parser.add_argument("--worst", type=int, default=15)
    args = parser.parse_args(argv)
    rows = run(args.jobs, not args.no_verify, not args.no_sympy)
    times = timing(catalog_identities())
    print(report(rows, times, not args.quiet, args.worst))
    if not args.no_sympy:
        print()
        print(side_by_side(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
