"""Audit of every published form of the errata (issue 14, D1-D7): what the site and the
PDFs say about a refuted published formula must be true, in every layout.

The records are the real ones: the catalog's errata, their corrections and a few
identities with zero forms, verified and exported as the build does."""

from __future__ import annotations

import pytest
from matderiv.render import pdf, site

PICK = {"mm-constant", "dt-constant-matrix"}
# given in the denominator layout, false there, true in the numerator layout
TRUE_IN_NUMERATOR = ("erratum-trace-x-squared-2x", "erratum-log-det-gradient-no-transpose",
                     "erratum-trace-ax-gradient-a")


@pytest.fixture(scope="module")
def doc(cache_root):
    from matderiv.catalog.load import load_all
    from matderiv.check.verify import verify_all
    from matderiv.pipeline.build import document
    from matderiv.resources import CATALOG

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATDERIV_CACHE", str(cache_root))
        identities, _ = load_all([CATALOG])
        errata = [i for i in identities if i.status == "erratum"]
        wanted = {i.corrected_by for i in errata} | PICK
        chosen = [i for i in identities if i.status == "erratum" or i.id in wanted]
        verdicts = verify_all(chosen, 2, True)
    made = document(chosen, verdicts)
    made_index.update({i.id: {"id": i.id, "title": i.title} for i in identities})
    made_index.update({r["id"]: r for r in made["identities"]})
    return made


made_index: dict = {}  # every identity of the catalog, for the links of a card


def _record(doc, rid):
    return next(r for r in doc["identities"] if r["id"] == rid)


def _card_math(doc, rid) -> list[str]:
    """Every formula of the identity's site card, as TeX."""
    math = site.MathTable()
    site.card_view(_record(doc, rid), made_index, math, {}, doc)
    return [item["tex"] for item in math.items]


def _card_lines(doc, rid) -> dict:
    view = site._verification_view(_record(doc, rid))
    return {str(k).replace("&#39;", "'"): str(v) for k, v in view["lines"]}


def _erratum_formulas(doc, layout, rid) -> list[str]:
    entry = next(e for e in pdf._entries(doc, layout, False) if e["id"] == rid)
    return ["".join(chunks) for chunks in entry["formulas"]]


@pytest.mark.parametrize("rid", TRUE_IN_NUMERATOR)
def test_d1_a_refuted_claim_names_its_layout_in_both_sheets(doc, rid):
    """`∂f/∂X ≠ claim` printed in the numerator sheet would be false there: the claim
    was made in the denominator layout, and the formula says so."""
    for layout in pdf.LAYOUTS:
        formulas = _erratum_formulas(doc, layout, rid)
        assert formulas, (layout, rid)
        assert r"\neq" in formulas[0]
        assert r"\text{denominator layout}" in formulas[0], (layout, formulas[0])


def test_d2_shape_labels_are_the_shapes_of_the_formulas(doc):
    claim = _record(doc, "erratum-trace-ax-gradient-a")["forms"]["denominator"]
    assert claim["shape"] == "n × m", claim  # A is n × m; the layout wants m × n
    for rid, key in (("mm-constant", "differential"), ("dt-constant-matrix", "differential")):
        form = _record(doc, rid)["forms"][key]  # the literal 0: the layout's zero array
        assert form["shape"] not in ("", "1 × 1"), (rid, form)
    assert _record(doc, "mm-constant")["forms"]["differential"]["shape"] == "p × q"


def test_d3_a_refuted_card_shows_no_error_of_zero(doc):
    for record in doc["identities"]:
        if record["erratum"]:
            numeric = _card_lines(doc, record["id"])["Numeric check"]
            assert "0&#46;0e" not in numeric and "0.0e" not in numeric, (record["id"], numeric)


def test_d4_sympy_never_seems_to_agree_with_a_refuted_claim(doc):
    said = _card_lines(doc, "erratum-trace-x-squared-2x")["SymPy's own derivative"]
    assert "published" in said and "agrees with matderiv" in said, said
    for record in doc["identities"]:
        if record["erratum"]:
            said = _card_lines(doc, record["id"])["SymPy's own derivative"]
            assert said != "SymPy's closed form agrees", record["id"]


def test_d5_a_claim_refuted_by_its_shapes_is_still_shown(doc):
    rid = "erratum-wikipedia-vs9-uv-denominator"
    form = _record(doc, rid)["forms"]["denominator"]
    assert form and form["latex"] and form["given"] and form["refuted"]
    assert any(r"\neq" in f for f in _erratum_formulas(doc, "numerator", rid))
    assert any(r"\neq" in tex and form["latex"] in tex for tex in _card_math(doc, rid))


