"""The website: catalog document -> Markdown pages (jinja2) -> `mkdocs build --strict`.

Generation and mkdocs are kept apart so that a later move away from mkdocs stays small:
`generate_sources` turns the catalog document into Markdown pages whose formulas are
placeholders, `render_math` renders every formula with KaTeX in ONE Node process, and
`run_mkdocs` hands the result (a JSON bundle) to mkdocs, whose hooks
(`gen/render/mkdocs_hooks.py`) add the generated pages in memory and put the rendered
math in place. Nothing is written into the git-tracked tree.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from matderiv import resources
from matderiv.catalog.schema import reference_markdown
from matderiv.errors import CODES, effect
from matderiv.publish.cite import bibtex, identity_path
from matderiv.publish.document import Document
from matderiv.publish.limits import limits_markdown
from matderiv.render.derivation import card_html as derivation_card
from matderiv.render.derivation import fragments as derivation_fragments
from matderiv.render.search import search_bundle
from matderiv.render.verified import facts as verified_facts

TEMPLATES = resources.TEMPLATES / "site"
HANDWRITTEN = resources.SITE_PAGES
MKDOCS_YML = resources.MKDOCS_YML
WORKDIR = MKDOCS_YML.parent
KATEX_SCRIPT = Path(__file__).with_name("katex_render.mjs")
KATEX_DIST = resources.KATEX_DIST
BUNDLE_ENV = "MATDERIV_SITE_BUNDLE"
TAB_LABELS = ("Numerator layout", "Denominator layout")
VEC_KEYS = ("vec", "vec_denominator")
HANDWRITTEN_PAGES = ("index.md", "conventions.md", "verify-your-own.md", "how-to-cite.md",
                     "schema.md", "python-api.md", "neural-networks.md")
JSON_SCHEMA = resources.SCHEMA / "catalog.schema.json"

# Characters that mean something to Markdown, its extensions, HTML or our placeholders.
# Untrusted text is written with these as numeric entities, which every context renders
# as the plain character and none of them interprets.
_MD_SPECIAL = set("\\`*_{}[]()#+-.!<>&\"'|~^$:=%@")


def identity_url(identity_id: str) -> str:
    """THE location of an identity on the site, relative to the site root (`id/<id>/`):
    its page, its permalink's path, the target of every link and of search results.
    Links from a page are made relative with `page_link`."""
    return identity_path(identity_id)


class SiteBuildError(RuntimeError):
    """The site cannot be built; the message names the identity or page at fault."""


def md_text(value: object) -> Markup:
    """Untrusted text as inert Markdown (one line): specials become entities."""
    return _inert(" ".join(str(value).split()))


def _inert(text: str) -> Markup:
    return Markup("".join(f"&#{ord(c)};" if c in _MD_SPECIAL else c for c in text))


def _title_parts(rec: dict) -> list[dict]:
    """The document's `title_parts`, or the title as one text part (a document without
    them, or a math part without its plain reading)."""
    parts = rec.get("title_parts")
    if not parts or any("math" in p and "text" not in p for p in parts):
        return [{"text": str(rec["title"])}]
    return parts


def title_plain(rec: dict) -> str:
    """An identity's title as one line of plain Unicode, its formulas as the document's
    `title_parts` read them (`Quadratic form xᵀAx`, `‖XW − Y‖_F²`: lang.latex.PlainPrinter
    over the parse tree, never a rewrite of the title's text).

    Where a title is shown, math is math (`title_markdown`): the identity's heading, its
    row in the category table, the errata headings, the links between cards, the search
    results. This plain reading goes where markup cannot: the browser tab (<title>), the
    header bar and the navigation (mkdocs' page title), the table of contents (a heading's
    `data-toc-label`), and the long lists of the topics and sources pages (hundreds of
    links, where MathML would take the heaviest page past the weight budget). It is
    untrusted text: every caller escapes it for its context."""
    return " ".join("".join(p["text"] for p in _title_parts(rec)).split())


def title_markdown(rec: dict, math: MathTable, light: bool = False) -> Markup:
    """An identity's title as inert Markdown with its formulas as math placeholders
    (KaTeX, or MathML alone with `light`); text parts escaped like `md_text`."""
    out, parts = [], _title_parts(rec)
    for i, part in enumerate(parts):
        if "math" in part:
            out.append(math.add(part["math"], False, f"identity '{rec['id']}' (title)", light))
            continue
        text = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in part["text"]))
        text = text.lstrip() if i == 0 else text
        out.append(_inert(text.rstrip() if i == len(parts) - 1 else text))
    return Markup("").join(out)


def md_paragraphs(value: str | None, index: dict | None = None, up: str = "") -> Markup:
    """Untrusted prose: paragraphs and `code spans` kept (a span naming an identity id
    links to it), everything else inert. `up`: the way from the page to the site root."""
    if not value:
        return Markup("")
    paras = [p for p in re.split(r"\n\s*\n", value) if p.strip()]
    return Markup("\n\n").join(_prose(" ".join(p.split()), index or {}, up) for p in paras)


def md_line(value: str | None, index: dict | None = None) -> Markup:
    """Untrusted prose on one line (a list item): like md_paragraphs, breaks dropped."""
    return _prose(" ".join(str(value or "").split()), index or {})


def page_link(identity_id: str, up: str = "") -> str:
    """The Markdown link target of an identity's page from a page `up` below the root
    ("" for a top-level page, "../" for another identity's page)."""
    return up + identity_url(identity_id).rstrip("/") + ".md"


_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose(text: str, index: dict, up: str = "") -> Markup:
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_inert(text[pos:m.start()]))
        code, rec = m.group(2).strip(), index.get(m.group(2).strip())
        out.append(Markup(f"[{md_code(code)}]({page_link(rec['id'], up)})") if rec
                   else md_code(code))
        pos = m.end()
    out.append(_inert(text[pos:]))
    return Markup("").join(out)


def md_code(value: str) -> Markup:
    """Inline code span that no backtick inside the value can close, on one line: an
    expression's text may span lines (a comment line), and a line break would let the
    next line start a heading or an HTML block outside the span."""
    value = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    run = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (run + 1)
    return Markup(f"{fence} {value} {fence}")


def fenced(value: str, lang: str) -> Markup:
    """Fenced code block (content shown verbatim, copy button from the theme)."""
    run = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, run + 1)
    return Markup(f"{fence}{lang}\n{value.rstrip()}\n{fence}")


