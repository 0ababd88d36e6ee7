"""Where the files matderiv needs at run time are.

An installed wheel carries them inside the package, under `matderiv/_data/` (the catalog,
templates, the JSON schema, the hand-written site pages and mkdocs.yml, KaTeX's script,
styles and fonts), read through importlib.resources; in a checkout they are the
repository's own top-level folders, so an edit shows at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE = Path(str(resources.files(__package__)))
BUNDLED = PACKAGE / "_data"
REPO = PACKAGE.parent


def data(name: str) -> Path:
    """A top-level file or folder of the project, as installed or as checked out."""
    bundled = BUNDLED / name
    return bundled if bundled.exists() else REPO / name


CATALOG = data("catalog")
TEMPLATES = data("templates")
SCHEMA = data("schema")
SITE_PAGES = data("site")
MKDOCS_YML = data("mkdocs.yml")
KATEX_DIST = BUNDLED / "katex" if (BUNDLED / "katex").exists() else (
    REPO / "node_modules" / "katex" / "dist")
INSTALLED = BUNDLED.exists()
ROOT = BUNDLED if INSTALLED else REPO  # the folder that holds catalog/ (paths in outputs)
DEFAULT_OUT = Path("build") if INSTALLED else REPO / "build"
