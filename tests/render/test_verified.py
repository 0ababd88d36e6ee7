"""The page "What verified means" (numbers read from the verifier's code) and the
guarantee each card shows (a badge and details made from the verification record)."""

from __future__ import annotations

import itertools
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from gmpy2 import mpfr
from matderiv.check import exact as derive
from matderiv.check import numeric, sampling, sizerule
from matderiv.render.site import HANDWRITTEN, build_site, generate_sources
from matderiv.render.verified import point_mass, value_count
from matderiv.resources import REPO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _page(doc: dict) -> tuple[str, str, list]:
    """The page's Markdown, the TeX of its formulas (one string), and the navigation."""
    sources = generate_sources(doc)
    tex = " ".join(i["tex"] for i in sources.math.items if i["owner"] == "page verified.md")
    return sources.pages["verified.md"], tex, sources.nav


def _card(html: str, rid: str) -> str:
    start = html.index(f'id="{rid}"')
    end = html.find('<h2 class="md-identity"', start + 1)
    return html[start:end if end > 0 else len(html)]


def test_page_states_the_theorem_rules_and_constants_read_from_the_code(sample_doc):
    page, tex, nav = _page(sample_doc)
    assert "Procesi 1976, Thm 4.3; Razmyslov 1974" in page
    assert "Advances in Mathematics 19 (1976)" in page and "Izvestiya" in page
    for cap in (sizerule.EXACT_CAP, sizerule.HEURISTIC_CAP, sizerule.NUMERIC_CAP,
                sizerule.HEURISTIC_NUMERIC_CAP):
        assert f"**{cap}**" in page, cap
    assert f"\\max(\\text{{bound}}, {sizerule.NUMERIC_FLOOR})" in tex
    assert f"{derive.PRECISION}-bit floating point (about 77 digits)" in page
    assert "10^{-55}" in tex and "10^{-6}" in tex and "10^{-30}" in tex
    assert "10^{-3} \\ldots 10^{3}" in tex and f"at most {numeric.MAX_COND:g}" in page
    assert f"{sampling.NUMERIC_POINTS} usable points per assignment" in page
    assert f"up to {sampling.TRIES} times" in page
    assert "1 \\le p \\le 10^{6}" in tex and "0 \\le k \\le 20" in tex
    assert "S = 2.2 \\cdot 10^{7}" in tex  # the dyadic values of Schwartz–Zippel
    assert "d/2{,}100{,}000" in tex and "1/1{,}050{,}000" in tex
    assert '"could not be checked at any point" (E404)' in page
    assert "matderiv verify FILE --id ID --explain" in page
    for anchor in ("guarantees", "proved", "checked", "theorem", "degree-bound", "sizes",
                   "points", "tolerances", "error-bound", "not-proved", "evidence"):
        assert f"{{ #{anchor} }}" in page, anchor
    assert "Structured-matrix derivatives" in page and "**The cap**" in page
    assert '{"What verified means": "verified.md"}' in json.dumps(nav)


def test_degree_bound_examples_are_computed_by_the_size_rule(sample_doc):
    """X³: degree 3, matrix-valued, bound 4, proved; the power one past the cap is
    capped; a Hadamard product is doubled and outside the theorem."""
    page, _, _ = _page(sample_doc)
    assert "has degree 3 and is matrix-valued, so its bound is 4" in page
    rows = dict(re.findall(r"^\| ` (\S+(?: X\))?) ` \| .*? \| (\d+ \| \d+(?: \(above the cap\))? "
                           r"\| \w+) \|$", page, re.M))
    assert rows["X**3"] == "3 | 4 | proved"
    assert rows["tr(X**3)"] == "3 | 3 | proved"
    assert rows["hadamard(X, X)"].startswith("2 | 6") and rows["hadamard(X, X)"].endswith(
        "checked")
    cap = sizerule.EXACT_CAP
    assert rows[f"X**{cap}"] == f"{cap} | {cap + 1} (above the cap) | checked"


def test_a_changed_constant_changes_the_page(sample_doc, monkeypatch):
    monkeypatch.setattr(sizerule, "EXACT_CAP", 7)
    monkeypatch.setattr(sizerule, "NUMERIC_FLOOR", 5)
    monkeypatch.setattr(derive, "TOLERANCE", mpfr("1e-50"))
    monkeypatch.setattr(derive, "LEVELS", ((1000, 10), (100, 6)))
    monkeypatch.setattr(sampling, "NUMERIC_TOLERANCE", 1e-7)
    monkeypatch.setattr(numeric, "SPREAD", 2.0)
    page, tex, _ = _page(sample_doc)
    assert "**7**" in page and "**8**" not in page
    assert "| ` X**7 ` |" in page and "| 7 | 8 (above the cap) | checked |" in page
    assert "\\max(\\text{bound}, 5)" in tex
    assert "10^{-50}" in tex and "10^{-7}" in tex and "10^{-2} \\ldots 10^{2}" in tex
    assert "S = 1.2 \\cdot 10^{4}" in tex and "d/2{,}200" in tex
    assert "10^{-55}" not in tex and "d/2{,}100{,}000" not in tex