def slug(value: str) -> str:
    """A stable, safe anchor for tags and reference keys."""
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-") or "x"


@dataclass
class MathTable:
    """Every formula of the site, each with the owner named when KaTeX rejects it.

    A placeholder carries a random nonce drawn for this build, so text from the catalog
    (a note or an expression's comment saying `@@MATH-D-0@@`) can never be taken for one:
    it is shown as written. The nonce never reaches the output, every placeholder is
    replaced, so builds stay byte-identical."""

    items: list[dict] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_hex(12))

    def add(self, tex: str, display: bool, owner: str, light: bool = False) -> Markup:
        """Register a formula; the returned placeholder is plain Markdown text. `light`:
        MathML only, laid out by the browser itself (the compact category tables: a
        tenth of KaTeX's HTML, no web fonts)."""
        self.items.append({"tex": tex, "display": display, "owner": owner,
                           **({"output": "mathml"} if light else {})})
        kind = "M" if light else "D" if display else "I"
        return Markup(f"@@MATH-{self.nonce}-{kind}-{len(self.items) - 1}@@")


@dataclass
class SiteSources:
    """What mkdocs needs besides the hand-written pages."""

    pages: dict[str, str]
    overrides: dict[str, str]
    nav: list
    math: MathTable


# ---------------------------------------------------------------- view models


def _form_view(rec: dict, key: str, label: str, math: MathTable) -> dict | None:
    """One form of an identity: rendered math, shape, provenance and copyable TeX."""
    form = rec["forms"].get(key)
    if not form:
        return None
    relation = r"\neq" if form.get("refuted") else "="  # an erratum's false claim
    tex = f"{form['lhs']} {relation} {form['latex']}" if form.get("lhs") else form["latex"]
    given = "given in the catalog" if form.get("given") else "derived by matderiv"
    return {
        "label": label,
        "missing": False,
        "math": math.add(tex, True, f"identity '{rec['id']}' ({key} form)"),
        "shape": md_text(" × ".join(_powers(a) for a in form["axes"])) or None,
        "given": given,
        "text": md_code(form["text"]) if form.get("text") else None,
        "code": fenced(tex, "latex"),
    }


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _powers(shape: str) -> str:
    """`n**2 × n**2` reads as `n² × n²`."""
    return re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUPERSCRIPT), str(shape))


def _tabs(rec: dict, keys: tuple[str, str], math: MathTable) -> list | None:
    """Two linked tabs under the site-wide labels; None when neither form exists."""
    tabs = [_form_view(rec, k, label, math) for k, label in zip(keys, TAB_LABELS, strict=True)]
    if not any(tabs):
        return None
    return [t or {"label": label, "missing": True}
            for t, label in zip(tabs, TAB_LABELS, strict=True)]


def _layout_tabs(rec: dict, math: MathTable) -> list | None:
    """Layout forms, or for tensor-valued results the vec form and its transpose."""
    keys = ("vec", "vec_denominator") if rec.get("tensor") else ("numerator", "denominator")
    return _tabs(rec, keys, math)


