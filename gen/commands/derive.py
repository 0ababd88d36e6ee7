"""`matderiv derive`: derivatives in every layout, with their steps, checked before shown.

    matderiv derive FILE [--layout L ...] [--format yaml|text|latex|json|numpy] [--steps]
    matderiv derive --of "x.T*A*x" --wrt x --symbols "x: vector n; A: matrix n n"
    matderiv derive --of "tr(G.T*(X*W + b.T))" --wrt W,b --symbols "..."  (one per variable)

FILE is in the catalog format; each identity needs only id, title, symbols, of, wrt.
`--format yaml` (the default for FILE) prints the identities with `derivative` and
`differential` filled in, a file `matderiv verify` accepts as it is; an identity that is
refused is left out and listed on standard error with the reason (exit status 1).
`--format numpy` prints the self-check program of each derived identity, the one
`matderiv show --format numpy` prints for a catalog identity (gen/publish/snippet.py).

Wired into the CLI by gen/commands/cli.py: `add_parser(sub)` on its subparsers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from matderiv.catalog.load import load_file
from matderiv.errors import safe_text
from matderiv.symbolic.api import LAYOUT_ORDER, derive
from matderiv.symbolic.core import Refused

FORMATS = ("yaml", "text", "latex", "json", "numpy")
KEEP = ("tags", "sources", "notes", "see_also")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "derive", help="derive derivatives in every layout, with steps, each one verified",
        description="Derive d(of)/d(wrt) symbolically (differential, trace trick, "
        "vec/Kronecker), in every layout, and verify every form before printing it.")
    p.add_argument("file", nargs="?", type=Path, help="identities in the catalog format "
                   "(id, title, symbols, of, wrt are enough)")
    p.add_argument("--of", help="one expression to differentiate (instead of FILE)")
    p.add_argument("--wrt", help="the variable, with --of; several separated by commas "
                   "(`--wrt W,b`): one identity per variable, its id suffixed -wrt-<name>")
    p.add_argument("--symbols", help='declarations, with --of: "x: vector n; A: matrix n n"')
    p.add_argument("--id", default="derived", help="the id of the one-off identity")
    p.add_argument("--title", help="the title of the one-off identity")
    p.add_argument("--layout", action="append", choices=LAYOUT_ORDER, metavar="LAYOUT",
                   help="print only this layout (repeatable): numerator, denominator, vec, "
                   "differential")
    p.add_argument("--format", choices=FORMATS, help="yaml (default with FILE), text "
                   "(default with --of), latex, json, numpy (a NumPy program per derived "
                   "identity that re-checks it at a random point)")
    p.add_argument("--steps", action="store_true", help="print the derivation steps")
    p.set_defaults(run=run)
    return p


def _requests(args):
    """[(id, title, symbols, of, wrt, extra keys)] or an exit status for a usage error."""
    if args.of is not None or args.wrt is not None or args.symbols is not None:
        if args.file is not None:
            print("matderiv derive: give FILE or --of/--wrt/--symbols, not both",
                  file=sys.stderr)
            return 2
        if args.of is None or args.wrt is None or args.symbols is None:
            print("matderiv derive: --of, --wrt and --symbols go together", file=sys.stderr)
            return 2
        title = args.title or f"Derivative of {args.of}"
        return [(args.id, title, args.symbols, args.of, args.wrt, {})], []
    if args.file is None:
        print("matderiv derive: give FILE, or --of, --wrt and --symbols", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"matderiv derive: no such file: {safe_text(args.file)}", file=sys.stderr)
        return 2
    identities, problems = load_file(args.file, several_wrt=True)
    out = []
    for ident in identities:
        extra = {k: getattr(ident, k) for k in KEEP if getattr(ident, k)}
        out.append((ident.id, ident.title, ident.symbols, ident.of, ident.wrt, extra))
    broken = [str(p) for p in problems]
    broken += [str(p) for ident in identities for p in ident.problems]
    return out, broken


def split_wrt(requests):
    """One request per variable (format 1.1: `--wrt W,b`, `wrt: [W, b]`): the id suffixed
    `-wrt-` and the variable's name in lower case. Returns (requests, clashes)."""
    out = []
    for id_, title, symbols, of, wrt, extra in requests:
        names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else [wrt]
        if len(names) == 1:
            out.append((id_, title, symbols, of, names[0], extra))
            continue
        for name in names:
            out.append((f"{id_ or 'derived'}-wrt-{name.lower()}", f"{title}, by {name}",
                        symbols, of, name, extra))
    seen: dict = {}
    clashes = []
    for request in out:
        if request[0] in seen:
            clashes.append(request[0])
        seen[request[0]] = True
    return out, clashes


