"""The error registry: every problem matderiv reports has a code and a template here.

One table, so that the docs, the tests (one failing fixture per code) and the messages
cannot drift apart. E1xx schema, E2xx expressions, E3xx shapes make an identity
`invalid`; E4xx verification failures make it `failed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ECHO = 300  # characters of one piece of the user's text quoted in a message
MAX_MESSAGE = 2000  # characters of a whole message
TRUNCATED = "…[truncated]"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(text: object, limit: int | None = MAX_ECHO) -> str:
    """Text a terminal can be trusted with: every character that is not printable
    (control characters and ANSI escapes, DEL, C1 controls, line and paragraph
    separators, bidirectional overrides, lone surrogates, unassigned code points) is
    written as a Python escape (\\x1b, \\u2028), and text longer than `limit`
    characters is cut with the marker `…[truncated]`. The one helper for every message
    matderiv prints, in text and in JSON alike."""
    text = str(text)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escape(c) for c in text)
    return text + TRUNCATED if cut else text


def _escape(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


CODES: dict[str, str] = {
    # E1xx: the file and the schema
    "E100": "YAML syntax error: {detail}",
    "E101": "the file must be a mapping with the single key `identities` holding a list",
    "E102": "an identity must be a mapping, not {kind}",
    "E103": "unknown key `{key}`{hint}",
    "E104": "missing required key `{key}`",
    "E105": "`{key}` must be {expected}",
    "E106": "id `{value}` must match [a-z0-9]+(-[a-z0-9]+)* and have at most 60 characters",
    "E107": "duplicate id `{value}` (first defined at {where})",
    "E108": "duplicate key `{key}` in one mapping",
    "E109": "missing form: {detail}",
    "E110": "bad source entry: {detail}",
    "E111": "`{key}` names `{value}`, which is neither an id being verified nor a catalog id",
    "E112": "`status` must be `erratum`; `corrected_by` needs `status: erratum`",
    "E113": "YAML anchors, aliases and tags are not allowed",
    "E114": "cannot read the file: {detail}",
    "E115": "the YAML is too large or too deeply nested: {detail}",
    "E116": "a number of more than {limit} characters",
    "E117": "text that is not made of characters: {detail}",
    "E118": "unknown reference `{ref}` in `sources` (known: {known})",
    "E120": "bad declaration of `{name}`: {detail}",
    "E121": "bad symbol name `{name}`: {detail}",
    "E122": "`wrt` must name a declared scalar, vector or matrix that depends on nothing: {detail}",
    "E123": "`hessian`: {detail}",
    "E124": "bad condition `{text}`: {detail}",
    "E125": "the conditions cannot be satisfied: {detail}",
    "E126": "`derivative.symmetric_tied` needs {detail}",
    # E2xx: expressions
    "E200": "{where}: cannot parse: {detail}",
    "E201": "{where}: {construct} is not allowed",
    "E202": "{where}: unknown name `{name}`{hint}",
    "E203": "{where}: unknown function `{name}`",
    "E204": "{where}: attribute `.{name}` is not allowed (only `.T`)",
    "E205": "{where}: expression too long or too deeply nested ({detail})",
    "E206": "{where}: bad number: {detail}",
    "E207": "{where}: `{name}` takes {expected}",
    "E208": "{where}: {detail}",
    "E209": "{where}: the size `{name}` may stand for a number, but not in an exponent",
    "E210": "too costly to check: {detail}",
    "E211": "the check exceeded its budget: {detail}",
    # E3xx: shapes
    "E300": "{where}: cannot multiply {left} by {right}",
    "E301": "{where}: cannot add or subtract {left} and {right}",
    "E302": "{where}: `{name}` needs {expected}, got {got}",
    "E303": "{where}: {detail}",
    # E4xx: verification
    "E401": "{form}: shape {got} is not the {layout} shape {expected}",
    "E402": "{form}: differs from the exact derivative at sizes {sizes} "
    "(largest error {error:.3g})",
    "E403": "{form}: differs from the numerical derivative at sizes {sizes} "
    "(relative error {error:.3g})",
    "E404": "could not be checked at any point at sizes {sizes} (none where every "
    "expression is defined and finite): {detail}",
    "E405": "erratum: every given form holds, so the published claim is not refuted",
    "E406": "{form}: the shapes inside the published form do not fit: {detail}",
    "E408": "{form}: undefined at a point where `of` and its derivative are defined (sizes "
    "{sizes}): a form may not narrow the domain of the claim",
    "E407": "{form}: is not linear in {d} (a differential is a sum of terms each with "
    "exactly one differential factor, none inside a nonlinear function)",
}

INVALID_PREFIXES = ("E1", "E2", "E3")
# The one exception to the prefixes: an erratum's published form whose shapes do not fit
# is what the erratum claims, so it refutes the erratum instead of making it invalid.
REFUTES = frozenset({"E406"})


def effect(code: str) -> str:
    """What a problem of this code makes of its identity: invalid, failed or refuted."""
    if code in REFUTES:
        return "refuted"
    return "invalid" if code.startswith(INVALID_PREFIXES) else "failed"


def json_finite(value):
    """JSON has no inf or NaN: such a number (an error that could not be measured) is
    written as null, everywhere a report is printed as JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class Problem:
    """One reported problem, always with the place it comes from."""

    code: str
    message: str
    file: str
    line: int

    def __post_init__(self):
        object.__setattr__(self, "message", safe_text(self.message, MAX_MESSAGE))
        object.__setattr__(self, "file", safe_text(self.file, None))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.message}"

    @property
    def makes_invalid(self) -> bool:
        return effect(self.code) == "invalid"

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "file": self.file, "line": self.line}


def problem(code: str, file: str, line: int, **fields) -> Problem:
    """A problem from its template; the user's text in the fields is escaped and cut."""
    fields = {k: safe_text(v) if isinstance(v, str) else v for k, v in fields.items()}
    return Problem(code, CODES[code].format(**fields), file, line)


class CatalogError(Exception):
    """An expression or shape problem found while reading one key of an identity."""

    def __init__(self, code: str, **fields):
        self.code = code
        self.fields = fields
        super().__init__(CODES[code].format(**fields))
