"""`matderiv derive --format numpy`: the self-check program of each derived identity, the
same generator as `matderiv show --format numpy` (gen/publish/snippet.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import run_derive as _run
from matderiv.lang.forms import prepare
from matderiv.publish.snippet import snippet
from matderiv.symbolic import derive
from matderiv.symbolic.api import identity_of


def _python(program: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120)


def test_one_off_program_runs_and_checks_every_derived_form(capsys):
    code, out, err = _run(["derive", "--of", "x.T*A*x", "--wrt", "x", "--symbols",
                           "x: vector n; A: matrix n n", "--format", "numpy"], capsys)
    assert code == 0 and err == ""
    assert "check('denominator layout', (A + A.T) @ x," in out
    assert "check('differential'," in out
    done = _python(out)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_it_is_the_show_generator(capsys):
    result = derive("log(det(X))", "X", "X: matrix n n invertible")
    code, out, _ = _run(["derive", "--of", "log(det(X))", "--wrt", "X", "--symbols",
                         "X: matrix n n invertible", "--format", "numpy"], capsys)
    assert code == 0
    assert out == snippet(prepare(identity_of(result)))


def test_the_program_fails_on_a_wrong_form(capsys):
    _, out, _ = _run(["derive", "--of", "x.T*A*x", "--wrt", "x", "--symbols",
                      "x: vector n; A: matrix n n", "--format", "numpy"], capsys)
    wrong = out.replace("(A + A.T) @ x", "2 * A @ x", 1)
    assert wrong != out
    done = _python(wrong)
    assert done.returncode != 0 and "denominator layout" in done.stderr


def test_a_file_gives_one_program_per_derived_identity_and_lists_refusals(tmp_path, capsys):
    path = tmp_path / "f.yaml"
    path.write_text(textwrap.dedent("""\
        identities:
          - id: quad
            title: Quadratic form
            symbols: {x: vector n, A: matrix n n}
            of: x.T*A*x
            wrt: x
          - id: axb
            title: A X B
            symbols: {A: matrix p m, X: matrix m n, B: matrix n q}
            of: A*X*B
            wrt: X
          - id: nope
            title: undeclared
            symbols: {x: vector n}
            of: x.T*y
            wrt: x
        """), encoding="utf-8")
    code, out, err = _run(["derive", str(path), "--format", "numpy"], capsys)
    assert code == 1 and "refused nope" in err
    assert out.count("IDENTITY = 'quad'") == 1 and out.count("IDENTITY = 'axb'") == 1
    done = _python(out)
    assert done.returncode == 0 and done.stdout.split() == ["ok", "ok"], done.stderr
