"""The wheel is the product: built from this checkout, installed on its own into an empty
folder, it verifies the bundled catalog and a user's file, shows, exports and derives, and
no top-level `gen` package comes with it (that name is another project's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

MINE = """identities:
  - id: mine
    title: Quadratic form
    symbols:
      x: vector n
      A: matrix n n
    of: x.T*A*x
    wrt: x
    derivative:
      denominator: (A + A.T)*x
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, unpacked as pip installs it, first on the path of this interpreter
    (which already has the dependencies), run from an empty folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a copy, so that no build leaves anything in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", ".wheel-build", "*.egg-info", "__pycache__", "mathjax"))
    dist = base / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(source)], check=True, cwd=base, timeout=600)
    (wheel,) = dist.glob("matderiv-*.whl")
    target = base / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--target", str(target), str(wheel)], check=True, timeout=600)
    empty = base / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "MATDERIV_CACHE": str(base / "cache")}
    return wheel, target, empty, env


def _run(installed, *args, check=True):
    _, target, empty, env = installed
    proc = subprocess.run([sys.executable, "-m", "matderiv.commands.cli", *args], cwd=empty,
                          env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_the_wheel_holds_the_package_and_its_data_and_no_gen(installed):
    wheel, *_ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith("gen/") for n in names)
    for needed in ("matderiv/commands/cli.py", "matderiv/check/verify.py",
                   "matderiv/publish/document.py", "matderiv/render/katex_render.mjs",
                   "matderiv/_data/catalog/scalar-by-matrix.yaml",
                   "matderiv/_data/catalog/references.yaml",
                   "matderiv/_data/templates/latex/sheet.tex.j2",
                   "matderiv/_data/schema/catalog.schema.json", "matderiv/_data/mkdocs.yml"):
        assert needed in names, needed


def test_installed_commands_work_from_an_empty_folder(installed):
    _, target, empty, _ = installed
    out = _run(installed, "verify", "--id", "grad-quadratic-form", "--explain").stdout
    assert "1 verified" in out and "proved" in out
    (empty / "mine.yaml").write_text(MINE)
    assert "1 verified" in _run(installed, "verify", "mine.yaml").stdout
    assert "mine" in _run(installed, "show", "mine", "--file", "mine.yaml").stdout
    derived = _run(installed, "derive", "--of", "x.T*A*x", "--wrt", "x", "--symbols",
                   "x: vector n; A: matrix n n").stdout
    assert "(A + A.T)*x" in derived
    proc = _run(installed, "no-such-command", check=False)
    assert proc.returncode == 2
    imported = subprocess.run([sys.executable, "-c", "import matderiv, sys; "
                               "print(matderiv.__file__)"], cwd=empty, capture_output=True,
                              text=True, env=installed[3], check=True).stdout
    assert imported.startswith(str(target))
    assert not list(empty.glob("*.json"))


def test_installed_export_and_show_of_the_catalog(installed):
    bib = _run(installed, "export", "--format", "bibtex").stdout
    assert "@misc{grad-quadratic-form," in bib
    assert '"identities"' in _run(installed, "export", "--format", "json").stdout
    assert "grad-quadratic-form" in _run(installed, "show", "grad-quadratic-form").stdout
