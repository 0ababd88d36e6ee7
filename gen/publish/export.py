"""Verdicts + identities -> the catalog document: the one dict every renderer reads.

It is also written as build/catalog.json. Renderers never parse YAML and never verify;
whatever they show comes from here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import sympy
import yaml
from matderiv import __version__
from matderiv.catalog.released import document_aliases
from matderiv.catalog.schema import CATEGORIES, PROPERTIES, TENSOR_CATEGORIES
from matderiv.lang import expr as E
from matderiv.lang.forms import Prepared, context, prepare
from matderiv.lang.latex import Printer, lhs
from matderiv.lang.shapes import ONE, ShapeEnv, infer, layout_shape, show
from matderiv.publish.cite import identity_entry, permalink
from matderiv.publish.snippet import snippet
from matderiv.resources import ROOT

KIND_WORDS = {"scalar": "a scalar", "vector": "a vector", "matrix": "a matrix"}
FORM_ORDER = ("numerator", "denominator", "differential", "vec", "vec_denominator")


SITE_URL_ENV = "MATDERIV_SITE_URL"  # a deployment's URL, over release.yaml's `site_url`


def read_release(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {"version": str(data["version"]), "date": str(data["date"]),
            "site_url": site_url(os.environ.get(SITE_URL_ENV, data.get("site_url")))}


def site_url(value) -> str | None:
    """The one setting for permalinks and citation URLs: MATDERIV_SITE_URL, else
    `site_url` in catalog/release.yaml. Empty or missing (the default, while the
    project has no deployment): None, and nothing prints an invented address; the
    site's own links are relative either way."""
    text = str(value or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"https?://[^\s#?]+", text):
        raise ValueError(f"site_url must be an http(s) URL or empty, not {text[:80]!r}")
    return text.rstrip("/") + "/"


