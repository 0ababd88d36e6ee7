"""The strict loader: line marks, the schema, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write
from matderiv.catalog import load as L
from matderiv.catalog.schema import IDENTITY_KEYS

FULL = """\
identities:
  - id: quadratic-form
    title: Quadratic form
    symbols:
      x: vector n
      A: matrix n n
    of: x.T*A*x
    wrt: x
    derivative:
      numerator: x.T*(A + A.T)
      denominator: (A + A.T)*x
    differential: dx.T*(A + A.T)*x
    tags: [quadratic form, least squares]
    sources:
      - {ref: cookbook, eq: 81}
      - {ref: wikipedia, table: scalar-by-vector, row: 12}
    notes: Some *Markdown*.
"""


def load(tmp_path, text):
    return L.load_file(write(tmp_path, text))


def test_the_format_example_loads_with_lines(tmp_path):
    (ident,), loose = load(tmp_path, FULL)
    assert loose == [] and ident.problems == []
    assert ident.id == "quadratic-form"
    assert ident.symbols == {"x": "vector n", "A": "matrix n n"}
    assert ident.derivative == {"numerator": "x.T*(A + A.T)", "denominator": "(A + A.T)*x"}
    assert ident.differential == "dx.T*(A + A.T)*x"
    assert ident.tags == ["quadratic form", "least squares"]
    assert ident.sources[0] == {"ref": "cookbook", "eq": 81}
    assert ident.line == 2
    assert ident.line_of("of") == 7
    assert ident.line_of("symbols.A") == 6
    assert ident.line_of("derivative.denominator") == 11
    assert ident.line_of("differential") == 12
    assert ident.line_of("no-such-key") == 2


def test_content_has_no_positions(tmp_path):
    (ident,), _ = load(tmp_path, FULL)
    content = ident.content()
    assert "line" not in content and "file" not in content
    (moved,), _ = load(tmp_path, "\n\n# a comment\n" + FULL)
    assert moved.line == 5
    assert moved.content() == content


def test_every_schema_problem_at_once(tmp_path):
    text = """\
    identities:
      - id: Not_An_Id
        titel: misspelled
        symbols: [x]
        of: x
        derivatve: {numerator: x}
        status: draft
        sources: [{eq: 1}]
        see_also: [also_bad]
    """
    (ident,), _ = load(tmp_path, text)
    found = sorted((p.code, p.line) for p in ident.problems)
    assert found == [
        ("E103", 3), ("E103", 6), ("E104", 2), ("E104", 2), ("E105", 4), ("E106", 2),
        ("E106", 9), ("E110", 8), ("E112", 7),
    ]
    missing = sorted(p.message for p in ident.problems if p.code == "E104")
    assert missing == ["missing required key `title`", "missing required key `wrt`"]
    hints = [p.message for p in ident.problems if p.code == "E103"]
    assert "did you mean `title`?" in hints[0] and "did you mean `derivative`?" in hints[1]


@pytest.mark.parametrize("key", [k.name for k in IDENTITY_KEYS if k.required])
def test_each_required_key(tmp_path, key):
    text = FULL.replace("  - id: quadratic-form\n    title:", "  - title:") if key == "id" else FULL
    lines = [line for line in text.splitlines() if not line.startswith(f"    {key}:")]
    if key == "symbols":
        lines = [line for line in lines if not line.startswith("      x:")
                 and not line.startswith("      A:")]
    (ident,), _ = load(tmp_path, "\n".join(lines) + "\n")
    assert [p.code for p in ident.problems] == ["E104"]
    assert f"`{key}`" in ident.problems[0].message


def test_unknown_key_inside_derivative(tmp_path):
    (ident,), _ = load(tmp_path, FULL.replace("      numerator:", "      numerater:"))
    assert [(p.code, p.line) for p in ident.problems] == [("E103", 10)]
    assert "derivative.numerater" in ident.problems[0].message


def test_unquoted_comma_in_flow_style_is_an_error(tmp_path):
    text = FULL.replace("    derivative:\n      numerator: x.T*(A + A.T)\n"
                        "      denominator: (A + A.T)*x\n",
                        "    derivative: {numerator: kron(A, A)}\n")
    (ident,), loose = load(tmp_path, text)
    # `{numerator: kron(A, A)}` is the mapping {numerator: "kron(A", "A)": null}
    assert [p.code for p in ident.problems + loose] == ["E103"]


def test_numbers_as_expressions_and_titles(tmp_path):
    (ident,), _ = load(tmp_path, FULL.replace("title: Quadratic form", "title: 42")
                       .replace("differential: dx.T*(A + A.T)*x", "differential: 0"))
    assert ident.title == "42" and ident.differential == "0" and ident.problems == []


@pytest.mark.parametrize("value", ["[a, b]", "{a: 1}", "true"])
def test_of_must_be_an_expression(tmp_path, value):
    (ident,), _ = load(tmp_path, FULL.replace("of: x.T*A*x", f"of: {value}"))
    assert [(p.code, p.line) for p in ident.problems] == [("E105", 7)]


@pytest.mark.parametrize("value", ["[a, b]", "{a: 1}", "true", "null"])
def test_a_non_text_of_is_a_problem(tmp_path, value):
    (ident,), _ = load(tmp_path, FULL.replace("of: x.T*A*x", f"of: {value}"))
    assert ident.problems and {p.code for p in ident.problems} <= {"E104", "E105"}


def test_erratum_keys(tmp_path):
    (ident,), _ = load(tmp_path, FULL + "    status: erratum\n    corrected_by: other-id\n")
    assert ident.status == "erratum" and ident.corrected_by == "other-id"
    assert ident.problems == []
    (ident,), _ = load(tmp_path, FULL + "    corrected_by: other-id\n")
    assert [p.code for p in ident.problems] == ["E112"]


def test_links_are_checked_across_files(tmp_path):
    write(tmp_path, FULL, "a.yaml")
    write(tmp_path, FULL.replace("id: quadratic-form", "id: other")
          + "    see_also: [quadratic-form, missing-one]\n", "b.yaml")
    identities, loose = L.load_all([tmp_path])
    assert loose == []
    assert [p.code for p in identities[0].problems] == []
    assert [(p.code, p.line) for p in identities[1].problems] == [("E111", 18)]


def test_gather_skips_bibliography_and_gaps(tmp_path):
    for name in ("a.yaml", "references.yaml", "gaps.yaml", "b.yml", "c.txt"):
        (tmp_path / name).write_text("identities: []\n")
    assert [p.name for p in L.gather([tmp_path])] == ["a.yaml"]
    explicit = tmp_path / "references.yaml"
    assert L.gather([explicit]) == [explicit]


def test_the_catalog_loads_without_problems():
    catalog = Path(__file__).resolve().parents[1] / "catalog"
    identities, loose = L.load_all([catalog])
    assert loose == []
    assert len(identities) >= 18
    assert [str(p) for i in identities for p in i.problems] == []
