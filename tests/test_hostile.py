"""Hostile input: code injection, resource bombs and malformed YAML are `invalid`, never run,
never crash `matderiv verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import dump, identity, run_cli, verify_json, write

PWNED = Path("/tmp/pwned")
PWNED2 = Path("/tmp/pwned2")


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "x.__class__",
    "x.__class__.__bases__",
    "x.__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "[i for i in x]",
    "(i for i in x)",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "eval(\"__import__('os').system('touch /tmp/pwned')\")",
    "x; import os",
    "x; __import__('os').system('touch /tmp/pwned')",
    "x\nimport os",
    "x if x else x",
    "getattr(x, 'T')",
    "x[0]",
    "f'{x}'",
    "f'{__import__(\"os\").system(\"touch /tmp/pwned\")}'",
    "(x := 1)",
    "x.T.__dict__",
    "globals()",
    "breakpoint()",
    "print(x)",
    "tr.__globals__",
    "diff.__code__",
    "tr(x=__import__('os'))",
    "9**9**9",
    "(x.T*x)**(10**6)",
    "x.T*x**(2**2**2**2)",
    "2**2**2**2**2*x",
    "1e999",
    "x" * 100_000,
    "(" * 10_000 + "x" + ")" * 10_000,
    "-" * 10_000 + "x",
    "x\0",
    "x @ A",
    "`x`",
    "async_x",
    "await x",
    "yield x",
    "*x",
    "x.__init__.__globals__['os']",
    "'\\x00'",
]
CASES = [pytest.param(h, id=f"h{i:02d}") for i, h in enumerate(HOSTILE)]
SYMBOLS = {"x": "vector n", "A": "matrix n n"}


def hostile_items(text: str) -> list[dict]:
    return [
        identity("in-of", SYMBOLS, text, "x", {"denominator": "2*x"}),
        identity("in-form", SYMBOLS, "x.T*x", "x", {"denominator": text}),
        identity("in-differential", SYMBOLS, "x.T*x", "x", {"denominator": "2*x"}, text),
    ]


@pytest.fixture(autouse=True)
def _nothing_ran():
    for path in (PWNED, PWNED2):
        path.unlink(missing_ok=True)
    yield
    assert not PWNED.exists() and not PWNED2.exists(), "hostile input was executed"


@pytest.mark.parametrize("text", CASES)
def test_hostile_expression_is_invalid(tmp_path, text):
    path = write(tmp_path, dump(*hostile_items(text)))
    code, report = verify_json(path)
    assert code == 1
    statuses = {row["id"]: row["status"] for row in report["identities"]}
    assert statuses == {"in-of": "invalid", "in-form": "invalid", "in-differential": "invalid"}
    for row in report["identities"]:
        assert row["problems"], row
        for p in row["problems"]:
            assert p["code"][:2] in ("E1", "E2", "E3"), p
            assert p["file"] == str(path) and p["line"] >= 1
        assert len(row["message"]) < 2000  # a 100 000-character input is not echoed back


def test_hostile_files_through_the_console_script(tmp_path):
    """The real `matderiv verify --json` process over a folder of hostile files."""
    for i, text in enumerate(HOSTILE):
        write(tmp_path, dump(*hostile_items(text)), name=f"h{i:02d}.yaml")
    result = run_cli("verify", tmp_path, "--json", "--jobs", "1", "--no-cache",
                     env={"MATDERIV_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["total"] == 3 * len(HOSTILE)
    assert report["summary"]["invalid"] == 3 * len(HOSTILE)
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- YAML-level hostility

GOOD = """\
  - id: fine
    title: Fine
    symbols: {x: vector n}
    of: x.T*x
    wrt: x
    derivative: {denominator: 2*x}
