""""Check it yourself" snippets: every one of the real catalog runs in a plain Python with
NumPy and passes (errata: shows the refutation); a wrong identity's snippet fails."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from conftest import ROOT, dump
from matderiv.catalog.load import load_all, load_file
from matderiv.lang.forms import prepare
from matderiv.publish.snippet import audit, snippet

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
    assert "TITLE = 'Title with\\nnewline \"quotes\" and # hash\\u2028'" in text
    result = run_one(text, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_fixture_twins(tmp_path):
    """The true twins of the fixture catalog pass, their wrong twins fail."""
    identities, _ = load_all([ROOT / "tests" / "fixtures" / "valid"])
    snippets = {i.id: snippet(prepare(i)) for i in identities}
    results = run_snippets({k: v for k, v in snippets.items() if v}, tmp_path)
    assert results and all(v == "ok" for v in results.values()), results


# ---------------------------------------------------------------- hostile text


PAYLOAD = ('"""; import os; os.system("touch PWNED")  # \\n\'\'\'; open("PWNED2", "w").write("x")'
           ' {{ 7*7 }} {% if 1 %}x{% endif %} \\ \\n \\""" \u2028 \u2029 \x1b[2J end')
# Free text may also hold what an expression may not: line breaks, NUL, tabs.
TEXT_PAYLOAD = PAYLOAD + ' \x00 \r\n """\nimport os\n\t'


def hostile_quad(comment: str = PAYLOAD, text: str = TEXT_PAYLOAD, **extra) -> dict:
    """The quadratic form with the payload in every free-text field and in a comment
    after every expression."""
    return {"id": "quad", "title": text, "symbols": {"x": "vector n", "A": "matrix n n"},
            "of": f"x.T*A*x  # {comment}", "wrt": "x",
            "derivative": {"numerator": f"x.T*(A + A.T)  # {comment}"},
            "differential": f"dx.T*(A + A.T)*x  # {comment}",
            "notes": text, "tags": [text], "sources": [{"ref": "cookbook", "section": text}],
            **extra}


def only_the_literals(program: str, title: str) -> str:
    """The program with the id and title literals blanked out."""
    return program.replace(f"TITLE = {title!r}", "TITLE = ''")


@pytest.mark.parametrize("comment", [PAYLOAD, '"""', "\'\'\'", "{{ x }}", "{% x %}", "\\",
                                     "\u2028import os", "\\u2028", '"; import os; "'])
def test_payload_in_comments_and_text_never_reaches_the_code(tmp_path, comment):
    item = hostile_quad(comment)
    program = snippet_of(tmp_path, item)
    assert audit(program) == [] or all("literal" in a for a in audit(program))
    prep = prepare(load_all([tmp_path / "ids.yaml"])[0][0])
    assert audit(program, prep.identity) == []
    tree = ast.parse(program)
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str)}
    assert TEXT_PAYLOAD in literals  # the title, as one literal
    rest = only_the_literals(program, TEXT_PAYLOAD)
    for word in ("os.system", "PWNED", "{{", "{%", "\u2028", "\x00", "\x1b"):
        assert word not in rest, word
    folder = tmp_path / "run"
    folder.mkdir()
    result = run_one(program, folder)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["snippet.py"]  # nothing else made


def test_hostile_erratum_runs_its_refutation_only(tmp_path):
    item = hostile_quad(derivative={"numerator": f"2*x.T*A  # {PAYLOAD}"},
                        differential=None, status="erratum")
    del item["differential"]
    program = snippet_of(tmp_path, item)
    assert audit(program, prepare(load_all([tmp_path / "ids.yaml"])[0][0]).identity) == []
    folder = tmp_path / "run"
    folder.mkdir()
    result = run_one(program, folder)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["snippet.py"]


@pytest.mark.parametrize("injected", [
    "import os", "from os import system", "__import__('os')", "open('x', 'w')",
    "eval('1')", "exec('1')", "getattr(np, 'load')", "np.__dict__", "f.__globals__",
    "x = 'a string matderiv never writes'", "class C:\n    pass", "global TOLERANCE",
    "del TOLERANCE", "(y := 1)", "compile('1', 'f', 'eval')", "breakpoint()",
])
def test_audit_refuses_anything_but_a_check(tmp_path, injected):
    program = snippet_of(tmp_path, TRUE)
    prep = prepare(load_all([tmp_path / "ids.yaml"])[0][0])
    assert audit(program, prep.identity) == []
    assert audit(program + "\n" + injected + "\n", prep.identity)


def test_every_catalog_snippet_passes_the_audit(catalog_doc):
    from types import SimpleNamespace

    for record in catalog_doc["identities"]:
        ident = SimpleNamespace(id=record["id"], title=record["title"])
        assert audit(record["snippet"], ident) == [], record["id"]


def test_a_symbolic_integer_power_runs_as_a_matrix_power(tmp_path):
    """`k: integer` (format 1.2): the program fixes k at a checked value and raises the
    matrix to it (np.linalg.matrix_power, never the entry-by-entry **)."""
    true = {"id": "tr-power-k", "title": "tr(X^k)", "symbols": {"X": "matrix n n", "k": "integer"},
            "of": "tr(X**k)", "wrt": "X", "derivative": {"numerator": "k*X**(k - 1)"}}
    wrong = {**true, "id": "tr-power-k-wrong", "derivative": {"numerator": "k*X.T**(k - 1)"}}
    snippets = {}
    for item in (true, wrong):
        path = tmp_path / f"{item['id']}.yaml"
        path.write_text(json.dumps({"identities": [item]}))
        (ident,), _ = load_file(path)
        snippets[item["id"]] = snippet(prepare(ident))
        assert "np.linalg.matrix_power(" in snippets[item["id"]]
    results = run_snippets(snippets, tmp_path)
    assert results["tr-power-k"] == "ok" and results["tr-power-k-wrong"] != "ok"
