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
from matderiv.check.sizerule import integer_values
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang.forms import Prepared, context, prepare
from matderiv.lang.latex import PlainPrinter, Printer, lhs
from matderiv.lang.shapes import ONE, ShapeEnv, infer, layout_shape, show
from matderiv.publish.cite import identity_entry, permalink
from matderiv.publish.document import Document
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
    return Document(doc)


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
    axes_list = [s for s in y if s != ONE] + [s for s in x if s != ONE][::-1]
    return {
        "slug": slug, "title": slug.replace("-", " ").capitalize(),
        "of_kind": of_kind, "wrt_kind": wrt_kind, "tensor": tensor,
        "numerator_shape": show(num) if num else " × ".join(map(str, axes_list)),
        "denominator_shape": show(num[::-1]) if num else " × ".join(map(str, axes_list[::-1])),
        "vec_shape": show(layout_shape(y, x, "vec")),
        "numerator_axes": axes(num) if num else [str(s) for s in axes_list],
        "denominator_axes": axes(num[::-1]) if num else [str(s) for s in axes_list[::-1]],
        "vec_axes": axes(layout_shape(y, x, "vec")),
    }


def axes(shape) -> list[str]:
    """A shape as data: one size expression an axis, as the format writes it."""
    return [str(s) for s in shape]


def record(prep: Prepared, verdict, release: dict, references: dict,
           derivation: dict | None = None) -> dict:
    from matderiv.symbolic.catalog import agreement, derive_one, request

    ident = prep.identity
    if derivation is None:
        derivation = derive_one(request(ident))
    env = ShapeEnv(prep.decls, ident.wrt)
    printer = Printer(prep.decls, lambda node: infer(node, env))
    (of_tex, of_prec), wrt_tex = printer.tex(prep.of), printer(E.Sym(ident.wrt))
    forms = {name: None for name in FORM_ORDER}
    for name, form in prep.forms.items():
        text = ident.derivative.get(name, {"differential": ident.differential, "hessian":
                                           ident.hessian}.get(name)) if form.given else form.text
        form_env = ShapeEnv(prep.decls, ident.wrt, name)
        form_printer = Printer(prep.decls, lambda node, e=form_env: infer(node, e))
        # the label is the shape of the formula as written (a refuted claim may have
        # another than its layout's); the literal 0 stands for the layout's zero array
        shown = form.shape if form.expected is not None and not form.zero else form.expected
        refuted = verdict.status == "refuted" and form.given and _failed(verdict, name)
        forms[name] = {"text": text, "latex": form_printer(form.tree), "given": form.given,
                       "lhs": _claimed(lhs(of_tex, wrt_tex, name, prep.wrt.kind == "matrix",
                                           of_prec), name, refuted),
                       "shape": show(shown) if shown else "",
                       "axes": axes(shown) if shown else [], "refuted": refuted}
    for name, text in _unshaped_claims(prep, forms, verdict):
        tree = E.parse(text, context(prep, f"derivative.{name}", diffs=True))
        forms[name] = {"text": text, "latex": Printer(prep.decls)(tree), "given": True,
                       "lhs": _claimed(lhs(of_tex, wrt_tex, name, of_prec=of_prec), name, True),
                       "shape": "", "axes": [], "refuted": True}
    return {
        "id": ident.id, "title": ident.title, "title_parts": title_parts(ident.title, prep),
        "category": prep.category,
        "file": project_path(ident.file), "line": ident.line, "status": verdict.status,
        "erratum": ident.status == "erratum", "corrected_by": ident.corrected_by,
        "symbols": [symbol_info(prep, name) for name in ident.symbols],
        "of": {"text": ident.of, "latex": of_tex},
        "wrt": {"name": ident.wrt, "latex": wrt_tex},
        "forms": forms, "tensor": prep.tensor,
        **({"conditions": [c.text for c in prep.conditions]} if prep.conditions else {}),
        "tags": ident.tags, "essential": "essential" in ident.tags,
        "sources": [source_info(s, references) for s in ident.sources],
        "notes": ident.notes, "see_also": ident.see_also,
        "permalink": permalink(release.get("site_url"), ident.id),
        "verification": verification_info(verdict, release),
        "snippet": snippet(prep, verdict),
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


# ---------------------------------------------------------------- formulas in titles

_TITLE_WORD = re.compile(r"\S+")
_MATHY = re.compile(r"[ᵀ⁻¹²³⁴^()|+−*/=]")
_HYPHENATED = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)+")
# inverse transpose first, read as the inverse of the transpose: (Xᵀ)⁻¹
_SUPER = {"⁻ᵀ": "'T'I", "^-T": "'T'I", "^{-T}": "'T'I", "ᵀ": "'T", "⁻¹": "'I", "²": "^2",
          "³": "^3", "⁴": "^4", "^T": "'T", "^{-1}": "'I", "^-1": "'I", "−": "-", "_F": ""}
