""""Check it yourself" snippets: every one of the real catalog runs in a plain Python with
NumPy and passes (errata: shows the refutation); a wrong identity's snippet fails."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, dump

from gen.forms import prepare
from gen.load import load_all
from gen.snippet import snippet

# One process runs many snippets, each in a fresh namespace, and reports per snippet.
RUNNER = r"""
import contextlib, io, json, sys, traceback
results = {}
for key, text in json.load(sys.stdin).items():
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(text, key, "exec"), {"__name__": "__main__"})
        lines = out.getvalue().strip().splitlines()
        results[key] = "ok" if lines and lines[-1] == "ok" else "no ok: " + out.getvalue()
    except BaseException as exc:
        results[key] = type(exc).__name__ + ": " + str(exc)[:500]
json.dump(results, sys.stdout)
"""


def run_snippets(snippets: dict, cwd) -> dict:
    """Run {key: program} in fresh Python processes (two batches in parallel)."""
    keys = sorted(snippets)
    batches = [keys[0::2], keys[1::2]]
    procs = []
    for batch in batches:
        proc = subprocess.Popen([sys.executable, "-I", "-c", RUNNER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=cwd)
        procs.append((proc, json.dumps({k: snippets[k] for k in batch})))
    results = {}
    for proc, data in procs:
        out, err = proc.communicate(data, timeout=300)
        assert proc.returncode == 0, err
        results.update(json.loads(out))
    return results


def snippet_of(tmp_path, item: dict) -> str:
    path = tmp_path / "ids.yaml"
    path.write_text(dump(item), encoding="utf-8")
    identities, loose = load_all([path])
    assert not loose and len(identities) == 1
    prep = prepare(identities[0])
    assert not prep.problems, prep.problems
    return snippet(prep)


def run_one(text: str, tmp_path) -> subprocess.CompletedProcess:
    """One snippet exactly as a reader would run it: `python snippet.py` in an empty folder."""
    path = tmp_path / "snippet.py"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)


def test_every_catalog_snippet_passes(catalog_doc, tmp_path):
    records = catalog_doc["identities"]
    snippets = {r["id"]: r["snippet"] for r in records}
    assert all(isinstance(s, str) and s for s in snippets.values())
    results = run_snippets(snippets, tmp_path)
    failed = {k: v for k, v in results.items() if v != "ok"}
    assert not failed, failed
    assert len(results) == len(records)
    errata = [r for r in records if r["erratum"]]
    assert errata and all("ERRATUM" in r["snippet"] for r in errata)


def test_snippet_is_generated_code_only(catalog_doc):
    """Only NumPy is imported, and the program never evaluates text."""
    for record in catalog_doc["identities"]:
        text = record["snippet"]
        imports = [line for line in text.splitlines() if "import " in line]
        assert imports == ["import numpy as np"], (record["id"], imports)
        for word in ("eval(", "exec(", "__import__", "open(", "sympify"):
            assert word not in text, (record["id"], word)
        compile(text, record["id"], "exec")


TRUE = {"id": "quad", "title": "Quadratic form", "symbols": {"x": "vector n",
        "A": "matrix n n"}, "of": "x.T*A*x", "wrt": "x",
        "derivative": {"numerator": "x.T*(A + A.T)"}, "differential": "dx.T*(A + A.T)*x"}


@pytest.mark.parametrize("change, message", [
    ({"derivative": {"numerator": "x.T*(A + A)"}}, "numerator"),
    ({"derivative": {"numerator": "2*x.T*(A + A.T)"}}, "numerator"),
    ({"derivative": {"denominator": "x.T*(A + A.T)"}}, "shape"),
    ({"differential": "dx.T*A*x"}, "differential"),
])
def test_wrong_identity_snippet_fails(tmp_path, change, message):
    assert run_one(snippet_of(tmp_path, TRUE), tmp_path).stdout.strip() == "ok"
    wrong = {**TRUE, **change}
    result = run_one(snippet_of(tmp_path, wrong), tmp_path)
    assert result.returncode != 0
    assert "AssertionError" in result.stderr and message in result.stderr, result.stderr


RULE = {"id": "chain", "title": "Chain rule", "symbols": {
    "g": "function", "u": "vector m of x", "x": "vector n", "S": "matrix m m symmetric of x"},
    "of": "g(u).T*S*g(u)", "wrt": "x",
    "derivative": {"numerator": "2*g(u).T*S*diag(diff(g)(u))*diff(u, x)"}}


def test_dependent_symbols_and_generic_functions(tmp_path):
    """A rule with `of x` symbols and a generic function: the stand-ins are honest."""
    wrong = snippet_of(tmp_path, RULE)  # forgets the derivative of S
    result = run_one(wrong, tmp_path)
    assert result.returncode != 0 and "AssertionError" in result.stderr
    right = {**RULE, "symbols": {**RULE["symbols"], "S": "matrix m m symmetric"}}
    result = run_one(snippet_of(tmp_path, right), tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_hostile_names_and_titles(tmp_path):
    item = {"id": "names", "title": "Title with\nnewline \"quotes\" and # hash\u2028",
            "symbols": {"np": "matrix n n", "f": "matrix n n positive-definite",
                        "rng": "scalar positive", "X": "matrix n n"},
            "of": "rng*tr(np*X*f)", "wrt": "X",
            "derivative": {"numerator": "rng*f*np"}}
    text = snippet_of(tmp_path, item)
    assert text.splitlines()[0].startswith("# Check it yourself: names, Title with newline")
    result = run_one(text, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_fixture_twins(tmp_path):
    """The true twins of the fixture catalog pass, their wrong twins fail."""
    identities, _ = load_all([ROOT / "tests" / "fixtures" / "valid"])
    snippets = {i.id: snippet(prepare(i)) for i in identities}
    results = run_snippets({k: v for k, v in snippets.items() if v}, tmp_path)
    assert results and all(v == "ok" for v in results.values()), results
