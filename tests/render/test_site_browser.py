"""The built website in a real browser (Debian's chromium through playwright): math laid
out, search, the site-wide layout switch, permalinks, the copy button, no JavaScript."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytest.importorskip("playwright")

DENOMINATOR = "Denominator layout"
COPY_BUTTON = 'button[data-md-type="copy"], button.md-clipboard'  # Material 9.8, older 9.x
# Visible text of the article without code blocks and KaTeX's hidden MathML copy.
VISIBLE_TEXT_JS = """() => {
  const root = document.querySelector('article').cloneNode(true);
  root.querySelectorAll('pre, code, .katex-mathml, .headerlink').forEach(e => e.remove());
  return root.textContent;
}"""
CHECKED_TABS_JS = """() => [...document.querySelectorAll('.tabbed-set')].map(set => {
  const inputs = [...set.querySelectorAll(':scope > input')];
  return inputs.findIndex(i => i.checked);
})"""


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _assert_math_laid_out(page, minimum: int = 20) -> None:
    assert page.locator(".katex-error").count() == 0
    text = page.evaluate(VISIBLE_TEXT_JS)
    assert "$" not in text and "\\frac" not in text and "@@MATH" not in text
    sizes = page.evaluate("""() => [...document.querySelectorAll('.md-math, x-math')].map(
        e => [e.querySelectorAll('.katex').length, e.querySelector('.katex-html') ?
              e.querySelector('.katex-html').getBoundingClientRect().height : -1,
              e.closest('.tabbed-block') ? 1 : 0])""")
    assert len(sizes) >= minimum
    assert all(count == 1 for count, _, _ in sizes)
    # Formulas outside hidden tabs have a real height (fonts and layout applied).
    assert all(height > 5 for _, height, in_tab in sizes if not in_tab)


MATHML_HEIGHTS_JS = """() => [...document.querySelectorAll('x-mml math')].map(
    e => e.getBoundingClientRect().height)"""


def test_every_formula_on_a_category_page_is_rendered(page, site_url):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    _open(page, site_url + "scalar-by-matrix/")  # the compact table: MathML
    heights = page.evaluate(MATHML_HEIGHTS_JS)
    assert len(heights) >= 8 and all(h > 5 for h in heights), heights
    _open(page, site_url + "id/log-det/")  # an identity's page: KaTeX
    _assert_math_laid_out(page, minimum=4)
    assert requests and all(u.startswith(site_url) for u in requests), requests


# Per table cell of the compact table: every formula (x-mml and its math) that ends past
# the cell's right edge, unless an element between it and the cell scrolls horizontally
# (overflow auto/scroll, scrollWidth > clientWidth) and itself ends inside the cell.
OVERFLOWING_MATH_JS = """() => {
  const bad = [];
  for (const td of document.querySelectorAll('.md-compact td')) {
    const cell = td.getBoundingClientRect();
    for (const m of td.querySelectorAll('x-mml, math')) {
      if (m.getBoundingClientRect().right <= cell.right + 0.5) continue;
      let scrolls = false;
      for (let e = m; e && e !== td; e = e.parentElement) {
        const overflow = getComputedStyle(e).overflowX;
        if ((overflow === 'auto' || overflow === 'scroll') && e.scrollWidth > e.clientWidth
            && e.getBoundingClientRect().right <= cell.right + 0.5) { scrolls = true; break; }
      }
      if (!scrolls) bad.push(td.textContent.trim().slice(0, 60));
    }
  }
  return bad;
}"""


# The sample's formulas are short and its titles have no math: make them as long as the
# real catalog's (det(AXB) B (AXB)^{-1} A, tr((A + XᵀCX)^{-1}XᵀBX) in a title), in the
# markup the build emits (an x-mml in the title's link, as title_markdown(light=True) does).
LENGTHEN_MATH_JS = """() => {
  const repeat = (x) => {
    const math = x.querySelector('math'), first = math.firstElementChild;
    for (let i = 0; i < 6; i++) math.appendChild(first.cloneNode(true));
    return x;
  };
  for (const tr of document.querySelectorAll('.md-compact tbody tr')) {
    const formula = tr.querySelector('td x-mml'), link = tr.querySelector('td a[href]');
    if (!formula || !link) continue;
    link.append(' of ', repeat(formula.cloneNode(true)));
    tr.querySelectorAll('td x-mml').forEach(x => x === formula || repeat(x));
    repeat(formula);
  }
}"""


@pytest.mark.parametrize("width", [1280, 800])
def test_no_formula_in_a_category_table_runs_into_the_next_column(browser, site_url, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        _open(page, site_url + "scalar-by-matrix/")
        assert page.locator(".md-compact td x-mml").count() >= 8
        assert page.evaluate(OVERFLOWING_MATH_JS) == []
        page.evaluate(LENGTHEN_MATH_JS)
        assert page.locator(".md-compact td a x-mml").count() >= 4
        assert page.evaluate(OVERFLOWING_MATH_JS) == []
    finally:
        ctx.close()


@pytest.mark.parametrize(("query", "anchor"), [
    ("Log-determinant", "id/log-det/"),
    ("Softmax Jacobian", "id/softmax-jacobian/"),
    ("det", "id/det/"),
    ("kron", "id/kronecker-axb/"),
    ("softmax", "id/softmax-jacobian/"),
    ("det-axb", "id/det-axb/"),
])
def test_search_finds_identity_by_title_and_function(page, site_url, query, anchor):
    _open(page, site_url)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    box.press_sequentially(query, delay=40)
    page.wait_for_load_state("networkidle")
    page.locator(".md-search-result__link").first.wait_for(timeout=10_000)
    # Results are re-rendered while the search worker catches up with the typing: read all
    # hrefs in one call, and wait (bounded) until the expected one is among them.
    read = """() => Array.from(document.querySelectorAll('.md-search-result__link'),
                               e => e.getAttribute('href'))"""
    found = []
    for _ in range(40):
        found = [urlsplit(h).path.lstrip("/") for h in page.evaluate(read) if h]
        if anchor in found:
            break
        page.wait_for_timeout(250)
    assert anchor in found, found


def test_one_click_switches_every_tab_set_and_persists(page, site_url):
    _open(page, site_url + "id/kronecker-axb/")
    assert set(page.evaluate(CHECKED_TABS_JS)) == {0}
    page.locator(".tabbed-labels label", has_text=DENOMINATOR).first.click()
    checked = page.evaluate(CHECKED_TABS_JS)
    assert checked and set(checked) == {1}
    assert "layout=denominator" in page.url and "__tabbed" not in page.url
    page.reload()
    page.wait_for_load_state("networkidle")
    assert set(page.evaluate(CHECKED_TABS_JS)) == {1}
    page.locator(".md-nav__link", has_text="Vector by vector").first.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path.endswith("/vector-by-vector/")
    page.locator(".md-compact a[href*='/id/']").first.click()  # a row: its own page
    page.wait_for_load_state("networkidle")
    assert "/id/" in page.url
    checked = page.evaluate(CHECKED_TABS_JS)
    assert checked and set(checked) == {1}  # the stored choice
    assert "layout=denominator" in page.url  # and said in the address, for sharing


def test_a_shared_layout_link_and_the_permalink_survive_tab_clicks(browser, site_url):
    """?layout= opens in that layout in a fresh browser (nothing stored); clicking a
    tab keeps the URL's #id (never #__tabbed_N) and survives a reload."""
    context = browser.new_context()
    try:
        page = context.new_page()
        _open(page, site_url + "id/log-det/?layout=denominator#log-det")
        assert set(page.evaluate(CHECKED_TABS_JS)) == {1}
        page.locator(".tabbed-labels label", has_text="Numerator layout").first.click()
        page.wait_for_timeout(200)
        parts = urlsplit(page.url)
        assert parts.fragment == "log-det" and parts.query == "layout=numerator", page.url
        page.reload()
        page.wait_for_load_state("networkidle")
        assert set(page.evaluate(CHECKED_TABS_JS)) == {0}
        assert urlsplit(page.url).fragment == "log-det"
    finally:
        context.close()