_BINARY = ("+", "-", "*", "/")
# capitalised words a title may start with, which declared letters could spell
_ENGLISH = {"an", "as", "at", "by", "if", "in", "is", "it", "of", "on", "or", "so", "to",
            "up", "we", "and", "are", "for", "its", "the", "two", "via", "with"}
_TOKEN = re.compile(r"\|\||'T|'I|\^-?\d|\^[a-z](?![A-Za-z])|[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?"
                    r"|[-+*/()]|\s+")


def title_parts(title: str, prep: Prepared) -> list[dict]:
    """A title as text and math: each run of words that reads as a formula in the
    identity's own symbols (`x^T A x`, `tr(UᵀAU)`, `||XW - Y||_F^2`) is rewritten in
    catalog syntax, parsed by the safe parser and printed by the LaTeX printer; anything
    that does not parse stays text (escaped by each renderer). Never raw text in TeX.

    A math part is `{"math": TeX, "text": plain}`: its `text` is the same parse tree
    printed as Unicode by lang.latex.PlainPrinter (`xᵀAx`, `‖XW − Y‖_F²`), for the places
    that cannot hold math (a browser tab, a table of contents). A reader that knows only
    `text` reads every part as text and still gets a readable title; one that knows math
    takes `math` first."""
    words = [(m.start(), m.end()) for m in _TITLE_WORD.finditer(title)]
    mathy, following = [False] * len(words), False
    for k in range(len(words) - 1, -1, -1):  # `log det X`: a function word joins a formula
        raw = title[slice(*words[k])]
        word = raw.rstrip(",;:.")
        mathy[k] = _is_mathy(word, prep) or (_function_word(word, prep) and raw == word
                                             and following)
        following = mathy[k] and word[:1] != "("  # `the norm (xᵀx)²` is a noun
    spans, current = [], None
    for k, (start, end) in enumerate(words):
        word = title[start:end].rstrip(",;:.")
        if mathy[k]:
            current = (current[0] if current else start, start + len(word))
            if title[start:end] != word:  # punctuation ends the formula
                spans.append(current)
                current = None
        elif current:
            spans.append(current)
            current = None
    if current:
        spans.append(current)
    parts, at = [], 0
    for start, end in spans:
        formula, stop = None, end
        # the longest run of whole words that parses (`X Xᵀ X` of `X Xᵀ X (Newton-Schulz
        # step)`), when what is left after it cannot have been part of the formula
        for stop in sorted({e for _, e in words if start < e < end} | {end}, reverse=True):
            if stop == end or _clean_cut(title[stop:end], prep):
                formula = _title_formula(title[start:stop], prep)
                if formula is not None:
                    break
        if formula is None:
            continue
        if start > at:
            parts.append({"text": title[at:start]})
        parts.append({"math": formula[0], "text": formula[1]})
        at = stop
    if at < len(title):
        parts.append({"text": title[at:]})
    return parts


def _clean_cut(rest: str, prep: Prepared) -> bool:
    """What follows a formula cut short is words, not the rest of the formula: a word that
    is neither a symbol nor a function (`by the weights`, `for an integer k`), or a
    parenthesised phrase (`(bias broadcast)`, `(the adjugate)`, `(Newton-Schulz step)`)."""
    from matderiv.catalog.schema import FUNCTIONS

    rest = rest.lstrip()
    if rest.startswith("("):
        m = re.match(r"\((?:(?:a|an|the) )?([A-Za-z][A-Za-z-]+)", rest)
        return bool(m) and (m.group(1).islower() or "-" in m.group(1)) and not all(
            c in prep.decls for c in m.group(1))
    m = re.match(r"[A-Za-z][A-Za-z-]*", rest)
    if not m or m.group() in FUNCTIONS or m.group() in prep.decls:
        return False
    word = m.group()
    return word.lower() in _ENGLISH or (word.islower() and len(word) >= 4) or not all(
        c in prep.decls for c in word)


def _function_word(word: str, prep: Prepared) -> bool:
    """`log` or `det` before a formula (`log det(A + tB)`): the formula starts there."""
    from matderiv.catalog.schema import FUNCTIONS

    return word in FUNCTIONS and word not in prep.decls


def _is_mathy(word: str, prep: Prepared) -> bool:
    if not word or _HYPHENATED.fullmatch(word):
        return False
    if word in prep.decls and word != "a" and len(word) <= 2:
        return True
    if re.fullmatch(r"\d*[A-Z]{1,3}", word) and all(c in prep.decls for c in word
                                                       if c.isalpha()):
        return True  # 2AX
    if (re.fullmatch(r"[A-Za-z]{2,3}", word) and re.search("[A-Z]", word)
            and word.lower() not in _ENGLISH and all(c in prep.decls for c in word)):
        return True  # Ax, Xb, tA: declared letters side by side
    return bool(_MATHY.search(word)) or bool(re.fullmatch(r"[-+−=/]", word))