def _sizes_text(sizes: list) -> str:
    """`n = 2, m = 3; n = 3, m = 2`, or a plain word when nothing has a size."""
    named = [", ".join(f"{k} = {v}" for k, v in s.items()) for s in sizes if s]
    if named:
        return "at sizes " + "; ".join(named)
    return f"at {len(sizes)} assignments (all symbols scalar)" if sizes else "no sizes recorded"


# The guarantee badges: the record's value is only ever looked up here, never printed.
GUARANTEES = {
    "proved": ("proved", "A polynomial trace identity, equal in exact rational arithmetic at "
               "sizes at least its degree bound: by Procesi's and Razmyslov's theorem it "
               "holds at every size"),
    "checked": ("checked", "Held exactly and numerically at every size and point tried; "
                "outside the theorem (or above its cap), so not proved for every size"),
}


def _guarantee_view(rec: dict, up: str = "") -> dict | None:
    """The guarantee badge of a verified identity, linked to its explanation."""
    ver = rec.get("verification") or {}
    if rec.get("status") != "verified" or ver.get("guarantee") not in GUARANTEES:
        return None
    word, title = GUARANTEES[ver["guarantee"]]
    return {"word": word, "title": title,
            "link": Markup(f"{up}verified.md#{word}")}


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _bound_text(ver: dict) -> str | None:
    """`degree 3, size bound 4 ...`, or None when no bound was computed."""
    if not isinstance(ver.get("bound"), int) or not ver["bound"]:
        return None
    text = f"degree {ver.get('degree', '?')}, size bound {ver['bound']}"
    if ver.get("capped"):
        return text + " (above the cap: checked, not proved)"
    return text + " (every size reaches it in one exact assignment)"


def _sympy_text(sympy: dict | None, status: str = "verified") -> str:
    """What SymPy's own matrix calculus said: its note when it gave one, else a word. Its
    closed form is compared with matderiv's own derivative, never with a published claim:
    for a refuted claim that is said in words."""
    sympy = sympy or {}
    if status == "refuted" and sympy.get("agrees") is not None:
        return ("its closed form " + ("agrees with matderiv's own derivative, so it too "
                                      "contradicts the published formula"
                                      if sympy["agrees"] else
                                      "differs from matderiv's own derivative (not compared "
                                      "with the published formula)"))
    if sympy.get("note"):
        return str(sympy["note"])
    return {True: "agrees", False: "disagrees or has no closed form"}.get(
        sympy.get("agrees"), "not compared")


_STATUS_ADMONITION = {
    "verified": ("success", "Verified: what was checked"),
    "refuted": ("danger", "Refuted: this published claim is false"),
    "failed": ("failure", "Failed verification"),
    "invalid": ("bug", "Invalid record"),
}


def _verification_view(rec: dict, up: str = "") -> dict:
    """The badges and the collapsible report of what the verifier did."""
    ver = rec.get("verification") or {}
    status = rec.get("status", ver.get("status", "invalid"))
    kind, title = _STATUS_ADMONITION.get(status, ("bug", f"Status: {status}"))
    err = ver.get("max_error")
    guarantee = _guarantee_view(rec, up)
    said = None
    if guarantee:
        said = Markup(f"**{guarantee['word']}**: {md_text(_lower(guarantee['title']))} "
                      f"([what this means]({guarantee['link']})).")
    lines = [("Guarantee", said)]
    lines += [
        ("Forms checked", ", ".join(ver.get("forms_checked", [])) or "none"),
        ("Degree bound", _bound_text(ver)),
        ("Exact check", f"{ver.get('exact', 'not run')}, {_sizes_text(ver.get('sizes', []))}"),
        ("Numeric check", f"{ver.get('points', 0)} random points"
                          + (f" {_sizes_text(ver['numeric_sizes'])}"
                             if ver.get("numeric_sizes") else "")
                          + (", largest relative error " + (f"{err:.1e}" if isinstance(
                              err, int | float) else "n/a") if status == "verified" else
                             ": the published form fails (the message below gives its error)")),
        ("SymPy's own derivative", _sympy_text(ver.get("sympy"), status)),
        ("Checked by", f"matderiv {ver.get('tool_version', '?')}, SymPy "
                       f"{ver.get('sympy_version', '?')}, on {ver.get('date', '?')}"),
    ]
    if rec.get("file") and rec.get("id"):
        command = f"matderiv verify {rec['file']} --id {rec['id']} --explain"
        lines.append(("See the evidence", md_code(command)))
    lines += [("Message", m) for m in ver.get("messages", [])]
    return {"status": md_text(status), "status_class": slug(status), "kind": kind,
            "title": title, "guarantee": guarantee,
            "lines": [(md_text(k), v if isinstance(v, Markup) else md_text(v))
                      for k, v in lines if v is not None]}