def run(args) -> int:
    got = _requests(args)
    if isinstance(got, int):
        return got
    requests, broken = got
    requests, clashes = split_wrt(requests)
    if clashes:
        print(safe_text("matderiv derive: two identities would have the id "
                        f"`{clashes[0]}` (one per variable: the id is suffixed -wrt- and "
                        "the variable's name in lower case)"), file=sys.stderr)
        return 2
    fmt = args.format or ("yaml" if args.file is not None else "text")
    results, refused = [], []
    for id_, title, symbols, of, wrt, extra in requests:
        try:
            if not isinstance(of, str) or not isinstance(wrt, str):
                raise Refused("of/wrt", "`of` and `wrt` must be texts")
            result = derive(of, wrt, symbols, id=id_ or "derived", title=title or of)
        except Refused as exc:
            refused.append((id_, exc.construct, exc.reason))
            continue
        results.append((result, extra))
    for message in broken:
        print(safe_text(f"matderiv derive: {message}"), file=sys.stderr)
    for id_, construct, reason in refused:
        print(safe_text(f"matderiv derive: refused {id_}: {construct}: {reason}", 2000),
              file=sys.stderr)
    missing = _print(results, refused, fmt, args.layout, args.steps)
    return 1 if refused or broken or missing else 0


def _select(forms: dict, layouts) -> dict:
    return {k: v for k, v in forms.items() if not layouts or k in layouts}


def numpy_program(result) -> str | None:
    """The self-check program of a derived identity: gen/publish/snippet.py's, as `matderiv show
    --format numpy` prints it for a catalog identity."""
    from matderiv.lang.forms import prepare
    from matderiv.publish.snippet import snippet
    from matderiv.symbolic.api import identity_of

    return snippet(prepare(identity_of(result)))


def _print_numpy(results) -> int:
    programs, missing = [], 0
    for result, _ in results:
        program = numpy_program(result)
        if program is None:
            print(safe_text(f"matderiv derive: no self-check program for {result.id}"),
                  file=sys.stderr)
            missing += 1
        else:
            programs.append(program)
    sys.stdout.write("\n\n".join(programs))  # generated from parse trees and audited
    return missing


def _print(results, refused, fmt: str, layouts, steps: bool) -> int:
    """Writes the results; the number of results that could not be written."""
    if fmt == "numpy":
        return _print_numpy(results)
    if fmt == "yaml":
        items = []
        for result, extra in results:
            data = result.identity()
            if layouts:
                if "derivative" in data:
                    data["derivative"] = _select(data["derivative"], layouts) or None
                    if data["derivative"] is None:
                        del data["derivative"]
                if "differential" not in layouts:
                    data.pop("differential", None)
            data.update(extra)
            items.append(data)
        sys.stdout.write(yaml.safe_dump({"identities": items}, sort_keys=False,
                                        allow_unicode=True, width=1000))
        return 0
    if fmt == "json":
        out = []
        for result, _ in results:
            data = result.as_dict()
            data["forms"] = _select(data["forms"], layouts)
            if not steps:
                data.pop("steps")
            out.append(data)
        json.dump({"derived": out, "refused": [
            {"id": i, "construct": c, "reason": r} for i, c, r in refused]},
            sys.stdout, indent=1)
        print()
        return 0
    for result, _ in results:
        if layouts:
            result.forms = _select(result.forms, layouts)
            result.trees = _select(result.trees, layouts)
        if fmt == "latex":
            print(result.latex(steps))
        else:
            print("\n".join(safe_text(line, None) for line in result.text(steps).split("\n")))
    return 0
