"""The printable cheat sheets: catalog document -> LaTeX (Jinja2) -> PDF (latexmk, pdflatex).

Four sheets per build: a full edition and an essentials sheet (at most two pages, for the
wall) in each layout. Only verified identities are printed; refuted errata go in a final
section of the full editions; failed and invalid records are never printed. The renderer
never re-verifies: it trusts the statuses in the document it is given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2
from matderiv import resources
from matderiv.publish.document import Document
from matderiv.render.texescape import TeX, check_math, escape, url
from matderiv.render.verified import facts as verified_facts

TEMPLATES = resources.TEMPLATES / "latex"
LAYOUTS = ("numerator", "denominator")
TENSOR_FORM = {"numerator": "vec", "denominator": "vec_denominator"}
# (font size command, columns) from roomy to dense; essentials take the first that fits.
DENSITIES = ((r"\small", 3), (r"\footnotesize", 4))
FULL_DENSITY = (r"\small", 3)
ESSENTIAL_MAX_PAGES = 2
PROPERTY_WORDS = {
    "symmetric": "sym.", "skew-symmetric": "skew", "positive-definite": "p.d.",
    "invertible": "inv.", "orthogonal": "orth.", "diagonal": "diag.",
    "positive": r"$>0$", "nonzero": r"$\neq 0$",
}
# after these a + or - is a sign, not a place to break the line
NOT_BEFORE_BINARY = {"", "=", "+", "-", "(", "[", ",", "^", "_", "&", "left", "cdot", "times",
                     "otimes", "circ", "odot", "neq", "leq", "geq", "approx", "pm", "mp"}
SIZE_NAME = re.compile(r"[a-z][a-z0-9]*|[1-9][0-9]*")
SIZE = re.compile(r"[a-z0-9*]+")  # a size expression of the document: n, 3, n**2, m*n

LAYOUT_TEXT = {
    "numerator": TeX(
        r"Numerator (Jacobian) layout: the derivative of $\mathbf{y}\in\mathbb{R}^m$ by "
        r"$\mathbf{x}\in\mathbb{R}^n$ is $m\times n$; a scalar by a column vector gives a "
        r"row vector. Axes: those of the numerator, then those of the denominator reversed."),
    "denominator": TeX(
        r"Denominator (gradient) layout: the transpose of the numerator layout; a scalar "
        r"by $\mathbf{x}$ or $\mathbf{X}$ has the shape of $\mathbf{x}$ or $\mathbf{X}$; "
        r"$\mathbf{y}\in\mathbb{R}^m$ by $\mathbf{x}\in\mathbb{R}^n$ is $n\times m$."),
}
VEC_TEXT = {
    "numerator": TeX(
        r"Tensor-valued derivatives (vector or matrix by matrix, matrix by vector) are "
        r"printed as the Magnus--Neudecker Jacobian "
        r"$\partial\operatorname{vec}\mathbf{Y}/\partial\operatorname{vec}(\mathbf{X})^\top$."),
    "denominator": TeX(
        r"Tensor-valued derivatives (vector or matrix by matrix, matrix by vector) are "
        r"printed as the transpose of the Magnus--Neudecker Jacobian, "
        r"$\partial\operatorname{vec}(\mathbf{Y})^\top/\partial\operatorname{vec}\mathbf{X}$."),
}
ERRATA_TEXT = {
    False: TeX(r"Published formulas shown false (errata) are never mixed with these: they "
               r"are listed apart at the end, under ``Refuted published formulas''."),
    True: TeX(r"Errata (published formulas shown false) are left out of this sheet; the "
              r"full edition lists them apart at its end. $\star$ in the full edition marks "
              r"the identities of this sheet."),
}


def build_pdfs(doc: dict, out_dir: Path, timings: dict[str, float] | None = None) -> list[Path]:
    """Write out_dir/*.tex and compile the four sheets; return the PDF paths.

    Sheets compile in parallel (one pdflatex each). `timings`, when given, receives the
    compile seconds per sheet name, for the benchmark.
    """
    doc = Document(doc)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _environment()
    jobs = [(layout, essentials) for essentials in (False, True) for layout in LAYOUTS]
    # render every sheet before compiling any, so bad input stops the build with no PDF
    first = [_write_tex(env, doc, out_dir, *job, DENSITIES[0] if job[1] else FULL_DENSITY)
             for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job, tex: _compile_sheet(env, doc, tex, *job),
                                jobs, first))
    if timings is not None:
        timings.update({pdf.stem: seconds for pdf, seconds in results})
    return [pdf for pdf, _ in results]


def sheet_name(layout: str, essentials: bool) -> str:
    """The file stem of a sheet, e.g. matderiv-essentials-denominator."""
    return f"matderiv-essentials-{layout}" if essentials else f"matderiv-{layout}"


def page_count(log: Path) -> int:
    """Pages of the PDF, read from the pdflatex log (no poppler needed at build time)."""
    found = re.search(r"Output written on .*?\((\d+) pages?", log.read_text(errors="replace"),
                      re.S)
    if not found:
        raise RuntimeError(f"no output recorded in {log}")
    return int(found.group(1))


def overfull_boxes(log: Path) -> list[float]:
    """The widths (pt) by which boxes ran over, from a pdflatex log."""
    text = log.read_text(errors="replace")
    return [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", text)]


# ---------------------------------------------------------------- building and compiling

def _write_tex(env: jinja2.Environment, doc: dict, out_dir: Path, layout: str,
               essentials: bool, density: tuple[str, int]) -> Path:
    """Render one sheet at one density into out_dir/<name>.tex."""
    name = sheet_name(layout, essentials)
    context = _sheet_context(doc, layout, essentials, name)
    context.update(font_size=TeX(density[0]), columns=density[1])
    tex = out_dir / f"{name}.tex"
    tex.write_text(env.get_template("sheet.tex.j2").render(context), encoding="utf-8")
    return tex


def _compile_sheet(env: jinja2.Environment, doc: dict, tex: Path, layout: str,
                   essentials: bool) -> tuple[Path, float]:
    """Compile one sheet; an essentials sheet gets denser until it fits the wall."""
    started = time.perf_counter()
    epoch = _date_epoch(doc["date"])
    _compile(tex, epoch)
    for density in DENSITIES[1:] if essentials else ():
        if page_count(tex.with_suffix(".log")) <= ESSENTIAL_MAX_PAGES:
            break
        _compile(_write_tex(env, doc, tex.parent, layout, essentials, density), epoch)
    pages = page_count(tex.with_suffix(".log"))
    if essentials and pages > ESSENTIAL_MAX_PAGES:
        raise RuntimeError(f"{tex.stem}: {pages} pages even at the densest setting; the "
                           f"essentials sheet must fit {ESSENTIAL_MAX_PAGES} pages: tag "
                           f"fewer identities essential")
    return tex.with_suffix(".pdf"), time.perf_counter() - started


def _compile(tex: Path, epoch: int) -> None:
    """latexmk -pdf with no shell escape, paranoid file access and a fixed date.

    SOURCE_DATE_EPOCH + FORCE_SOURCE_DATE make the PDF dates the catalog's date, and the
    template fixes the trailer id, so equal input gives byte-identical PDFs.
    """
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), FORCE_SOURCE_DATE="1", TZ="UTC",
               openin_any="p", openout_any="p", LC_ALL="C")
    cmd = ["latexmk", "-pdf", "-norc", "-interaction=nonstopmode", "-halt-on-error",
           "-no-shell-escape", "-file-line-error", "-recorder", tex.name]
    proc = subprocess.run(cmd, cwd=tex.parent, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"latexmk failed on {tex}:\n{_log_errors(tex.with_suffix('.log'))}"
                           f"\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _log_errors(log: Path) -> str:
    """The error lines of a pdflatex log, for the exception message."""
    if not log.exists():
        return "(no log)"
    lines = log.read_text(errors="replace").splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith("!") or ".tex:" in line]
    return "\n".join("\n".join(lines[i:i + 3]) for i in hits[:5])


def _date_epoch(date: str) -> int:
    """The catalog's release date (YYYY-MM-DD) as a Unix time at midnight UTC."""
    day = dt.date.fromisoformat(date)
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _environment() -> jinja2.Environment:
    """Jinja2 with delimiters that never clash with TeX braces or %, failing loudly."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_statement_prefix=None, line_comment_prefix=None,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False, undefined=jinja2.StrictUndefined, finalize=_finalize,
    )


def _finalize(value: object) -> str:
    """Every printed value: checked TeX as it is, text escaped, anything else an error."""
    if isinstance(value, TeX):
        return value
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"template printed a {type(value).__name__}: {value!r}")


# ---------------------------------------------------------------- the sheet's content

def _sheet_context(doc: dict, layout: str, essentials: bool, name: str) -> dict:
    """Everything the template prints, already escaped or checked."""
    kind = "essentials" if essentials else "matrix derivatives"
    digest = hashlib.sha256(f"{doc['name']}|{doc['version']}|{doc['date']}|{name}".encode())
    return {
        "pdf_title": f"matderiv {kind}, {layout} layout",
        "trailer_id": TeX(digest.hexdigest()[:32]),
        "heading": f"{doc['name']} {kind}, {layout} layout",
        "version": doc["version"], "date": doc["date"],
        # no deployment URL configured: no link, the id and version are the citation
        "site_href": url(doc["site_url"]) if doc.get("site_url") else None,
        "site_text": doc.get("site_url") or "",
        "layout_title": f"{layout} layout",
        "layout_text": LAYOUT_TEXT[layout], "vec_text": VEC_TEXT[layout],
        "errata_text": ERRATA_TEXT[essentials],
        "verified": _verified_facts(doc),
        "shape_table": [{"title": c["title"], "shape": _axes(c[f"{layout}_axes"])}
                        for c in doc["categories"]],
        "entries": _entries(doc, layout, essentials),
    }


def _permalink(link: str | None) -> TeX:
    """An identity's permalink for \\mdid, empty (the id printed unlinked) while no
    deployment URL is configured."""
    return url(link) if link else TeX("")


def _verified_facts(doc: dict) -> dict:
    """The numbers of the paragraph "What verified means", read from the verifier's code
    (gen/render/verified.py), as TeX; the link goes to the site's page."""
    f = verified_facts()
    return {
        "exact_cap": f["exact_cap"], "precision": f["precision"],
        "exact_tolerance": TeX(f"${f['exact_tolerance_tex']}$"),
        "numeric_tolerance": TeX(f"${f['numeric_tolerance_tex']}$"),
        "chance": TeX(f"${f['chance_tex']}$"), "theorem": f["theorem"],
        "href": url(doc["site_url"] + "verified/") if doc.get("site_url") else None,
        "page": doc["site_url"] + "verified/" if doc.get("site_url") else
        "the page What verified means of the matderiv site",
    }


def _entries(doc: dict, layout: str, essentials: bool) -> list[dict]:
    """Printable records in category order, each category's first carrying its heading."""
    records = doc["identities"]
    known = {c["slug"] for c in doc["categories"]}
    stray = sorted({r["category"] for r in records} - known)
    if stray:
        raise ValueError(f"identities in unknown categories: {stray}")
    permalinks = {r["id"]: r.get("permalink") for r in records if _is_verified(r)}
    entries = []
    for cat in doc["categories"]:
        chosen = [r for r in records if r["category"] == cat["slug"] and _is_verified(r)
                  and (r.get("essential") or not essentials)]
        for i, record in enumerate(chosen):
            heading = {"title": cat["title"], "shape": _axes(cat[f"{layout}_axes"]),
                       "intro": ""}
            entries.append(_entry(record, layout, essentials, heading if i == 0 else None))
    errata = [] if essentials else [r for r in records if _is_erratum(r)]
    for i, record in enumerate(errata):
        entries.append(_erratum_entry(record, layout, permalinks, i == 0))
    return entries


def _is_verified(record: dict) -> bool:
    """Printed in the main sections: verified, and not an erratum."""
    return record.get("status") == "verified" and not record.get("erratum")


def _is_proved(record: dict) -> bool:
    """Its guarantee is *proved* (a trace polynomial, exact at sizes ≥ its bound)."""
    return (record.get("verification") or {}).get("guarantee") == "proved"


def _is_erratum(record: dict) -> bool:
    """Printed in the errata section: a published claim shown false, as expected."""
    return record.get("status") == "refuted" and bool(record.get("erratum"))


def _entry(record: dict, layout: str, essentials: bool, heading: dict | None) -> dict:
    """One verified identity: its layout's form, the differential, conditions, sources."""
    forms = record["forms"]
    main = forms.get(TENSOR_FORM[layout] if record.get("tensor") else layout)
    formulas = [_chunks(f["lhs"], f["latex"]) for f in (main, forms.get("differential"),
                                                        forms.get("hessian"),
                                                        forms.get("symmetric_tied")) if f]
    mark = TeX((r"\mdproved" if _is_proved(record) else "")
               + (r"$\star$\," if record.get("essential") and not essentials else ""))
    extra = TeX("") if essentials else _extra(record)
    return {"heading": heading, "title": _title(record), "id": record["id"],
            "url": _permalink(record.get("permalink")), "mark": mark, "formulas": formulas,
            "conditions": _conditions(record["symbols"], record.get("conditions", ())),
            "extra": extra}


def _erratum_entry(record: dict, layout: str, permalinks: dict, first: bool) -> dict:
    """A refuted published formula: the claim written with \\neq, and the correct id."""
    forms = record["forms"]
    order = [TENSOR_FORM[layout] if record.get("tensor") else layout, *LAYOUTS, "vec",
             "vec_denominator", "differential"]
    claims = [(name, forms[name]) for name in dict.fromkeys(order) if forms.get(name)]
    claims.sort(key=lambda claim: not claim[1].get("refuted"))  # a false form first
    formulas = [_chunks(f["lhs"], f["latex"], r"\neq" if f.get("refuted") else "=")
                for _, f in claims[:1]]
    notes = [TeX(r"\textcolor{mdbad}{Claimed in the %s layout, false.}"
                 % escape(claims[0][0].replace("_", " ")))] if claims else []
    fix = record.get("corrected_by")
    if fix:
        link = (TeX(r"\mdid{%s}{%s}" % (escape(fix), _permalink(permalinks[fix])))
                if fix in permalinks else escape(fix))
        notes.append(TeX("Correct: " + link + "."))
    extra = TeX(" ".join([*notes, _extra(record)]))
    heading = {"title": "Refuted published formulas", "shape": "not valid",
               "intro": TeX(r"Published elsewhere and shown false by matderiv. Do not use.")}
    return {"heading": heading if first else None, "title": _title(record),
            "id": record["id"], "url": _permalink(record.get("permalink")), "mark": TeX(""),
            "formulas": formulas, "conditions": _conditions(record["symbols"]),
            "extra": extra}


def _title(record: dict) -> TeX:
    """The title with its formulas as math (the document's `title_parts`: text parts
    escaped, math parts from the LaTeX printer, checked); the plain title without them."""
    parts = record.get("title_parts") or [{"text": record["title"]}]
    return TeX("".join("$%s$" % check_math(p["math"]) if "math" in p else escape(p["text"])
                       for p in parts))


def _extra(record: dict) -> TeX:
    """Sources and notes in small print (full editions only)."""
    parts = []
    labels = [escape(s["label"]) for s in record.get("sources") or [] if s.get("label")]
    if labels:
        parts.append(TeX("Source: " + "; ".join(labels) + "."))
    if record.get("notes"):
        parts.append(_markdown(record["notes"]))
    return TeX(" ".join(parts))


def _markdown(text: str) -> TeX:
    """Notes are Markdown: code spans become typewriter, links their text; all escaped."""
    out = []
    for piece in re.split(r"(`[^`]+`|\[[^\]]*\]\([^)]*\))", text):
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            out.append(r"\texttt{%s}" % escape(piece[1:-1]))
        elif piece.startswith("[") and piece.endswith(")"):
            out.append(escape(piece[1:piece.index("](")]))
        else:
            out.append(escape(piece))
    return TeX("".join(out))


# ---------------------------------------------------------------- formulas and conditions

def _chunks(lhs: str, rhs: str, relation: str = "=") -> list[TeX]:
    """`lhs = rhs` as boxes that the line breaker may separate between top-level terms.

    A term too wide for the column falls back (decided by TeX, which knows the widths) to
    pieces split inside its \\left..\\right groups, closed with \\right. and reopened with
    \\left.; only a piece that is still too wide is scaled down.
    """
    chunks = [TeX(r"\mdchunk{%s %s{}}" % (check_math(lhs), relation))]
    for i, term in enumerate(split_terms(check_math(rhs))):
        pieces = split_terms(term, deep=True)
        if i:  # a term after the first starts with its operator: keep it binary
            term, pieces[0] = "{}" + term, "{}" + pieces[0]
        if len(pieces) == 1:
            chunks.append(TeX(r"\mdchunk{%s}" % term))
        else:
            inner = r"\mdbreak".join(r"\mdchunk{%s}" % p for p in pieces)
            chunks.append(TeX(r"\mdalt{%s}{%s}" % (term, inner)))
    return chunks


def split_terms(latex: str, deep: bool = False) -> list[str]:
    """Split math at binary + and - outside braces and environments.

    Top level only by default; with `deep`, also inside \\left..\\right groups, each
    piece closing the groups still open with \\right. and the next reopening them with
    \\left. so every piece is valid TeX on its own.
    """
    terms, start, braces, parens, groups, i = [], 0, 0, 0, 0, 0
    previous, reopen = "", ""
    while i < len(latex):
        c = latex[i]
        if c == "\\":
            word = re.match(r"\\([a-zA-Z]+|.)", latex[i:]).group(1)
            groups += {"left": 1, "right": -1}.get(word, 0)
            braces += {"begin": 1, "end": -1}.get(word, 0)
            i += len(word) + 1
            if word in ("left", "right"):  # skip its delimiter: ( or \| or \lbrace
                i += len(re.match(r"\s*(\\[a-zA-Z]+|\\.|.)?", latex[i:]).group(0))
            previous = word
            continue
        braces += {"{": 1, "}": -1}.get(c, 0)
        parens += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        at_level = braces == 0 and parens == 0 and (groups == 0 or deep)
        if (c in "+-" and at_level and previous not in NOT_BEFORE_BINARY
                and latex[start:i].strip()):
            terms.append(reopen + latex[start:i].strip() + r"\right." * groups)
            reopen = r"\left." * groups + "{}" if groups else ""
            start = i
        if not c.isspace():
            previous = c
        i += 1
    terms.append(reopen + latex[start:].strip())
    return terms


def _axes(axes: list[str]) -> TeX:
    """A shape given as its axes, in math (italic sizes, a real times)."""
    if not all(SIZE.fullmatch(a) for a in axes):
        raise ValueError(f"not a shape: {axes!r}")
    return TeX("$%s$" % r"\times ".join(a.replace("**", "^").replace("*", r"\,") for a in axes))


SHAPE_CONDITION = re.compile(r"[a-z0-9]+ (>=|>|<=|<) [a-z0-9]+")
RELATIONS = {">=": r"\geq", ">": ">", "<=": r"\leq", "<": "<"}


def _conditions(symbols: list[dict], shape: tuple | list = ()) -> TeX:
    """Symbols written compactly and grouped, e.g. A, X in R^{n x m}, inv; then the shape
    conditions (format 1.2), e.g. m >= n."""
    names = {s["name"]: s for s in symbols}
    groups: dict[tuple[str, str], list[str]] = {}
    for symbol in symbols:
        space, words = _space_and_words(symbol, names)
        groups.setdefault((space, words), []).append(_symbol_math(symbol, names))
    parts = []
    for (space, words), members in groups.items():
        if space:
            text = "$" + ",".join(members) + space + "$"
            parts.append(text + (" " + words if words else ""))
        else:
            parts.append(words)
    for text in shape:
        if not SHAPE_CONDITION.fullmatch(text):
            raise ValueError(f"not a shape condition: {text!r}")
        left, relation, right = text.split()
        parts.append(f"${left} {RELATIONS[relation]} {right}$")
    return TeX("; ".join(p for p in parts if p))


def _symbol_math(symbol: dict, names: dict) -> str:
    """The symbol in math, with (t) when it is a function of t."""
    math = check_math(symbol["latex"])
    dep = symbol.get("depends_on")
    if dep:
        dep_math = (check_math(names[dep]["latex"]) if dep in names
                    else r"\text{%s}" % escape(dep))
        math = f"{math}({dep_math})"
    return math


def _space_and_words(symbol: dict, names: dict) -> tuple[str, str]:
    """(math for the space it lives in, escaped property words); ('', words) if unparsable."""
    tokens = str(symbol.get("declaration", "")).split()
    if tokens == ["integer"]:  # format 1.2
        return r"\in\mathbb{Z}", ""
    if symbol.get("depends_on") and tokens[-2:-1] == ["of"]:
        tokens = tokens[:-2]
    count = {"scalar": 0, "vector": 1, "matrix": 2}.get(tokens[0] if tokens else "")
    sizes = tokens[1:1 + count] if count is not None else []
    properties = tokens[1 + len(sizes):] if count is not None else []
    if count is None or len(sizes) != count or not all(SIZE_NAME.fullmatch(s) for s in sizes):
        return "", escape(symbol.get("words") or symbol.get("name", ""))
    space = r"\in\mathbb{R}" + ("^{%s}" % r"\times ".join(sizes) if sizes else "")
    words = [PROPERTY_WORDS.get(p) or escape(p) for p in properties]
    return space, " ".join(words)
