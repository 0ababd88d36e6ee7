"""`matderiv show ID [--file FILE] [--format text|json|numpy]`: one identity, from the
catalog or from the user's own file, with its forms in every layout (given and derived),
its verification record and, with `--format numpy`, its self-check program.

Both paths make the identity's record with the same code as the catalog document
(gen/publish/export.record), so `show --file` shows exactly what the catalog would publish. A
file's identity is verified on the spot (only that one), with the tool's cache.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import sys
from pathlib import Path

from matderiv.catalog.load import ids_in, load_all, read_yaml
from matderiv.check.verify import problems_of, verify_all
from matderiv.errors import json_finite, safe_text
from matderiv.pipeline.build import CATALOG, document, load_verified

FORMATS = ("text", "json", "numpy")
SHOW_FORMS = (("numerator", "numerator layout"), ("denominator", "denominator layout"),
              ("differential", "differential"), ("vec", "vec (d vec Y / d vec X^T)"),
              ("vec_denominator", "vec, denominator layout"))
MAX_LINE = 5000  # characters of one printed line (a title or a note may be long)


def run_show(args) -> int:
    if getattr(args, "file", None) is not None:
        return _show_file(args)
    return _show_catalog(args)


def _show_catalog(args) -> int:
    from matderiv.catalog.released import read_aliases, resolve
    from matderiv.publish.cite import identity_entry

    verified = load_verified()
    if verified is None:
        return 1
    doc = document(*verified)
    records = {r["id"]: r for r in doc["identities"]}
    target = resolve(args.id, records, {**read_aliases(), **doc.get("aliases", {})})
    if target is None:
        return _unknown(args.id, list(records), "the catalog")
    record = records[target]
    if args.format == "json":
        return _print_json(record)
    if args.format == "numpy":
        return _print_numpy(record)
    if target != args.id:
        _print(f"`{args.id}` was renamed: it is now `{target}`\n")
    origin = f"{record['category']}, catalog {doc['version']} ({doc['date']})"
    _print(show_text(record, origin, record["permalink"]))
    _print("\nBibTeX:\n" + identity_entry(record, doc))
    return 0


def _show_file(args) -> int:
    from matderiv.publish.export import read_references, read_release, record

    path: Path = args.file
    if not path.exists() and not path.is_symlink():
        print(f"matderiv: no such file: {safe_text(path)}", file=sys.stderr)
        return 2
    identities, loose = load_all([path], lambda: ids_in(CATALOG))
    if loose:  # the file itself cannot be read: no identity to show
        if args.format == "json":
            return _print_json({"id": None, "file": safe_text(path, None), "status": "invalid",
                                "problems": [p.as_dict() for p in loose]}, status=1)
        for problem in loose:
            print(problem, file=sys.stderr)
        return 1
    found = [i for i in identities if i.id == args.id]
    if not found:
        return _unknown(args.id, [i.id for i in identities if i.id], safe_text(path, None))
    ident = found[0]
    (verdict,) = verify_all([ident], 1, not args.no_cache)
    problems = problems_of(ident, verdict)
    if verdict.status == "invalid":
        if args.format == "json":
            return _print_json({"id": safe_text(ident.id), "file": safe_text(ident.file, None),
                                "line": ident.line, "status": "invalid",
                                "problems": [p.as_dict() for p in problems]}, status=1)
        print(f"INVALID {safe_text(ident.id)}", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    release = read_release(CATALOG / "release.yaml")
    release["date"] = dt.date.today().isoformat()  # the day of this check
    references = {**read_references(CATALOG / "references.yaml"),
                  **_local_references(path.parent)}
    rec = record(_prepared(ident), verdict, release, references)
    rec["permalink"] = None  # not in the catalog: no page on the site
    rec["problems"] = [p.as_dict() for p in problems]
    status = 0 if verdict.status in ("verified", "refuted") else 1
    if args.format == "json":
        return _print_json(rec, status)
    if args.format == "numpy":
        return _print_numpy(rec) or status
    _print(show_text(rec, f"{rec['category']}, {ident.file}:{ident.line}", None))
    for problem in problems:
        _print(f"  {problem}\n")
    return status


def _prepared(ident):
    from matderiv.lang.forms import prepare

    return prepare(ident)


def _local_references(folder: Path) -> dict:
    """The bibliography beside the user's file (references.yaml), if there is one."""
    local = folder / "references.yaml"
    if not local.exists():
        return {}
    data, problems = read_yaml(local)
    if problems or not isinstance(data, dict) or not isinstance(data.get("references"), dict):
        return {}
    return {str(k): v if isinstance(v, dict) else {} for k, v in data["references"].items()}


def _unknown(wanted: str, ids: list[str], where: str) -> int:
    close = difflib.get_close_matches(wanted, ids, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    print(f"matderiv: no identity `{safe_text(wanted)}` in {where}{hint}", file=sys.stderr)
    return 1


def _print(text: str) -> None:
    """Text from a file for a terminal: every line escaped and cut (errors.safe_text)."""
    lines = text.split("\n")
    sys.stdout.write("\n".join(safe_text(line, MAX_LINE) for line in lines))


def _print_json(value: dict, status: int = 0) -> int:
    """Valid JSON on stdout; every non-ASCII and control character escaped."""
    sys.stdout.write(json.dumps(json_finite(value), indent=1, sort_keys=True, allow_nan=False)
                     + "\n")
    return status


def _print_numpy(record: dict) -> int:
    program = record.get("snippet")
    if not program:
        print(f"matderiv: no self-check program for `{safe_text(record['id'])}`",
              file=sys.stderr)
        return 1
    sys.stdout.write(program)  # generated from the parse tree and audited (gen/publish/snippet.py)
    return 0


def show_text(record: dict, origin: str, permalink: str | None) -> str:
    """An identity as plain text: statement, forms in every layout, verification record."""
    lines = [f"{record['id']}: {record['title']}", f"  {origin}"]
    if permalink:
        lines.append(f"  {permalink}")
    lines.append("")
    if record["erratum"]:
        lines += [f"  ERRATUM: a published claim shown false; corrected by "
                  f"{record['corrected_by'] or '(none)'}", ""]
    lines += [f"  {s['name']}: {s['declaration']}" for s in record["symbols"]]
    lines += ["", f"  d({record['of']['text']}) / d{record['wrt']['name']}", ""]
    width = max(len(label) for _, label in SHOW_FORMS)
    forms = [(label, record["forms"].get(key)) for key, label in SHOW_FORMS]
    forms = [(label, form) for label, form in forms if form]
    text_width = max([len(form["text"]) for _, form in forms] + [0])
    for label, form in forms:
        note = "" if form["given"] else "  (derived)"
        lines.append(f"  {label:<{width}}  {form['text']:<{text_width}}  [{form['shape']}]{note}")
    v = record["verification"]
    sizes = "; ".join(", ".join(f"{k}={n}" for k, n in s.items()) or "as declared"
                      for s in v["sizes"])
    sympy_note = v["sympy"].get("note", "")
    error = v["max_error"]
    lines += ["", "Verification:", f"  status      {v['status']}",
              f"  forms       {', '.join(v['forms_checked'])}",
              f"  exact       {v['exact']}, sizes {sizes}",
              f"  numeric     {v['points']} random points, largest relative error "
              + (f"{error:.1e}" if isinstance(error, int | float) else "n/a"),
              f"  SymPy       {sympy_note}",
              f"  checked by  matderiv {v['tool_version']}, SymPy {v['sympy_version']}, "
              f"{v['date']}"]
    lines += [f"  message     {m}" for m in v["messages"]]
    return "\n".join(lines) + "\n"