def _link(index: dict, target: str, context: str, up: str = "",
          math: MathTable | None = None) -> Markup:
    """A Markdown link to another identity's page, titled with its formulas as math
    when a MathTable is given (plain Unicode otherwise); an unknown id is a build error."""
    rec = index.get(target)
    if rec is None:
        raise SiteBuildError(f"{context}: unknown identity id '{target}'")
    title = title_markdown(rec, math) if math is not None else md_text(title_plain(rec))
    return Markup(f"[{title}]({page_link(rec['id'], up)})")


def _source_link(src: dict, up: str = "") -> Markup:
    """A source's label, linked to its entry on the sources page."""
    label = md_text(src.get("label", src.get("ref", "?")))
    return Markup(f"[{label}]({up}sources.md#ref-{slug(src.get('ref', ''))})")


def _permalink_view(rec: dict, doc: dict) -> Markup:
    """The permanent URL when a deployment URL is configured; otherwise how to cite the
    identity without one (its id and the catalog version), never an invented address."""
    if rec.get("permalink"):
        return Markup(f"permalink {md_code(rec['permalink'])}")
    return Markup(f"cite as {md_code(rec['id'])}, matderiv catalog "
                  f"{md_text(doc.get('version', '?'))}")


def card_view(rec: dict, index: dict, math: MathTable, aliases: dict | None = None,
              doc: dict | None = None, up: str = "../") -> dict:
    """Everything one identity's page shows, escaped and ready for the template; `up`
    is the way from that page's source (id/<id>.md) to the site root."""
    rid = rec["id"]
    cat = next((c for c in (doc or {}).get("categories", []) if c["slug"] == rec["category"]),
               {"slug": rec["category"], "title": rec["category"]})
    return {
        "id": rid,
        "category": {"link": Markup(f"{up}{cat['slug']}.md"), "title": md_text(cat["title"])},
        "id_code": md_code(rid),
        "aliases": [{"anchor": _html_id(old), "code": md_code(old)}
                    for old in (aliases or {}).get(rid, [])],
        "bibtex": fenced(rec["bibtex"], "bibtex") if rec.get("bibtex") else None,
        "title": title_markdown(rec, math),
        "title_label": md_text(title_plain(rec)),  # the table of contents: no markup
        "permalink": _permalink_view(rec, doc or {}),
        "symbols": [{"math": math.add(s["latex"], False, f"identity '{rid}' (symbol {s['name']})"),
                     "words": md_text(s.get("words") or s.get("declaration", ""))}
                    for s in rec.get("symbols", [])],
        "of": math.add(rec["of"]["latex"], False, f"identity '{rid}' (of)"),
        "wrt": math.add(rec["wrt"]["latex"], False, f"identity '{rid}' (wrt)"),
        "of_text": md_code(rec["of"].get("text", "")),
        "wrt_text": md_code(rec["wrt"].get("name", "")),
        "tabs": _layout_tabs(rec, math),
        "tensor": bool(rec.get("tensor")),
        "differential": _form_view(rec, "differential", "Differential", math),
        # format 1.2: the Hessian, the tied-entries derivative, the shape conditions
        "hessian": _form_view(rec, "hessian", "Hessian", math),
        "symmetric_tied": _form_view(rec, "symmetric_tied", "Symmetric, tied entries", math),
        "conditions": [md_code(c) for c in rec.get("conditions", [])],
        "conventions_link": Markup(f"{up}conventions.md"),
        "extra_vec": None if rec.get("tensor") else _tabs(rec, VEC_KEYS, math),
        "sources": [_source_link(s, up) for s in rec.get("sources", [])],
        "tags": [Markup(f"[{md_text(t)}]({up}topics.md#tag-{slug(t)})")
                 for t in rec.get("tags", [])],
        "notes": md_paragraphs(rec.get("notes"), index, up),
        "erratum": bool(rec.get("erratum")),
        "essential": bool(rec.get("essential")),
        "corrected_by": _link(index, rec["corrected_by"], f"identity '{rid}' corrected_by", up,
                              math) if rec.get("corrected_by") else None,
        "see_also": [_link(index, s, f"identity '{rid}' see_also", up, math)
                     for s in rec.get("see_also", [])],
        "verification": _verification_view(rec, up),
        "snippet": fenced(rec["snippet"], "python") if rec.get("snippet") else None,
        "derivation": derivation_card(rec, up + "../"),  # raw HTML: from the page's URL
    }