def read_references(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["references"]


def catalog_document(identities, verdicts, release: dict, references: dict,
                     gaps: list | None = None, derivations: list | None = None) -> dict:
    """`derivations`: the machine derivation of each identity (gen/symbolic/catalog.py
    derive_all, in the order of `identities`); derived here when not given."""
    from matderiv.symbolic.catalog import derive_all

    kept = [(i, v) for i, v in zip(identities, verdicts) if v.status in ("verified", "refuted")]
    if derivations is None:
        derivations = derive_all([i for i, _ in kept])
    else:
        derivations = [d for d, v in zip(derivations, verdicts)
                       if v.status in ("verified", "refuted")]
    records = [record(prepare(ident), verdict, release, references, derivation)
               for (ident, verdict), derivation in zip(kept, derivations)]
    order = {slug: i for i, slug in enumerate(CATEGORIES)}
    records.sort(key=lambda r: order[r["category"]])  # stable: file order within
    doc = {
        "name": "matderiv", "version": release["version"], "date": release["date"],
        "site_url": release["site_url"],
        "categories": [category_info(slug) for slug in CATEGORIES],
        "references": references, "identities": records,
        "aliases": document_aliases([r["id"] for r in records]),
        "gaps": gaps or [],
    }
    for r in records:
        r["bibtex"] = identity_entry(r, doc)
    return doc


def category_info(slug: str) -> dict:
    of_kind, wrt_kind = slug.split("-by-")
    dims = {"scalar": (ONE, ONE), "vector": (sympy.Symbol("m"), ONE),
            "matrix": (sympy.Symbol("m"), sympy.Symbol("n"))}
    # a vector variable by a matrix is p long, so the axes of matrix by vector are three
    x_dims = {"scalar": (ONE, ONE), "vector": (sympy.Symbol("p" if of_kind == "matrix"
                                                          else "n"), ONE),
              "matrix": (sympy.Symbol("p"), sympy.Symbol("q"))}
    y, x = dims[of_kind], x_dims[wrt_kind]
    num = layout_shape(y, x, "numerator")
    tensor = slug in TENSOR_CATEGORIES
    axes = [s for s in y if s != ONE] + [s for s in x if s != ONE][::-1]
    return {
        "slug": slug, "title": slug.replace("-", " ").capitalize(),
        "of_kind": of_kind, "wrt_kind": wrt_kind, "tensor": tensor,
        "numerator_shape": show(num) if num else " × ".join(map(str, axes)),
        "denominator_shape": show(num[::-1]) if num else " × ".join(map(str, axes[::-1])),
        "vec_shape": show(layout_shape(y, x, "vec")),
    }


def record(prep: Prepared, verdict, release: dict, references: dict,
           derivation: dict | None = None) -> dict:
    from matderiv.symbolic.catalog import agreement, derive_one

    ident = prep.identity
    if derivation is None:
        derivation = derive_one((ident.id, ident.title, dict(ident.symbols), ident.of,
                                 ident.wrt))
    env = ShapeEnv(prep.decls, ident.wrt)
    printer = Printer(prep.decls, lambda node: infer(node, env))
    of_tex, wrt_tex = printer(prep.of), printer(E.Sym(ident.wrt))
    forms = {name: None for name in FORM_ORDER}
    for name, form in prep.forms.items():
        text = ident.derivative.get(name, ident.differential if name == "differential"
                                    else None) if form.given else form.text
        form_env = ShapeEnv(prep.decls, ident.wrt, name)
        form_printer = Printer(prep.decls, lambda node, e=form_env: infer(node, e))
        # the label is the shape of the formula as written (a refuted claim may have
        # another than its layout's); the literal 0 stands for the layout's zero array
        shown = form.shape if form.expected is not None and not form.zero else form.expected
        refuted = verdict.status == "refuted" and form.given and _failed(verdict, name)
        forms[name] = {"text": text, "latex": form_printer(form.tree), "given": form.given,
                       "lhs": _claimed(lhs(of_tex, wrt_tex, name), name, refuted),
                       "shape": show(shown) if shown else "", "refuted": refuted}
    for name, text in _unshaped_claims(prep, forms, verdict):
        tree = E.parse(text, context(prep, f"derivative.{name}", diffs=True))
        forms[name] = {"text": text, "latex": Printer(prep.decls)(tree), "given": True,
                       "lhs": _claimed(lhs(of_tex, wrt_tex, name), name, True),
                       "shape": "", "refuted": True}
    return {
        "id": ident.id, "title": ident.title, "category": prep.category,
        "file": project_path(ident.file), "line": ident.line, "status": verdict.status,
        "erratum": ident.status == "erratum", "corrected_by": ident.corrected_by,
        "symbols": [symbol_info(prep, name) for name in ident.symbols],
        "of": {"text": ident.of, "latex": of_tex},
        "wrt": {"name": ident.wrt, "latex": wrt_tex},
        "forms": forms, "tensor": prep.tensor,
        "tags": ident.tags, "essential": "essential" in ident.tags,
        "sources": [source_info(s, references) for s in ident.sources],
        "notes": ident.notes, "see_also": ident.see_also,
        "permalink": permalink(release.get("site_url"), ident.id),
        "verification": verification_info(verdict, release),
        "snippet": snippet(prep),
        "derivation": {**derivation, "agrees": agreement(derivation, verdict)},
    }


def _failed(verdict, name: str) -> bool:
    """The verifier found this given form false (its failures name the form's key)."""
    key = name if name in ("differential", "hessian") else (
        "derivative." + ("vec" if name == "vec_denominator" else name))
    return any(failure[2] == key for failure in verdict.failures)


def _claimed(lhs_tex: str, layout: str, refuted: bool) -> str:
    """A refuted claim's left-hand side names its layout: `∂f/∂X ≠ 2X` is false in the
    denominator layout and true in the numerator one, so the layout is part of the claim."""
    if not refuted or layout not in ("numerator", "denominator"):
        return lhs_tex
    return rf"\left[{lhs_tex}\right]_{{\text{{{layout} layout}}}}"


def _unshaped_claims(prep: Prepared, forms: dict, verdict):
    """An erratum's published layout forms refuted because their shapes do not fit: they
    have no shaped tree, but the claim is still shown (parsed, printed without shapes)."""
    if verdict.status != "refuted" or prep.identity.status != "erratum":
        return
    for name in ("numerator", "denominator", "vec"):
        text = prep.identity.derivative.get(name)
        if text is not None and forms.get(name) is None and _failed(verdict, name):
            yield name, text


def project_path(file: str) -> str:
    """A catalog file relative to the project (POSIX), so outputs do not depend on where
    the checkout lives; other files as given."""
    try:
        return Path(file).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return file


def symbol_info(prep: Prepared, name: str) -> dict:
    from matderiv.lang.latex import symbol

    decl = prep.decls[name]
    return {"name": name, "latex": symbol(name, decl.kind), "declaration": decl.text,
            "words": words(decl), "kind": decl.kind, "depends_on": decl.depends_on,
            "function": decl.kind == "function"}


def words(decl) -> str:
    if decl.kind == "function":
        return f"{decl.name} is an unknown smooth function of one real variable, " \
               "applied elementwise"
    shape = "" if decl.kind == "scalar" else " (" + show(decl.shape) + ")"
    text = f"{decl.name} is {KIND_WORDS[decl.kind]}{shape}"
    if decl.props:
        text += ", " + ", ".join(PROPERTIES[p].split(" (")[0] for p in sorted(decl.props))
    if decl.depends_on:
        text += f", a smooth function of {decl.depends_on}"
    return text


def source_info(source: dict, references: dict) -> dict:
    ref = str(source["ref"])
    title = references.get(ref, {}).get("title", ref)
    label = {"cookbook": "Matrix Cookbook", "wikipedia": "Wikipedia"}.get(ref, title)
    parts = []
    if "table" in source:
        parts.append(f"{source['table']} table")
    for key, word in (("row", "row"), ("eq", "eq."), ("page", "p."), ("section", "§")):
        if key in source:
            parts.append(f"{word} {source[key]}")
    return {**source, "label": label + (", " + ", ".join(parts) if parts else "")}


def verification_info(verdict, release: dict) -> dict:
    exact_sizes, numeric_sizes = checked_sizes(verdict)
    return {
        "status": verdict.status,
        "guarantee": verdict.guarantee if verdict.status == "verified" else None,
        "degree": verdict.degree, "bound": verdict.bound, "capped": verdict.capped,
        "messages": [message for _, message, _ in verdict.failures],
        "sizes": exact_sizes, "numeric_sizes": numeric_sizes,
        "points": verdict.points, "max_error": verdict.max_error,
        "exact": verdict.exact,
        "forms_checked": [name for name in FORM_ORDER if name in verdict.forms],
        "sympy": verdict.sympy or {"agrees": None, "note": "not consulted"},
        "tool_version": __version__, "sympy_version": sympy.__version__,
        "date": release["date"],
    }


def checked_sizes(verdict) -> tuple[list[dict], list[dict]]:
    """The size assignments of the exact check and of the numeric check, each in the
    order run, read from the verdict's evidence (all of them as exact when it has none)."""
    if not verdict.evidence:
        return list(verdict.sizes), []
    found: dict[str, list[dict]] = {"exact": [], "numeric": []}
    for step in verdict.evidence:
        sizes = found.setdefault(step["check"], [])
        if step["sizes"] not in sizes:
            sizes.append(step["sizes"])
    return found["exact"], found["numeric"]