def _title_formula(text: str, prep: Prepared) -> tuple[str, str] | None:
    """(TeX, plain Unicode) of a run of title words that parses as a formula, or None."""
    source = text
    for old, new in _SUPER.items():
        source = source.replace(old, new)
    tokens = [t for t in _TOKEN.findall(source)]
    if "".join(tokens) != source:
        return None
    tokens = [t for t in tokens if not t.isspace()]
    if tokens[0] in _BINARY or tokens[-1] in _BINARY:
        return None  # `P - Y` with P undeclared: the formula would lose its left operand
    code = _title_code(tokens, prep)
    if code is None:
        return None
    try:
        tree = E.parse(code, context(prep, "title"))
        env = ShapeEnv(prep.decls, prep.identity.wrt)
        infer(tree, env)
        return (Printer(prep.decls, lambda node: infer(node, env))(tree),
                PlainPrinter(prep.decls, lambda node: infer(node, env))(tree))
    except CatalogError:  # a title that is not a formula stays text
        return None


def _title_code(tokens: list[str], prep: Prepared) -> str | None:
    """Title tokens -> catalog syntax: juxtaposition is a product, `log det(A)` is
    log(det(A)), `||v||` is norm(v), `AU` is A*U when both are declared."""
    from matderiv.catalog.schema import FUNCTIONS

    out, closers, norm_open = [], [], False
    previous_operand = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "||":
            if norm_open:
                out.append(")")
                norm_open, previous_operand = False, True
            else:
                out.append("*" if previous_operand else "")
                out.append("norm(")
                norm_open, previous_operand = True, False
        elif tok in ("'T", "'I", "^2", "^3", "^4") or tok.startswith("^"):
            if not previous_operand:
                return None
            out.append({"'T": ".T", "'I": "**-1"}.get(tok, "**" + tok[1:]))
        elif tok[0].isalpha():
            if tok in FUNCTIONS and tok not in prep.decls:
                if previous_operand:
                    out.append("*")
                if nxt == "(":
                    out.append(tok)
                elif nxt and nxt[0].isalpha() and nxt in FUNCTIONS:
                    out.append(tok + "(")
                    closers.append(1)  # closed after the next call's parentheses
                elif nxt in prep.decls and prep.decls[nxt].kind != "function":
                    # `det X`, `log det X`: the function of one symbol and its marks
                    j = i + 2
                    while j < len(tokens) and (tokens[j] in ("'T", "'I")
                                               or tokens[j].startswith("^")):
                        j += 1
                    inner = _title_code(tokens[i + 1:j], prep)
                    if inner is None:
                        return None
                    out.append(f"{tok}({inner})")
                    i, previous_operand = j, True
                    while closers and closers[-1] == 1:
                        out.append(")")
                        closers.pop()
                    continue
                else:
                    return None
                previous_operand = False
            elif nxt == "(" and tokens[i + 2:i + 4] == [
                    getattr(prep.decls.get(tok), "depends_on", None), ")"]:
                # `U(x)` for U declared `of x`: the symbol itself, not U times x
                out.append(("*" if previous_operand else "") + tok)
                i, previous_operand = i + 4, True
                continue
            else:
                names = [tok] if tok in prep.decls else list(tok)
                if not all(n in prep.decls and prep.decls[n].kind != "function" for n in names):
                    return None
                for name in names:
                    out.append(("*" if previous_operand else "") + name)
                    previous_operand = True
        elif tok[0].isdigit():
            out.append(("*" if previous_operand else "") + tok)
            previous_operand = True
        elif tok == "(":
            out.append(("*" if previous_operand else "") + "(")
            previous_operand = False
            if closers:
                closers[-1] += 1
        elif tok == ")":
            out.append(")")
            previous_operand = True
            if closers:
                closers[-1] -= 1
                if closers[-1] == 1:
                    out.append(")")
                    closers.pop()
        else:  # + - * /
            out.append(tok)
            previous_operand = False
        i += 1
    if norm_open or closers:
        return None
    return "".join(out)


def project_path(file: str) -> str:
    """A catalog file relative to the project (POSIX), so outputs do not depend on where
    the checkout lives; other files as given."""
    try:
        return Path(file).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return file


def symbol_info(prep: Prepared, name: str) -> dict:
    from matderiv.lang.latex import symbol

    if name in prep.integers:  # format 1.2: `k: integer`
        return {"name": name, "latex": name, "declaration": "integer",
                "words": f"{name} is an integer (checked at {name} = "
                + ", ".join(str(v) for v in integer_values(prep)[name]) + ")",
                "kind": "integer", "depends_on": None, "function": False}
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
        "forms_checked": [name for name in FORM_ORDER + ("hessian", "symmetric_tied")
                          if name in verdict.forms],
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