def _html_id(value: str) -> Markup:
    """An old id as an HTML id attribute: ids are [a-z0-9-], anything else is refused."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(value)):
        raise SiteBuildError(f"alias '{value}' is not a valid identity id")
    return Markup(value)


def aliases_by_target(doc: dict, index: dict) -> dict[str, list[str]]:
    """{current id: [old ids]}: each old id becomes an extra anchor on the current card,
    so a permalink made before a rename still lands on the identity."""
    out: dict[str, list[str]] = {}
    for old, new in sorted(doc.get("aliases", {}).items()):
        if new not in index:
            raise SiteBuildError(f"alias '{old}' points to unknown identity id '{new}'")
        if old in index:
            raise SiteBuildError(f"alias '{old}' is also the id of an identity")
        out.setdefault(new, []).append(old)
    return out


def _erratum_view(rec: dict, index: dict, math: MathTable | None = None) -> dict:
    """An erratum as the errata page lists it: the claim, where it was published, the fix;
    its heading's formulas as math when a MathTable is given."""
    rid = rec["id"]
    return {
        "link": _link(index, rid, "errata"),
        "id": rid,
        "title": title_markdown(rec, math) if math is not None else md_text(title_plain(rec)),
        "title_label": md_text(title_plain(rec)),
        "status": md_text(rec.get("status", "")),
        "sources": [md_text(s.get("label", s.get("ref", "?"))) for s in rec.get("sources", [])],
        "messages": [md_text(m) for m in (rec.get("verification") or {}).get("messages", [])],
        "corrected_by": _link(index, rec["corrected_by"], f"identity '{rid}' corrected_by")
        if rec.get("corrected_by") else None,
    }


# ---------------------------------------------------------------- pages


def _env() -> Environment:
    """jinja2 fails on any undefined name and HTML-escapes anything not marked safe."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=True, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = md_text
    env.filters["page"] = page_link  # an identity id -> its page, from a top-level page
    env.filters["title"] = lambda rec: md_text(title_plain(rec))  # long lists: plain
    return env


def _row_view(rec: dict, math: MathTable, aliases: dict) -> dict:
    """One identity as a row of its category's compact table: its title linked to its
    page, the derivative's right-hand side in both layouts (MathML, light)."""
    keys = VEC_KEYS if rec.get("tensor") else ("numerator", "denominator")
    cells = []
    for key in keys:
        form = rec["forms"].get(key)
        cells.append(math.add(form["latex"], False, f"identity '{rec['id']}' ({key} form)",
                              light=True) if form else Markup("—"))
    ver = rec.get("verification") or {}
    return {"id": rec["id"], "link": page_link(rec["id"]),
            "title": title_markdown(rec, math, light=True),
            "anchors": [_html_id(rec["id"])] + [_html_id(a) for a in aliases.get(rec["id"], [])],
            "status": md_text(rec.get("status", "")), "status_class": slug(rec.get("status", "")),
            "guarantee": ver.get("guarantee") if ver.get("guarantee") in GUARANTEES else None,
            "cells": cells}


def _category_pages(doc: dict, env: Environment, index: dict, math: MathTable) -> dict:
    """One page per category (all nine, an empty one says so): a compact table, errata
    last; and one page per identity (`identity_url`), its full card."""
    pages, aliases = {}, aliases_by_target(doc, index)
    template, card = env.get_template("category.md.j2"), env.get_template("identity.md.j2")
    for cat in doc["categories"]:
        recs = [r for r in doc["identities"] if r["category"] == cat["slug"]]
        rows = [_row_view(r, math, aliases) for r in recs if not r.get("erratum")]
        errata = [_row_view(r, math, aliases) for r in recs if r.get("erratum")]
        # category/#id (the old permalinks, aliases too) -> the identity's page
        moved = {a: identity_url(row["id"]) for row in rows + errata for a in row["anchors"]}
        pages[f"{cat['slug']}.md"] = template.render(
            cat=cat, rows=rows, errata=errata, doc=doc, pdfs=pdf_links("../"),
            moved=Markup(json.dumps(moved, sort_keys=True)))
        for rec in recs:
            title = Markup(json.dumps(html.escape(title_plain(rec))))
            pages[page_link(rec["id"])] = card.render(
                card=card_view(rec, index, math, aliases, doc), doc=doc, page_title=title)
    return pages


PDF_SHEETS = (("matderiv-numerator.pdf", "full sheet, numerator layout"),
              ("matderiv-denominator.pdf", "full sheet, denominator layout"),
              ("matderiv-essentials-numerator.pdf", "essentials, numerator layout"),
              ("matderiv-essentials-denominator.pdf", "essentials, denominator layout"))
PDF_FOLDER = "pdf"  # `matderiv build` copies build/pdf/*.pdf into the site here


def pdf_links(up: str) -> Markup:
    """Raw HTML links to the PDF sheets (not Markdown links: mkdocs does not know the
    files, which the build adds after it has run)."""
    links = ", ".join(f'<a href="{up}{PDF_FOLDER}/{name}">{words}</a>'
                      for name, words in PDF_SHEETS)
    return Markup(f'<p class="md-pdfs">PDF: {links}.</p>')


