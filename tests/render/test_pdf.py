"""The printable cheat sheets: compile, content, hostile text, overflow, reproducibility.

The compile tests need TeX Live (`make deps-apt`); without latexmk they are skipped with
that reason. The escaping and math-checking tests always run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import matderiv.render.pdf as pdf_module
import pytest
from matderiv.render.pdf import build_pdfs, overfull_boxes, page_count, sheet_name, split_terms
from matderiv.render.texescape import TeX, UnsafeMath, check_math, escape, url

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "catalog-sample-pdf.json"
CATALOG = Path(__file__).resolve().parents[2] / "catalog"
HOSTILE = ["\\input{/etc/passwd}", "50% & $x$ #_^~{}"]
MAX_OVERFULL_PT = 5.0
NEEDS_TEX = pytest.mark.skipif(
    not (shutil.which("latexmk") and shutil.which("pdftotext") and shutil.which("pdfinfo")),
    reason="latexmk/poppler-utils missing: run `make deps-apt` (texlive-latex-base "
           "texlive-latex-recommended latexmk poppler-utils)")


def _doc() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _printable(doc: dict) -> list[str]:
    return [r["id"] for r in doc["identities"]
            if r["status"] == "verified" and not r["erratum"]]


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build of the four sheets from the fixture, with its compile times."""
    out = tmp_path_factory.mktemp("pdf")
    timings: dict[str, float] = {}
    pdfs = build_pdfs(_doc(), out, timings)
    return {p.stem: p for p in pdfs}, timings


# ---------------------------------------------------------------- compiled sheets

@NEEDS_TEX
def test_four_sheets_compile(built):
    pdfs, _ = built
    expected = {sheet_name(layout, ess) for layout in ("numerator", "denominator")
                for ess in (False, True)}
    assert set(pdfs) == expected
    for pdf in pdfs.values():
        assert pdf.read_bytes().startswith(b"%PDF")


@NEEDS_TEX
@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_full_edition_has_every_printable_id(built, layout):
    doc = _doc()
    text = _text(built[0][sheet_name(layout, False)])
    for ident in _printable(doc):
        assert ident in text, ident
    assert "Refuted published formulas" in text
    assert "trace-xtax-symmetric-claim" in text


def test_a_failed_record_never_reaches_the_sheets(tmp_path):
    """The document's constructor refuses a record that did not verify, so no sheet can
    print one (the schema allows verified and refuted only)."""
    from matderiv.publish.document import DocumentError

    doc = _doc()
    doc["identities"][0] = {**doc["identities"][0], "status": "failed"}
    with pytest.raises(DocumentError, match="identities.0..status"):
        build_pdfs(doc, tmp_path)


