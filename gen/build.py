"""`matderiv build`: verify the catalog, then write every output into build/.

A pipeline, one stage a step: gather and verify, make the catalog document, then write
JSON, BibTeX, the site and the PDFs into a fresh folder, and only when all of them
succeeded swap that folder's contents into place, so a failed build leaves the previous
outputs intact.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from .coverage import read_gaps
from .export import catalog_document, read_references, read_release
from .load import load_all
from .verify import problems_of, verify_all

PROJECT = Path(__file__).resolve().parent.parent
CATALOG = PROJECT / "catalog"
OUTPUTS = ("catalog.json", "matderiv.bib", "site", "pdf")


def load_verified(jobs: int = 0, use_cache: bool = True, progress=None):
    """The catalog's identities and verdicts; problems printed, None when any is bad."""
    identities, loose = load_all([CATALOG])
    verdicts = verify_all(identities, jobs, use_cache, progress)
    bad = [(i, v) for i, v in zip(identities, verdicts) if v.status in ("failed", "invalid")]
    for problem in loose:
        print(problem, file=sys.stderr)
    for ident, verdict in bad:
        for problem in problems_of(ident, verdict):
            print(problem, file=sys.stderr)
    if bad or loose:
        print(f"matderiv: {len(bad) + len(loose)} identities do not verify; nothing built",
              file=sys.stderr)
        return None
    return identities, verdicts


def document(identities, verdicts) -> dict:
    return catalog_document(identities, verdicts, read_release(CATALOG / "release.yaml"),
                            read_references(CATALOG / "references.yaml"),
                            read_gaps(CATALOG / "gaps.yaml"))


def build(out: Path, jobs: int = 0, use_cache: bool = True, only=OUTPUTS) -> int:
    timings = {}
    started = time.perf_counter()
    verified = load_verified(jobs, use_cache)
    if verified is None:
        return 1
    timings["verify"] = time.perf_counter() - started
    doc = document(*verified)
    out.mkdir(parents=True, exist_ok=True)
    fresh = out / ".new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    for name in only:
        started = time.perf_counter()
        _WRITERS[name](doc, fresh / name)
        timings[name] = time.perf_counter() - started
    _swap(fresh, out, only)
    for name, seconds in timings.items():
        print(f"{name:14s} {seconds:6.1f} s")
    return 0


def _write_json(doc: dict, path: Path) -> None:
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")


def _write_bib(doc: dict, path: Path) -> None:
    from .cite import bibtex

    path.write_text(bibtex(doc), encoding="utf-8")


def _write_site(doc: dict, path: Path) -> None:
    from .render.site import build_site

    build_site(doc, path)


def _write_pdf(doc: dict, path: Path) -> None:
    from .render.pdf import build_pdfs

    build_pdfs(doc, path)
    for pattern in ("*.aux", "*.fls", "*.fdb_latexmk", "*.out"):  # run records, not outputs
        for leftover in path.glob(pattern):
            leftover.unlink()


_WRITERS = {"catalog.json": _write_json, "matderiv.bib": _write_bib, "site": _write_site,
            "pdf": _write_pdf}


def _swap(fresh: Path, out: Path, names) -> None:
    for name in names:
        target, old = out / name, out / f".old-{name}"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        (fresh / name).rename(target)
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    shutil.rmtree(fresh, ignore_errors=True)
