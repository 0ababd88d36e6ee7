"""Output a terminal can trust: control characters and ANSI escapes from a file are
escaped, long echoed text is cut with a marker, in text and in JSON alike."""

from __future__ import annotations

import json

import pytest
from conftest import dump, identity, run_cli, run_main, write
from matderiv.errors import MAX_ECHO, MAX_MESSAGE, TRUNCATED, Problem, problem, safe_text

RAW = ["\x1b[2J\x1b[31mred", "\x07bell", "\x9bc1", "\x7fdel", "line\u2028sep",
       "para\u2029sep", "bidi\u202eevil", "nul\x00", "cr\rlf\n", "tab\t", "\ud800lone"]


@pytest.mark.parametrize("raw", RAW)
def test_safe_text_escapes_what_is_not_printable(raw):
    text = safe_text(raw)
    assert text.isprintable()
    assert safe_text(text) == text  # idempotent: applying it twice changes nothing


def test_safe_text_escapes_readably():
    assert safe_text("a\x1b[31mb\n\u2028") == "a\\x1b[31mb\\n\\u2028"
    assert safe_text("plain ünïcödé × ∂") == "plain ünïcödé × ∂"


def test_safe_text_cuts_with_a_marker():
    assert safe_text("x" * 10, limit=4) == "xxxx" + TRUNCATED
    assert safe_text("x" * MAX_ECHO) == "x" * MAX_ECHO
    assert len(safe_text("x" * 10**6)) == MAX_ECHO + len(TRUNCATED)
    assert safe_text("x" * 10**6, None) == "x" * 10**6


def test_every_problem_is_escaped_and_cut():
    p = problem("E106", "f\x1b.yaml", 3, value="\x1b]0;title\x07" + "y" * 10**6)
    assert p.message.isprintable() and p.file == "f\\x1b.yaml"
    assert TRUNCATED in p.message and len(p.message) < MAX_ECHO + 200
    direct = Problem("E402", "\x1b[2J" + "z" * 10**5, "f.yaml", 1)  # as the verifier makes
    assert direct.message.isprintable() and len(direct.message) <= MAX_MESSAGE + 20
    assert str(direct).isprintable()


HOSTILE = [
    identity("\x1b[2Jid", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"}),
    identity("ansi-in-of", {"x": "vector n"}, "x.T*x\x1b[31m", "x", {"denominator": "2*x"}),
    identity("name-in-of", {"x": "vector n"}, "x.T*y\u202e", "x", {"denominator": "2*x"}),
    identity("long-id-" + "a" * 100_000, {"x": "vector n"}, "x.T*x", "x",
             {"denominator": "2*x"}),
    identity("long-name", {"x": "vector n"}, "x.T*x + " + "y" * 9_000, "x",
             {"denominator": "2*x"}),
    identity("long-key", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"},
             **{"k\x1b" * 100_000: 1}),
]


def hostile_file(tmp_path):
    return write(tmp_path, dump(*HOSTILE), name="e\x1b[31mvil.yaml")


def test_text_output_has_no_control_characters_and_no_huge_lines(tmp_path):
    path = hostile_file(tmp_path)
    assert path.stat().st_size > 300_000
    code, out, err = run_main("verify", path, "--jobs", "1", "--no-cache")
    assert code == 1, err
    for line in (out + err).splitlines():
        assert line.isprintable(), repr(line)
        assert len(line) < MAX_MESSAGE + 500, line[:100]
    assert out.count("INVALID") == len(HOSTILE)
    assert "\\x1b" in out and TRUNCATED in out
    assert "Traceback" not in err


def test_json_output_carries_the_same_escaping(tmp_path):
    path = hostile_file(tmp_path)
    code, out, _ = run_main("verify", path, "--json", "--jobs", "1", "--no-cache")
    assert code == 1
    report = json.loads(out)
    assert len(out) < 100_000  # nothing of the 300 kB of hostile text is echoed whole
    for row in report["identities"]:
        assert row["status"] == "invalid"
        for value in (row["id"] or "", row["file"], row["message"]):
            assert value.isprintable(), repr(value)
        for p in row["problems"]:
            assert p["message"].isprintable() and p["file"].isprintable()


def test_a_yaml_error_quoting_a_control_character(tmp_path):
    path = tmp_path / "raw.yaml"
    path.write_bytes(b"identities:\n  - id: a\x1b[2Jb\n")
    code, out, _ = run_main("verify", path, "--no-cache")
    assert code == 1 and "\x1b" not in out and "E100" in out


def test_no_warning_quotes_the_users_text(tmp_path):
    item = identity("odd-literal", {"x": "vector n"}, "1if\x1b", "x", {"denominator": "2*x"})
    path = write(tmp_path, dump(item))
    result = run_cli("verify", path, "--no-cache", "--jobs", "1",
                     env={"MATDERIV_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 1
    assert "SyntaxWarning" not in result.stderr, result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def test_explain_output_is_escaped_too(tmp_path):
    item = identity("a\x1b[31mb", {"x": "vector n"}, "x.T*x", "x", {"denominator": "2*x"})
    path = write(tmp_path, dump(item))
    code, out, _ = run_main("verify", path, "--no-cache", "--jobs", "1", "--explain")
    assert code == 1 and "\x1b" not in out and "a\\x1b[31mb" in out
