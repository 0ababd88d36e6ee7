"""Two builds of the same commit give byte-identical catalog.json and matderiv.bib, and a
build that fails half-way leaves the previous outputs intact. (The site's and the PDFs'
byte-identity is tested by their renderers' tests.)"""

from __future__ import annotations

import matderiv.pipeline.build
import pytest
from matderiv.pipeline.build import build

OUTPUTS = ("catalog.json", "matderiv.bib")


def test_two_builds_are_byte_identical(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert build(first, only=OUTPUTS) == 0
    assert build(second, only=OUTPUTS, use_cache=True) == 0
    for name in OUTPUTS:
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        assert a == b, name
        assert str(tmp_path).encode() not in a  # no absolute path of the checkout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no temporary left


def test_failed_build_keeps_previous_outputs(tmp_path, monkeypatch):
    assert build(tmp_path, only=OUTPUTS) == 0
    before = {name: (tmp_path / name).read_bytes() for name in OUTPUTS}

    def broken(doc, path):
        path.write_text("half-written", encoding="utf-8")
        raise RuntimeError("writer failed half-way")

    monkeypatch.setitem(matderiv.pipeline.build._WRITERS, "matderiv.bib", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        build(tmp_path, only=OUTPUTS)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == before[name], name
