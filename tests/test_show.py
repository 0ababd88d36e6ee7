"""`matderiv show ID --file FILE [--format text|json|numpy]`: an identity of the user's own
file, with its forms in every layout, its verification record and its self-check program."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import dump, identity, run_main, write

QUAD = identity("quad", {"x": "vector n", "A": "matrix n n"},
                'x.T*A*x  # """; import os; os.system("touch PWNED")', "x",
                {"numerator": "x.T*(A + A.T)  # {{ 7*7 }}"},
                title="Quadratic \x1b[31mform\u2028'''", sources=[{"ref": "cookbook", "eq": 81}])
WRONG = identity("wrong", {"x": "vector n"}, "x.T*x", "x", {"denominator": "x"})
BAD = identity("bad", {"x": "vector n"}, "x.T*y", "x", {"denominator": "2*x"})
TENSOR = identity("tensor", {"X": "matrix m n", "A": "matrix p m"}, "A*X", "X",
                  {"vec": "kron(eye(n), A)"},
                  differential="A*dX")


@pytest.fixture
def path(tmp_path):
    return write(tmp_path, dump(QUAD, WRONG, BAD, TENSOR))


def show(*args):
    return run_main("show", *map(str, args), "--no-cache")


def test_text_has_every_layout_and_the_record(path):
    code, out, err = show("quad", "--file", path)
    assert code == 0, err
    assert out.startswith("quad: Quadratic \\x1b[31mform\\u2028'''\n")
    assert f"scalar-by-vector, {path}:2" in out
    for label in ("numerator layout", "denominator layout", "differential"):
        assert label in out
    assert "(A.T + A)*x" in out and "(derived)" in out
    assert "status      verified" in out and "checked by  matderiv" in out
    assert "\x1b" not in out and "\u2028" not in out
    assert "BibTeX" not in out  # not a catalog identity: nothing to cite


def test_tensor_identity_shows_its_vec_forms(path):
    code, out, _ = show("tensor", "--file", path)
    assert code == 0
    assert "vec (d vec Y / d vec X^T)" in out and "vec, denominator layout" in out


def test_json_is_the_catalog_record(path):
    code, out, _ = show("quad", "--file", path, "--format", "json")
    assert code == 0
    record = json.loads(out)
    assert record["id"] == "quad" and record["status"] == "verified"
    assert {k for k, v in record["forms"].items() if v} == {"numerator", "denominator",
                                                             "differential"}
    assert record["forms"]["numerator"]["given"] and not record["forms"]["denominator"]["given"]
    assert record["verification"]["status"] == "verified"
    assert record["sources"][0]["label"].startswith("Matrix Cookbook")
    assert record["permalink"] is None and record["snippet"].startswith("# Check it yourself")
    assert out.isascii()


def test_numpy_program_runs_its_check_and_nothing_else(path, tmp_path):
    code, out, _ = show("quad", "--file", path, "--format", "numpy")
    assert code == 0
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "check.py").write_text(out, encoding="utf-8")
    result = subprocess.run([sys.executable, "-I", "check.py"], cwd=folder, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert os.listdir(folder) == ["check.py"]


def test_a_failed_identity_is_shown_with_its_problem(path):
    code, out, _ = show("wrong", "--file", path)
    assert code == 1
    assert "status      failed" in out and f"{path}:" in out and "E402" in out
    code, out, _ = show("wrong", "--file", path, "--format", "json")
    assert code == 1 and json.loads(out)["status"] == "failed"


def test_an_invalid_identity_gives_its_problems(path):
    code, out, err = show("bad", "--file", path)
    assert code == 1 and out == "" and "E202" in err and f"{path}:" in err
    code, out, _ = show("bad", "--file", path, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "invalid"
    assert [p["code"] for p in report["problems"]] == ["E202"]
    code, out, err = show("bad", "--file", path, "--format", "numpy")
    assert code == 1 and out == ""


def test_unknown_id_and_missing_file(path, tmp_path):
    code, _, err = show("qaud", "--file", path)
    assert code == 1 and "did you mean quad" in err
    code, _, err = show("quad", "--file", tmp_path / "missing.yaml")
    assert code == 2 and "no such file" in err


def test_an_unreadable_file(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, out, err = show("quad", "--file", fifo)
    assert code == 1 and "E114" in err
    code, out, _ = show("quad", "--file", fifo, "--format", "json")
    assert code == 1 and json.loads(out)["problems"][0]["code"] == "E114"


def test_catalog_identity_as_json_and_numpy(catalog_doc):
    record = next(r for r in catalog_doc["identities"] if not r["erratum"])
    code, out, _ = run_main("show", record["id"], "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(record))
    code, out, _ = run_main("show", record["id"], "--format", "numpy")
    assert code == 0 and out == record["snippet"]
