"""`matderiv build`: verify the catalog, then write every output into build/.

A pipeline, one stage a step: gather and verify, make the catalog document, then write
JSON, BibTeX, the site and the PDFs into a fresh folder beside the output folder, and
only when all of them succeeded exchange the two folders in one step, so a failed build
leaves the previous outputs intact and no reader sees a mix of two builds. The output
folder carries a marker file; a non-empty folder without it was not made by matderiv
and is refused, never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from matderiv import __version__
from matderiv.catalog.load import load_all
from matderiv.check.verify import problems_of, verify_all
from matderiv.errors import safe_text
from matderiv.publish.coverage import read_gaps
from matderiv.publish.export import catalog_document, read_references, read_release
from matderiv.resources import CATALOG

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


MARKER = ".matderiv-build"  # in every output folder matderiv made, and only there


class OutputFolderError(Exception):
    """The output folder is one matderiv must not write into (or replace)."""


def check_output_folder(out: Path) -> None:
    """`out` must be missing, empty, or a folder matderiv made (it holds MARKER).

    matderiv replaces the whole folder, so a folder it did not make (a home directory,
    a source tree, a typo) is refused before anything is verified or written. The
    verdict cache (MATDERIV_CACHE, which `make` keeps in build/cache) does not count: it
    is moved into the new folder as it is."""
    if os.path.islink(out) or (out.exists() and not out.is_dir()):
        raise OutputFolderError(f"{safe_text(out)} exists and is not a folder")
    if not out.exists() or (out / MARKER).is_file():
        return
    cache = _cache_entry(out)
    others = sorted(p.name for p in out.iterdir() if p.name != cache and not _is_cache(p))
    if others:
        raise OutputFolderError(
            f"{safe_text(out)} is not empty and was not made by matderiv (no {MARKER} "
            f"file; it holds {safe_text(', '.join(others[:5]))}"
            f"{', ...' if len(others) > 5 else ''}): choose an empty or new folder, or "
            "remove it yourself")


def _is_cache(path: Path) -> bool:
    """build/cache as `make` leaves it: a folder holding only matderiv's verdicts and
    derivations."""
    return path.name == "cache" and path.is_dir() and not path.is_symlink() and all(
        p.name in ("verdicts", "derivations") and p.is_dir() for p in path.iterdir())


def _cache_entry(out: Path) -> str | None:
    """The name of the entry of `out` that holds the verdict cache, if any."""
    from matderiv.check.verify import cache_dir

    try:
        cache = cache_dir().resolve()
        return cache.relative_to(out.resolve()).parts[0] if cache != out.resolve() else None
    except (ValueError, IndexError, OSError):
        return None


def build(out: Path, jobs: int = 0, use_cache: bool = True, only=OUTPUTS) -> int:
    out = Path(out)
    try:
        check_output_folder(out)
    except OutputFolderError as exc:
        print(f"matderiv: {exc}", file=sys.stderr)
        return 2
    timings = {}
    started = time.perf_counter()
    verified = load_verified(jobs, use_cache)
    if verified is None:
        return 1
    timings["verify"] = time.perf_counter() - started
    doc = document(*verified)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fresh, out.stat().st_mode & 0o7777 if out.is_dir() else 0o777 & ~umask)
    try:
        for name in only:
            started = time.perf_counter()
            _WRITERS[name](doc, fresh / name)
            timings[name] = time.perf_counter() - started
        if "site" in only:
            _pdfs_into_site(fresh, out)
        _swap(fresh, out, only)
    except OutputFolderError as exc:
        print(f"matderiv: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    for name, seconds in timings.items():
        print(f"{name:14s} {seconds:6.1f} s")
    return 0


def _pdfs_into_site(fresh: Path, out: Path) -> None:
    """The site links its PDF sheets at pdf/ (matderiv.render.site.PDF_FOLDER), so a
    deployment of build/site alone serves them: copied in from this build's pdf/, or the
    previous build's when the PDFs were not rebuilt."""
    from matderiv.render.site import PDF_FOLDER

    source = fresh / "pdf" if (fresh / "pdf").is_dir() else out / "pdf"
    pdfs = sorted(source.glob("*.pdf")) if source.is_dir() else []
    if pdfs and (fresh / "site").is_dir():
        (fresh / "site" / PDF_FOLDER).mkdir(exist_ok=True)
        for pdf in pdfs:
            shutil.copy2(pdf, fresh / "site" / PDF_FOLDER / pdf.name)


def _write_json(doc: dict, path: Path) -> None:
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")


def _write_bib(doc: dict, path: Path) -> None:
    from matderiv.publish.cite import bibtex

    path.write_text(bibtex(doc), encoding="utf-8")


def _write_site(doc: dict, path: Path) -> None:
    from matderiv.render.site import build_site

    build_site(doc, path)


def _write_pdf(doc: dict, path: Path) -> None:
    from matderiv.render.pdf import build_pdfs

    build_pdfs(doc, path)
    for pattern in ("*.aux", "*.fls", "*.fdb_latexmk", "*.out"):  # run records, not outputs
        for leftover in path.glob(pattern):
            leftover.unlink()


_WRITERS = {"catalog.json": _write_json, "matderiv.bib": _write_bib, "site": _write_site,
            "pdf": _write_pdf}


def _swap(fresh: Path, out: Path, names) -> None:
    """Replace `out` by `fresh` in one step, so no reader ever sees a mixed build.

    `fresh` holds the outputs just written; the outputs not rebuilt this time are linked
    in from `out`, everything else in `out` (the verdict cache) is moved in, the marker
    is written, and the two folders are exchanged atomically (renameat2 RENAME_EXCHANGE
    on Linux; elsewhere two renames, between which `out` is briefly missing, never
    mixed). What is left at `fresh` is then only matderiv's own old outputs."""
    check_output_folder(out)  # again: the folder may have changed during the build
    names = set(names)
    if not out.exists():
        _rewrite_marker(fresh)
        os.rename(fresh, out)
        return
    entries = [e for e in sorted(out.iterdir()) if e.name != MARKER and e.name not in names]
    for entry in entries:
        if entry.name in OUTPUTS:  # an output not rebuilt: kept, linked in
            _link_tree(entry, fresh / entry.name)
    _rewrite_marker(fresh)
    moved = []  # from here on, whatever fails puts these back where they were
    try:
        for entry in entries:
            if entry.name not in OUTPUTS:
                os.rename(entry, fresh / entry.name)
                moved.append(entry.name)
        if _exchange(fresh, out):
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
        try:
            os.rename(fresh, out)
        except OSError:
            os.rename(old / out.name, out)
            old.rmdir()
            raise
        moved = []
        fresh.mkdir()
        os.rename(old / out.name, fresh / "old")
        old.rmdir()
    except BaseException:
        for name in moved:
            os.rename(fresh / name, out / name)
        raise


def _rewrite_marker(folder: Path) -> None:
    outputs = sorted(p.name for p in folder.iterdir() if p.name in OUTPUTS)
    (folder / MARKER).write_text(json.dumps({"made_by": "matderiv", "version": __version__,
                                             "outputs": outputs}) + "\n", encoding="utf-8")


def _link_tree(source: Path, target: Path) -> None:
    """A copy made of hard links (a plain copy where links are not possible)."""
    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, copy_function=link, symlinks=True)
    else:
        link(source, target)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