def test_d6_matrix_by_vector_has_three_sizes():
    from matderiv.publish.export import category_info

    info = category_info("matrix-by-vector")
    for key in ("numerator_shape", "denominator_shape"):
        assert len(set(info[key].split(" × "))) == 3, info
    assert info["numerator_shape"] == "m × n × p"
    assert len(set(category_info("matrix-by-matrix")["numerator_shape"].split(" × "))) == 4


def test_d7_the_site_says_neq_where_the_pdf_does(doc):
    for record in doc["identities"]:
        if not record["erratum"]:
            continue
        refuted = [f for f in record["forms"].values() if f and f.get("refuted")]
        assert refuted, record["id"]
        texs = _card_math(doc, record["id"])
        for form in refuted:
            assert any(r"\neq" in t and form["latex"] in t for t in texs), record["id"]
            assert not any(f"= {form['latex']}" in t for t in texs), record["id"]


def test_every_function_of_the_format_is_on_the_notation_page():
    """The conventions page's notation table names every function of the format, and the
    PDF sheets define the elementwise mark, sigma, softmax and diag."""
    from matderiv.catalog.schema import FUNCTIONS
    from matderiv.resources import ROOT

    page = (ROOT / "site" / "conventions.md").read_text(encoding="utf-8")
    table = [line for line in page.splitlines() if line.startswith("| `")]
    missing = [f for f in FUNCTIONS if f != "diff"
               and not any(f"`{f}(" in row or f"`{f}`" in row for row in table)]
    assert not missing, missing
    assert r"\exp_{\circ}" in page and r"\sigma_{\circ}" in page
    sheet = (ROOT / "templates" / "latex" / "sheet.tex.j2").read_text(encoding="utf-8")
    for defined in (r"f_{\circ}", r"\sigma(x)", r"\operatorname{softmax}",
                    r"\operatorname{diag}", r"\otimes", r"\operatorname{vec}"):
        assert defined in sheet, defined


def test_d7_errata_anchors_are_not_doubled(doc):
    errata = [site._erratum_view(r, made_index) for r in doc["identities"] if r["erratum"]]
    page = site._env().get_template("errata.md.j2").render(errata=errata, doc=doc)
    assert "erratum-erratum-" not in page
    assert "{ #erratum-trace-x-squared-2x data-toc-label=" in page


def test_titles_show_their_formulas_as_math(doc):
    """`x^T A x` in a title is typeset (parsed by the safe parser in the identity's own
    symbols, printed by the LaTeX printer), in the document and in the PDF headings."""
    record = _record(doc, "erratum-quadratic-form-2ax")
    maths = [p["math"] for p in record["title_parts"] if "math" in p]
    assert r"\mathbf{x}^{\top} \mathbf{A} \mathbf{x}" in maths, record["title_parts"]
    title = next(e["title"] for e in pdf._entries(doc, "numerator", False)
                 if e["id"] == record["id"])
    assert r"$\mathbf{x}^{\top} \mathbf{A} \mathbf{x}$" in title and "x^T" not in title


def test_a_title_never_injects_tex():
    from matderiv.catalog.load import Identity
    from matderiv.lang.forms import prepare
    from matderiv.publish.export import title_parts

    hostile = r"x^T A x and \input{/etc/passwd} $\def$ (x)**2 }{"
    ident = Identity(id="t", title=hostile, symbols={"x": "vector n", "A": "matrix n n"},
                     of="x.T*A*x", wrt="x", derivative={"numerator": "x.T*(A + A.T)"},
                     differential=None, tags=[], sources=[], notes=None, see_also=[],
                     status=None, corrected_by=None, file="t.yaml", line=1)
    parts = title_parts(hostile, prepare(ident))
    assert "".join(p.get("text", "") for p in parts).count("input") == 1
    tex = pdf._title({"title": hostile, "title_parts": parts})
    assert r"\input" not in tex and r"\def" not in tex
    assert r"$\mathbf{x}^{\top} \mathbf{A} \mathbf{x}$" in tex


def _title_parts(title: str, symbols: dict, of: str, wrt: str) -> list[dict]:
    from matderiv.catalog.load import Identity
    from matderiv.lang.forms import prepare
    from matderiv.publish.export import title_parts

    ident = Identity(id="t", title=title, symbols=symbols, of=of, wrt=wrt,
                     derivative={"numerator": "0"}, differential=None, tags=[], sources=[],
                     notes=None, see_also=[], status=None, corrected_by=None, file="t.yaml",
                     line=1)
    return title_parts(title, prepare(ident))


def _shown(parts: list[dict]) -> str:
    """A title as its parts read, formulas in brackets."""
    return "".join(f"[{p['text']}]" if "math" in p else p["text"] for p in parts)


