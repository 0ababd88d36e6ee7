"""Two site builds of the same document are byte-identical (no clock, no random ids)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from matderiv.render.site import build_site

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "catalog-sample.json"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for KaTeX")
def test_two_site_builds_are_byte_identical(tmp_path):
    doc = json.loads(FIXTURE.read_text(encoding="utf-8"))
    first, second = tmp_path / "one", tmp_path / "two"
    build_site(doc, first)
    build_site(doc, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    different = [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    assert different == []
