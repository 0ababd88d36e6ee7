"""The machine derivation of each identity in the catalog document (gen/symbolic/catalog.py,
gen/publish/export.py): derived forms, steps, agreement with the given forms; derived once and
cached by content."""

from __future__ import annotations

import json

from matderiv.check.verify import Verdict
from matderiv.symbolic import catalog as C

REQUEST = ("quad", "Quadratic form", {"x": "vector n", "A": "matrix n n"}, "x.T*A*x", "x")


def test_derive_one_gives_forms_steps_and_guarantee():
    d = C.derive_one(REQUEST)
    assert d["status"] == "derived" and d["reason"] is None
    assert d["forms"]["denominator"]["text"] == "(A + A.T)*x"
    assert d["forms"]["numerator"]["latex"]
    assert d["guarantee"] in ("proved", "checked")
    assert d["steps"] and all(set(s) == {"rule", "id", "text"} for s in d["steps"])


def test_a_refusal_says_why():
    d = C.derive_one(("bad", "t", {"x": "vector n"}, "x.T*y", "x"))
    assert d["status"] == "refused" and d["forms"] == {} and d["reason"]


def _verdict(status, **ok):
    forms = {k: {"given": True, "ok": v} for k, v in ok.items()}
    forms["differential"] = {"given": False, "ok": True}
    return Verdict("quad", status, forms=forms)


def test_agreement_per_given_form():
    d = C.derive_one(REQUEST)
    assert C.agreement(d, _verdict("verified", denominator=True)) == {"denominator": True}
    # an erratum: its given form is refuted, so it does not agree with the derivation
    assert C.agreement(d, _verdict("refuted", denominator=False)) == {"denominator": False}
    refused = {"status": "refused"}
    assert C.agreement(refused, _verdict("verified", numerator=True)) == {"numerator": None}


class _Ident:
    def __init__(self, id_, symbols, of, wrt):
        self.id, self.title, self.symbols, self.of, self.wrt = id_, id_, symbols, of, wrt
        self.conditions = []  # format 1.2: shape conditions, none here


def test_derived_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path))
    idents = [_Ident("quad", REQUEST[2], REQUEST[3], REQUEST[4]),
              _Ident("tr", {"X": "matrix n n"}, "tr(X)", "X")]
    first = C.derive_all(idents, jobs=1)
    assert [d["status"] for d in first] == ["derived", "derived"]
    entries = list((tmp_path / "derivations").rglob("*.json"))
    assert len(entries) == 2

    def boom(_):
        raise AssertionError("derived again")

    monkeypatch.setattr(C, "derive_one", boom)  # the workers are forked: they see it too
    assert C.derive_all(idents, jobs=1) == first


def test_a_tampered_cache_entry_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("MATDERIV_CACHE", str(tmp_path))
    ident = _Ident("quad", REQUEST[2], REQUEST[3], REQUEST[4])
    C.derive_all([ident], jobs=1)
    (entry,) = (tmp_path / "derivations").rglob("*.json")
    data = json.loads(entry.read_text())
    data["derivation"]["forms"]["denominator"]["text"] = "2*A*x"
    data["derivation"]["extra"] = 1
    entry.write_text(json.dumps(data))
    (again,) = C.derive_all([ident], jobs=1)
    assert again["forms"]["denominator"]["text"] == "(A + A.T)*x"


def test_every_catalog_record_has_a_derivation(catalog_doc):
    records = catalog_doc["identities"]
    derived = [r for r in records if r["derivation"]["status"] == "derived"]
    assert len(derived) >= 0.99 * len(records)
    for r in records:
        d = r["derivation"]
        # the engine derives the layouts, vec and the differential; it leaves the Hessian
        # and the tied-entries derivative (format 1.2) to the verifier
        given = {k for k, f in r["forms"].items() if f and f["given"]
                 and k not in ("hessian", "symmetric_tied")}
        if r["erratum"]:  # a claim refuted by its shapes alone is shown, never compared
            assert set(d["agrees"]) <= given, r["id"]
        else:
            assert set(d["agrees"]) == given, r["id"]
        if d["status"] == "derived" and not r["erratum"]:
            assert all(d["agrees"].values()), r["id"]
    # an erratum's published form is refuted: it does not agree (some errata keep no form)
    errata = [r for r in derived if r["erratum"] and r["derivation"]["agrees"]]
    assert errata and all(not all(r["derivation"]["agrees"].values()) for r in errata)
