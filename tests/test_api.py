"""The notebook API: matderiv.derive and matderiv.verify from the top-level package, and the
examples of its page (site/python-api.md) run as they are written."""

import re
import subprocess
import sys
from pathlib import Path

import matderiv
import pytest

PAGE = Path(__file__).resolve().parents[1] / "site" / "python-api.md"
SYMBOLS = {"x": "vector n", "A": "matrix n n"}


def test_import_stays_light():
    code = ("import sys, matderiv; heavy = [m for m in ('sympy', 'numpy', 'gmpy2', "
            "'matderiv.symbolic', 'matderiv.check') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_derive_from_the_package():
    r = matderiv.derive("x.T*A*x", wrt="x", symbols=SYMBOLS)
    assert r.forms["denominator"] == "(A + A.T)*x"
    assert r.verified and r.guarantee in ("proved", "checked")
    assert isinstance(r, matderiv.Result)


@pytest.mark.parametrize("first", ["matderiv.check.verify", "matderiv.symbolic.api",
                                   "matderiv.pipeline.api"])
def test_the_names_stay_callable_whatever_was_imported_first(first):
    code = (f"import {first}, matderiv\n"
            "from matderiv import derive, verify\n"
            "r = matderiv.derive('tr(X)', wrt='X', symbols='X: matrix n n')\n"
            "c = verify('tr(X)', 'X', 'X: matrix n n', derivative={'numerator': "
            "'eye(n)'})\n"
            "print(r.forms['numerator'], c.status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["eye(n)", "verified"]


def test_verify_a_right_claim():
    c = matderiv.verify("x.T*A*x", wrt="x", symbols=SYMBOLS,
                        derivative={"denominator": "(A + A.T)*x"},
                        differential="x.T*(A + A.T)*dx")
    assert c.status == "verified" and c.ok and c.guarantee == "proved"
    assert c.messages == []


def test_verify_a_wrong_claim():
    c = matderiv.verify("x.T*A*x", wrt="x", symbols="x: vector n; A: matrix n n",
                        derivative={"numerator": "2*x.T*A"})
    assert c.status == "failed" and not c and c.guarantee == ""
    assert [code for code, _ in c.messages] == ["E402"]
    assert "E402" in c.text()


def test_verify_a_malformed_claim_is_invalid_with_the_loader_code():
    c = matderiv.verify("x.T*A*x", wrt="x", symbols=SYMBOLS, derivative={"denominatr": "x"})
    assert c.status == "invalid" and c.messages[0][0] == "E103"
    c = matderiv.verify("x.T*A*", wrt="x", symbols=SYMBOLS, derivative={"denominator": "x"})
    assert c.status == "invalid"


def test_check_html_is_escaped():
    c = matderiv.verify("x.T*A*x", wrt="x", symbols=SYMBOLS,
                        derivative={"denominator": "<b>x</b>"})
    assert c.status == "invalid"
    assert "<b>x</b>" not in c._repr_html_()


def _blocks():
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples():
    assert len(_blocks()) >= 4


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_the_page_examples_run(index):
    block = _blocks()[index]
    exec(compile(block, f"{PAGE.name} block {index + 1}", "exec"), {})  # noqa: S102


def test_derivation_latex_parenthesises_the_left_side_by_precedence():
    """The derivation's LaTeX uses the same left-hand side as the site and the PDFs:
    ∂ log det X/∂X bare, ∂(xᵀAx)/∂x parenthesised."""
    bare = matderiv.derive("log(det(X))", wrt="X", symbols="X: matrix n n").latex()
    assert r"\frac{\partial \log \det" in bare and r"\partial \left(" not in bare
    product = matderiv.derive("x.T*A*x", wrt="x", symbols="x: vector n; A: matrix n n").latex()
    assert r"\frac{\partial \left(" in product
