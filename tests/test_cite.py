"""BibTeX: build/matderiv.bib parses (a small parser here, and bibtex itself when it is
installed), one entry per identity keyed by its id plus one for the catalog; hostile
text is escaped. CITATION.cff is valid CFF 1.2.0."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT
from matderiv.pipeline.build import build
from matderiv.publish.cite import bibtex, identity_entry

ENTRY = re.compile(r"@(\w+)\{([^,\s]+),")


def parse_bib(text: str) -> dict:
    """{key: {"type", field: value}}; AssertionError on anything malformed."""
    entries, i = {}, 0
    while True:
        start = text.find("@", i)
        if start < 0:
            assert not text[i:].strip(), f"text outside entries: {text[i:][:80]!r}"
            return entries
        assert not text[i:start].strip(), f"text between entries: {text[i:start][:80]!r}"
        match = ENTRY.match(text, start)
        assert match, text[start:start + 80]
        kind, key = match.groups()
        assert key not in entries, f"duplicate key {key}"
        fields, i = {"type": kind}, match.end()
        while True:
            close = re.match(r"\s*\}", text[i:])
            if close:
                i += close.end()
                break
            field = re.match(r"\s*(\w+)\s*=\s*\{", text[i:])
            assert field, f"{key}: bad field at {text[i:i + 60]!r}"
            name, i = field.group(1), i + field.end()
            depth, begin = 1, i
            while depth:
                ch = text[i]
                if ch == "\\":
                    i += 2
                    continue
                depth += {"{": 1, "}": -1}.get(ch, 0)
                i += 1
            fields[name] = text[begin:i - 1]
            comma = re.match(r"\s*,", text[i:])
            if comma:
                i += comma.end()
        entries[key] = fields


def unescaped(value: str) -> list[str]:
    """Characters special to TeX that are not escaped."""
    return [m.group(0) for m in re.finditer(r"(?<!\\)[%&$#_^~]", value)]


@pytest.fixture(scope="module")
def bib(tmp_path_factory, cache_root):
    out = tmp_path_factory.mktemp("bib")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATDERIV_CACHE", str(cache_root))
        assert build(out, only=("catalog.json", "matderiv.bib")) == 0
    import json

    doc = json.loads((out / "catalog.json").read_text(encoding="utf-8"))
    return out / "matderiv.bib", doc


def test_one_entry_per_id_plus_catalog(bib):
    path, doc = bib
    entries = parse_bib(path.read_text(encoding="utf-8"))
    ids = [r["id"] for r in doc["identities"]]
    assert set(entries) == set(ids) | {"matderiv"}
    assert len(entries) == len(ids) + 1
    for record in doc["identities"]:
        entry = entries[record["id"]]
        assert entry["type"] == "misc"
        assert entry.get("url") == record["permalink"]  # none until a site URL is set
        assert entry["version"] == doc["version"]
        assert record["verification"]["status"] in entry["note"]
        for name in ("title", "note"):
            assert not unescaped(entry[name]), (record["id"], name)
    assert entries["matderiv"]["author"] == "{matderiv contributors}"


@pytest.mark.skipif(shutil.which("bibtex") is None, reason="bibtex is not installed")
def test_bibtex_itself_reads_it(bib, tmp_path):
    path, doc = bib
    shutil.copy(path, tmp_path / "matderiv.bib")
    (tmp_path / "t.aux").write_text("\\citation{*}\n\\bibdata{matderiv}\n\\bibstyle{plain}\n",
                                    encoding="utf-8")
    result = subprocess.run(["bibtex", "t"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    log = (tmp_path / "t.blg").read_text(encoding="utf-8", errors="replace")
    assert "error message" not in log, log[-2000:]
    assert result.returncode in (0, 1), log[-2000:]  # 1: warnings only (e.g. no month)
    bbl = (tmp_path / "t.bbl").read_text(encoding="utf-8", errors="replace")
    assert bbl.count("\\bibitem") == len(doc["identities"]) + 1


HOSTILE = "Evil } title { with \\end{document} % 100 & $x_1^2$ # ~ \n @misc{x, and more}"


def test_hostile_titles_are_escaped():
    doc = {"version": "0.1.0", "date": "2026-11-22", "site_url": "https://example.org/",
           "identities": []}
    record = {"id": "evil-id", "title": HOSTILE, "category": "scalar-by-scalar",
              "permalink": "https://example.org/scalar-by-scalar/#evil-id",
              "verification": {"status": "verified", "tool_version": "0.1.0",
                               "exact": "rational } arithmetic", "points": 6}}
    doc["identities"] = [record]
    text = bibtex(doc)
    entries = parse_bib(text)
    assert set(entries) == {"matderiv", "evil-id"}
    title = entries["evil-id"]["title"]
    assert not unescaped(title) and "\n" not in title
    assert "\\textbraceright{}" in title and "\\textbackslash{}" in title
    assert "url = {https://example.org/scalar-by-scalar/#evil-id}" in identity_entry(record, doc)


def test_citation_cff():
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    release = yaml.safe_load((ROOT / "catalog" / "release.yaml").read_text(encoding="utf-8"))
    assert data["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "date-released", "license"):
        assert data.get(key), key
    assert data["authors"] == [{"name": "matderiv contributors"}]
    assert str(data["version"]) == str(release["version"])
    assert str(data["date-released"]) == str(release["date"])
    assert data["license"] == "MIT"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(data["date-released"]))
    # the one URL setting: CITATION.cff names the same deployment URL, or none at all
    if release.get("site_url"):
        assert str(data["url"]).rstrip("/") == str(release["site_url"]).rstrip("/")
    else:
        assert "url" not in data and "matderiv.org" not in str(data)


def test_without_a_site_url_nothing_prints_an_invented_address(monkeypatch):
    """Until a deployment URL is configured: permalinks are None, BibTeX has no url,
    and MATDERIV_SITE_URL (over release.yaml) makes every permalink id/<id>/ under it."""
    from matderiv.publish.cite import bibtex, permalink
    from matderiv.publish.export import SITE_URL_ENV, read_release, site_url

    monkeypatch.delenv(SITE_URL_ENV, raising=False)
    release = read_release(ROOT / "catalog" / "release.yaml")
    assert release["site_url"] is None and permalink(None, "log-det") is None
    doc = {"version": "0.1.0", "date": "2026-11-22", "site_url": None, "identities": [
        {"id": "log-det", "title": "Log-det", "category": "scalar-by-matrix", "permalink": None,
         "verification": {"status": "verified", "tool_version": "0.1.0", "exact": "exact",
                          "points": 3}}]}
    text = bibtex(doc)
    assert "url =" not in text and "http" not in text and "Identity log-det" in text
    monkeypatch.setenv(SITE_URL_ENV, "https://example.github.io/matderiv")
    release = read_release(ROOT / "catalog" / "release.yaml")
    assert release["site_url"] == "https://example.github.io/matderiv/"
    assert permalink(release["site_url"], "log-det") == \
        "https://example.github.io/matderiv/id/log-det/"
    assert site_url("") is None
    with pytest.raises(ValueError):
        site_url("javascript:alert(1)")


def test_changelog_names_the_release():
    release = yaml.safe_load((ROOT / "catalog" / "release.yaml").read_text(encoding="utf-8"))
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {release['version']} ({release['date']})" in text


# ---------------------------------------------------------------- a real BibTeX parser

HOSTILE_TITLES = [
    HOSTILE,
    "\\}",  # the classic: a backslash does not hide a brace from BibTeX
    "a \\} b = {c}, note = {pwned}",
    "}}}}} @misc{evil, title={owned}}",
    "{{{{{ unclosed",
    "\\\\\\",
    "quote \" and ' and `",
    '"}, note = "pwned',
    "% comment } @comment{",
    "x\x00y\x1b[31mz\u2028w\r\nv\tu",
    "ünïcödé ∂f/∂X · αβγ",
    "#string @preamble{\\input{/etc/passwd}}",
]
_UNESCAPE = {r"\textbraceleft{}": "{", r"\textbraceright{}": "}", r"\textbackslash{}": "\\",
             r"\textasciitilde{}": "~", r"\textasciicircum{}": "^", r"\%": "%", r"\&": "&",
             r"\$": "$", r"\#": "#", r"\_": "_"}


def plain(value: str) -> str:
    """bib_escape's output back to the text it stands for."""
    pattern = "|".join(re.escape(k) for k in sorted(_UNESCAPE, key=len, reverse=True))
    return re.sub(pattern, lambda m: _UNESCAPE[m.group(0)], value)


