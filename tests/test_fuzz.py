"""No traceback for any input: hypothesis writes YAML documents and expressions, and
`matderiv verify --json` (run in-process through matderiv.commands.cli.main) must exit 0 or 1, print
valid JSON and never a traceback, whatever it is given."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml
from conftest import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# A fixed, modest run in the suite (about 20 s); MATDERIV_FUZZ_EXAMPLES=500 hunts longer
# with fresh random examples.
EXAMPLES = int(os.environ.get("MATDERIV_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(max_examples=EXAMPLES or 30, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUDGET = ["--jobs", "1", "--no-cache", "--cpu-seconds", "5", "--wall-seconds", "10"]

# ---------------------------------------------------------------- strategies

HOSTILE_TEXT = ["\ud800", "\udfff", "\x00", "\x1b[2J", "\u2028", "\u202e", "\r", "\t", "'''",
                '"""', "{{ x }}", "{% if %}", "\\", "#", "@@MATH-D-0@@", "9" * 5000,
                "0x" + "f" * 3000, "1e999", "-1e999", "nan", ".inf", "2024-13-01", "~", "&a",
                "*a", "!!python/object:os.system", "<<", "? ", "- ", ": ", "|", ">"]
EXPR_TOKENS = ["x", "A", "B", "X", "n", "dx", "dX", "t", ".T", "*", "+", "-", "/", "**", "(",
               ")", ",", "tr(", "det(", "inv(", "log(", "exp(", "kron(", "diag(", "vec(",
               "eye(n)", "ones(n)", "diff(", "2", "0", "0.5", "1e308", "10**6", "99999999999",
               "12", " ", "#", "'", '"', "\n", "\\", "\ud800", "\x00", "__class__", "lambda",
               "[", "]", "{", "}", ":", ";", "@", "x.T*A*x"]
DECLARATIONS = ["scalar", "vector n", "vector 9", "vector 0", "matrix n n", "matrix m n",
                "matrix n n symmetric", "matrix n n positive-definite", "matrix n n orthogonal",
                "scalar positive", "function", "vector m of x", "matrix 99999999 2",
                "vector n of os", "matrix", ""]

texts = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE_TEXT))
expressions = st.lists(st.sampled_from(EXPR_TOKENS), min_size=1, max_size=25).map("".join)
leaves = st.one_of(texts, st.integers(), st.floats(), st.booleans(), st.none(), expressions)
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)), max_leaves=12)


@st.composite
def identities(draw):
    """An identity mapping: mostly the right keys, with anything as values."""
    symbols = draw(st.dictionaries(st.sampled_from(["x", "A", "X", "t", "n", "g", "dx", "T"]),
                                   st.sampled_from(DECLARATIONS), max_size=4))
    item = {"id": draw(st.one_of(st.sampled_from(["a", "quad-form", "x"]), texts)),
            "title": draw(texts), "symbols": symbols, "of": draw(expressions),
            "wrt": draw(st.sampled_from(["x", "A", "X", "t", "y"]))}
    item["derivative"] = {draw(st.sampled_from(["numerator", "denominator", "vec", "typo"])):
                          draw(expressions)}
    if draw(st.booleans()):
        item["differential"] = draw(expressions)
    extra = draw(st.dictionaries(st.sampled_from(
        ["tags", "sources", "notes", "see_also", "status", "corrected_by", "unknown", "of"]),
        values, max_size=3))
    item.update(extra)
    if draw(st.booleans()):  # and now and then one key of any value at all
        item[draw(st.sampled_from(sorted(item)))] = draw(values)
    return item


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def yaml_text(document) -> str:
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, width=10**9)


raw_yaml = st.lists(st.one_of(st.sampled_from(
    ["identities:", "\n", "  - ", "id: a", "of: ", "    ", "symbols: {x: vector n}", "[", "]",
     "{", "}", ",", ":", "'", '"', "&", "*", "!", "%", "|", ">", "#"] + HOSTILE_TEXT),
    st.text(max_size=8)), max_size=40).map("".join)

# ---------------------------------------------------------------- the property


def check_run(content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        data = content if isinstance(content, bytes) else content.encode("utf-8",
                                                                         "surrogatepass")
        path.write_bytes(data)
        code, out, err = run_main("verify", path, "--json", *BUDGET)
    assert "Traceback" not in err, err[-3000:]
    assert code in (0, 1), (code, err[-2000:])
    report = json.loads(out)  # valid JSON, always
    assert set(report) == {"summary", "identities"}
    bad = report["summary"]["failed"] + report["summary"]["invalid"]
    assert code == (1 if bad else 0)
    for row in report["identities"]:
        assert row["message"].isprintable() or row["message"] == "", row["message"][:200]
        for problem in row["problems"]:
            assert problem["line"] >= 1 and problem["code"][0] == "E"


@SETTINGS
@given(st.lists(identities(), min_size=1, max_size=3))
def test_yaml_documents(items):
    check_run(yaml_text({"identities": items}))


@SETTINGS
@given(values)
def test_any_yaml_value(document):
    check_run(yaml_text(document))


@SETTINGS
@given(raw_yaml)
def test_raw_yaml_text(text):
    check_run(text)


@SETTINGS
@given(expressions, expressions, st.sampled_from(["of", "numerator", "differential"]))
def test_expressions(of, form, where):
    item = {"id": "fuzz", "title": "Fuzz", "symbols": {"x": "vector n", "A": "matrix n n",
                                                         "X": "matrix m n"},
            "of": "x.T*A*x", "wrt": "x", "derivative": {"numerator": "x.T*(A + A.T)"}}
    if where == "of":
        item["of"] = of
    elif where == "numerator":
        item["derivative"]["numerator"] = form
    else:
        item["differential"] = form
    check_run(yaml_text({"identities": [item]}))
