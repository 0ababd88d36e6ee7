"""LaTeX escaping for the PDF renderer.

Everything that comes from catalog text (titles, ids, tags, symbol words, source labels,
notes) goes through `escape`, the one function that turns untrusted text into TeX that
prints that text literally and cannot run anything. The `latex` math fields come from the
tool's printer and go in as they are, after `check_math` rejects anything that could
reach the file system or redefine TeX (defence in depth: the printer never emits it).

Values of type `TeX` are already safe; the Jinja2 environment escapes every other
string it prints (see `finalize`), so a template cannot forget to escape.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote


class TeX(str):
    """A string that is already TeX: printed by the templates as it is."""


class UnsafeMath(ValueError):
    """A `latex` field that contains something the printer never emits."""


# The document uses OT1 Computer Modern (no cm-super here): its roman font has no glyphs
# for these ASCII characters, its typewriter font has them all, at their ASCII codes.
# ($ in roman is \textdollar from TS1, a bitmap font here; the typewriter $ is a Type 1 glyph)
_TT_CHARS = set('\\{}_^~<>|"`$')
_BACKSLASHED = {"#": r"\#", "%": r"\%", "&": r"\&"}

_ACCENTS = {  # combining mark -> LaTeX accent command (OT1 has these accents)
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0308": '"',
    "\u0304": "=", "\u0307": ".", "\u030a": "r", "\u030c": "v", "\u0306": "u",
    "\u030b": "H", "\u0327": "c",
}
_LETTERS = {
    "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "œ": r"\oe{}", "Œ": r"\OE{}",
    "ø": r"\o{}", "Ø": r"\O{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}",
}
_MATH_CHARS = {
    "×": r"\times", "⊗": r"\otimes", "∘": r"\circ", "⊙": r"\odot", "·": r"\cdot",
    "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "→": r"\to",
    "∂": r"\partial", "∇": r"\nabla", "∈": r"\in", "∞": r"\infty", "±": r"\pm",
    "−": "-", "ᵀ": r"^{\top}", "⁻": "^{-}", "¹": "^{1}", "²": "^{2}", "³": "^{3}",
    "⊤": r"\top", "ℝ": r"\mathbb{R}", "∑": r"\sum", "∏": r"\prod", "√": r"\surd",
    "⁺": "^{+}", "ᴴ": r"^{\mathrm{H}}", "←": r"\leftarrow", "∧": r"\wedge", "∫": r"\int",
    # the section sign from the math symbol font: text \S is TS1, a bitmap font here
    "§": r"\mathsection",
}
_MATH_CHARS.update({chr(0x2080 + i): f"_{{{i}}}" for i in range(10)})
_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
          "omicron pi rho varsigma sigma tau upsilon phi chi psi omega").split()
for _i, _name in enumerate(_GREEK):
    if _name not in ("omicron", "varsigma"):
        _MATH_CHARS[chr(0x3B1 + _i)] = "\\" + _name
_MATH_CHARS.update({"Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda",
                    "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma", "Φ": r"\Phi", "Ψ": r"\Psi",
                    "Ω": r"\Omega"})
_TEXT_CHARS = {
    "–": r"\textendash{}", "—": r"\textemdash{}", "‘": "`", "’": "'", "“": "``",
    "”": "''", "…": r"\dots{}", "\u00a0": "~", "€": "EUR", "°": r"\ensuremath{^\circ}",
}


def escape(text: object) -> TeX:
    """Untrusted text -> TeX that prints it literally (OT1 fonts, pdflatex)."""
    if isinstance(text, TeX):
        return text
    text = unicodedata.normalize("NFC", str(text))
    return TeX("".join(_escape_cluster(m.group()) for m in _CLUSTER.finditer(text)))


_CLUSTER = re.compile(r".[\u0300-\u036f]*", re.S)  # a character and its combining marks


def _escape_cluster(cluster: str) -> str:
    """A character with combining marks NFC has no single character for (x̂): accents."""
    if len(cluster) == 1:
        return _escape_char(cluster)
    base, marks = cluster[0], cluster[1:]
    if base.isascii() and base.isalpha() and all(m in _ACCENTS for m in marks):
        return _accented(base, marks)
    return "".join(_escape_char(c) for c in cluster)


def _accented(base: str, marks: str) -> str:
    out = r"\i{}" if base == "i" else base  # dotless i under an accent
    for mark in marks:
        out = "\\%s{%s}" % (_ACCENTS[mark], out)
    return out


def _escape_char(c: str) -> str:
    """One character; ASCII punctuation also loses its ligatures (--, ``, !`)."""
    if c in _TT_CHARS:
        return r"\texttt{\char%d}" % ord(c)
    if c in _BACKSLASHED:
        return _BACKSLASHED[c]
    if c == "-":
        return "-{}"
    if c == "'":
        return "'{}"
    if c in "\t\r\n\f\v":
        return " "
    if " " <= c <= "~":
        return c
    return _escape_unicode(c)


def _escape_unicode(c: str) -> str:
    """Non-ASCII: letters with accents, a few symbols, else a visible code point."""
    if c in _LETTERS:
        return _LETTERS[c]
    if c in _TEXT_CHARS:
        return _TEXT_CHARS[c]
    if c in _MATH_CHARS:
        return r"\ensuremath{%s}" % _MATH_CHARS[c]
    decomposed = unicodedata.normalize("NFD", c)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks):
        return _accented(base, marks)
    if unicodedata.category(c).startswith(("C", "Z")):
        return " "
    return r"\texttt{[U+%04X]}" % ord(c)


_FORBIDDEN = re.compile(
    r"\\(input|include|includeonly|InputIfFileExists|IfFileExists|write|openin|openout|"
    r"closein|closeout|immediate|catcode|lccode|uccode|mathcode|def|edef|gdef|xdef|let|"
    r"futurelet|csname|endcsname|read|readline|special|newcommand|renewcommand|"
    r"providecommand|DeclareRobustCommand|usepackage|RequirePackage|documentclass|"
    r"makeatletter|expandafter|endinput|newwrite|newread|scantokens|jobname|"
    r"pdf[a-zA-Z]*|directlua|shellescape|ShellEscape|verb|url|href)(?![a-zA-Z])"
    # environments only for arrays: filecontents and friends can write files
    r"|\\(begin|end)(?![a-zA-Z])(?!\s*\{(?:[pbvBV]?matrix|smallmatrix|array|cases|aligned)\})"
)


def check_math(latex: object) -> TeX:
    """A printer `latex` field -> TeX math, or raise UnsafeMath.

    Rejects file and output primitives, definitions, catcode changes, `^^` character
    codes (which could spell a backslash), `%` (which would comment out the template's
    closing delimiter) and unbalanced braces (which could close the template's groups).
    """
    if not isinstance(latex, str):
        raise UnsafeMath(f"math must be a string, not {type(latex).__name__}")
    problem = _math_problem(latex)
    if problem:
        raise UnsafeMath(f"{problem} in math {latex[:80]!r}")
    return TeX(latex)


def _math_problem(latex: str) -> str | None:
    """The first reason `latex` is not acceptable math, or None."""
    found = _FORBIDDEN.search(latex)
    if found:
        return f"forbidden command {found.group(0)}"
    for bad, why in (("^^", "character code ^^"), ("%", "comment character %"),
                     ("#", "parameter character #"), ("$", "math shift $"),
                     ("\x00", "NUL character")):
        if bad in latex:
            return why
    depth = 0
    for c in re.sub(r"\\[{}\\]", "", latex):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return "unbalanced }"
    return "unbalanced {" if depth else None


_URL_SAFE = "/:?=.-_~@!,;+()*"


def url(link: object) -> TeX:
    """A permalink -> an argument for \\href: http(s) only, percent-encoded, # and % escaped."""
    text = str(link)
    if not re.match(r"https?://", text):
        raise ValueError(f"not an http(s) URL: {text[:80]!r}")
    base, _, fragment = text.partition("#")
    quoted = quote(base, safe=_URL_SAFE + "%")
    if fragment:
        quoted += "#" + quote(fragment, safe=_URL_SAFE)
    quoted = quoted.replace("~", "%7E").replace("_", "%5F")
    return TeX(quoted.replace("%", r"\%").replace("#", r"\#"))
