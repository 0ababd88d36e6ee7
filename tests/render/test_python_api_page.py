"""The Python API page is built and in the navigation."""

from pathlib import Path


def test_the_python_api_page_is_built_and_linked(built_site: Path):
    page = built_site / "python-api" / "index.html"
    assert page.exists()
    html = page.read_text(encoding="utf-8")
    assert "matderiv.derive" in html and "matderiv.verify" in html
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert 'href="python-api/"' in index
