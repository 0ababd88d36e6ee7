"""Permanent ids: a released id may never disappear (unless an alias maps it)."""

from __future__ import annotations

import pytest
from conftest import ROOT
from matderiv.catalog.released import (
    document_aliases,
    problems,
    read_aliases,
    read_released,
    resolve,
    write_released,
)
from matderiv.catalog.schema import ID_PATTERN

RELEASED = ROOT / "catalog" / "released-ids.txt"
ALIASES = ROOT / "catalog" / "aliases.txt"



def test_released_list_is_sorted_ids_with_header():
    text = RELEASED.read_text(encoding="utf-8")
    assert text.startswith("#")
    ids = read_released(RELEASED)
    assert ids == sorted(set(ids)) and len(ids) > 300
    assert all(ID_PATTERN.fullmatch(i) for i in ids)


def test_no_released_id_disappears(catalog_doc):
    """Removing or renaming a released identity without an alias fails here."""
    ids = {r["id"] for r in catalog_doc["identities"]}
    found = problems(read_released(RELEASED), ids, read_aliases(ALIASES))
    assert not found, "\n".join(found)


def test_removed_id_is_caught():
    released = ["a-b", "c-d", "gone"]
    assert problems(released, {"a-b", "c-d"}, {}) == [
        "released id `gone` is no longer in the catalog and has no alias"]
    assert problems(released, {"a-b", "c-d", "new"}, {"gone": "new"}) == []
    assert problems(released, {"a-b", "c-d"}, {"gone": "also-gone"})
    assert problems(released, {"a-b", "c-d", "gone"}, {"gone": "a-b"})  # reuse of an old id


def test_resolve_follows_chains_and_stops_on_cycles():
    aliases = {"old": "older-new", "older-new": "current", "x": "y", "y": "x"}
    assert resolve("old", {"current"}, aliases) == "current"
    assert resolve("x", {"current"}, aliases) is None
    assert resolve("current", {"current"}, aliases) == "current"


def test_aliases_file(tmp_path):
    path = tmp_path / "aliases.txt"
    path.write_text("# comment\nold-id new-id  # renamed in 0.2\n\n", encoding="utf-8")
    assert read_aliases(path) == {"old-id": "new-id"}
    assert document_aliases(["new-id"], path) == {"old-id": "new-id"}
    assert document_aliases(["other"], path) == {}
    for bad in ("old-id\n", "Old new\n", "a b\na c\n"):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ValueError, match="aliases.txt:"):
            read_aliases(path)
    assert read_aliases(ALIASES) == {} or all(ID_PATTERN.fullmatch(k) for k in
                                              read_aliases(ALIASES))


def test_document_exports_aliases(catalog_doc):
    assert catalog_doc["aliases"] == document_aliases([r["id"] for r in
                                                       catalog_doc["identities"]], ALIASES)


def test_write_released_keeps_old_ids(tmp_path):
    path = tmp_path / "released.txt"
    write_released(["b-id", "a-id"], path)
    write_released(["c-id"], path)
    assert read_released(path) == ["a-id", "b-id", "c-id"]
    assert path.read_text(encoding="utf-8").startswith("# Every identity id")
