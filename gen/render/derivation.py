"""The machine derivation on each identity card: a collapsed `<details>` on the card, its
content a small HTML file per identity (derivations/<id>.html) that the browser fetches
when it is opened (site/assets/derivation.js), so category pages stay light and the
derivations stay out of the search index. Without scripts the link opens the file.

Everything from the catalog document is escaped here (html.escape), ids are checked.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup
from matderiv.publish.cite import identity_path

FOLDER = "derivations"
LAYOUT_WORDS = {"numerator": "Numerator layout", "denominator": "Denominator layout",
                "vec": "Vec", "vec_denominator": "Vec (denominator layout)",
                "differential": "Differential"}
ORDER = ("numerator", "denominator", "vec", "vec_denominator", "differential")
ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _safe_id(value) -> str | None:
    return str(value) if ID.fullmatch(str(value)) else None


def _agreement(agrees: dict) -> str:
    given = [k for k in ORDER if k in agrees]
    if not given:
        return "The catalog gives no form to compare."
    if all(agrees[k] for k in given):
        return ("The catalog's given forms agree with the derived derivative: "
                + ", ".join(_e(LAYOUT_WORDS[k].lower()) for k in given) + ".")
    wrong = [k for k in given if agrees[k] is False]
    return ("The catalog's given form does not agree with the derived derivative: "
            + ", ".join(_e(LAYOUT_WORDS[k].lower()) for k in wrong) + ".")


def summary(rec: dict) -> str:
    """The one line the collapsed card shows (plain text, escaped by the caller)."""
    d = rec.get("derivation") or {}
    if d.get("status") != "derived":
        return "Machine derivation: the engine cannot derive this identity"
    agrees = d.get("agrees") or {}
    verdict = ("the catalog's forms agree" if all(agrees.values())
               else "the catalog's form does not agree")
    steps = len(d.get("steps") or [])
    return (f"Machine derivation: {steps} step{'s' if steps != 1 else ''}, verified"
            f"{' (' + d['guarantee'] + ')' if d.get('guarantee') else ''}; {verdict}")


def card_html(rec: dict, up: str = "../") -> Markup | None:
    """The raw HTML block for the card: collapsed, its content loaded on demand. A refusal
    is said on the card itself, with the engine's reason. `up`: from the page's folder
    to the site root."""
    d = rec.get("derivation")
    rid = _safe_id(rec.get("id"))
    if not d or rid is None:
        return None
    if d.get("status") != "derived":
        reason = d.get("reason") or "no reason given"
        return Markup(
            '<p class="md-derivation md-derivation--refused"><strong>Machine derivation.'
            "</strong> The engine (<code>matderiv derive</code>) cannot derive this "
            f"identity: {_e(reason)}</p>")
    src = f"{up}{FOLDER}/{rid}.html"
    return Markup(
        f'<details class="abstract md-derivation" data-src="{_e(src)}">'
        f"<summary>{_e(summary(rec))}</summary>"
        f'<div class="md-derivation__body"><p><a href="{_e(src)}">Open the derivation'
        "</a></p></div></details>")


def _step(step: dict, index: dict) -> str:
    target = step.get("id")
    ref = ""
    if target and target in index and _safe_id(target):
        ref = (f' [<a href="../{_e(identity_path(target))}">'
               f"<code>{_e(target)}</code></a>]")
    elif target:
        ref = f" [<code>{_e(target)}</code>]"
    rule, text = _e(step.get("rule", "")), _e(step.get("text", ""))
    return f"<li><em>{rule}</em>{ref}: <code>{text}</code></li>"


def fragment(rec: dict, index: dict) -> str:
    """The derivation of one identity as a small standalone HTML file."""
    d = rec["derivation"]
    rows = "".join(
        f"<tr><td>{_e(LAYOUT_WORDS[k])}</td><td><code>{_e(d['forms'][k]['text'])}</code></td></tr>"
        for k in ORDER if k in d["forms"])
    steps = "".join(_step(s, index) for s in d.get("steps") or [])
    guarantee = f" ({_e(d['guarantee'])})" if d.get("guarantee") else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"robots\" content=\"noindex\">"
        f"<title>Derivation of {_e(rec['id'])}</title></head><body>\n"
        "<div class=\"md-derivation__content\">\n"
        f"<p>Derived by <code>matderiv derive</code> from <code>{_e(rec['of']['text'])}</code>"
        f" by <code>{_e(rec['wrt']['name'])}</code>, and verified{guarantee} before it was "
        f"kept. {_agreement(d.get('agrees') or {})}</p>\n"
        f"<table><thead><tr><th>Layout</th><th>Derived form</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>\n"
        f"<p>Steps:</p><ol class=\"md-derivation__steps\">{steps}</ol>\n"
        "</div>\n</body></html>\n")


def fragments(doc: dict) -> dict[str, str]:
    """derivations/<id>.html for each derived identity."""
    index = {r["id"]: r for r in doc["identities"]}
    return {f"{FOLDER}/{r['id']}.html": fragment(r, index) for r in doc["identities"]
            if (r.get("derivation") or {}).get("status") == "derived" and _safe_id(r["id"])}
