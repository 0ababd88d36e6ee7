"""Benchmark of the website: `python -m matderiv.commands.bench_site` prints figures,
asserts nothing.

Two questions the site issue asks: how long the whole site takes to build from the real
catalog, and how much sooner a reader sees the largest category page laid out with our
build-time KaTeX than with the client-side MathJax recipe that mkdocs-material documents
(pymdownx.arithmatex `generic: true` + MathJax 3 loaded as a script). The MathJax page is
the same generated page, built by the same mkdocs run with each formula left as
arithmatex's `\\(...\\)` / `\\[...\\]` markup, in a temporary copy that serves MathJax
from `node_modules/mathjax` (npm, pinned in package-lock.json; never a CDN).
"""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from matderiv import resources
from matderiv.render.site import (
    build_site,
    downloads,
    generate_sources,
    render_math,
    run_mkdocs,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]
REPO = resources.REPO
MATHJAX_ES5 = REPO / "node_modules" / "mathjax" / "es5"
RUNS = 5
# The configuration of mkdocs-material's "Math > MathJax" recipe (docs/javascripts/mathjax.js).
MATHJAX_CONFIG = """window.MathJax = {
  tex: {inline: [["\\\\(", "\\\\)"]], display: [["\\\\[", "\\\\]"]],
        processEscapes: true, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex"}
};
document$.subscribe(() => {
  MathJax.startup.output.clearCache()
  MathJax.typesetClear()
  MathJax.texReset()
  MathJax.typesetPromise()
})
"""
# Installed before the page's own scripts: a frame-by-frame watch that records when the
# page first holds every formula in its laid-out form (ms since navigation start).
WATCH_JS = """(() => {
  const [selector, count] = %s;
  const tick = () => {
    if (document.querySelectorAll(selector).length >= count) {
      window.__laidOut = performance.now();
    } else { requestAnimationFrame(tick); }
  };
  requestAnimationFrame(tick);
})();"""
# Read once the watch has fired: its time, the load event and the last font received.
RESULT_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fonts = performance.getEntriesByType('resource')
    .filter(e => /\\.woff2?(\\?|$)/.test(e.name)).map(e => e.responseEnd);
  return {formulas: window.__laidOut, load: nav.loadEventEnd,
          fonts: Math.max(0, ...fonts), font_files: fonts.length};
}"""


def _catalog() -> dict:
    """The real catalog document, verified (the verifier's cache makes this quick)."""
    from matderiv.pipeline.build import document, load_verified

    verified = load_verified()
    if verified is None:
        sys.exit("the catalog does not verify; nothing to benchmark")
    return document(*verified)


def _timed(label: str, fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - start
    print(f"  {label:38s} {seconds:6.2f} s")
    return result, seconds


def bench_build(doc: dict, out: Path) -> None:
    """The whole build once, then its stages separately to show where the time goes."""
    print(f"Site build, whole catalog ({len(doc['identities'])} identities):")
    _timed("build_site (everything)", build_site, doc, out)
    sources, _ = _timed("  generate pages (jinja2)", generate_sources, doc)
    _timed(f"  KaTeX, {len(sources.math.items)} formulas, one Node", render_math, sources.math)


def _arithmatex(item: dict) -> str:
    """What pymdownx.arithmatex (generic) emits for one formula."""
    tex = html.escape(item["tex"], quote=False)
    if item["display"]:
        return f'<div class="arithmatex">\\[{tex}\\]</div>'
    return f'<span class="arithmatex">\\({tex}\\)</span>'


def build_mathjax_copy(doc: dict, out: Path, page: str) -> None:
    """The same site with formulas left to MathJax in the browser, MathJax served locally."""
    sources = generate_sources(doc)
    bundle = {"site_url": doc.get("site_url"), "copyright": "benchmark copy",
              "nav": sources.nav, "pages": sources.pages, "overrides": sources.overrides,
              "math": [_arithmatex(i) for i in sources.math.items],
              "katex_dist": str(REPO / "node_modules" / "katex" / "dist"),
              "downloads": downloads(doc)}
    with tempfile.TemporaryDirectory(prefix="matderiv-bench-") as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_text(json.dumps(bundle), encoding="utf-8")
        run_mkdocs(path, out)
    shutil.copytree(MATHJAX_ES5, out / "mathjax")
    (out / "mathjax" / "config.js").write_text(MATHJAX_CONFIG, encoding="utf-8")
    index = out / page / "index.html"
    text = index.read_text(encoding="utf-8")
    scripts = ('<script src="../mathjax/config.js"></script>\n'
               '<script src="../mathjax/tex-mml-chtml.js"></script>\n</body>')
    index.write_text(text.replace("</body>", scripts, 1), encoding="utf-8")


@functools.cache
def _handler(root: str):
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, *args) -> None:
            pass

    return Quiet


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def measure(browser, url: str, selector: str, count: int) -> dict:
    """One cold load (fresh context, empty cache): times in ms from navigation start."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.add_init_script(WATCH_JS % json.dumps([selector, count]))
        page.goto(url, wait_until="load", timeout=120_000)
        page.wait_for_function("window.__laidOut !== undefined", timeout=120_000)
        result = page.evaluate(RESULT_JS)
        result["laid_out"] = max(result["formulas"], result["fonts"])
        return result
    finally:
        context.close()


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench_browser(ours: Path, mathjax: Path, page: str, count: int) -> None:
    from playwright.sync_api import sync_playwright

    print(f"\nLargest category page `{page}/`: {count} formulas, median of {RUNS} cold loads "
          "in headless chromium (ms from navigation start):")
    servers = [serve(ours), serve(mathjax)]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            cases = [("build-time KaTeX (ours)", servers[0][1], ".md-math, x-math"),
                     ("client-side MathJax 3", servers[1][1], "mjx-container")]
            results = {}
            for label, base, selector in cases:
                runs = [measure(browser, base + page + "/", selector, count) for _ in range(RUNS)]
                results[label] = runs
                print(f"  {label:24s} all formulas in place {_median(runs, 'formulas'):6.0f}   "
                      f"last font {_median(runs, 'fonts'):6.0f} ({runs[0]['font_files']} files)"
                      f"   load event {_median(runs, 'load'):6.0f}   laid out "
                      f"{_median(runs, 'laid_out'):6.0f}")
            browser.close()
    finally:
        for server, _ in servers:
            server.shutdown()
    ours_ms = _median(results[cases[0][0]], "laid_out")
    theirs_ms = _median(results[cases[1][0]], "laid_out")
    print(f"\n  every formula laid out (all in place and fonts received): ours {ours_ms:.0f} ms, "
          f"MathJax {theirs_ms:.0f} ms, MathJax / ours = {theirs_ms / ours_ms:.1f}x")


PAGE_LIMIT = 600_000  # bytes, every HTML page (issue 14)
READY_RATIO = 2.5  # the heaviest page ready within this many times the home page
# Ready: loaded, fonts in, laid out (two frames after the fonts are ready).
READY_JS = """() => document.fonts.ready.then(() => new Promise(done =>
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now())))))"""


def page_weights(site: Path) -> list[tuple[int, str]]:
    """Every HTML page of a built site, heaviest first: (bytes, path)."""
    return sorted(((p.stat().st_size, p.relative_to(site).as_posix())
                   for p in site.rglob("*.html")), reverse=True)


def ready_ms(browser, url: str) -> float:
    """One cold load (fresh context): ms from navigation start until ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=120_000)
        return page.evaluate(READY_JS)
    finally:
        context.close()


