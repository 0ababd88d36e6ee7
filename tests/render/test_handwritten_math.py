"""Inline math in hand-written pages must open and close on one line: the site's math
pass reads `$...$` line by line, so a formula broken across lines is printed raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[2] / "site").glob("*.md"))


def unbalanced(text: str) -> list[int]:
    found, in_code = [], False
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        bare = re.sub(r"`[^`]*`", "", line).replace("$$", "")
        if not in_code and bare.count("$") % 2:
            found.append(number)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_inline_math_stays_on_one_line(page):
    assert unbalanced(page.read_text(encoding="utf-8")) == []


def test_a_formula_broken_across_lines_is_caught():
    assert unbalanced("the form $dL = \\operatorname{tr}(G\nd W)$, and") == [1, 2]
