"""Bounded reading and YAML limits: only regular files, sizes checked before reading,
symbolic links never followed, values beyond a limit a clear `FILE:LINE: CODE message`,
and every other file of the run verified as usual."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import identity, run_cli, verify_json, write
from matderiv.catalog import load as L

GOOD = """\
identities:
  - id: fine
    title: Fine
    symbols: {x: vector n}
    of: x.T*x
    wrt: x
    derivative: {denominator: 2*x}
"""


def one_bad(tmp_path, name: str) -> tuple[dict, dict]:
    """Verify a folder with good.yaml and the bad file `name`: (bad row, report)."""
    write(tmp_path, GOOD, name="good.yaml")
    code, report = verify_json(tmp_path)
    assert code == 1
    rows = {Path(row["file"]).name: row for row in report["identities"]}
    assert rows["good.yaml"]["status"] == "verified", rows["good.yaml"]
    bad = rows[name]
    assert bad["status"] == "invalid"
    return bad, report


def only_code(row: dict) -> str:
    (problem,) = row["problems"]
    assert row["message"] == f"{problem['file']}:{problem['line']}: {problem['code']} " \
                             f"{problem['message']}"
    return problem["code"]


# ---------------------------------------------------------------- what is read


def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    write(tmp_path, GOOD, name="good.yaml")
    started = time.monotonic()
    result = run_cli("verify", tmp_path, "--json", "--jobs", "1", "--no-cache",
                     env={"MATDERIV_CACHE": str(tmp_path / "cache")}, timeout=60)
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stderr
    rows = {Path(r["file"]).name: r for r in json.loads(result.stdout)["identities"]}
    assert rows["good.yaml"]["status"] == "verified"
    assert rows["pipe.yaml"]["problems"][0]["code"] == "E114"
    assert "FIFO" in rows["pipe.yaml"]["message"]


def test_device_is_refused(tmp_path):
    code, report = verify_json("/dev/zero")
    (row,) = report["identities"]
    assert code == 1 and only_code(row) == "E114"
    assert row["line"] == 1 and "character device" in row["message"]


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd", "outside.yaml"])
def test_links_in_a_folder_are_not_followed(tmp_path, target):
    folder = tmp_path / "folder"
    folder.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text(GOOD)
    (folder / "link.yaml").symlink_to(tmp_path / target if target == "outside.yaml" else target)
    bad, _ = one_bad(folder, "link.yaml")
    assert only_code(bad) == "E114" and "symbolic link" in bad["message"]


def test_a_named_link_is_not_followed(tmp_path):
    (tmp_path / "real.yaml").write_text(GOOD)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    code, report = verify_json(tmp_path / "link.yaml")
    assert code == 1 and only_code(report["identities"][0]) == "E114"


def test_size_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:  # sparse: 6 MB that take no time to write
        handle.truncate(6_000_000)
    reads = []
    real_read = os.read

    def read(fd, n):
        if os.fstat(fd).st_size == 6_000_000:
            reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(L.os, "read", read)
    bad, _ = one_bad(tmp_path, "big.yaml")
    assert only_code(bad) == "E114" and "larger than" in bad["message"]
    assert reads == []


def test_read_is_bounded_even_if_stat_lies(tmp_path, monkeypatch):
    """A file that grows after the stat (or lies about its size) is read at most
    limit + 1 bytes."""
    path = tmp_path / "grows.yaml"
    path.write_bytes(b"#" * 5000)
    reads = []
    real_read = os.read
    monkeypatch.setattr(L.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(L._Unreadable, match="larger than 1000 bytes"):
        L.read_bounded(path, limit=1000)
    assert sum(reads) <= 1001


def test_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "edge.yaml"
    path.write_bytes(b"#" * 1000)
    assert len(L.read_bounded(path, limit=1000)) == 1000


# ---------------------------------------------------------------- values beyond a limit


def bad_file(tmp_path, text: str) -> dict:
    write(tmp_path, text, name="bad.yaml")
    bad, _ = one_bad(tmp_path, "bad.yaml")
    return bad


@pytest.mark.parametrize("value, code, line", [
    ("9" * 5000, "E116", 3),  # Python refuses str() of an int past 4,300 digits
    ("0x" + "f" * 5000, "E116", 3),  # a hexadecimal one is not refused by int()
    ("1" + ":59" * 2000, "E116", 3),  # a sexagesimal one
    ('"\\ud800"', "E117", 3),
    ('"a\\udfffb"', "E117", 3),
    ("2024-13-01", "E100", 3),  # a date YAML cannot build
    ("[" * 200 + "]" * 200, "E115", 3),
])
def test_bad_values_are_problems_at_their_line(tmp_path, value, code, line):
    text = "identities:\n  - id: x\n    title: " + value + "\n"
    bad = bad_file(tmp_path, text)
    assert only_code(bad) == code
    assert bad["line"] == line


def test_lone_surrogate_in_a_key_or_an_expression(tmp_path):
    for text in (GOOD.replace("x: vector n}", 'x: vector n, "\\ud800": scalar}'),
                 GOOD.replace("of: x.T*x", 'of: "x.T*x\\ud800"')):
        bad = bad_file(tmp_path, text.replace("id: fine", "id: other"))
        assert only_code(bad) == "E117"


def test_huge_list_is_refused_quickly(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("identities: [" + ", ".join(["1"] * 1_500_000) + "]\n")
    started = time.monotonic()
    bad, _ = one_bad(tmp_path, "bad.yaml")
    assert time.monotonic() - started < 30
    assert only_code(bad) == "E115" and "more than" in bad["message"]


def test_limits_leave_the_catalog_far_inside():
    """The real catalog stays well inside the YAML limits."""
    from matderiv.resources import CATALOG

    paths = sorted(CATALOG.glob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        assert path.stat().st_size < L.MAX_FILE_BYTES / 10
        data, problems = L.read_yaml(path)
        assert problems == [], problems


# ---------------------------------------------------------------- references


def test_unknown_reference_lists_the_known_ones(tmp_path):
    item = identity("cited", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"},
                    sources=[{"ref": "cookbook", "eq": 81}, {"ref": "no-such-book"}])
    path = write(tmp_path, item)
    code, report = verify_json(path)
    (row,) = report["identities"]
    assert code == 1 and row["status"] == "invalid"
    (problem,) = row["problems"]
    assert problem["code"] == "E118"
    assert "`no-such-book`" in problem["message"] and "cookbook" in problem["message"]
    assert path.read_text().splitlines()[problem["line"] - 1].strip().startswith("- ref: no")


def test_references_beside_the_file_are_known(tmp_path):
    item = identity("cited", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"},
                    sources=[{"ref": "my-notes", "page": 3}])
    path = write(tmp_path, item)
    (tmp_path / "references.yaml").write_text("references:\n  my-notes: {title: Notes}\n")
    code, report = verify_json(path)
    assert code == 0, report


@pytest.mark.parametrize("value", ["1.0e+400", "-1.0e+400", ".nan", ".inf"])
def test_a_source_number_json_cannot_hold(tmp_path, value):
    text = (GOOD.replace("id: fine", "id: other")
            + f"    sources: [{{ref: cookbook, eq: {value}}}]\n")
    bad = bad_file(tmp_path, text)
    assert only_code(bad) == "E110" and "finite" in bad["message"]
