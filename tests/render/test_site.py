"""The website built from the sample catalog: pages, anchors, tabs, escaping, math, offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from matderiv.catalog.schema import (
    DERIVATIVE_KEYS,
    FUNCTIONS,
    IDENTITY_KEYS,
    PROPERTIES,
    SOURCE_KEYS,
)
from matderiv.errors import CODES
from matderiv.publish.cite import bibtex
from matderiv.render.site import SiteBuildError, build_site, catalog_json, generate_sources
from matderiv.resources import REPO

CATEGORY_COUNT = 9


def _html(built_site: Path, slug: str) -> str:
    return (built_site / slug / "index.html").read_text(encoding="utf-8")


def _card(built_site: Path, rid: str) -> str:
    """An identity's own page (matderiv.render.site.identity_url)."""
    return (built_site / "id" / rid / "index.html").read_text(encoding="utf-8")


def _all_html(built_site: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in built_site.rglob("*.html")}


def test_build_time_is_small(built_site):
    seconds = float((built_site.parent / "build-seconds.txt").read_text())
    print(f"site build for the fixture: {seconds:.2f} s")
    assert seconds < 30


def test_every_category_has_a_page(built_site, sample_doc):
    slugs = [c["slug"] for c in sample_doc["categories"]]
    assert len(slugs) == CATEGORY_COUNT
    for slug in slugs:
        assert (built_site / slug / "index.html").exists(), slug
    for page in ("conventions", "topics", "sources", "errata", "verify-your-own", "how-to-cite",
                 "format-reference", "schema"):
        assert (built_site / page / "index.html").exists(), page
    assert "No identities in this category yet" in _html(built_site, "matrix-by-vector")


def test_each_identity_is_anchored_by_its_id(built_site, sample_doc):
    for rec in sample_doc["identities"]:
        html = _html(built_site, rec["category"])
        row = rf'<a id="{rec["id"]}" class="md-alias"></a>(<a id="[a-z0-9-]+" class="md-alias">'\
              rf'</a>)*<a href="\.\./id/{rec["id"]}/">'
        assert re.search(row, html), rec["id"]  # the old anchor stays, on the row
        assert f'<h1 class="md-identity" id="{rec["id"]}">' in _card(built_site, rec["id"])


