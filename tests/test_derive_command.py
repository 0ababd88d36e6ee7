"""`matderiv derive` (matderiv.commands.derive, called directly) and the Python API."""

from __future__ import annotations

import json
import textwrap

import yaml
from conftest import run_derive as _run
from matderiv.catalog.load import load_file
from matderiv.check.verify import verify_identity
from matderiv.symbolic import derive

FILE = textwrap.dedent("""\
    identities:
      - id: quad
        title: Quadratic form
        symbols: {x: vector n, A: matrix n n}
        of: x.T*A*x
        wrt: x
        tags: [demo]
      - id: axb
        title: A X B
        symbols: {A: matrix p m, X: matrix m n, B: matrix n q}
        of: A*X*B
        wrt: X
      - id: dependent-matrix
        title: not expressible in 2-D
        symbols: {a: vector m, u: vector m of X, X: matrix m n}
        of: a.T*u
        wrt: X
    """)


def test_yaml_output_is_accepted_by_verify(tmp_path, capsys):
    path = tmp_path / "in.yaml"
    path.write_text(FILE)
    code, out, err = _run(["derive", str(path)], capsys)
    assert code == 1  # one refused
    assert "refused dependent-matrix" in err
    data = yaml.safe_load(out)
    ids = [i["id"] for i in data["identities"]]
    assert ids == ["quad", "axb"]
    quad = data["identities"][0]
    assert quad["derivative"] == {"numerator": "x.T*(A + A.T)", "denominator": "(A + A.T)*x"}
    assert quad["tags"] == ["demo"]
    assert data["identities"][1]["derivative"] == {"vec": "kron(B.T, A)"}
    out_path = tmp_path / "out.yaml"
    out_path.write_text(out)
    identities, problems = load_file(out_path)
    assert not problems
    assert all(verify_identity(i).status == "verified" for i in identities)


def test_one_off_text_and_steps(capsys):
    code, out, err = _run(["derive", "--of", "x.T*A*x", "--wrt", "x", "--symbols",
                           "x: vector n; A: matrix n n", "--steps"], capsys)
    assert code == 0, err
    assert "denominator  (A + A.T)*x" in out
    assert "product rule [dt-product-uv]" in out


def test_one_off_json_and_layout(capsys):
    code, out, _ = _run(["derive", "--of", "log(det(X))", "--wrt", "X", "--symbols",
                         "X: matrix n n invertible", "--format", "json", "--layout",
                         "denominator"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["derived"][0]["forms"] == {"denominator": "inv(X).T"}
    assert data["refused"] == []


def test_latex_output(capsys):
    code, out, _ = _run(["derive", "--of", "tr(A*X)", "--wrt", "X", "--symbols",
                         "A: matrix n m; X: matrix m n", "--format", "latex"], capsys)
    assert code == 0
    assert r"\mathbf{A}^{\top}" in out or r"\mathbf{A}" in out


def test_usage_errors(capsys):
    assert _run(["derive"], capsys)[0] == 2
    assert _run(["derive", "--of", "x"], capsys)[0] == 2


def test_refusal_of_a_bad_expression(capsys):
    code, _, err = _run(["derive", "--of", "x.T*y", "--wrt", "x", "--symbols",
                         "x: vector n"], capsys)
    assert code == 1
    assert "refused" in err


def test_api_result_object():
    r = derive("x.T*A*x", wrt="x", symbols={"x": "vector n", "A": "matrix n n"})
    assert r.forms["denominator"] == "(A + A.T)*x"
    assert r.verified and r.guarantee == "proved"
    assert r._repr_latex_().startswith("$$")
    assert "aligned" in r.latex(steps=True)
    assert "trace trick" in r.steps.text()


def test_readable_forms():
    r = derive("norm(X*W - Y)**2", "W", "X: matrix m n; W: matrix n k; Y: matrix m k")
    assert r.forms["denominator"] == "2*X.T*(X*W - Y)"
    r = derive("x.T*inv(S)*x", "S", "x: vector n; S: matrix n n positive-definite")
    assert r.forms["denominator"] == "-inv(S)*x*x.T*inv(S)"
    r = derive("log(det(X))", "X", "X: matrix n n invertible")
    assert r.forms["denominator"] == "inv(X).T"  # the stated convention, never inv(X.T)
    r = derive("diag(x)*A*x", "x", "x: vector n; A: matrix n n")
    assert r.forms["numerator"] == "diag(A*x) + diag(x)*A"