def bench_weight(site: Path) -> bool:
    """Page weights (limit PAGE_LIMIT) and the heaviest page's ready time against the
    home page's, in the same browser run; True when both targets are met."""
    from playwright.sync_api import sync_playwright

    weights = page_weights(site)
    heavy = [(n, p) for n, p in weights if n > PAGE_LIMIT]
    print(f"\nPage weight, {len(weights)} HTML pages of {site}:")
    for n, p in weights[:5]:
        print(f"  {n / 1000:8.1f} kB  {p}")
    print(f"  pages over {PAGE_LIMIT // 1000} kB: {len(heavy)}")
    heaviest = weights[0][1].removesuffix("index.html")
    server, base = serve(site)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            home, worst = [], []
            for _ in range(RUNS):  # interleaved, so both see the same machine load
                home.append(ready_ms(browser, base))
                worst.append(ready_ms(browser, base + heaviest))
            browser.close()
    finally:
        server.shutdown()
    ratio = statistics.median(worst) / statistics.median(home)
    print(f"  ready (loaded, fonts in, laid out), median of {RUNS} cold loads: home "
          f"{statistics.median(home):.0f} ms, heaviest `{heaviest}` "
          f"{statistics.median(worst):.0f} ms, ratio {ratio:.2f} (target <= {READY_RATIO})")
    return not heavy and ratio <= READY_RATIO


def main() -> None:
    if sys.argv[1:2] == ["--weight"]:  # an already built site, e.g. build/site
        sys.exit(0 if bench_weight(Path(sys.argv[2] if len(sys.argv) > 2 else
                                        REPO / "build" / "site")) else 1)
    doc = _catalog()
    sizes: dict[str, int] = {}
    for rec in doc["identities"]:
        sizes[rec["category"]] = sizes.get(rec["category"], 0) + 1
    page = max(sizes, key=sizes.get)
    with tempfile.TemporaryDirectory(prefix="matderiv-bench-") as tmp:
        ours, theirs = Path(tmp) / "ours", Path(tmp) / "mathjax"
        bench_build(doc, ours)
        build_mathjax_copy(doc, theirs, page)
        count = len(re.findall(r'class="md-math"|<x-math',
                               (ours / page / "index.html").read_text(encoding="utf-8")))
        bench_browser(ours, theirs, page, count)
        bench_weight(ours)


if __name__ == "__main__":
    main()
