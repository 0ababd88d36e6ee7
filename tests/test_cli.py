"""`matderiv verify`: exit codes, the --json report of catalog-format.md, every problem
reported, the cache and the process pool."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, dump, identity, run_cli, run_main, verify_json, write
from matderiv.catalog.schema import CATEGORIES

TRUE = identity("true-one", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"})
FALSE = identity("false-one", {"x": "vector n"}, "x.T*x", "x", {"denominator": "x"})
ERRATUM = {**FALSE, "id": "erratum-one", "status": "erratum"}
INVALID = identity("invalid-one", {"x": "vector n"}, "x.T*y", "x", {"denominator": "2*x"})


def _file(tmp_path, *items, name="ids.yaml"):
    return write(tmp_path, dump(*items), name=name)


# ---------------------------------------------------------------- exit codes


@pytest.mark.parametrize("items, code", [
    ([TRUE], 0),
    ([ERRATUM], 0),
    ([TRUE, ERRATUM], 0),
    ([TRUE, FALSE], 1),
    ([TRUE, INVALID], 1),
    ([FALSE], 1),
    ([INVALID], 1),
])
def test_exit_code_from_statuses(tmp_path, items, code):
    assert verify_json(_file(tmp_path, *items))[0] == code


@pytest.mark.parametrize("args", [
    ["verify", "--no-such-flag"],
    ["verify", "{tmp}/missing.yaml"],
    ["verify", "{tmp}/empty-folder"],
    ["verify", "--jobs", "-1", "{tmp}/ids.yaml"],
    ["verify", "--jobs", "two", "{tmp}/ids.yaml"],
    ["no-such-command"],
    [],
])
def test_usage_errors_exit_2(tmp_path, args):
    _file(tmp_path, TRUE)
    (tmp_path / "empty-folder").mkdir()
    code, out, err = run_main(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    assert out == ""
    assert err


def test_usage_error_of_the_console_script(tmp_path):
    result = run_cli("verify", tmp_path / "missing.yaml", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "missing.yaml" in result.stderr


def test_folder_with_only_bibliography_is_a_usage_error(tmp_path):
    (tmp_path / "references.yaml").write_text("cookbook: {title: x}\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    code, _, err = run_main("verify", tmp_path)
    assert code == 2 and "no identity files" in err


def test_console_script_exit_codes_and_json(tmp_path):
    good = _file(tmp_path, TRUE, ERRATUM, name="good.yaml")
    bad = _file(tmp_path, FALSE, name="bad.yaml")
    env = {"MATDERIV_CACHE": str(tmp_path / "cache")}
    ok = run_cli("verify", good, "--json", "--jobs", "1", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["summary"]["verified"] == 1
    failed = run_cli("verify", good, bad, "--json", "--jobs", "1", env=env)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["summary"]["failed"] == 1


# ---------------------------------------------------------------- the JSON report


def test_json_report_structure(tmp_path):
    path = _file(tmp_path, TRUE, FALSE, ERRATUM, INVALID)
    code, report = verify_json(path)
    assert code == 1
    assert set(report) == {"summary", "identities"}
    summary = report["summary"]
    assert summary == {"total": 4, "verified": 1, "refuted": 1, "failed": 1, "invalid": 1}
    rows = report["identities"]
    assert [row["id"] for row in rows] == ["true-one", "false-one", "erratum-one",
                                          "invalid-one"]
    for row, line in zip(rows, (2, 10, 18, 27)):
        assert {"id", "file", "line", "category", "status", "message"} <= set(row)
        assert row["file"] == str(path)
        assert row["line"] == line
        assert isinstance(row["message"], str)
    assert [row["status"] for row in rows] == ["verified", "failed", "refuted", "invalid"]
    assert [row["category"] for row in rows[:3]] == ["scalar-by-vector"] * 3
    assert rows[0]["message"] == ""
    assert rows[1]["message"].startswith(f"{path}:")
    assert "E402" in rows[1]["message"]
    assert "E202" in rows[3]["message"] and "`y`" in rows[3]["message"]


def test_report_lines_point_at_the_identity(tmp_path):
    path = _file(tmp_path, TRUE, FALSE)
    lines = path.read_text().splitlines()
    _, report = verify_json(path)
    for row in report["identities"]:
        assert lines[row["line"] - 1].strip() == f"- id: {row['id']}"
        for problem in row["problems"]:
            assert problem["line"] >= row["line"]


def test_every_problem_is_reported(tmp_path):
    """A file with three broken identities reports all three, and every problem of each."""
    broken = [
        identity("broken-one", {"x": "vector n"}, "x.T*x", "x", {"denominator": "x"}),
        identity("broken-two", {"x": "vector n", "a": "vector n"}, "a.T*x", "x",
                 {"denominator": "a.T"}),
        identity("broken-three", {"x": "vector n"}, "x.T*z", "x", {"denominator": "2*x"},
                 tags="not a list", extra_key=1),
    ]
    _, report = verify_json(_file(tmp_path, TRUE, *broken))
    rows = {row["id"]: row for row in report["identities"]}
    assert rows["true-one"]["status"] == "verified"
    assert rows["broken-one"]["status"] == "failed"
    assert [p["code"] for p in rows["broken-one"]["problems"]] == ["E402"]
    assert rows["broken-two"]["status"] == "failed"
    assert [p["code"] for p in rows["broken-two"]["problems"]] == ["E401"]
    assert rows["broken-three"]["status"] == "invalid"
    assert sorted(p["code"] for p in rows["broken-three"]["problems"]) == [
        "E103", "E105", "E202"]
    assert report["summary"] == {"total": 4, "verified": 1, "refuted": 0, "failed": 2,
                                 "invalid": 1}


def test_schema_and_expression_problems_reported_together(tmp_path):
    item = identity("broken", {"x": "vector n"}, "x.T*z", "x", {"denominator": "2*x"},
                    extra_key=1)
    _, report = verify_json(_file(tmp_path, item))
    (row,) = report["identities"]
    assert sorted(p["code"] for p in row["problems"]) == ["E103", "E202"]


def test_every_form_problem_of_one_identity_is_reported(tmp_path):
    item = identity("two-bad-forms", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x",
                    {"numerator": "x.T*A", "denominator": "2*A*x"}, "dx.T*A*x")
    _, report = verify_json(_file(tmp_path, item))
    (row,) = report["identities"]
    keys = sorted((p["code"], p["line"]) for p in row["problems"])
    assert [k[0] for k in keys] == ["E402", "E402", "E402"]
    assert len({k[1] for k in keys}) == 3  # each at the line of its own form


def test_problems_across_files_are_all_reported(tmp_path):
    a = _file(tmp_path, FALSE, name="a.yaml")
    b = _file(tmp_path, INVALID, name="b.yaml")
    c = tmp_path / "c.yaml"
    c.write_text("identities: [")
    _, report = verify_json(tmp_path)
    files = sorted((row["file"], row["status"]) for row in report["identities"])
    assert files == [(str(a), "failed"), (str(b), "invalid"), (str(c), "invalid")]


def test_duplicate_ids_across_files(tmp_path):
    _file(tmp_path, TRUE, name="a.yaml")
    _file(tmp_path, TRUE, name="b.yaml")
    _, report = verify_json(tmp_path)
    statuses = [(row["file"].rsplit("/", 1)[1], row["status"]) for row in report["identities"]]
    assert statuses == [("a.yaml", "verified"), ("b.yaml", "invalid")]
    assert "E107" in report["identities"][1]["message"]
    assert "a.yaml:2" in report["identities"][1]["message"]


def test_text_report(tmp_path):
    code, out, _ = run_main("verify", _file(tmp_path, TRUE, FALSE), "--jobs", "1")
    assert code == 1
    assert "FAILED false-one" in out
    assert "E402" in out
    assert out.strip().endswith("2 identities: 1 verified, 0 refuted, 1 failed, 0 invalid")


# ---------------------------------------------------------------- cache and jobs


def _mixed(tmp_path):
    items = [
        TRUE, FALSE, ERRATUM, INVALID,
        identity("jacobian", {"x": "vector n", "A": "matrix m n"}, "A*x", "x",
                 {"numerator": "A"}),
        identity("trace", {"X": "matrix m n", "A": "matrix n m"}, "tr(A*X)", "X",
                 {"denominator": "A.T"}),
        identity("wrong-trace", {"X": "matrix n n", "A": "matrix n n"}, "tr(A*X)", "X",
                 {"denominator": "A"}),
        identity("logdet", {"X": "matrix n n positive-definite"}, "log(det(X))", "X",
                 {"denominator": "inv(X)"}),
    ]
    return _file(tmp_path, *items)


def _verdicts(report):
    return [(row["id"], row["status"], [p["code"] for p in row["problems"]])
            for row in report["identities"]]


def test_cache_hits_give_the_same_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path / "cache"))
    path = _mixed(tmp_path)
    _, cold = verify_json(path, cache=False)
    cached_files = list((tmp_path / "cache").rglob("*.json"))
    assert len(cached_files) == 7  # every well-formed identity, not the invalid one
    _, warm = verify_json(path, cache=True)
    _, again = verify_json(path, cache=True)
    assert _verdicts(cold) == _verdicts(warm) == _verdicts(again)
    assert cold["summary"] == warm["summary"]
    assert [r["message"] for r in cold["identities"]] == [r["message"] for r in
                                                          warm["identities"]]


def test_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path / "cache"))
    path = _file(tmp_path, TRUE)
    assert verify_json(path, cache=True)[1]["identities"][0]["status"] == "verified"
    # the same id with a wrong form must not reuse the cached verdict
    _file(tmp_path, {**FALSE, "id": "true-one"})
    assert verify_json(path, cache=True)[1]["identities"][0]["status"] == "failed"


def test_a_corrupt_cache_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path / "cache"))
    path = _file(tmp_path, FALSE)
    verify_json(path, cache=True)
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text('{"status": "verified"')
    _, report = verify_json(path, cache=True)
    assert report["identities"][0]["status"] == "failed"


def test_no_cache_ignores_a_poisoned_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path / "cache"))
    path = _file(tmp_path, FALSE)
    verify_json(path, cache=True)
    for entry in (tmp_path / "cache").rglob("*.json"):
        data = json.loads(entry.read_text())
        data.update(status="verified", failures=[])
        entry.write_text(json.dumps(data))
    assert verify_json(path, cache=True)[1]["identities"][0]["status"] == "failed"
    assert verify_json(path, cache=False)[1]["identities"][0]["status"] == "failed"


def test_jobs_1_and_2_agree(tmp_path):
    path = _mixed(tmp_path)
    _, one = verify_json(path, jobs=1)
    _, two = verify_json(path, jobs=2)
    assert _verdicts(one) == _verdicts(two)
    assert one["summary"] == two["summary"]


def test_categories_are_the_nine(tmp_path):
    _, report = verify_json(FIXTURES / "valid")
    assert {row["category"] for row in report["identities"]} <= set(CATEGORIES)


def test_a_planted_verdict_is_never_believed(tmp_path, monkeypatch):
    """Someone writes `verified` into the cache for a false identity: every entry is
    validated (its key inside, its schema, its id), so the planted one is a miss."""
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path / "cache"))
    false = identity("planted", {"x": "vector n"}, "x.T*x", "x", {"denominator": "3*x"})
    path = write(tmp_path, dump(false))
    assert verify_json(path, cache=True)[1]["identities"][0]["status"] == "failed"
    (entry,) = (tmp_path / "cache").rglob("*.json")
    stored = json.loads(entry.read_text())
    forged = dict(stored["verdict"], status="verified", failures=[])
    for planted in ({"key": stored["key"], "verdict": {**forged, "id": "other"}},
                    {"key": "0" * 64, "verdict": forged},
                    forged,
                    {"key": stored["key"], "verdict": {**forged, "failures": [["x"]]}}):
        entry.write_text(json.dumps(planted))
        code, report = verify_json(path, cache=True)
        assert report["identities"][0]["status"] == "failed", planted
        assert code == 1
    entry.unlink()
    entry.symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "elsewhere.json").write_text(json.dumps(
        {"key": stored["key"], "verdict": forged}))
    assert verify_json(path, cache=True)[1]["identities"][0]["status"] == "failed"


def test_the_cache_key_covers_the_checking_code_only():
    """Every module a verdict depends on (what check/verify.py imports, followed through)
    is hashed, and nothing that only renders."""
    import ast

    from matderiv.check import verify as V

    package = V.Path(V.__file__).parent.parent
    seen, todo = set(), ["check/verify.py"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((package / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("matderiv"):
                parts = node.module.split(".")[1:]
                for alias in node.names:
                    for candidate in ("/".join(parts + [alias.name]) + ".py",
                                      "/".join(parts) + ".py"):
                        if (package / candidate).is_file():
                            todo.append(candidate)
                            break
    assert seen - {"__init__.py"} == set(V.CHECKING_CODE)
    assert not {"lang/latex.py", "publish/export.py", "publish/snippet.py"} & set(V.CHECKING_CODE)
