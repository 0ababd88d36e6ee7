"""Coverage of the references: which Wikipedia rows and Cookbook equations the catalog
holds, which are recorded as gaps (not expressible in format v1), and which are missing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from matderiv.catalog.schema import CATEGORIES

WIKIPEDIA_ROWS = {"vector-by-vector": 11, "scalar-by-vector": 20, "vector-by-scalar": 9,
                  "scalar-by-matrix": 35, "matrix-by-scalar": 10, "scalar-by-scalar": 8,
                  "differential": 16}
COOKBOOK_RANGE = range(32, 133)  # chapter 2 up to the Frobenius norm; 133-144 structured


def read_gaps(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle).get("gaps", [])


def _wikipedia(source: dict):
    try:
        return (str(source["table"]), int(source["row"]))
    except (KeyError, ValueError, TypeError):
        return None


def _cookbook(source: dict):
    try:
        return int(source["eq"])
    except (KeyError, ValueError, TypeError):
        return None


def coverage(records: list[dict], gaps: list[dict]) -> dict:
    """Counts per category and per source; records are catalog-document records."""
    verified = [r for r in records if r["status"] == "verified"]
    wiki, book = {}, {}
    for r in verified:
        for s in r["sources"]:
            if s["ref"] == "wikipedia" and _wikipedia(s):
                wiki.setdefault(_wikipedia(s), []).append(r["id"])
            if s["ref"] == "cookbook" and _cookbook(s) is not None:
                book.setdefault(_cookbook(s), []).append(r["id"])
    gap_wiki = {_wikipedia(g["source"]) for g in gaps if g["source"].get("ref") == "wikipedia"}
    gap_book = {_cookbook(g["source"]) for g in gaps if g["source"].get("ref") == "cookbook"}
    all_rows = {(t, i) for t, n in WIKIPEDIA_ROWS.items() for i in range(1, n + 1)}
    return {
        "categories": dict(Counter(r["category"] for r in verified)),
        "errata": sum(1 for r in records if r["status"] == "refuted"),
        "wikipedia": _split(all_rows, set(wiki), gap_wiki) | {"by": wiki},
        "cookbook": _split(set(COOKBOOK_RANGE), set(book), gap_book) | {"by": book},
    }


def _split(numbered: set, covered: set, gaps: set) -> dict:
    """Every numbered row or equation of a source is exactly one of: covered (a verified
    identity cites it), a recorded gap, or missing; so the three counts add up to the
    total. Citations and gaps outside the numbering (a mistyped row, Cookbook eqs after
    132) are listed apart, never counted."""
    return {"covered": sorted(numbered & covered), "gaps": sorted(numbered & gaps - covered),
            "missing": sorted(numbered - covered - gaps), "total": len(numbered),
            "outside": sorted((covered | gaps) - numbered, key=str)}


def report(cov: dict) -> str:
    lines = ["Identities per category (verified):"]
    for slug in CATEGORIES:
        lines.append(f"  {slug:18s} {cov['categories'].get(slug, 0):4d}")
    lines.append(f"  {'total':18s} {sum(cov['categories'].values()):4d}"
                 f"   (+ {cov['errata']} refuted errata)")
    w, c = cov["wikipedia"], cov["cookbook"]
    lines.append(f"Wikipedia rows: {len(w['covered'])} of {w['total']} covered, "
                 f"{len(w['gaps'])} recorded as gaps, {len(w['missing'])} missing")
    if w["missing"]:
        lines.append("  missing: " + ", ".join(f"{t} {r}" for t, r in w["missing"]))
    lines.append(f"Cookbook equations 32-132: {len(c['covered'])} of {c['total']} covered, "
                 f"{len(c['gaps'])} recorded as gaps, {len(c['missing'])} missing")
    if c["missing"]:
        lines.append("  missing: " + ", ".join(map(str, c["missing"])))
    return "\n".join(lines)
