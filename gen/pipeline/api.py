"""The Python API for notebooks and scripts, re-exported by `import matderiv` on first use.

    >>> import matderiv
    >>> matderiv.derive("x.T*A*x", wrt="x", symbols={"x": "vector n", "A": "matrix n n"})
    >>> matderiv.verify("x.T*A*x", wrt="x", symbols={"x": "vector n", "A": "matrix n n"},
    ...                 derivative={"denominator": "(A + A.T)*x"})

`derive` is gen/symbolic/api.py's. `verify` checks a claim of the user's own: it is
written as a one-identity catalog file and read by the loader (gen/catalog/load.py), so it gets
every check and message a file gets, then judged by the verifier (gen/check/verify.py).
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from matderiv.symbolic.api import derive, parse_symbols

__all__ = ["Check", "derive", "verify"]


@dataclass
class Check:
    """The verifier's answer on one claim."""

    id: str
    status: str  # verified, failed, invalid, refuted
    guarantee: str  # proved, checked, or "" when not verified
    messages: list = field(default_factory=list)  # [(code, message)]
    forms: dict = field(default_factory=dict)  # layout -> {"given", "text", "ok", ...}
    verdict: object = None  # the full gen/check/verify.py Verdict

    @property
    def ok(self) -> bool:
        return self.status == "verified"

    def __bool__(self) -> bool:
        return self.ok

    def text(self) -> str:
        head = self.status + (f" ({self.guarantee})" if self.guarantee else "")
        return "\n".join([head] + [f"  {code}: {message}" for code, message in self.messages])

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        items = "".join(f"<li><code>{html.escape(c)}</code> {html.escape(m)}</li>"
                        for c, m in self.messages)
        head = html.escape(self.status + (f" ({self.guarantee})" if self.guarantee else ""))
        return f"<p><b>{head}</b></p>" + (f"<ul>{items}</ul>" if items else "")


def verify(of: str, wrt: str, symbols, derivative=None, differential: str | None = None,
           *, id: str = "claim", title: str | None = None) -> Check:
    """Verify a claim: d(of)/d(wrt) is `derivative` ({layout: form}, layouts numerator,
    denominator, vec) and/or `differential`, with `symbols` as in the catalog format
    ({"x": "vector n"} or "x: vector n; A: matrix n n")."""
    from matderiv.catalog.load import load_file
    from matderiv.check.verify import problems_of, verify_identity

    item = {"id": id, "title": title or f"Derivative of {of}",
            "symbols": parse_symbols(symbols), "of": of, "wrt": wrt}
    if derivative is not None:
        item["derivative"] = derivative
    if differential is not None:
        item["differential"] = differential
    with tempfile.TemporaryDirectory(prefix="matderiv-claim-") as folder:
        path = Path(folder) / "claim.yaml"
        path.write_text(yaml.safe_dump({"identities": [item]}, sort_keys=False,
                                       allow_unicode=True), encoding="utf-8")
        identities, loose = load_file(path)
        if loose or not identities:
            return Check(id, "invalid", "", [(p.code, p.message) for p in loose])
        ident = identities[0]
        if any(p.makes_invalid for p in ident.problems):
            return Check(id, "invalid", "", [(p.code, p.message) for p in ident.problems])
        verdict = verify_identity(ident)
        problems = problems_of(ident, verdict)
    return Check(id, verdict.status, verdict.guarantee if verdict.status == "verified" else "",
                 [(p.code, p.message) for p in problems], dict(verdict.forms), verdict)
