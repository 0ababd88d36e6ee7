"""The catalog itself: every identity verified (errata refuted), and the coverage promised."""

from __future__ import annotations

from collections import Counter

import pytest
from matderiv.catalog.load import load_all
from matderiv.catalog.schema import CATEGORIES, TENSOR_CATEGORIES
from matderiv.check.verify import problems_of, verify_all
from matderiv.pipeline.build import CATALOG, document
from matderiv.publish.coverage import coverage, read_gaps


@pytest.fixture(scope="module")
def verified():
    identities, loose = load_all([CATALOG])
    assert loose == []
    verdicts = verify_all(identities, jobs=2)
    return identities, verdicts


@pytest.fixture(scope="module")
def doc(verified):
    return document(*verified)


def test_every_identity_verifies_or_is_a_refuted_erratum(verified):
    bad = [str(p) for i, v in zip(*verified) if v.status not in ("verified", "refuted")
           for p in problems_of(i, v)]
    assert bad == []
    for ident, verdict in zip(*verified):
        assert (verdict.status == "refuted") == (ident.status == "erratum"), ident.id


def test_size_of_the_catalog(doc):
    counts = Counter(r["category"] for r in doc["identities"] if r["status"] == "verified")
    assert sum(counts.values()) >= 300
    for slug in CATEGORIES:
        assert counts[slug] >= 10, slug


def test_tensor_identities_have_a_differential_and_mostly_a_vec_form(doc):
    tensor = [r for r in doc["identities"] if r["category"] in TENSOR_CATEGORIES]
    assert all(r["forms"]["differential"] for r in tensor)
    with_vec = sum(1 for r in tensor if r["forms"]["vec"])
    assert with_vec >= 0.75 * len(tensor)


def test_two_dimensional_identities_show_both_layouts(doc):
    for r in doc["identities"]:
        if r["category"] not in TENSOR_CATEGORIES and not r["erratum"]:
            assert r["forms"]["numerator"] and r["forms"]["denominator"], r["id"]


def test_coverage_of_the_references(doc):
    cov = coverage(doc["identities"], read_gaps(CATALOG / "gaps.yaml"))
    assert len(cov["wikipedia"]["covered"]) >= 95
    assert len(cov["cookbook"]["covered"]) >= 90
    for source in ("wikipedia", "cookbook"):
        part = cov[source]
        assert len(part["covered"]) + len(part["gaps"]) + len(part["missing"]) == part["total"]
    assert cov["wikipedia"]["total"] == 109 and cov["cookbook"]["total"] == 101
    # recomputed from the sources' own numbering, apart from the code
    cited = {int(s["eq"]) for r in doc["identities"] if r["status"] == "verified"
             for s in r["sources"] if s["ref"] == "cookbook" and "eq" in s}
    assert cov["cookbook"]["covered"] == sorted(cited & set(range(32, 133)))


def test_coverage_counts_add_up_whatever_is_cited():
    """Citations and gaps outside a source's numbering are listed apart, never counted."""
    records = [{"status": "verified", "category": "scalar-by-matrix", "id": "a",
                "sources": [{"ref": "cookbook", "eq": 140}, {"ref": "cookbook", "eq": 50},
                            {"ref": "wikipedia", "table": "scalar-by-matrix", "row": 99}]}]
    gaps = [{"source": {"ref": "cookbook", "eq": 135}}, {"source": {"ref": "cookbook", "eq": 50}},
            {"source": {"ref": "cookbook", "eq": 60}}]
    cov = coverage(records, gaps)
    book = cov["cookbook"]
    assert book["covered"] == [50] and book["gaps"] == [60] and len(book["missing"]) == 99
    assert book["outside"] == [135, 140]
    assert cov["wikipedia"]["outside"] == [("scalar-by-matrix", 99)]
    assert len(cov["wikipedia"]["missing"]) == 109


def test_at_least_500_verified_and_25_per_category(doc):
    counts = Counter(r["category"] for r in doc["identities"] if r["status"] == "verified")
    assert sum(counts.values()) >= 500
    assert all(counts[slug] >= 25 for slug in CATEGORIES), counts


def test_errata_point_at_verified_corrections(doc):
    by_id = {r["id"]: r for r in doc["identities"]}
    errata = [r for r in doc["identities"] if r["erratum"]]
    assert len(errata) >= 3
    for r in errata:
        assert r["status"] == "refuted"
        assert by_id[r["corrected_by"]]["status"] == "verified", r["id"]


def test_essential_set_is_a_wall_sheet(doc):
    essential = [r for r in doc["identities"] if r["essential"]]
    assert 25 <= len(essential) <= 60


def test_every_source_names_a_known_reference(doc):
    refs = set(doc["references"])
    for r in doc["identities"]:
        for s in r["sources"]:
            assert s["ref"] in refs, (r["id"], s)


def test_see_also_targets_exist(doc):
    ids = {r["id"] for r in doc["identities"]}
    for r in doc["identities"]:
        assert set(r["see_also"]) <= ids, r["id"]
