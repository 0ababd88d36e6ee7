"""Each card shows the machine derivation collapsed, its content a small file loaded when
opened; a refusal is said on the card; everything escaped."""

from __future__ import annotations

import copy
import re
from pathlib import Path

from matderiv.render.derivation import card_html, fragment, fragments


def test_cards_link_their_derivation_file(built_site: Path, sample_doc):
    html = (built_site / "id" / "log-det" / "index.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<details class="abstract md-derivation" data-src="\.\./\.\./derivations/'
                      r'([a-z0-9-]+)\.html"', html)
    assert srcs == ["log-det"]
    for rid in srcs:
        part = (built_site / "derivations" / f"{rid}.html").read_text(encoding="utf-8")
        assert 'class="md-derivation__content"' in part
    # collapsed: the steps are not on the page itself
    assert "md-derivation__steps" not in html
    assert (built_site / "assets" / "derivation.js").exists()
    assert "assets/derivation.js" in html


def test_a_refused_identity_says_so_on_its_card(built_site: Path, sample_doc):
    refused = [r for r in sample_doc["identities"] if r["derivation"]["status"] == "refused"]
    assert refused
    rec = refused[0]
    html = (built_site / "id" / rec["id"] / "index.html").read_text(encoding="utf-8")
    assert "cannot derive this" in html
    assert not (built_site / "derivations" / f"{rec['id']}.html").exists()


def test_derivation_files_stay_out_of_search(built_site: Path):
    index = (built_site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "derivations/" not in index and "md-derivation__steps" not in index


def test_hostile_text_is_escaped(sample_doc):
    rec = copy.deepcopy(next(r for r in sample_doc["identities"]
                             if r["derivation"]["status"] == "derived"))
    evil = '<script>alert(1)</script>"'
    rec["derivation"]["steps"] = [{"rule": evil, "id": evil, "text": evil}]
    rec["derivation"]["forms"]["differential"] = {"text": evil, "latex": evil}
    rec["of"]["text"] = evil
    rec["derivation"]["guarantee"] = evil
    out = fragment(rec, {}) + str(card_html(rec))
    assert "<script>" not in out and "&lt;script&gt;" in out
    refused = copy.deepcopy(rec)
    refused["derivation"].update(status="refused", reason=evil)
    assert "<script>" not in str(card_html(refused))
    bad_id = copy.deepcopy(rec)
    bad_id["id"] = "../../x"
    assert card_html(bad_id) is None
    assert fragments({"identities": [bad_id]}) == {}


def test_a_disagreeing_form_is_named(sample_doc):
    rec = copy.deepcopy(next(r for r in sample_doc["identities"]
                             if r["derivation"]["status"] == "derived"))
    name = next(iter(rec["derivation"]["agrees"]))
    rec["derivation"]["agrees"][name] = False
    assert "does not agree" in fragment(rec, {})
    assert "does not agree" in str(card_html(rec))