def test_tab_labels_are_exactly_the_two_layouts(built_site, sample_doc):
    for rec in sample_doc["identities"]:
        html = _card(built_site, rec["id"])
        for labels in re.findall(r'<div class="tabbed-labels">(.*?)</div>', html):
            assert re.findall(r"<label[^>]*>(.*?)</label>", labels) == [
                "Numerator layout", "Denominator layout"], rec["id"]
        assert 'class="tabbed-set' in html, rec["id"]
    for cat in sample_doc["categories"]:
        heads = re.findall(r"<th>(.*?)</th>", _html(built_site, cat["slug"]))
        assert heads in ([], ["Identity", "Numerator layout", "Denominator layout"] * (
            len(heads) // 3)), cat["slug"]


def test_tensor_identities_show_vec_forms_in_the_tabs(built_site):
    card = _card(built_site, "kronecker-axb")
    assert "Numerator layout" in card and "\\mathbf{B}^\\top \\otimes \\mathbf{A}" in card
    assert "\\mathbf{B} \\otimes \\mathbf{A}^\\top" in card


def test_no_remote_assets_anywhere(built_site):
    remote = re.compile(
        r'<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="(?:https?:)?//[^>]*>', re.I)
    for path, html in _all_html(built_site).items():
        fetched = [t for t in remote.findall(html) if 'rel="canonical"' not in t]
        assert not fetched, (path, fetched)
        assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html, path
    for css in built_site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text()), css


def test_katex_css_and_woff2_fonts_are_shipped(built_site):
    css = (built_site / "assets/katex/katex.min.css").read_text()
    fonts = set(re.findall(r"url\((fonts/[^)]+)\)", css))
    assert fonts and all(f.endswith(".woff2") for f in fonts)
    for font in fonts:
        assert (built_site / "assets/katex" / font).exists(), font
    assert 'href="../assets/katex/katex.min.css"' in _html(built_site, "scalar-by-matrix")


def test_math_is_rendered_and_kept_out_of_search(built_site):
    html = _card(built_site, "log-det")
    assert "@@MATH" not in html and "katex-error" not in html
    assert html.count('<div class="md-math" data-search-exclude><span class="katex-display">') >= 2
    assert "<x-math data-search-exclude><span class=\"katex\">" in html
    table = _html(built_site, "scalar-by-matrix")  # the compact table: MathML alone
    assert "@@MATH" not in table and "katex" not in table.split("<article")[1]
    assert table.count("<x-mml data-search-exclude><math>") >= 8
    assert "<annotation" not in table and "<mi>𝐗</mi>" in table  # bold as Unicode


def test_search_index_has_one_entry_per_identity_and_no_code(built_site, sample_doc):
    """gen/render/search.py: one entry per identity at its page, in normalised words;
    no code block or rendered math anywhere; the formulas shown in the results beside."""
    index = json.loads((built_site / "search/search_index.json").read_text())
    docs = {d["location"]: d for d in index["docs"]}
    for rec in sample_doc["identities"]:
        page = f"id/{rec['id']}/"
        assert [loc for loc in docs if loc.startswith(page)] == [page]
    log_det = docs["id/log-det/"]
    assert log_det["title"] == "Log-determinant" and log_det["text"] == ""
    assert {"logdetx", "log", "det"} <= set(log_det["formula"].split())
    assert "qdetlog" in log_det["key"].split()
    assert "kronecker" in docs["id/kronecker-axb/"]["words"].split()  # its tag, normalised
    assert not any("<pre" in d["text"] or "katex" in d["text"] for d in index["docs"])
    formulas = json.loads((built_site / "search/formulas.json").read_text())
    assert "<math" in formulas["id/log-det/"]


def test_hostile_text_is_escaped(built_site):
    for path, html in _all_html(built_site).items():
        assert "<script>alert" not in html, path
        assert "<b>bold</b>" not in html, path
        assert 'href="javascript:' not in html, path
        assert "onclick=alert" not in html.replace("onclick&#61;alert", ""), path
    html = _html(built_site, "scalar-by-vector")
    assert "&#60;script&#62;alert&#40;1&#41;&#60;/script&#62; Squared norm" in html
    assert "&#92;input&#123;/etc/passwd&#125;" in _card(built_site, "norm-squared")


def test_card_shows_symbols_sources_badge_and_see_also(built_site):
    card = _card(built_site, "log-det")
    assert "X is an n × n matrix, invertible" in card
    assert "Matrix Cookbook, eq&#46; 57" in card and 'href="../../sources/#ref-cookbook"' in card
    assert "md-badge--verified" in card and "Verified: what was checked" in card
    assert ("6 random points at sizes n &#61; 2; n &#61; 3; n &#61; 8, largest relative error "
            "3&#46;1e&#45;12") in card
    assert "SymPy 1&#46;14&#46;0, on 2026&#45;11&#45;22" in card
    assert 'href="../det/"' in card
    assert '<a href="../det/"><code>det</code></a>' in card  # an id in the notes links
    code = re.sub(r"<[^>]+>", "", card.split('language-latex', 2)[2])
    assert "\\mathbf{X}^{-\\top}" in code


def test_errata_sources_and_topics_pages(built_site):
    errata = _html(built_site, "errata")
    assert 'href="../id/det-axb-nonsquare/"' in errata
    assert "Correct statement" in errata and 'href="../id/det-axb/"' in errata
    sources = _html(built_site, "sources")
    assert 'id="ref-cookbook"' in sources and "eq&#46; 57" in sources
    assert 'href="../id/log-det/"' in sources
    assert 'id="not-expressible"' in sources and 'id="gaps-cookbook"' in sources
    topics = _html(built_site, "topics")
    assert 'id="tag-determinant"' in topics and 'href="../id/det/"' in topics


def test_handwritten_pages_have_no_raw_tex_left(built_site):
    for slug in ("conventions", ""):
        html = (built_site / slug / "index.html").read_text()
        text = re.sub(r"<(pre|code|annotation|script)\b.*?</\1>", "", html, flags=re.S)
        text = re.sub(r"<[^>]+>", "", text)
        assert "$" not in text and "\\frac" not in text, slug


def test_katex_error_fails_the_build_naming_the_identity(sample_doc, tmp_path):
    rec = next(r for r in sample_doc["identities"] if r["id"] == "log-det")
    rec["forms"]["numerator"]["latex"] = "\\frac{\\mathbf{X}"
    with pytest.raises(SiteBuildError, match=r"identity 'log-det' \(numerator form\)"):
        build_site(sample_doc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_see_also_is_an_error(sample_doc):
    sample_doc["identities"][0]["see_also"] = ["no-such-id"]
    with pytest.raises(SiteBuildError, match="no-such-id"):
        generate_sources(sample_doc)


def test_generated_pages_never_touch_the_tracked_tree(sample_doc):
    before = sorted(p.relative_to(REPO) for p in (REPO / "site").rglob("*"))
    sources = generate_sources(sample_doc)
    assert "scalar-by-matrix.md" in sources.pages
    after = sorted(p.relative_to(REPO) for p in (REPO / "site").rglob("*"))
    assert before == after
    assert not any((REPO / "site" / name).exists() for name in sources.pages)


def test_plain_mkdocs_without_a_bundle_says_how_to_build(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MATDERIV_SITE_BUNDLE"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", str(REPO / "mkdocs.yml"), "-d", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert proc.returncode != 0
    assert "MATDERIV_SITE_BUNDLE" in proc.stdout + proc.stderr


def test_format_reference_lists_every_key_and_error_code(built_site):
    html = _html(built_site, "format-reference")
    for key in (*IDENTITY_KEYS, *DERIVATIVE_KEYS, *SOURCE_KEYS):
        assert f"<code>{key.name}</code>" in html, key.name
    for name in (*PROPERTIES, *FUNCTIONS):
        assert f"<code>{name}</code>" in html, name
    rows = dict(re.findall(r"<tr>\s*<td><code>(E\d{3})</code></td>\s*<td>([^<]*)</td>", html))
    assert set(rows) == set(CODES)
    assert rows["E101"] == "invalid" and rows["E303"] == "invalid"
    assert rows["E402"] == "failed" and rows["E406"].startswith("refuted")
    assert "d&lt;wrt&gt;" in html  # not swallowed as an HTML tag
    guide = _html(built_site, "verify-your-own")
    assert 'href="../format-reference/"' in guide
    assert 'href="../format-reference/#error-codes"' in guide


def test_catalog_json_and_bibtex_are_downloads(built_site, sample_doc):
    assert (built_site / "catalog.json").read_text(encoding="utf-8") == catalog_json(sample_doc)
    assert (built_site / "matderiv.bib").read_text(encoding="utf-8") == bibtex(sample_doc)
    schema = (REPO / "schema" / "catalog.schema.json").read_text(encoding="utf-8")
    assert (built_site / "catalog.schema.json").read_text(encoding="utf-8") == schema
    cite = _html(built_site, "how-to-cite")
    for name in ("catalog.json", "matderiv.bib", "catalog.schema.json"):
        assert f'href="../{name}"' in cite, name
    assert 'href="../schema/"' in cite and "CITATION.cff" in cite
    assert 'href="../catalog.json"' in _html(built_site, "schema")


def test_every_card_shows_its_bibtex(built_site, sample_doc):
    for rec in sample_doc["identities"]:
        card = _card(built_site, rec["id"])
        assert "Cite it: BibTeX" in card and 'class="language-bibtex highlight"' in card, rec["id"]
        code = re.sub(r"<[^>]+>", "", card.split("language-bibtex", 1)[1].split("</code>")[0])
        assert f"@misc{{{rec['id']}," in code, rec["id"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Squared norm" in _card(
        built_site, "norm-squared")


def test_aliases_are_anchors_next_to_the_new_card(built_site, sample_doc):
    assert sample_doc["aliases"]
    for old, new in sample_doc["aliases"].items():
        rec = next(r for r in sample_doc["identities"] if r["id"] == new)
        html = _card(built_site, new)
        anchor = html.index(f'<a id="{old}" class="md-alias"></a>')
        assert html.index(f'id="{new}"') < anchor < html.index(f"former id <code>{old}</code>")
        table = _html(built_site, rec["category"])  # category/#old -> the identity's page
        assert f'<a id="{old}" class="md-alias"></a>' in table
        moved = json.loads(table.split('id="md-moved">')[1].split("</script>")[0])
        assert moved[old] == moved[new] == f"id/{new}/"


@pytest.mark.parametrize(("old", "new", "match"), [
    ("logdet", "no-such-id", "unknown identity id 'no-such-id'"),
    ("Bad Id", "log-det", "not a valid identity id"),
    ("det", "log-det", "also the id of an identity"),
])
def test_bad_aliases_are_build_errors(sample_doc, old, new, match):
    sample_doc["aliases"] = {old: new}
    with pytest.raises(SiteBuildError, match=match):
        generate_sources(sample_doc)


def test_gaps_are_listed_per_source_and_escaped(built_site, sample_doc):
    html = _html(built_site, "sources")
    section = html[html.index('id="not-expressible"'):html.index('id="unsourced"')]
    cookbook, wikipedia = section.index('id="gaps-cookbook"'), section.index('id="gaps-wikipedia"')
    assert cookbook < section.index("eq&#46; 67") < section.index("eq&#46; 141") < wikipedia
    assert section.count("<li>") == len(sample_doc["gaps"])
    assert "&#60;script&#62;alert" in section and "&#92;input&#123;/etc/passwd" in section
    assert "<b>bold</b>" not in section and "<code>g: function</code>" in section


def test_user_text_cannot_forge_a_math_placeholder(sample_doc, tmp_path):
    """Placeholders carry a nonce drawn per build: catalog text that spells the old fixed
    form is shown as written, neither replaced by a formula nor an IndexError."""
    forged = "@@MATH-D-0@@ @@MATH-I-99999@@"
    rec = sample_doc["identities"][0]
    rec["notes"] = f"Forged: `{forged}` and {forged}."
    rec["snippet"] = (rec.get("snippet") or "") + f"\n# {forged}\n"
    out = tmp_path / "site"
    build_site(sample_doc, out)
    text = unescape(_card(out, rec["id"]))
    assert text.count(forged) == 3  # the notes' code span and text, the snippet
    for text in _all_html(out).values():
        assert "katex-error" not in text
        assert not re.search(r"@@MATH-[0-9a-f]{8,}", text)  # no nonce left behind


def test_expression_text_on_several_lines_stays_in_its_code_span(sample_doc, tmp_path):
    """An expression may end with comment lines; its text is shown in a code span, which
    must not let a line of it start a heading or an HTML block."""
    payload = "x\n#<script>alert(1)</script>\n## Heading\n<div onclick=alert(1)>\u2028<b>x</b>"
    rec = next(r for r in sample_doc["identities"] if r["forms"].get("numerator"))
    rec["of"]["text"] += payload
    rec["forms"]["numerator"]["text"] += payload
    out = tmp_path / "site"
    build_site(sample_doc, out)
    page = _card(out, rec["id"])
    assert "<script>alert" not in page and "<div onclick" not in page and "<b>x</b>" not in page
    assert not re.search(r"<h2[^>]*>\s*Heading", page)
    assert "#&lt;script&gt;alert(1)&lt;/script&gt; ## Heading" in page


def test_limits_page_is_read_from_the_code(sample_doc, monkeypatch):
    """Every limit with its code, the values taken from the constants that enforce them."""
    from matderiv.catalog import load
    from matderiv.check import budget
    from matderiv.lang import expr
    from matderiv.publish.limits import limits

    page = generate_sources(sample_doc).pages["limits.md"]
    for group, items in limits():
        assert f"## {group}" in page
        for item in items:
            assert item.code == "" or item.code in CODES, item
            assert f"| {item.what} | {item.value} |" in page
    for value in ("5,000,000 bytes", f"{expr.MAX_NODES:,}", "E114", "E115", "E116", "E117",
                  "E118", "E205", "E206", "E210", "E211", f"{budget.Budget().cpu_seconds} s"):
        assert value in page, value
    monkeypatch.setattr(expr, "MAX_NODES", 1234)
    monkeypatch.setattr(load, "MAX_FILE_BYTES", 777)
    page = generate_sources(sample_doc).pages["limits.md"]
    assert "| nodes of the parse tree | 1,234 |" in page and "777 bytes" in page
    nav = json.dumps(generate_sources(sample_doc).nav)
    assert '"Limits": "limits.md"' in nav


def test_errata_come_last_on_category_pages_and_the_pdfs_are_linked(built_site, sample_doc):
    from matderiv.render.site import PDF_SHEETS

    html = _html(built_site, "scalar-by-matrix")
    recs = [r for r in sample_doc["identities"] if r["category"] == "scalar-by-matrix"]
    errata = [r["id"] for r in recs if r.get("erratum")]
    others = [r["id"] for r in recs if not r.get("erratum")]
    assert errata and others
    last_right = max(html.index(f'<a id="{i}" class="md-alias">') for i in others)
    first_wrong = min(html.index(f'<a id="{i}" class="md-alias">') for i in errata)
    assert last_right < html.index('id="errata"') < first_wrong
    for page, up in ((built_site / "index.html", ""),
                     (built_site / "scalar-by-matrix" / "index.html", "../")):
        text = page.read_text(encoding="utf-8")
        for name, _ in PDF_SHEETS:
            assert f'href="{up}pdf/{name}"' in text, (page, name)


def test_pdf_names_are_the_sheets_the_pdf_renderer_writes():
    from matderiv.render.pdf import LAYOUTS, sheet_name
    from matderiv.render.site import PDF_SHEETS

    assert {n for n, _ in PDF_SHEETS} == {f"{sheet_name(layout, e)}.pdf"
                                          for layout in LAYOUTS for e in (False, True)}


def test_the_build_copies_the_pdfs_into_the_site(tmp_path):
    from matderiv.pipeline.build import _pdfs_into_site

    fresh, out = tmp_path / "fresh", tmp_path / "out"
    (fresh / "site").mkdir(parents=True)
    (out / "pdf").mkdir(parents=True)
    (out / "pdf" / "matderiv-numerator.pdf").write_bytes(b"%PDF-old")
    _pdfs_into_site(fresh, out)  # PDFs not rebuilt: the previous build's
    assert (fresh / "site" / "pdf" / "matderiv-numerator.pdf").read_bytes() == b"%PDF-old"
    (fresh / "pdf").mkdir()
    (fresh / "pdf" / "matderiv-numerator.pdf").write_bytes(b"%PDF-new")
    _pdfs_into_site(fresh, out)
    assert (fresh / "site" / "pdf" / "matderiv-numerator.pdf").read_bytes() == b"%PDF-new"


def test_every_page_is_light(built_site):
    """Every HTML page at most 600 kB (the real catalog is measured by `make bench`)."""
    heavy = {str(p.relative_to(built_site)): p.stat().st_size
             for p in built_site.rglob("*.html") if p.stat().st_size > 600_000}
    assert not heavy, heavy


def test_without_a_site_url_the_site_has_no_absolute_link(sample_doc, tmp_path):
    sample_doc["site_url"] = None
    from matderiv.publish.cite import identity_entry

    for rec in sample_doc["identities"]:
        rec["permalink"] = None
        rec["bibtex"] = identity_entry(rec, sample_doc)  # as the export makes it
    out = tmp_path / "site"
    build_site(sample_doc, out)
    for path, html in _all_html(out).items():
        assert "example.org" not in html and 'rel="canonical"' not in html, path
    card = _card(out, "log-det")
    assert "cite as <code>log-det</code>, matderiv catalog 0&#46;1&#46;0" in card
    assert "url = {" not in card


# ---------------------------------------------------------------- titles with formulas

HOSTILE_TEXT = ("<script>alert(1)</script> `tick` $x$ {{ y }} **bold** "
                "[l](javascript:alert(1)) # h {: .x } | a | ")
HOSTILE_PLAIN = '<img src=x onerror=alert(2)>"} {{ z }} `b` $y$ &amp;'


@pytest.fixture(scope="module")
def titled_site(tmp_path_factory, sample_doc_session) -> Path:
    """The sample catalog with formulas in three titles (the document's `title_parts`, as
    the export writes them: a math part has its TeX and its plain reading), one of them
    hostile in its text and in its plain reading."""
    import copy

    doc = copy.deepcopy(sample_doc_session)
    recs = {r["id"]: r for r in doc["identities"]}
    recs["quadratic-form"].update(title="Quadratic form x^T A x", title_parts=[
        {"text": "Quadratic form "},
        {"math": r"\mathbf{x}^{\top} \mathbf{A} \mathbf{x}", "text": "xᵀAx"}])
    recs["det-axb-nonsquare"].update(title="Erratum: det(AXB) for any A", title_parts=[
        {"text": "Erratum: "},
        {"math": r"\det\left(\mathbf{A} \mathbf{X} \mathbf{B}\right)", "text": "det(AXB)"},
        {"text": " for any A"}])
    recs["norm-squared"].update(title=HOSTILE_TEXT + "x^T x", title_parts=[
        {"text": HOSTILE_TEXT}, {"math": r"\mathbf{x}^{\top} \mathbf{x}", "text": HOSTILE_PLAIN}])
    out = tmp_path_factory.mktemp("titled") / "site"
    build_site(doc, out)
    return out


def _h(html: str, tag: str, anchor: str) -> str:
    return re.search(rf'<{tag}[^>]*id="{anchor}"[^>]*>(.*?)</{tag}>', html, re.S).group(1)


def test_an_identity_heading_shows_its_formula_as_math(titled_site):
    card = _card(titled_site, "quadratic-form")
    heading = _h(card, "h1", "quadratic-form")
    assert heading.startswith("Quadratic form <x-math") and 'class="katex"' in heading
    assert "x^T" not in heading
    # the browser tab and the header bar cannot hold math: the plain reading
    assert "<title>Quadratic form xᵀAx - matderiv</title>" in card
    assert re.search(r'md-header__topic"[^>]*>\s*<span class="md-ellipsis">\s*'
                     r"Quadratic form xᵀAx\s*</span>", card)


def test_the_category_table_titles_show_math(titled_site):
    table = _html(titled_site, "scalar-by-vector")
    link = re.search(r'<a href="../id/quadratic-form/">(.*?)</a>', table, re.S).group(1)
    assert link.startswith("Quadratic form <x-mml data-search-exclude><math")
    errata = re.search(r'<a href="../id/det-axb-nonsquare/">(.*?)</a>',
                       _html(titled_site, "scalar-by-matrix"), re.S).group(1)
    assert unescape(errata).startswith("Erratum: <x-mml") and errata.endswith("</x-mml> for any A")


def test_errata_headings_show_math_and_the_toc_reads_plainly(titled_site):
    page = _html(titled_site, "errata")
    heading = _h(page, "h2", "det-axb-nonsquare")
    assert unescape(heading).startswith("Erratum: <x-math") and "for any A" in heading
    toc = re.search(r'<a href="#det-axb-nonsquare" class="md-nav__link">(.*?)</a>', page,
                    re.S).group(1)
    assert unescape(" ".join(re.sub(r"<[^>]+>", "", toc).split())) == (
        "Erratum: det(AXB) for any A")


def test_lists_and_search_results_show_titles(titled_site):
    assert ">Quadratic form xᵀAx</a>" in _html(titled_site, "topics")
    titles = json.loads((titled_site / "search" / "titles.json").read_text(encoding="utf-8"))
    assert set(titles) == {"id/quadratic-form/", "id/det-axb-nonsquare/", "id/norm-squared/"}
    assert titles["id/quadratic-form/"].startswith("Quadratic form <math")
    card = _card(titled_site, "linear-form")  # see also: the formula as math
    assert re.search(r'<a href="../quadratic-form/">Quadratic form <x-math', card)


def test_a_hostile_title_stays_inert_everywhere(titled_site):
    """Title text and the plain reading of its formula are untrusted: in the heading, the
    tab, the header, the tables, the lists, the TOC and the search titles they are text."""
    pages = _all_html(titled_site)
    titles = (titled_site / "search" / "titles.json").read_text(encoding="utf-8")
    for path, text in [*pages.items(), ("titles.json", titles)]:
        assert "<script>alert" not in text, path
        assert "<img" not in text, path
        assert "<strong>bold" not in text and "<code>tick" not in text, path
        assert 'href="javascript:' not in text and "<h1>h" not in text, path
        assert 'class="x"' not in text, path
    card = _card(titled_site, "norm-squared")
    assert "<title>&lt;img src=x onerror=alert(2)&gt;" not in card  # text parts come first
    assert re.search(r"<title>&lt;script&gt;alert\(1\)&lt;/script&gt; `tick` \$x\$ "
                     r"\{\{ y \}\} \*\*bold\*\*", card)
    assert "&lt;img src=x onerror=alert(2)&gt;&quot;} {{ z }}" in card  # <title>, header
    heading = _h(card, "h1", "norm-squared")
    assert heading.startswith("&#60;script&#62;alert&#40;1&#41;&#60;/script&#62; &#96;tick&#96;")
    assert "<x-math" in heading
    found = json.loads(titles)["id/norm-squared/"]
    assert found.startswith("&lt;script&gt;alert(1)&lt;/script&gt; `tick`") and "<math" in found