@pytest.mark.parametrize(("anchor", "card"), [("det-axb", "det-axb"),
                                              ("logdet", "log-det")])  # an alias
def test_an_old_category_permalink_lands_on_the_identity(page, site_url, anchor, card):
    _open(page, site_url + f"scalar-by-matrix/?layout=denominator#{anchor}")
    page.wait_for_url(f"**/id/{card}/**")
    assert urlsplit(page.url).path.endswith(f"/id/{card}/")
    assert "layout=denominator" in page.url  # the layout travels with it
    assert page.locator(f"h1#{card}").count() == 1


def test_keyboard_reaches_the_table_and_keeps_focus_on_the_tabs(page, site_url):
    _open(page, site_url + "scalar-by-matrix/")
    page.locator("body").click(position={"x": 1, "y": 1})
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('.md-compact')"):
            break
    focus = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
        return {href: e.getAttribute('href'), outline: s.outlineStyle, width: s.outlineWidth}}""")
    assert focus["href"] and "/id/" in focus["href"], focus  # a row's link, reached by Tab
    assert focus["outline"] != "none" and focus["width"] != "0px", focus  # and visibly so
    with page.expect_navigation():  # Enter follows the link (waiting for the load alone
        page.keyboard.press("Enter")  # raced: the old page was already idle)
    assert "/id/" in page.url
    first = page.locator(".tabbed-set > input").first
    first.focus()
    page.keyboard.press("ArrowRight")  # the radio group: the next layout
    page.wait_for_timeout(100)
    assert set(page.evaluate(CHECKED_TABS_JS)) == {1}
    assert page.evaluate("!!document.activeElement.closest('.tabbed-set')")  # not lost


def test_copy_button_yields_the_latex(context, site_url, sample_doc):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url[:-1])
    page = context.new_page()
    _open(page, site_url + "id/log-det/#log-det")
    form = next(r for r in sample_doc["identities"] if r["id"] == "log-det")["forms"]["numerator"]
    expected = f"{form['lhs']} = {form['latex']}"
    block = page.locator("#log-det ~ .tabbed-set").first.locator(".tabbed-block").first
    code = block.locator("pre code")
    assert code.inner_text().strip() == expected
    code.hover()
    block.locator(COPY_BUTTON).first.click()
    page.wait_for_timeout(200)
    assert page.evaluate("navigator.clipboard.readText()").strip() == expected


def test_pages_work_without_javascript(browser, site_url):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        _open(page, site_url + "scalar-by-matrix/")  # the rows' anchors still there
        heights = page.evaluate(MATHML_HEIGHTS_JS)
        assert len(heights) >= 8 and all(h > 5 for h in heights)
        assert page.locator("a#det-axb + a[href$='/id/det-axb/']").count() == 1
        _open(page, site_url + "id/log-det/")
        _assert_math_laid_out(page, minimum=4)
        _open(page, site_url + "id/kronecker-axb/")
        _assert_math_laid_out(page, minimum=2)
    finally:
        context.close()