def _topics(doc: dict) -> list:
    """Tags in alphabetical order, each with the identities carrying it."""
    by_tag: dict[str, list] = {}
    for rec in doc["identities"]:
        for tag in rec.get("tags", []):
            by_tag.setdefault(tag, []).append(rec)
    return [{"tag": tag, "anchor": f"tag-{slug(tag)}", "records": by_tag[tag]}
            for tag in sorted(by_tag, key=str.casefold)]


def _source_key(src: dict, tables: dict) -> tuple:
    """Sort key and label for where in a source an identity comes from."""
    table = str(src.get("table", ""))
    rank = (tables.get(table, len(tables)), table)
    for key, word in (("eq", "eq."), ("page", "p."), ("section", "§")):
        if src.get(key) is not None:
            return (rank, 0, _num(src[key]), f"{word} {src[key]}")
    if src.get("row") is not None:
        return (rank, 1, _num(src["row"]), f"{table} table, row {src['row']}")
    return (rank, 2, 0, src.get("label", "cited"))


def _num(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _row_order(item: tuple) -> tuple:
    return item[0][:3]


def _coverage(doc: dict) -> list:
    """Per reference: the equations/rows covered, each with the identities covering it."""
    refs, tables = [], {c["slug"]: i for i, c in enumerate(doc["categories"])}
    for key, ref in doc.get("references", {}).items():
        rows: dict[tuple, list] = {}
        for rec in doc["identities"]:
            for src in rec.get("sources", []):
                if src.get("ref") == key:
                    rows.setdefault(_source_key(src, tables), []).append(rec)
        url = ref.get("url") or ""
        refs.append({"key": key, "anchor": f"ref-{slug(key)}", "ref": ref,
                     "url": url if re.match(r"https?://", url) else None,
                     "rows": [(k[3], v) for k, v in sorted(rows.items(), key=_row_order)]})
    unsourced = [r for r in doc["identities"] if not r.get("sources")]
    return refs, unsourced


def _gaps(doc: dict, index: dict) -> list:
    """The places of each source that format v1 cannot express, in the source's order.

    Gap text is untrusted: everything is escaped, only `code spans` survive (and an id
    in one links to the identity that covers the expressible special case)."""
    tables = {c["slug"]: i for i, c in enumerate(doc["categories"])}
    refs = doc.get("references", {})
    by_ref: dict[str, list] = {}
    for gap in doc.get("gaps", []):
        src = gap.get("source") or {}
        by_ref.setdefault(str(src.get("ref", "?")), []).append(
            (_source_key(src, tables), gap))
    order = {key: i for i, key in enumerate(refs)}
    return [{"title": md_text(refs.get(key, {}).get("title", key)),
             "anchor": f"ref-{slug(key)}" if key in refs else None,
             "gap_anchor": f"gaps-{slug(key)}",
             "rows": [{"where": md_text(k[3]), "what": md_line(g.get("what"), index),
                       "reason": md_line(g.get("reason"), index)}
                      for k, g in sorted(items, key=_row_order)]}
            for key, items in sorted(by_ref.items(), key=lambda kv: (order.get(kv[0], 1e9),
                                                                       kv[0]))]


def _nav(doc: dict) -> list:
    """The site navigation, categories in catalog order."""
    return [
        {"Home": "index.md"},
        {"Conventions": "conventions.md"},
        {"What verified means": "verified.md"},
        {"Identities": [{c["title"]: f"{c['slug']}.md"} for c in doc["categories"]]},
        {"Topics": "topics.md"},
        {"Neural networks": "neural-networks.md"},
        {"Sources and coverage": "sources.md"},
        {"Errata": "errata.md"},
        {"Use and cite": [
            {"Verify your own": "verify-your-own.md"},
            {"Python API": "python-api.md"},
            {"Format reference": "format-reference.md"},
            {"Limits": "limits.md"},
            {"JSON catalog": "schema.md"},
            {"How to cite": "how-to-cite.md"},
        ]},
    ]


def generate_sources(doc: dict) -> SiteSources:
    """All generated Markdown, with formulas as placeholders in one MathTable."""
    doc = Document(doc)
    env, math = _env(), MathTable()
    index = {r["id"]: r for r in doc["identities"]}
    pages = _category_pages(doc, env, index, math)
    refs, unsourced = _coverage(doc)
    pages["topics.md"] = env.get_template("topics.md.j2").render(topics=_topics(doc), doc=doc)
    pages["sources.md"] = env.get_template("sources.md.j2").render(
        refs=refs, unsourced=unsourced, gaps=_gaps(doc, index), doc=doc)
    pages["format-reference.md"] = format_reference()
    pages["limits.md"] = limits_markdown()
    pages["verified.md"] = verified_page(env, math)
    errata = [_erratum_view(r, index, math) for r in doc["identities"] if r.get("erratum")]
    pages["errata.md"] = env.get_template("errata.md.j2").render(errata=errata, doc=doc)
    overrides = {name: extract_math((HANDWRITTEN / name).read_text(encoding="utf-8"),
                                    math, f"page site/{name}")
                 for name in HANDWRITTEN_PAGES}
    return SiteSources(pages=pages, overrides=overrides, nav=_nav(doc), math=math)


def verified_page(env: Environment, math: MathTable) -> str:
    """The page "What verified means", written from the verifier's constants
    (gen/render/verified.py) so that it cannot drift from what `verify` does."""
    env = env.overlay()
    env.filters["code"] = md_code
    text = env.get_template("verified.md.j2").render(f=verified_facts())
    return extract_math(text, math, "page verified.md")


def _error_status(code: str) -> str:
    """The status a problem gives its identity (errors.effect)."""
    status = effect(code)
    return "refuted (an erratum's published form)" if status == "refuted" else status


def _angle_brackets(markdown: str) -> str:
    """`d<wrt>` outside code spans would be read as an HTML tag and vanish."""
    parts = re.split(r"(`[^`\n]*`)", markdown)
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;").replace(">", "&gt;")
                   for p in parts)