def normalized(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _doc(titles):
    doc = {"version": "0.1.0", "date": "2026-11-22", "site_url": "https://example.org/",
           "identities": []}
    for i, title in enumerate(titles):
        doc["identities"].append({
            "id": f"evil-{i}", "title": title, "category": "scalar-by-scalar",
            "permalink": f"https://example.org/scalar-by-scalar/#evil-{i}",
            "verification": {"status": "verified", "tool_version": "0.1.0",
                             "exact": "rational arithmetic", "points": 6}})
    return doc


def test_hostile_titles_round_trip_through_bibtexparser():
    import bibtexparser
    from bibtexparser.bparser import BibTexParser

    doc = _doc(HOSTILE_TITLES)
    parser = BibTexParser(common_strings=False, ignore_nonstandard_types=False,
                          interpolate_strings=False)
    database = bibtexparser.loads(bibtex(doc), parser=parser)
    entries = {e["ID"]: e for e in database.entries}
    assert set(entries) == {"matderiv"} | {r["id"] for r in doc["identities"]}
    assert not database.comments and not database.preambles and not database.strings
    for record in doc["identities"]:
        entry = entries[record["id"]]
        assert set(entry) == {"ENTRYTYPE", "ID", "title", "author", "year", "version", "url",
                              "note"}, entry
        assert plain(entry["title"]) == normalized(f"{record['title']} (scalar by scalar)")
        assert entry.get("url") == record["permalink"]  # none until a site URL is set


@pytest.mark.skipif(shutil.which("bibtex") is None, reason="bibtex is not installed")
def test_bibtex_itself_reads_hostile_titles(tmp_path):
    doc = _doc(HOSTILE_TITLES)
    (tmp_path / "evil.bib").write_text(bibtex(doc), encoding="utf-8")
    (tmp_path / "t.aux").write_text("\\citation{*}\n\\bibdata{evil}\n\\bibstyle{plain}\n",
                                    encoding="utf-8")
    subprocess.run(["bibtex", "t"], cwd=tmp_path, capture_output=True, timeout=120)
    log = (tmp_path / "t.blg").read_text(encoding="utf-8", errors="replace")
    assert "error message" not in log, log[-2000:]
    bbl = (tmp_path / "t.bbl").read_text(encoding="utf-8", errors="replace")
    assert bbl.count("\\bibitem") == len(HOSTILE_TITLES) + 1
