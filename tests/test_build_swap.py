"""`matderiv build --out DIR`: outputs written beside DIR and swapped in as one; a folder
matderiv did not make is refused, never replaced. The verification and the writers are
stubbed: this is about the folders."""

from __future__ import annotations

import os

import matderiv.pipeline.build as B
import pytest
from conftest import run_main

ONLY = ("catalog.json", "matderiv.bib", "site")


@pytest.fixture
def stub(monkeypatch):
    """Fast stand-ins: a fixed document and writers that record the generation."""
    state = {"generation": 0, "calls": []}
    monkeypatch.setattr(B, "load_verified", lambda *a, **k: ([], []))
    monkeypatch.setattr(B, "document", lambda *a: {"generation": state["generation"]})

    def file_writer(name):
        def write(doc, path):
            state["calls"].append(name)
            path.write_text(f"{name} {doc['generation']}\n", encoding="utf-8")
        return write

    def site_writer(doc, path):
        state["calls"].append("site")
        (path / "sub").mkdir(parents=True)
        (path / "index.html").write_text(f"site {doc['generation']}\n", encoding="utf-8")
        (path / "sub" / "page.html").write_text(f"page {doc['generation']}\n")

    monkeypatch.setattr(B, "_WRITERS", {"catalog.json": file_writer("catalog.json"),
                                        "matderiv.bib": file_writer("matderiv.bib"),
                                        "site": site_writer, "pdf": file_writer("pdf")})
    return state


def build(out, state, generation, only=ONLY):
    state["generation"] = generation
    return B.build(out, only=only)


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".new-" in p.name or ".old-" in p.name)


def test_refuses_a_folder_matderiv_did_not_make(tmp_path, stub, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    (out / "site").mkdir()
    assert build(out, stub, 1) == 2
    assert "not made by matderiv" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt", "site"]
    assert (out / "precious.txt").read_text() == "keep me"
    assert stub["calls"] == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["file", "link"])
def test_refuses_a_file_or_a_link(tmp_path, stub, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x")
    else:
        (tmp_path / "real").mkdir()
        out.symlink_to(tmp_path / "real")
    assert build(out, stub, 1) == 2
    assert stub["calls"] == []


def test_the_cli_refuses_before_verifying(tmp_path, monkeypatch):
    out = tmp_path / "home"
    out.mkdir()
    (out / ".bashrc").write_text("x")
    monkeypatch.setattr(B, "load_verified", lambda *a, **k: pytest.fail("verified"))
    code, _, err = run_main("build", "--out", out, "--only", "catalog.json")
    assert code == 2 and ".bashrc" in err and (out / ".bashrc").exists()


def test_new_and_empty_folders_get_the_marker(tmp_path, stub):
    for out in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        assert build(out, stub, 1) == 0
        assert (out / B.MARKER).is_file()
        assert (out / "catalog.json").read_text() == "catalog.json 1\n"
        assert leftovers(out.parent) == []
        assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode


def test_a_rebuild_replaces_the_folder_in_one_step(tmp_path, stub, monkeypatch):
    out = tmp_path / "out"
    assert build(out, stub, 1) == 0
    first_inode = out.stat().st_ino
    exchanges = []
    real = B._exchange

    def exchange(a, b):
        # while the new outputs are written, the old ones are all still in place
        assert {(out / n).read_text().split()[1] for n in ("catalog.json", "matderiv.bib")} \
            == {"1"}
        exchanges.append((a, b))
        return real(a, b)

    monkeypatch.setattr(B, "_exchange", exchange)
    assert build(out, stub, 2) == 0
    assert len(exchanges) == 1
    assert out.stat().st_ino != first_inode  # a new folder, not files renamed one by one
    for name in ("catalog.json", "matderiv.bib"):
        assert (out / name).read_text() == f"{name} 2\n"
    assert (out / "site" / "sub" / "page.html").read_text() == "page 2\n"
    assert leftovers(tmp_path) == []


def test_only_keeps_the_outputs_not_rebuilt(tmp_path, stub):
    out = tmp_path / "out"
    assert build(out, stub, 1) == 0
    assert build(out, stub, 2, only=("catalog.json",)) == 0
    assert (out / "catalog.json").read_text() == "catalog.json 2\n"
    assert (out / "matderiv.bib").read_text() == "matderiv.bib 1\n"
    assert (out / "site" / "sub" / "page.html").read_text() == "page 1\n"
    assert set(B.json.loads((out / B.MARKER).read_text())["outputs"]) == set(ONLY)


def test_what_matderiv_did_not_make_is_moved_never_deleted(tmp_path, stub, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("MATDERIV_CACHE", str(out / "cache"))
    (out / "cache" / "verdicts").mkdir(parents=True)  # `make verify` ran first
    (out / "cache" / "verdicts" / "v.json").write_text("{}")
    assert build(out, stub, 1) == 0
    (out / "notes.txt").write_text("mine")  # a user's file in a marked folder
    assert build(out, stub, 2) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "cache" / "verdicts" / "v.json").read_text() == "{}"


def test_a_failed_build_changes_nothing(tmp_path, stub, monkeypatch):
    out = tmp_path / "out"
    assert build(out, stub, 1) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(doc, path):
        path.write_text("half-written")
        raise RuntimeError("writer failed half-way")

    monkeypatch.setitem(B._WRITERS, "site", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        build(out, stub, 2)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert leftovers(tmp_path) == []


def test_without_an_atomic_exchange_two_renames_do(tmp_path, stub, monkeypatch):
    out = tmp_path / "out"
    assert build(out, stub, 1) == 0
    monkeypatch.setattr(B, "_exchange", lambda a, b: False)
    assert build(out, stub, 2) == 0
    assert (out / "catalog.json").read_text() == "catalog.json 2\n"
    assert (out / B.MARKER).is_file() and leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["out"]


def test_a_failed_swap_puts_back_what_it_moved(tmp_path, stub, monkeypatch):
    out = tmp_path / "out"
    assert build(out, stub, 1) == 0
    (out / "notes.txt").write_text("mine")

    def broken(a, b):
        raise OSError("no exchange today")

    monkeypatch.setattr(B, "_exchange", broken)
    with pytest.raises(OSError, match="no exchange"):
        build(out, stub, 2)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "catalog.json").read_text() == "catalog.json 1\n"
    assert leftovers(tmp_path) == []