def format_reference() -> str:
    """The format reference: keys, properties and functions from gen/schema.py and every
    error code from gen/errors.py, so the page cannot drift from the code."""
    rows = "\n".join(f"| {md_code(code)} | {_error_status(code)} | {md_code(template)} |"
                     for code, template in CODES.items())
    return (
        "# Format reference\n\n"
        "Generated from the tool itself (`gen/schema.py` and `gen/errors.py`), so it always "
        "matches what `matderiv verify` accepts. The [guide](verify-your-own.md) explains "
        "the format with examples; [limits](limits.md) lists every bound on input sizes "
        "and on the work per identity, with its code.\n\n"
        + _angle_brackets(reference_markdown())
        + "\n## Error codes { #error-codes }\n\n"
        "Every problem is reported as `FILE:LINE: CODE message`. E1xx (file and schema), "
        "E2xx (expressions) and E3xx (shapes) make an identity **invalid**; E4xx "
        "(verification) make it **failed**, except E406, which refutes an erratum whose "
        "published form does not even fit together. Words in braces are filled in.\n\n"
        "| code | status | message |\n|---|---|---|\n" + rows + "\n"
    )


# ---------------------------------------------------------------- math


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_INLINE = re.compile(r"(`+)(?:.+?)\1|\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)


def extract_math(text: str, math: MathTable, owner: str) -> str:
    """Hand-written pages write `$...$` and `$$...$$`; code is left alone."""
    out, chunk, fence = [], [], None
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            out.append(_math_in(''.join(chunk), math, owner))
            chunk, fence = [], m.group(2)[0] * len(m.group(2))
            out.append(line)
        elif fence is not None:
            out.append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
        else:
            chunk.append(line)
    out.append(_math_in("".join(chunk), math, owner))
    return "".join(out)


def _math_in(text: str, math: MathTable, owner: str) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1):
            return m.group(0)
        if m.group(2) is not None:
            return str(math.add(m.group(2).strip(), True, owner))
        return str(math.add(m.group(3), False, owner))
    return _INLINE.sub(repl, text)


def render_math(math: MathTable) -> list[str]:
    """Every formula through KaTeX in one Node process; an error names its owner."""
    if not (KATEX_DIST / "katex.min.css").exists():
        raise SiteBuildError("KaTeX is not installed: run `npm ci` in the repository root")
    if shutil.which("node") is None:
        raise SiteBuildError("the website needs Node.js to typeset formulas: "
                             "apt-get install nodejs")
    batch = [{"tex": i["tex"], "display": i["display"], "output": i.get("output")}
             for i in math.items]
    proc = subprocess.run(["node", str(KATEX_SCRIPT), str(KATEX_DIST / "katex.mjs")],
                          input=json.dumps(batch),
                          capture_output=True, text=True, cwd=WORKDIR, check=False)
    if proc.returncode != 0:
        raise SiteBuildError(f"KaTeX renderer crashed: {proc.stderr.strip()[-2000:]}")
    results = json.loads(proc.stdout)
    errors = [f"KaTeX cannot render {item['owner']}: {res['error']} (TeX: {item['tex']})"
              for item, res in zip(math.items, results, strict=True) if "error" in res]
    if errors:
        raise SiteBuildError("\n".join(errors))
    return [mathml(res["html"]) if item.get("output") == "mathml" else res["html"]
            for item, res in zip(math.items, results, strict=True)]