@pytest.mark.parametrize("title,symbols,of,wrt,shown", [
    ("Quadratic form x^T A x", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
     "Quadratic form [xᵀAx]"),
    ("Least squares ||XW - Y||_F^2 by W",
     {"X": "matrix m n", "W": "matrix n k", "Y": "matrix m k"}, "norm(X*W - Y)**2", "W",
     "Least squares [‖XW − Y‖_F²] by [W]"),
    # the function word before the formula belongs to it
    ("Log-determinant along a line, log det(A + tB)",
     {"A": "matrix n n", "B": "matrix n n", "t": "scalar"}, "log(det(A + t*B))", "t",
     "Log-determinant along a line, [log det(A + tB)]"),
    ("Gradient of log det X", {"X": "matrix n n"}, "log(det(X))", "X",
     "Gradient of [log det(X)]"),
    # a formula that starts with an operator lost its left operand: it stays text
    ("written as P - Y", {"Y": "matrix m k", "Z": "matrix m k"}, "tr(Z.T*Y)", "Z",
     "written as P - Y"),
    ("an affine map Ax + b", {"A": "matrix m n", "x": "vector n", "b": "vector m"},
     "A*x + b", "x", "an affine map [Ax + b]"),
    # U(x) for U declared `of x` is U, not U times x
    ("product rule for U(x) v(x)", {"x": "scalar", "U": "matrix m n of x",
                                    "v": "vector n of x"}, "U*v", "x",
     "product rule for [Uv]"),
    # `norm` as a noun before a parenthesised formula
    ("Fourth power of the norm (xᵀx)²", {"x": "vector n"}, "(x.T*x)**2", "x",
     "Fourth power of the norm [(xᵀx)²]"),
    # a parenthesised phrase after the formula is words; the formula before it is math
    ("X X^T X (Newton-Schulz step)", {"X": "matrix n n"}, "X*X.T*X", "X",
     "[XXᵀX] (Newton-Schulz step)"),
    ("Inverse of the transpose, X^-T", {"X": "matrix n n"}, "inv(X.T)", "X",
     "Inverse of the transpose, [(Xᵀ)⁻¹]"),
    ("Trace of the k-th power, tr(X^k), for an integer k", {"X": "matrix n n", "k": "integer"},
     "tr(X**k)", "X", "Trace of the k-th power, [tr(Xᵏ)], for an integer k"),
    # ... but not when what follows continues the formula (a function, a symbol)
    ("Output V^T softmax(K q/√d) by K", {"V": "matrix p m", "K": "matrix p n",
                                          "q": "vector n"}, "V.T*softmax(K*q)", "K",
     "Output V^T softmax(K q/√d) by [K]"),
])
def test_title_parts_keep_every_word_and_read_plainly(title, symbols, of, wrt, shown):
    """Each formula of a title is math with its plain Unicode reading (`text`, from the
    parse tree); no word of the title is lost (`Ax + b` was shown as `Ax b`, `P - Y` as
    `P −Y`, `U(x) v(x)` as U·x·v·x, `log det(A + tB)` with `log` outside the math)."""
    parts = _title_parts(title, symbols, of, wrt)
    assert _shown(parts) == shown, parts
    for part in parts:
        assert "text" in part  # a reader that knows only text still reads the title


def test_math_parts_are_typeset_first_in_the_pdf():
    """A math part carries both keys: the PDF typesets its TeX, never its plain text."""
    tex = pdf._title({"title": "t", "title_parts": [
        {"text": "Gradient of "}, {"math": r"\mathbf{x}^{\top}", "text": "xᵀ"}]})
    assert tex == r"Gradient of $\mathbf{x}^{\top}$"


LOG_DET_LHS = r"\frac{\partial \log \det\left(\mathbf{X}\right)}{\partial \mathbf{X}}"


def test_the_left_hand_side_drops_needless_parentheses_everywhere(doc):
    """∂ log det X/∂X in the document, the site card and the PDF (it was ∂(log det X)/∂X);
    ∂(xᵀAx)/∂x keeps its parentheses (a product after ∂)."""
    record = _record(doc, "log-det-gradient-corrected")
    assert record["forms"]["denominator"]["lhs"] == LOG_DET_LHS
    assert any(t.startswith(LOG_DET_LHS) for t in _card_math(doc, record["id"]))
    entry = next(e for e in pdf._entries(doc, "denominator", False) if e["id"] == record["id"])
    assert "".join(entry["formulas"][0]).startswith(r"\mdchunk{" + LOG_DET_LHS)
    product = _record(doc, "quadratic-form-nonsymmetric-corrected")
    assert product["forms"]["denominator"]["lhs"].startswith(r"\frac{\partial \left(")
    for rec in doc["identities"]:
        for form in rec["forms"].values():
            if form and form.get("lhs"):
                assert r"\partial \left(\log" not in form["lhs"], rec["id"]
