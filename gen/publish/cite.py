"""Citations: one BibTeX entry per identity (key = its permanent id) and one for the whole
catalog. Every value is escaped, so catalog text cannot break the file."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([{}\\%&$#_^~])")
# BibTeX ends a braced value at the brace that balances its opening one, and a backslash
# does not hide a brace from it: `\}` closes the field. So braces are written as
# commands whose own braces balance, and so is every other character TeX treats specially.
_ESCAPES = {"{": r"\textbraceleft{}", "}": r"\textbraceright{}",
            "\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "%": r"\%", "&": r"\&", "$": r"\$", "#": r"\#", "_": r"\_"}


def bib_escape(text: str) -> str:
    """Plain text safe inside a braced BibTeX value: one line, no control characters,
    no unbalanced brace, nothing TeX would read as a command."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group(1)], text)


def identity_path(identity_id: str) -> str:
    """Where an identity's own page is, relative to the site root: `id/<id>/`. The one
    rule for it; renderers call `matderiv.render.site.identity_url`, which returns this."""
    return f"id/{identity_id}/"


def permalink(site_url: str | None, identity_id: str) -> str | None:
    """The identity's permanent URL, or None while no deployment URL is configured
    (`site_url` in catalog/release.yaml or MATDERIV_SITE_URL): cite the id and version."""
    return f"{site_url}{identity_path(identity_id)}" if site_url else None


AUTHOR = "{matderiv contributors}"  # braced: a corporate author, not "contributors, m."


_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")


def _value(name: str, value) -> str:
    if value == AUTHOR:
        return value
    if name == "url" and _PLAIN_URL.fullmatch(str(value)):
        return str(value)  # verbatim for \url and biblatex: `#` must stay `#`
    return bib_escape(value)


def _entry(kind: str, key: str, fields: dict) -> str:
    body = ",\n".join(f"  {name} = {{{_value(name, value)}}}" for name, value in fields.items())
    return f"@{kind}{{{key},\n{body}\n}}\n"


def identity_entry(record: dict, doc: dict) -> str:
    status = record["verification"]["status"]
    year = doc["date"][:4]
    note = (f"Identity {record['id']} of the matderiv catalog, version {doc['version']}; "
            f"{status} by matderiv {record['verification']['tool_version']} "
            f"({record['verification']['exact']}; "
            f"{record['verification']['points']} numeric points)")
    return _entry("misc", record["id"], {
        "title": f"{record['title']} ({record['category'].replace('-', ' ')})",
        "author": AUTHOR, "year": year, "version": doc["version"],
        **({"url": record["permalink"]} if record.get("permalink") else {}), "note": note,
    })


def catalog_entry(doc: dict) -> str:
    return _entry("misc", "matderiv", {
        "title": "matderiv: a verified catalog of matrix derivatives",
        "author": AUTHOR, "year": doc["date"][:4],
        "version": doc["version"],
        **({"url": doc["site_url"]} if doc.get("site_url") else {}),
        "note": f"Catalog version {doc['version']} of {doc['date']}, "
                f"{len(doc['identities'])} identities, each re-derived exactly and checked "
                "numerically",
    })


def bibtex(doc: dict) -> str:
    parts = [catalog_entry(doc)] + [identity_entry(r, doc) for r in doc["identities"]]
    return "\n".join(parts)