"""

LOL = "['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']"
BILLION_LAUGHS = f"a: &a {LOL}\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefghi", "bcdefghij")
) + "identities: [*j]\n"
APPLY = "!!python/object/apply:os.system ['touch /tmp/pwned2']"

YAML_CASES = {
    "python-object-apply": (f"identities:\n  - {APPLY}\n", "E113"),
    "python-object-top": (f"{APPLY}\n", "E113"),
    "python-name": ("identities:\n  - id: !!python/name:os.system\n", "E113"),
    "python-tag-in-value": ("identities:\n" + GOOD.replace(
        "of: x.T*x", f"of: {APPLY}"), "E113"),
    "custom-tag": ("identities:\n" + GOOD.replace("of: x.T*x", "of: !expr x.T*x"), "E113"),
    "billion-laughs": (BILLION_LAUGHS, "E113"),
    "alias-only": ("identities:\n  - *undefined\n", "E113"),
    "merge-key": ("base: &b {title: t}\nidentities:\n  - <<: *b\n", "E113"),
    "duplicate-top-key": ("identities: []\nidentities:\n" + GOOD, "E108"),
    "duplicate-identity-key": ("identities:\n" + GOOD + "    wrt: x\n", "E108"),
    "tab-indentation": ("identities:\n\t- id: x\n", "E100"),
    "unterminated-quote": ("identities:\n  - id: 'x\n", "E100"),
    "empty-file": ("", "E101"),
    "just-a-scalar": ("42\n", "E101"),
    "extra-top-key": ("identities:\n" + GOOD + "extra: 1\n", "E101"),
    "identities-not-list": ("identities: {a: 1}\n", "E101"),
    "raw-nul": ("identities:\n" + GOOD.replace("x.T*x", "x.T*x\0"), "E100"),
    "deep-nesting": ("identities: " + "[" * 5000 + "]" * 5000 + "\n", "E115"),
}


@pytest.mark.parametrize("name", sorted(YAML_CASES))
def test_hostile_yaml_is_invalid(tmp_path, name):
    text, code = YAML_CASES[name]
    path = tmp_path / "h.yaml"
    path.write_text(text, encoding="utf-8")
    exit_code, report = verify_json(path)
    assert exit_code == 1
    codes = [p["code"] for row in report["identities"] for p in row["problems"]]
    assert codes, report
    assert all(row["status"] == "invalid" for row in report["identities"])
    assert code in codes, codes


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(("identities:\n" + GOOD).encode().replace(b"title: Fine", b"title: \xe9\xff"))
    exit_code, report = verify_json(path)
    (row,) = report["identities"]
    assert exit_code == 1 and row["status"] == "invalid"
    assert [p["code"] for p in row["problems"]] == ["E114"]


def test_ten_megabyte_file(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("w") as handle:
        handle.write("identities:\n")
        while handle.tell() < 10_000_000:
            handle.write(GOOD.replace("id: fine", f"id: fine-{handle.tell()}"))
    exit_code, report = verify_json(path)
    (row,) = report["identities"]
    assert exit_code == 1 and row["status"] == "invalid"
    assert [p["code"] for p in row["problems"]] == ["E114"]


def test_unreadable_entries_in_a_folder(tmp_path):
    """A folder named like a YAML file and a dangling symlink: E114, not a crash."""
    write(tmp_path, "identities:\n" + GOOD, name="good.yaml")
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "missing-target.yaml")
    exit_code, report = verify_json(tmp_path)
    assert exit_code == 1
    by_file = {Path(row["file"]).name: row for row in report["identities"]}
    assert by_file["good.yaml"]["status"] == "verified"
    for name in ("folder.yaml", "dangling.yaml"):
        assert by_file[name]["status"] == "invalid"
        assert [p["code"] for p in by_file[name]["problems"]] == ["E114"]


def test_hostile_symbol_names_and_declarations(tmp_path):
    items = [
        identity("n1", {"x": "vector n", "__class__": "scalar"}, "x.T*x", "x",
                 {"denominator": "2*x"}),
        identity("n2", {"x": "vector n", "lambda": "scalar"}, "x.T*x", "x",
                 {"denominator": "2*x"}),
        identity("n3", {"x": "vector __import__('os')"}, "x.T*x", "x", {"denominator": "2*x"}),
        identity("n4", {"x": "vector 99999999999"}, "x.T*x", "x", {"denominator": "2*x"}),
        identity("n5", {"x": "vector n of os.system"}, "x.T*x", "x", {"denominator": "2*x"}),
        identity("n6", {"x": "vector n"}, "x.T*x", "__import__('os')", {"denominator": "2*x"}),
    ]
    path = write(tmp_path, dump(*items))
    _, report = verify_json(path)
    assert {row["id"]: row["status"] for row in report["identities"]} == {
        f"n{i}": "invalid" for i in range(1, 7)}
