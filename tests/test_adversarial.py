"""The adversarial corpus: identities built to catch a verifier that says `verified` too easily,
or refuses true identities.

Why this exists: the catalog alone mostly holds true identities, so a verifier that checks at
too few sizes, at too narrow a set of points or with too loose a tolerance still passes it.
tests/fixtures/adversarial/ holds, one file per class of attack, identities whose status is
known in advance:

- true/*.yaml: every identity is mathematically true (each was checked independently with
  NumPy at random points, sizes 2..7, both signs) and must be `verified`;
- false/*.yaml: every identity is false, most of them subtly (true only at small sizes
  (Cayley-Hamilton), for one parity, on part of the domain, up to 1e-45, at points where
  doubles overflow, or in the transposed layout), and must be `failed`;
- malformed/*.yaml: every identity is malformed and must be `invalid`.

The classes (file names, the same in true/ and false/) follow catalog-format.md: the degree
bound and the size rule (cayley-hamilton, high-degree, parity), the points that must cover
the declarations (domain, overflow), exactness at the working precision (tiny-errors), the
row-vector rule (row-vectors), the tensor categories given by `derivative.vec` alone
(vec-only), and the layouts (layout). Each file is verified once, as a subprocess of the
installed console script, and every identity is its own test case, so a failure names it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, run_cli

CORPUS = FIXTURES / "adversarial"
EXPECTED = {"true": "verified", "false": "failed", "malformed": "invalid"}
CLASSES = ("cayley-hamilton", "domain", "overflow", "tiny-errors", "row-vectors", "vec-only",
           "parity", "layout", "high-degree")
TIMEOUT = 900  # seconds per file: a stricter verifier checks at larger sizes


def _files(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.yaml"))


def _ids(path: Path) -> list[str]:
    return [item["id"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))["identities"]]


CASES = [pytest.param(kind, path, ident, id=f"{kind}/{path.stem}/{ident}")
         for kind in EXPECTED for path in _files(kind) for ident in _ids(path)]
FILES = [pytest.param(kind, path, id=f"{kind}/{path.stem}")
         for kind in EXPECTED for path in _files(kind)]


@functools.cache
def _report(path: Path) -> tuple[int, dict]:
    """`matderiv verify --json --no-cache FILE` once per file (per test process)."""
    result = run_cli("verify", path, "--json", "--no-cache", "--jobs", "2", timeout=TIMEOUT)
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr[-2000:]}"
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:  # pragma: no cover - a verifier bug
        pytest.fail(f"--json printed something that is not JSON ({exc}): {result.stdout[:500]}")
    return result.returncode, report


def _rows(path: Path) -> dict:
    rows: dict = {}
    for row in _report(path)[1]["identities"]:
        rows.setdefault(row.get("id"), []).append(row)
    return rows


@pytest.mark.parametrize("kind, path, ident", CASES)
def test_status(kind, path, ident):
    rows = _rows(path)
    expected = EXPECTED[kind]
    if ident not in rows and kind == "malformed":
        # A file-level error (a duplicate key, say) may be reported without the identity's id.
        whole_file = [r for r in rows.get(None, []) + rows.get("", []) if r["status"] == "invalid"]
        assert whole_file, f"{ident}: not reported, and no file-level `invalid` row: {rows}"
        return
    assert ident in rows, f"{ident}: no row in the report (ids reported: {sorted(map(str, rows))})"
    [row] = rows[ident]
    assert row["status"] == expected, (
        f"{ident} ({path.parent.name}/{path.name}, line {row.get('line')}): expected "
        f"{expected}, got {row['status']}: {row.get('message') or '(no message)'}")


@pytest.mark.parametrize("kind, path", FILES)
def test_one_row_per_identity_and_exit_code(kind, path):
    code, report = _report(path)
    ids = _ids(path)
    reported = [row.get("id") for row in report["identities"]]
    if kind != "malformed":
        assert sorted(reported) == sorted(ids)
    assert code == (0 if kind == "true" else 1)
    assert report["summary"]["total"] == len(report["identities"])


# ---------------------------------------------------------------- the corpus itself


def test_corpus_ids_are_unique_and_well_formed():
    seen: dict = {}
    for kind in EXPECTED:
        for path in _files(kind):
            for ident in _ids(path):
                assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", ident) and len(ident) <= 60, ident
                assert ident not in seen, f"{ident} in {path} and {seen[ident]}"
                seen[ident] = path


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_has_true_and_false_cases(name):
    true, false = CORPUS / "true" / f"{name}.yaml", CORPUS / "false" / f"{name}.yaml"
    assert len(_ids(true)) >= 4
    assert len(_ids(false)) >= 6


def test_no_stray_files():
    classes = {f"{name}.yaml" for name in CLASSES}
    for kind in ("true", "false"):
        assert {p.name for p in _files(kind)} == classes
    assert _files("malformed")
