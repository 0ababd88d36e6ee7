"""The `matderiv` command: verify, derive, coverage, build, show, export."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

from matderiv import __version__
from matderiv.catalog.load import gather, ids_in, load_all
from matderiv.check.budget import Budget
from matderiv.check.verify import explain, problems_of, verify_all
from matderiv.commands.derive import add_parser as add_derive_parser
from matderiv.errors import json_finite, safe_text
from matderiv.pipeline.build import OUTPUTS, document, load_verified
from matderiv.pipeline.build import build as build_outputs
from matderiv.pipeline.show import FORMATS as SHOW_FORMATS
from matderiv.pipeline.show import run_show
from matderiv.publish.coverage import coverage, read_gaps, report
from matderiv.resources import CATALOG, DEFAULT_OUT

STATUSES = ("verified", "refuted", "failed", "invalid")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    with warnings.catch_warnings():
        # Python's parser warns about odd literals in the user's text (`1if`, "\d") on
        # stderr, quoting it: the problems matderiv reports say all there is to say.
        warnings.simplefilter("ignore", SyntaxWarning)
        return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matderiv", description="The verified "
                                     "matrix-calculus reference.")
    parser.add_argument("--version", action="version", version=f"matderiv {__version__}")
    sub = parser.add_subparsers(dest="command")
    verify = sub.add_parser("verify", help="check identity files (default: the catalog)")
    verify.add_argument("paths", nargs="*", type=Path, help="YAML files or folders")
    verify.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    verify.add_argument("--jobs", type=int, default=0, help="worker processes (default: all "
                        "cores)")
    verify.add_argument("--no-cache", action="store_true", help="verify everything afresh")
    verify.add_argument("--id", action="append", default=[], metavar="ID",
                        help="verify only this identity (repeatable)")
    verify.add_argument("--explain", action="store_true", help="print the evidence: size "
                        "assignments, kinds of points, largest error per form, guarantee")
    defaults = Budget()
    verify.add_argument("--cpu-seconds", type=int, default=defaults.cpu_seconds,
                        help="CPU time budget per identity (default %(default)s)")
    verify.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                        help="memory budget per identity in MB (default %(default)s)")
    verify.add_argument("--wall-seconds", type=int, default=defaults.wall_seconds,
                        help="wall-clock budget per identity (default %(default)s)")
    verify.set_defaults(run=run_verify)
    build = sub.add_parser("build", help="verify the catalog and build the site, PDFs, JSON "
                           "and BibTeX into build/")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT)
    build.add_argument("--only", nargs="+", choices=OUTPUTS, default=list(OUTPUTS))
    build.add_argument("--jobs", type=int, default=0)
    build.set_defaults(run=lambda a: build_outputs(a.out, a.jobs, True, a.only))
    cov = sub.add_parser("coverage", help="counts per category and per source")
    cov.set_defaults(run=run_coverage)
    show = sub.add_parser("show", help="one identity in every layout, with its verification "
                          "record (and BibTeX, for a catalog id)")
    show.add_argument("id", help="an identity id (an old, renamed id resolves too)")
    show.add_argument("--file", type=Path, help="an identity file of your own, verified on "
                      "the spot (default: the catalog)")
    show.add_argument("--format", choices=SHOW_FORMATS, default="text",
                      help="text (default); json: the identity's record as catalog.json has "
                      "it; numpy: its self-check program")
    show.add_argument("--no-cache", action="store_true", help="with --file: verify afresh")
    show.set_defaults(run=run_show)
    export = sub.add_parser("export", help="write the catalog document (JSON) or the BibTeX")
    export.add_argument("--format", choices=("json", "bibtex"), default="json")
    export.add_argument("-o", "--output", type=Path, help="a file (default: standard output)")
    export.set_defaults(run=run_export)
    add_derive_parser(sub)
    return parser


def _paths(args) -> list[Path] | None:
    paths = args.paths or [CATALOG]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"matderiv: no such file or folder: {safe_text(missing[0])}", file=sys.stderr)
        return None
    if not gather(paths):
        print("matderiv: no identity files found", file=sys.stderr)
        return None
    return paths


def run_verify(args) -> int:
    paths = _paths(args)
    if paths is None:
        return 2
    if args.jobs < 0 or min(args.cpu_seconds, args.memory_mb, args.wall_seconds) < 1:
        print("matderiv: --jobs must be at least 0, budgets at least 1", file=sys.stderr)
        return 2
    identities, loose = load_all(paths, lambda: ids_in(CATALOG))
    if args.id:
        unknown = sorted(set(args.id) - {i.id for i in identities})
        if unknown:
            print(f"matderiv: no identity with id {safe_text(unknown[0])} in "
                  f"{', '.join(str(p) for p in paths)}", file=sys.stderr)
            return 2
        identities = [i for i in identities if i.id in set(args.id)]
        loose = []
    progress = _progress_bar() if sys.stderr.isatty() else None
    budget = Budget(args.cpu_seconds, args.memory_mb, args.wall_seconds)
    verdicts = verify_all(identities, args.jobs, not args.no_cache, progress, budget)
    rows = [_row(i, v) for i, v in zip(identities, verdicts)]
    rows += [{"id": None, "file": p.file, "line": p.line, "category": None,
              "status": "invalid", "message": str(p), "problems": [p.as_dict()]} for p in loose]
    counts = Counter(row["status"] for row in rows)
    summary = {"total": len(rows), **{s: counts.get(s, 0) for s in STATUSES}}
    if args.json:
        json.dump(json_finite({"summary": summary, "identities": rows}), sys.stdout, indent=1,
                  allow_nan=False)
        print()
    else:
        _print_text(rows, summary)
        if args.explain:
            for ident, verdict in zip(identities, verdicts):
                print("\n".join(safe_text(line, None)
                                for line in explain(ident, verdict).split("\n")))
    return 0 if summary["failed"] == 0 and summary["invalid"] == 0 else 1


def run_coverage(args) -> int:
    verified = load_verified()
    if verified is None:
        return 1
    doc = document(*verified)
    print(report(coverage(doc["identities"], read_gaps(CATALOG / "gaps.yaml"))))
    return 0


def run_export(args) -> int:
    from matderiv.publish.cite import bibtex

    verified = load_verified()
    if verified is None:
        return 1
    doc = document(*verified)
    text = bibtex(doc) if args.format == "bibtex" else json_text(doc)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"matderiv: cannot write {safe_text(args.output)}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0


def json_text(doc: dict) -> str:
    """The catalog document exactly as build/catalog.json holds it."""
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _row(ident, verdict) -> dict:
    problems = problems_of(ident, verdict)
    return {
        "id": safe_text(ident.id) if ident.id else None, "file": safe_text(ident.file, None),
        "line": ident.line,
        "category": verdict.category or None, "status": verdict.status,
        "message": "; ".join(str(p) for p in problems),
        "problems": [p.as_dict() for p in problems],
        "forms": verdict.forms, "sizes": verdict.sizes, "points": verdict.points,
        "max_error": verdict.max_error, "exact": verdict.exact,
        "guarantee": verdict.guarantee or None, "degree": verdict.degree,
        "bound": verdict.bound, "capped": verdict.capped, "evidence": verdict.evidence,
    }


def _print_text(rows, summary) -> None:
    for row in rows:
        if row["status"] in ("failed", "invalid"):
            label = safe_text(row["id"]) if row["id"] else "(file)"
            print(f"{row['status'].upper()} {label}")
            for p in row["problems"]:  # Problem escapes and cuts; safe_text is idempotent
                print(safe_text(f"  {p['file']}:{p['line']}: {p['code']} {p['message']}",
                                None))
    parts = ", ".join(f"{summary[s]} {s}" for s in STATUSES)
    print(f"{summary['total']} identities: {parts}")


def _progress_bar():
    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


if __name__ == "__main__":
    sys.exit(main())
