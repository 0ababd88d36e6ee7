"""mkdocs hooks: the only place that knows mkdocs.

`matderiv.render.site.build_site` writes a JSON bundle (generated pages, hand-written pages
with their formulas as placeholders, KaTeX output, navigation) and names it in the
environment variable MATDERIV_SITE_BUNDLE. These hooks add the generated pages in memory
(nothing lands in the git-tracked `site/`), put the rendered math in place, and ship
KaTeX's stylesheet and woff2 fonts with the site so that no page needs a CDN.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from matderiv.render import search
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

BUNDLE_ENV = "MATDERIV_SITE_BUNDLE"
KATEX_PREFIX = "assets/katex"
# @@MATH-<nonce>-<D or I>-<index>@@, the nonce drawn per build by matderiv.render.site.MathTable
_BLOCK = r"<p>\s*@@MATH-{nonce}-D-(\d+)@@\s*</p>"
_ANY = r"@@MATH-{nonce}-([DIM])-(\d+)@@"
# KaTeX's CSS offers woff2, woff and ttf; every browser that runs the theme takes woff2.
_FALLBACK_FONTS = re.compile(r',\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)')

_bundle: dict = {}


def _load() -> dict:
    """The bundle, read once per build; without it there is no catalog to show."""
    path = os.environ.get(BUNDLE_ENV)
    if not path:
        raise PluginError(f"{BUNDLE_ENV} is not set: build the site with `matderiv build` "
                          "(matderiv.render.site.build_site), not with plain mkdocs")
    _bundle.clear()
    _bundle.update(json.loads(Path(path).read_text(encoding="utf-8")))
    return _bundle


def on_config(config):
    """Site URL, footer and navigation come from the catalog document."""
    bundle = _load()
    if bundle.get("site_url"):
        config["site_url"] = bundle["site_url"]
    config["copyright"] = bundle.get("copyright")
    config["nav"] = bundle["nav"]
    return config


def on_files(files: Files, config) -> Files:
    """Generated pages, downloads (catalog.json, matderiv.bib) and KaTeX assets join the
    hand-written files, in memory only."""
    for src_uri, content in _bundle["pages"].items():
        files.append(File.generated(config, src_uri, content=content))
    for name, content in _bundle.get("downloads", {}).items():
        files.append(File.generated(config, name, content=content))
    if "search" in _bundle:  # the normaliser's tables (matderiv.render.search)
        files.append(File.generated(config, search.TABLE_ASSET,
                                    content=_bundle["search"]["table"]))
    dist = Path(_bundle["katex_dist"])
    css = _FALLBACK_FONTS.sub("", (dist / "katex.min.css").read_text(encoding="utf-8"))
    files.append(File.generated(config, f"{KATEX_PREFIX}/katex.min.css", content=css))
    for font in sorted((dist / "fonts").glob("*.woff2")):
        files.append(File.generated(config, f"{KATEX_PREFIX}/fonts/{font.name}",
                                    abs_src_path=str(font)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Hand-written pages are read with their `$...$` already replaced by placeholders."""
    return _bundle["overrides"].get(page.file.src_uri, markdown)


def on_page_content(html: str, page, config, files) -> str:
    """Placeholders become KaTeX HTML, kept out of the search index."""
    math = _bundle["math"]
    nonce = re.escape(_bundle["math_nonce"])

    def block(m: re.Match) -> str:
        return f'<div class="md-math" data-search-exclude>{math[int(m.group(1))]}</div>'

    def any_(m: re.Match) -> str:
        html_ = math[int(m.group(2))]
        if m.group(1) == "D":
            return f'<div class="md-math" data-search-exclude>{html_}</div>'
        if m.group(1) == "M":  # MathML alone (the category tables)
            return f"<x-mml data-search-exclude>{html_}</x-mml>"
        return f"<x-math data-search-exclude>{html_}</x-math>"

    html = re.sub(_ANY.format(nonce=nonce), any_,
                  re.sub(_BLOCK.format(nonce=nonce), block, html))
    marker = f"@@MATH-{_bundle['math_nonce']}-"
    if marker in html:
        raise PluginError(f"{page.file.src_uri}: a math placeholder was left unrendered")
    # the table of contents holds text only: a heading with math gives a data-toc-label
    if any(marker in item.title for item in _toc(page.toc)):
        raise PluginError(f"{page.file.src_uri}: a heading with math has no data-toc-label")
    return html


def _toc(items):
    for item in items:
        yield item
        yield from _toc(item.children)


def on_post_build(config) -> None:
    """The search index (written by the theme's search plugin, which runs first): one
    entry per identity in place of its page's sections, no code, no category tables;
    beside it each identity's formula (MathML) for the result list, and the titles that
    hold formulas, as HTML (text escaped, formulas MathML)."""
    data = _bundle.get("search")
    if not data:
        return
    site = Path(config["site_dir"])
    path = site / "search" / "search_index.json"
    index = json.loads(path.read_text(encoding="utf-8"))
    tables = [f"{slug}/" for slug in _bundle.get("category_slugs", [])]
    index = search.rewrite_index(index, data["entries"], tables)
    path.write_text(json.dumps(index, separators=(",", ":"), ensure_ascii=False),
                    encoding="utf-8")
    math = _bundle["math"]
    formulas = {loc: math[i] for loc, i in sorted(data["formulas"].items())}
    (site / search.FORMULAS_FILE).write_text(
        json.dumps(formulas, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    titles = {loc: search.title_html(parts, math)
              for loc, parts in sorted(data.get("titles", {}).items())}
    (site / search.TITLES_FILE).write_text(
        json.dumps(titles, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