_MATH = re.compile(r"<math\b.*</math>", re.S)
_ANNOTATION = re.compile(r"<annotation\b[^>]*>.*?</annotation>", re.S)
_VARIANT = re.compile(r'<(mi|mn) mathvariant="(bold|bold-italic|double-struck)">([^<&]*)</\1>')
# MathML Core browsers ignore `mathvariant` except on <mi>'s auto-italic: styled letters
# are written as the Unicode mathematical alphanumerics instead (bold matrices stay bold).
_ALPHANUMERIC = {  # variant: (A, a, 0, Alpha, alpha) code points, None where Unicode has none
    "bold": (0x1D400, 0x1D41A, 0x1D7CE, 0x1D6A8, 0x1D6C2),
    "bold-italic": (0x1D468, 0x1D482, 0x1D7CE, 0x1D71C, 0x1D736),
    "double-struck": (0x1D538, 0x1D552, 0x1D7D8, None, None),
}
_DOUBLE_STRUCK_HOLES = {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}


def _styled(text: str, variant: str) -> str | None:
    upper, lower, digit, greek_upper, greek_lower = _ALPHANUMERIC[variant]
    out = []
    for c in text:
        if variant == "double-struck" and c in _DOUBLE_STRUCK_HOLES:
            out.append(_DOUBLE_STRUCK_HOLES[c])
        elif "A" <= c <= "Z":
            out.append(chr(upper + ord(c) - 65))
        elif "a" <= c <= "z":
            out.append(chr(lower + ord(c) - 97))
        elif "0" <= c <= "9":
            out.append(chr(digit + ord(c) - 48))
        elif greek_upper and "\u0391" <= c <= "\u03a9" and c != "\u03a2":
            out.append(chr(greek_upper + ord(c) - 0x391))
        elif greek_lower and "\u03b1" <= c <= "\u03c9":
            out.append(chr(greek_lower + ord(c) - 0x3B1))
        else:
            return None  # leave the element as KaTeX wrote it
    return "".join(out)


def mathml(katex_html: str) -> str:
    """KaTeX's MathML output, lighter: the <math> element alone, without the TeX
    annotation (the identity's page has it), styled letters as Unicode."""
    m = _MATH.search(katex_html)
    if m is None:
        raise SiteBuildError("KaTeX returned no MathML")

    def styled(v: re.Match) -> str:
        text = _styled(v.group(3), v.group(2))
        return v.group(0) if text is None else f"<{v.group(1)}>{text}</{v.group(1)}>"

    light = _ANNOTATION.sub("", m.group(0)).replace("<semantics>", "").replace("</semantics>", "")
    light = light.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)  # HTML knows
    return _VARIANT.sub(styled, light)


# ---------------------------------------------------------------- mkdocs


def run_mkdocs(bundle_path: Path, out_dir: Path) -> None:
    """`mkdocs build --strict` with the bundle handed to our hooks by environment."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        raise SiteBuildError("the website needs mkdocs-material: pip install 'matderiv[site]'")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", **{BUNDLE_ENV: str(bundle_path)})
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
           "--config-file", str(MKDOCS_YML), "--site-dir", str(out_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=WORKDIR,
                          check=False)
    if proc.returncode != 0:
        raise SiteBuildError(f"mkdocs build --strict failed:\n{proc.stdout}{proc.stderr}")


def catalog_json(doc: dict) -> str:
    """The catalog document as `matderiv export --format json` and build/catalog.json
    write it, byte for byte."""
    return json.dumps(Document(doc), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def downloads(doc: dict) -> dict[str, str]:
    """Files offered for download at the top of the site: the catalog, its schema, the
    BibTeX; made from the same document as the pages so they always agree."""
    return {"catalog.json": catalog_json(doc), "matderiv.bib": bibtex(doc),
            "catalog.schema.json": JSON_SCHEMA.read_text(encoding="utf-8"),
            **derivation_fragments(doc)}  # loaded by a card when opened


def build_site(doc: dict, out_dir: Path) -> None:
    """Build the whole website from the catalog document into `out_dir`."""
    doc = Document(doc)
    out_dir = Path(out_dir).resolve()
    sources = generate_sources(doc)
    search = search_bundle(doc["identities"], sources.math, identity_url)
    rendered = render_math(sources.math)
    bundle = {
        "site_url": doc.get("site_url"),
        "copyright": f"{doc.get('name', 'matderiv')} {doc.get('version', '')}, "
                     f"catalog of {doc.get('date', '')}",
        "nav": sources.nav, "pages": sources.pages, "overrides": sources.overrides,
        "math": rendered, "math_nonce": sources.math.nonce, "katex_dist": str(KATEX_DIST),
        "downloads": downloads(doc),
        "search": search, "category_slugs": [c["slug"] for c in doc["categories"]],
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="matderiv-site-") as tmp:
        bundle_path = Path(tmp) / "bundle.json"
        bundle_path.write_text(json.dumps(bundle), encoding="utf-8")
        run_mkdocs(bundle_path, out_dir)
