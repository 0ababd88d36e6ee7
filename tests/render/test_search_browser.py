"""Search in a real browser over the real catalog: every query of search_queries.QUERIES
typed into the theme's search box, answered by the theme's lunr worker from the built
index, must show its identity among the first three results, with its formula.

The site is built from the real catalog document of the test session, by this code;
MATDERIV_SEARCH_SITE=DIR names another built site. The hit rate is
printed: `.venv/bin/python -m pytest -s tests/render/test_search_browser.py`."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import serve
from .search_queries import QUERIES

pytest.importorskip("playwright")

SITE_ENV = "MATDERIV_SEARCH_SITE"
TOP = 3
REQUIRED = 0.95  # the issue asks 35 of 37 of a hidden set

READ_LINKS = """() => Array.from(document.querySelectorAll('.md-search-result__link'),
                                  e => e.getAttribute('href'))"""


@pytest.fixture(scope="module")
def real_site(tmp_path_factory, catalog_doc) -> Path:
    """The site of the real catalog, as this code builds it (MATDERIV_SEARCH_SITE=DIR
    names a site built elsewhere)."""
    if os.environ.get(SITE_ENV):
        return Path(os.environ[SITE_ENV])
    from matderiv.render.site import build_site

    out = tmp_path_factory.mktemp("real-site") / "site"
    build_site(catalog_doc, out)
    return out


@pytest.fixture(scope="module")
def real_url(real_site):
    with serve(real_site) as url:
        yield url


def _ids(hrefs: list[str]) -> list[str]:
    """Identity ids of result links, in order (id/<id>/ pages; others count as misses)."""
    out = []
    for h in hrefs:
        parts = urlsplit(h).path.strip("/").split("/")
        out.append(parts[-1] if len(parts) >= 2 and parts[-2] == "id" else urlsplit(h).path)
    return out


def _search(page, query: str, want: str) -> list[str]:
    box = page.locator("input.md-search__input")
    box.fill("")
    box.press_sequentially(query, delay=15)
    found: list[str] = []
    for _ in range(40):  # the worker answers each keystroke; wait for the last answer
        page.wait_for_timeout(150)
        found = _ids(page.evaluate(READ_LINKS))
        if set(want.split("|")) & set(found[:TOP]):
            break
    return found


def test_queries_find_their_identity_in_the_top_three(page, real_url):
    page.goto(real_url)
    page.wait_for_load_state("networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator(".md-search__input").first.wait_for()
    misses = []
    for query, want in QUERIES:
        found = _search(page, query, want)
        if not set(want.split("|")) & set(found[:TOP]):
            misses.append((query, want, found[:TOP]))
    hits = len(QUERIES) - len(misses)
    print(f"\nsearch: {hits}/{len(QUERIES)} queries in the top {TOP} "
          f"({hits / len(QUERIES):.0%})")
    for miss in misses:
        print("  miss:", miss)
    assert hits >= REQUIRED * len(QUERIES), misses


def test_a_result_shows_its_formula_and_jumps_to_the_identity(page, real_url):
    page.goto(real_url)
    page.wait_for_load_state("networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    assert _search(page, "logdet", "log-det")[0] == "log-det"
    first = page.locator(".md-search-result__link").first
    first.locator(".md-search-result__formula math").wait_for(timeout=10_000)
    assert first.locator("h1, h2").first.inner_text().strip() == "Log-determinant"
    first.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path.endswith("/id/log-det/")


def test_the_index_stays_small(real_site):
    size = (real_site / "search" / "search_index.json").stat().st_size
    assert size <= 1_000_000, size
