"""`matderiv show` and `matderiv export`, and the catalog document against its documented
JSON schema (schema/catalog.schema.json, checked by the document's own validator)."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from matderiv.commands.cli import main
from matderiv.pipeline.build import build
from matderiv.publish.document import problems

SCHEMA = ROOT / "schema" / "catalog.schema.json"



# The validator is the document's own (gen/publish/document.py); these tests use it
# on the schema file the build ships.

def validate(value, schema: dict, root: dict, path: str = "$") -> list[str]:
    return problems(value, schema, root, path)


def test_validator_catches_problems():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert validate({}, schema, schema)
    assert validate({"name": "other"}, schema["properties"]["name"], schema)
    bad_id = validate("Not An Id", {"$ref": "#/$defs/id"}, schema)
    assert bad_id and "does not match" in bad_id[0]
    assert validate(True, {"type": "integer"}, schema)


def test_schema_requires_the_guarantee_of_a_verified_record():
    """A verified record says proved or checked; a refuted one has no guarantee."""
    from matderiv.check.verify import Verdict
    from matderiv.publish.export import verification_info

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    release = {"version": "1", "date": "2026-01-01", "site_url": "https://x.org/"}
    ref = {"$ref": "#/$defs/verification"}
    for guarantee in ("proved", "checked"):
        record = verification_info(Verdict("a", "verified", guarantee=guarantee, degree=3,
                                           bound=4), release)
        assert not validate(record, ref, schema), record
        assert record["guarantee"] == guarantee and record["bound"] == 4
    for bad in ("", "maybe"):
        record = verification_info(Verdict("a", "verified", guarantee=bad), release)
        assert validate(record, ref, schema), bad
    refuted = verification_info(Verdict("a", "refuted", failures=[("E402", "no", "x")],
                                        guarantee="checked"), release)
    assert refuted["guarantee"] is None and not validate(refuted, ref, schema)
    refuted["guarantee"] = "proved"
    assert validate(refuted, ref, schema)


def test_build_output_validates_against_schema(tmp_path):
    assert build(tmp_path, only=("catalog.json",)) == 0
    doc = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    errors = validate(doc, schema, schema)
    assert not errors, errors[:20]
    assert doc["identities"] and all(r["snippet"] for r in doc["identities"])
    verified = [r["verification"] for r in doc["identities"] if r["status"] == "verified"]
    assert {v["guarantee"] for v in verified} == {"proved", "checked"}
    for v in verified:
        assert v["bound"] >= 2 and v["degree"] >= 0 and isinstance(v["capped"], bool), v
        assert v["sizes"] and v["numeric_sizes"] and v["points"] > 0, v
        if v["guarantee"] == "proved":
            assert not v["capped"] and v["exact"] == "rational arithmetic", v
            assert any(all(n >= v["bound"] for n in s.values()) for s in v["sizes"]), v


def test_schema_page_documents_every_key():
    """Every key the schema names appears in the schema page."""
    page = (ROOT / "site" / "schema.md").read_text(encoding="utf-8")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    missing = sorted(k for k in keys if f"`{k}`" not in page)
    assert not missing, missing


# ---------------------------------------------------------------- show and export


def test_show_prints_both_layouts_record_and_bibtex(catalog_doc, capsys):
    record = next(r for r in catalog_doc["identities"] if r["forms"]["numerator"]
                  and r["forms"]["denominator"] and not r["erratum"])
    assert main(["show", record["id"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{record['id']}: {record['title']}")
    assert "numerator layout" in out and "denominator layout" in out
    assert record["forms"]["numerator"]["text"] in out
    assert record["forms"]["denominator"]["text"] in out
    assert "Verification:" in out and "status      verified" in out
    assert f"@misc{{{record['id']}," in out
    assert record["permalink"] is None or record["permalink"] in out  # none until a URL is set


def test_show_erratum(catalog_doc, capsys):
    record = next(r for r in catalog_doc["identities"] if r["erratum"])
    assert main(["show", record["id"]]) == 0
    out = capsys.readouterr().out
    assert "ERRATUM" in out and "refuted" in out and record["corrected_by"] in out


def test_show_unknown_id(capsys):
    assert main(["show", "no-such-identity-at-all"]) == 1
    assert "no identity" in capsys.readouterr().err


def test_show_resolves_alias(catalog_doc, capsys, monkeypatch, tmp_path):
    target = catalog_doc["identities"][0]["id"]
    aliases = tmp_path / "aliases.txt"
    aliases.write_text(f"# test\nold-name-of-it {target}\n", encoding="utf-8")
    monkeypatch.setattr("matderiv.catalog.released.ALIASES", aliases)
    monkeypatch.setattr("matderiv.catalog.released.read_aliases.__defaults__", (aliases,))
    monkeypatch.setattr("matderiv.catalog.released.document_aliases.__defaults__", (aliases,))
    assert main(["show", "old-name-of-it"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"`old-name-of-it` was renamed: it is now `{target}`")


def test_export_json_matches_build(tmp_path, capsys):
    assert build(tmp_path, only=("catalog.json", "matderiv.bib")) == 0
    capsys.readouterr()
    assert main(["export", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out == (tmp_path / "catalog.json").read_text(encoding="utf-8")
    assert main(["export", "--format", "bibtex", "-o", str(tmp_path / "x.bib")]) == 0
    assert (tmp_path / "x.bib").read_bytes() == (tmp_path / "matderiv.bib").read_bytes()
    assert main(["export", "-o", str(tmp_path / "x.json")]) == 0
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))["name"] == "matderiv"


def test_export_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--format", "yaml"])
    assert exc.value.code == 2
    assert main(["export", "-o", str(tmp_path / "missing" / "dir" / "x.json")]) == 1
    assert "cannot write" in capsys.readouterr().err