@NEEDS_TEX
@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_ids_link_to_permalinks(built, layout):
    pdf = built[0][sheet_name(layout, False)]
    urls = subprocess.run(["pdfinfo", "-url", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    for record in _doc()["identities"]:
        if record["id"] in _printable(_doc()):
            assert record["permalink"] in urls, record["id"]


@NEEDS_TEX
@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_essentials_sheet(built, layout):
    doc = _doc()
    pdf = built[0][sheet_name(layout, True)]
    text = _text(pdf)
    essential = [r["id"] for r in doc["identities"] if r["essential"] and r["id"]
                 in _printable(doc)]
    assert essential
    for ident in essential:
        assert ident in text, ident
    for ident in set(_printable(doc)) - set(essential):
        assert ident not in text, ident
    assert "Refuted published formulas" not in text
    assert _pages(pdf) <= 2


@NEEDS_TEX
def test_layout_specific_forms(built):
    """Tensor records print vec in the numerator edition, vec_denominator in the other."""
    pdfs, _ = built
    num = pdfs[sheet_name("numerator", False)].with_suffix(".tex").read_text()
    den = pdfs[sheet_name("denominator", False)].with_suffix(".tex").read_text()
    assert r"\mathbf{a}^{\top}\otimes \mathbf{I}_{m}" in num
    assert r"\mathbf{a}^{\top}\otimes \mathbf{I}_{m}" not in den
    assert r"\mathbf{a}\otimes \mathbf{I}_{m}" in den
    assert "Conventions: numerator layout" in _text(pdfs[sheet_name("numerator", False)])


@NEEDS_TEX
def test_no_formula_runs_off_the_column(built):
    for pdf in built[0].values():
        widths = overfull_boxes(pdf.with_suffix(".log"))
        assert all(w <= MAX_OVERFULL_PT for w in widths), (pdf.name, widths)


@NEEDS_TEX
def test_only_type1_fonts(built):
    """A bitmap (Type 3) font means a missing glyph was generated by mktexpk: blurry print."""
    for pdf in built[0].values():
        fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                               text=True).stdout
        assert "Type 3" not in fonts, (pdf.name, fonts)


@NEEDS_TEX
def test_hostile_text_prints_literally_and_reads_nothing(built):
    pdfs, _ = built
    for layout in ("numerator", "denominator"):
        pdf = pdfs[sheet_name(layout, False)]
        text = _text(pdf)
        for hostile in HOSTILE:
            assert hostile in text, (layout, hostile)
        assert "<script>alert(1)</script>" in text
        assert "root:" not in text
        for line in pdf.with_suffix(".fls").read_text().splitlines():
            path = line.partition(" ")[2]
            assert "passwd" not in path
            assert not path.startswith("/etc/") or path.startswith("/etc/texmf/"), line


@NEEDS_TEX
def test_two_builds_are_byte_identical(built, tmp_path):
    again = {p.stem: p for p in build_pdfs(_doc(), tmp_path / "again")}
    for name, pdf in built[0].items():
        assert pdf.read_bytes() == again[name].read_bytes(), name


@NEEDS_TEX
def test_report_page_counts_and_times(built):
    pdfs, timings = built
    for name, pdf in sorted(pdfs.items()):
        pages = page_count(pdf.with_suffix(".log"))
        assert pages == _pages(pdf)
        print(f"{name}.pdf: {pages} page(s), compiled in {timings[name]:.2f} s")


@NEEDS_TEX
def test_unsafe_math_is_refused_before_tex_runs(tmp_path):
    doc = _doc()
    doc["identities"][1]["forms"]["numerator"]["latex"] = r"\input{/etc/passwd}"
    with pytest.raises(UnsafeMath):
        build_pdfs(doc, tmp_path)
    assert not list(tmp_path.glob("*.pdf"))


# ---------------------------------------------------------------- escaping and checking

@pytest.mark.parametrize("text", HOSTILE + ["<script>alert(1)</script>", "a--b ``c'' !`",
                                            "ünïcödé ∂ × ⊗ ∘ α ☃\t\x00"])
def test_escape_leaves_no_active_character(text):
    """Strip the constructs escape() emits; no TeX-active character may remain."""
    tex = previous = escape(text)
    allowed = (r"\\texttt\{\\char\d+\}|\\texttt\{\[U\+[0-9A-F]+\]\}|\\[#%&]|[-']\{\}"
               r"|\\[a-zA-Z]+\{\}|\\ensuremath\{[^{}]*\}|\\[`'^\"~=.uvHcr]\{[^{}]*\}")
    while (bare := re.sub(allowed, "", previous)) != previous:
        previous = bare
    assert not set(bare) & set("\\{}$%&#_^~"), (text, tex)
    assert "--" not in bare and "``" not in bare and "!`" not in bare


def _catalog_texts() -> list[str]:
    """Every string of catalog/*.yaml that is not printer math, and the source labels the
    export makes of the `source` entries (they add § for a section)."""
    import yaml
    from matderiv.publish.export import source_info

    texts: list[str] = []

    def walk(value, key=""):
        if isinstance(value, dict):
            if "ref" in value:
                texts.append(source_info(value, {})["label"])
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key != "latex":
            texts.append(value)

    for path in sorted(CATALOG.glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return texts


def test_every_catalog_character_has_a_latex_form():
    """No character of the catalog's text prints as the [U+XXXX] placeholder (§, ⁺, x̂)."""
    texts = _catalog_texts()
    assert len(texts) > 1000 and any("§" in t for t in texts)
    chars = {c for t in texts for c in t if not c.isascii()}
    alone = [c for c in chars if not unicodedata.combining(c)]  # marks: after their letter
    missing = sorted(c for c in alone if "[U+" in escape(c))
    missing += sorted({t for t in texts if not t.isascii() and "[U+" in escape(t)})[:3]
    assert not missing, [c if len(c) > 1 else f"U+{ord(c):04X} {unicodedata.name(c, '?')}"
                         for c in missing]


def test_escape_is_idempotent_on_tex():
    once = escape("50%")
    assert escape(once) == once and isinstance(once, TeX)


@pytest.mark.parametrize("bad", [
    r"\input{/etc/passwd}", r"\include{x}", r"\write18{ls}", r"\openin1=x", r"\openout1",
    r"\immediate", r"\catcode`\^=7", r"\def\x{y}", r"\csname input\endcsname", r"\read16",
    r"\special{x}", "^^5cinput{x}", r"x % comment", r"\mathbf{X}}", r"\begin{filecontents}",
    r"\edef\x{}", r"\let\x\y", r"\expandafter\x", r"\pdfprimitive",
])
def test_check_math_rejects(bad):
    with pytest.raises(UnsafeMath):
        check_math(bad)


@pytest.mark.parametrize("good", [
    r"\frac{\partial \log\det\mathbf{X}}{\partial \mathbf{X}}", r"\mathbf{X}^{-\top}",
    r"\left(\mathbf{A} + \mathbf{A}^{\top}\right)\mathbf{x}", r"\operatorname{vec}(\mathbf{X})",
    r"\begin{bmatrix} 1 & 0 \end{bmatrix}", r"\mathbf{a}^{\top}\otimes \mathbf{I}_{m}",
    r"\mathrm{d}\mathbf{X}",
])
def test_check_math_accepts_printer_output(good):
    assert check_math(good) == good


def test_split_terms_only_at_top_level():
    assert split_terms(r"a + \left(b - c\right) - d^{-1}") == [
        "a", r"+ \left(b - c\right)", "- d^{-1}"]
    assert split_terms(r"-\mathbf{X}^{-1}") == [r"-\mathbf{X}^{-1}"]
    assert split_terms(r"\frac{a+b}{c} \cdot -x") == [r"\frac{a+b}{c} \cdot -x"]


def test_url_is_escaped_for_href():
    assert url("https://x.org/a-b/#log-det") == r"https://x.org/a-b/\#log-det"
    assert url("https://x.org/50%/~u_v") == r"https://x.org/50\%/\%7Eu\%5Fv"
    assert "{" not in url("https://x.org/{}\\")
    with pytest.raises(ValueError):
        url("javascript:alert(1)")


@NEEDS_TEX
def test_crowded_essentials_get_denser_and_still_fit(tmp_path):
    """Too many essentials for the roomy setting: the sheet switches to four columns."""
    doc = _doc()
    essential = [r for r in doc["identities"] if r["essential"] and r["status"] == "verified"]
    for copy_no in range(4):
        for record in essential:
            clone = json.loads(json.dumps(record))
            clone["id"] = f"{record['id']}-copy{copy_no}"
            doc["identities"].append(clone)
    doc["identities"].sort(key=lambda r: [c["slug"] for c in doc["categories"]].index(
        r["category"]))
    env = pdf_module._environment()
    tex = pdf_module._write_tex(env, doc, tmp_path, "numerator", True,
                                pdf_module.DENSITIES[0])
    pdf, _ = pdf_module._compile_sheet(env, doc, tex, "numerator", True)
    assert _pages(pdf) <= 2
    assert r"\begin{multicols}{4}" in tex.read_text()
    text = _text(pdf)
    assert all(f"{r['id']}-copy3" in text for r in essential)


@NEEDS_TEX
@pytest.mark.parametrize("essentials", [False, True])
@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_every_sheet_says_what_verified_means_and_marks_proved_entries(built, layout,
                                                                      essentials):
    """One paragraph of "What verified means", its numbers read from the verifier's code,
    and ■ before the id of every proved entry (and of no other)."""
    from matderiv.check import exact as derive
    from matderiv.check import sizerule
    from matderiv.render.verified import facts

    doc = _doc()
    text = _text(built[0][sheet_name(layout, essentials)])
    flat = " ".join(text.split())
    chance = facts()["chance_tex"].replace("{,}", ",")
    assert "What verified means. Every formula here was re-derived by matderiv" in flat
    exponent = int(f"{float(derive.TOLERANCE):.0e}".split("e")[1])
    assert f"in rational arithmetic; {derive.PRECISION}-bit, to 10−{-exponent}" in flat
    assert f"with a degree bound of at most {sizerule.EXACT_CAP}," in flat
    assert "(Procesi 1976, Thm 4.3; Razmyslov 1974)" in flat
    assert f"a chance of at most {chance} that the random point" in flat
    assert "The others are checked" in flat and "■ marks a proved identity" in flat
    assert f"Details: {doc['site_url']}verified/." in flat
    ids = {r["id"] for r in doc["identities"]}
    marked = {m for m in re.findall(r"■\s*(?:⋆\s*)?([a-z0-9-]+)", text) if m in ids}
    proved = {r["id"] for r in doc["identities"] if r["status"] == "verified"
              and not r["erratum"] and r["verification"]["guarantee"] == "proved"
              and (r["essential"] or not essentials)}
    assert proved and marked == proved