@pytest.mark.parametrize(("top", "shift"), [(50, 4), (64, 3), (7, 0), (1000, 2)])
def test_value_count_and_point_mass_match_the_draw(top, shift):
    """The set size S and the largest probability of one value, against an enumeration of
    every draw of derive.scalar (p uniform in 1..top, k in 0..shift, sign half-half)."""
    weight: dict[Fraction, Fraction] = {}
    for p, k, sign in itertools.product(range(1, top + 1), range(shift + 1), (1, -1)):
        value = sign * Fraction(p, 2 ** k)
        weight[value] = weight.get(value, 0) + Fraction(1, top * (shift + 1) * 2)
    assert value_count(top, shift) == len(weight)
    assert point_mass(top, shift) == max(weight.values())
    assert point_mass(top, shift, signed=False) == 2 * max(weight.values())


def test_cards_show_the_guarantee_as_a_badge_with_its_details(sample_doc, make_verification,
                                                             tmp_path):
    """Records made by the build's own constructors: a proved card, a checked (capped)
    card, and a refuted erratum that shows no guarantee even if the verdict had one."""
    records = {r["id"]: r for r in sample_doc["identities"]}
    forms = {"numerator": {}, "denominator": {}, "differential": {}}
    records["trace-ax"]["verification"] = make_verification(
        sample_doc, "trace-ax", guarantee="proved", degree=2, bound=3, forms=forms,
        exact="rational arithmetic", points=9, max_error=2e-16, evidence=[
            {"check": "exact", "sizes": {"m": 2, "n": 3}, "points": 1, "errors": {}},
            {"check": "exact", "sizes": {"m": 4, "n": 3}, "points": 1, "errors": {}},
            {"check": "numeric", "sizes": {"m": 2, "n": 3}, "points": 3, "errors": {}},
            {"check": "numeric", "sizes": {"m": 7, "n": 10}, "points": 3, "errors": {}}])
    records["log-det"]["verification"] = make_verification(
        sample_doc, "log-det", guarantee="checked", degree=9, bound=10, capped=True,
        forms=forms, exact="256-bit arithmetic (about 77 digits)", points=6, max_error=3e-16,
        evidence=[{"check": "exact", "sizes": {"n": 5}, "points": 3, "errors": {}},
                  {"check": "numeric", "sizes": {"n": 9}, "points": 3, "errors": {}}])
    records["det-axb-nonsquare"]["verification"] = make_verification(
        sample_doc, "det-axb-nonsquare", "refuted", guarantee="checked",
        failures=[("E406", "denominator: the shapes do not fit", "derivative")])
    build_site(sample_doc, tmp_path / "site")
    def page(rid: str) -> str:  # an identity's own page (matderiv.render.site.identity_url)
        return (tmp_path / "site" / "id" / rid / "index.html").read_text(encoding="utf-8")

    proved = page("trace-ax")
    assert re.search(r'<a class="md-badge md-badge--proved" href="\.\./\.\./verified/#proved" '
                     r'title="A polynomial trace identity[^"]*">proved</a>', proved)
    assert "md-badge--checked" not in proved
    assert "<strong>Guarantee:</strong> <strong>proved</strong>" in proved
    assert "degree 2, size bound 3 &#40;every size reaches it" in proved
    assert "rational arithmetic, at sizes m &#61; 2, n &#61; 3; m &#61; 4, n &#61; 3<" in proved
    assert "9 random points at sizes m &#61; 2, n &#61; 3; m &#61; 7, n &#61; 10," in proved
    assert ("<code>matderiv verify catalog/scalar-by-matrix.yaml --id trace-ax --explain"
            "</code>") in proved

    checked = page("log-det")
    assert re.search(r'<a class="md-badge md-badge--checked" href="\.\./\.\./verified/#checked" '
                     r'title="[^"]*">checked</a>', checked)
    assert "md-badge--proved" not in checked
    assert "degree 9, size bound 10 &#40;above the cap" in checked

    refuted = page("det-axb-nonsquare")
    assert "md-badge--refuted" in refuted
    assert "md-badge--proved" not in refuted and "md-badge--checked" not in refuted
    assert "Guarantee:" not in refuted

    page = (tmp_path / "site" / "verified" / "index.html").read_text(encoding="utf-8")
    assert 'id="proved"' in page and 'id="checked"' in page  # the badges' targets
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="verified/"' in home and "What verified means" in home


@pytest.mark.parametrize("name", ["catalog-sample.json", "catalog-sample-pdf.json"])
def test_fixture_records_have_exactly_the_fields_the_build_writes(name, make_verification):
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    keys = set(make_verification(doc, "x"))
    assert {"guarantee", "degree", "bound", "capped", "numeric_sizes"} <= keys
    for record in doc["identities"]:
        verification = record["verification"]
        assert set(verification) == keys, record["id"]
        expected = ("proved", "checked") if record["status"] == "verified" else (None,)
        assert verification["guarantee"] in expected, record["id"]


def test_no_page_describes_a_method_the_verifier_does_not_use():
    """The home page once promised 50-digit arithmetic and central differences."""
    pages = [*HANDWRITTEN.glob("*.md"), *(REPO / "templates").rglob("*.j2")]
    for path in pages:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for stale in ("50-digit", "central difference", "200-bit", "M Mᵀ + I"):
            assert stale not in text, (path.name, stale)
    home = (HANDWRITTEN / "index.md").read_text(encoding="utf-8")
    assert "[What verified means](verified.md)" in " ".join(home.split())
    from matderiv.check.exact import PRECISION

    home = " ".join(home.split())  # the method as the verifier runs it (issue 14)
    for word in ("dual numbers", "dyadic rationals", f"{PRECISION}-bit", "size rule",
                 "complex-step"):
        assert word in home, word
