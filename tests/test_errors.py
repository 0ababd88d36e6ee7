"""The error registry: one failing fixture per code, each reporting exactly that code at
the line marked `# <- CODE` in the fixture."""

from __future__ import annotations

import re

import pytest
from conftest import FIXTURES, verify_json
from matderiv.errors import CODES, INVALID_PREFIXES, CatalogError, Problem, problem

INVALID = FIXTURES / "invalid"
FAILING = FIXTURES / "failing"


def _fixture_files() -> dict[str, object]:
    found = {}
    for folder in (INVALID, FAILING):
        for path in sorted(folder.glob("E*.yaml")):
            found.setdefault(path.name.split("-")[0], []).append(path)
    return found


FILES = _fixture_files()


def expected_status(code: str) -> str:
    if code.startswith(INVALID_PREFIXES):
        return "invalid"
    return "refuted" if code == "E406" else "failed"


def marked_lines(path, code: str) -> list[int]:
    marker = f"# <- {code}".encode()
    return [i for i, line in enumerate(path.read_bytes().split(b"\n"), 1) if marker in line]


def test_every_code_has_a_fixture():
    missing = sorted(set(CODES) - set(FILES))
    assert not missing, f"codes without a fixture in tests/fixtures/: {missing}"


def test_no_fixture_for_an_unknown_code():
    assert sorted(set(FILES) - set(CODES)) == []


def test_fixture_folder_matches_code_family():
    for code, paths in FILES.items():
        for path in paths:
            want = INVALID if code.startswith(INVALID_PREFIXES) else FAILING
            assert path.parent == want, path


@pytest.mark.parametrize("path", [p for ps in FILES.values() for p in ps],
                         ids=lambda p: p.stem)
def test_fixture_reports_exactly_its_code(path):
    code = path.name.split("-")[0]
    lines = marked_lines(path, code)
    assert lines, f"{path.name} has no `# <- {code}` marker"
    exit_code, report = verify_json(path, extra=fixture_args(path))
    rows = report["identities"]
    problems = [p for row in rows for p in row["problems"]]
    assert {p["code"] for p in problems} == {code}, [str(p) for p in problems]
    assert sorted(p["line"] for p in problems) == lines
    for row in rows:
        for p in row["problems"]:
            assert p["file"] == str(path)
            assert p["message"]
            assert f"{path}:{p['line']}: {code} {p['message']}" in row["message"]
        if row["problems"]:
            assert row["status"] == expected_status(code), row
        else:
            assert row["status"] == "verified", row
    assert report["summary"][expected_status(code)] >= 1
    assert exit_code == (0 if expected_status(code) == "refuted" else 1)


def fixture_args(path) -> list[str]:
    """Options a fixture asks for in a first line `# verify-args: ...` (budgets)."""
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    return first.split(":", 1)[1].split() if first.startswith("# verify-args:") else []


def test_problem_text_is_file_line_code_message():
    p = problem("E104", "cat/x.yaml", 7, key="title")
    assert str(p) == "cat/x.yaml:7: E104 missing required key `title`"
    assert p.makes_invalid
    assert p.as_dict() == {"code": "E104", "message": "missing required key `title`",
                           "file": "cat/x.yaml", "line": 7}


@pytest.mark.parametrize("code", sorted(CODES))
def test_invalid_versus_failed_by_prefix(code):
    p = Problem(code, "m", "f", 1)
    assert p.makes_invalid == (code[:2] in ("E1", "E2", "E3"))


def test_codes_are_well_formed():
    for code, template in CODES.items():
        assert re.fullmatch(r"E[1-4]\d\d", code)
        assert template and not template.endswith(" ")


def test_catalog_error_formats_its_template():
    exc = CatalogError("E203", where="of", name="foo")
    assert exc.code == "E203"
    assert str(exc) == "of: unknown function `foo`"
    with pytest.raises(KeyError):
        CatalogError("E203", where="of")
