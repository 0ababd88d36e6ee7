"""The house: imports point one way. Each room (a folder of the package, or one of the
foundation modules) sits in a layer; a module may import from its own room and the layers
below, never above. The table is the map
(ARCHITECTURE.md draws it); a new module must be placed in it, or this test fails."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gen"

LAYERS = (
    ("foundations", {"errors", "resources", "__init__"}),
    ("catalog", {"catalog"}),      # the format's keys, YAML read safely, permanent ids
    ("lang", {"lang"}),            # parse tree, shapes and layouts, LaTeX, one identity's forms
    ("check", {"check"}),          # exact and float arithmetic, size rule, budgets, verifier
    ("symbolic", {"symbolic"}),    # the derivation engine (its results are checked)
    ("publish", {"publish"}),      # the catalog document, citations, coverage, self-checks
    ("render", {"render"}),        # site and PDFs, from the document only
    ("pipeline", {"pipeline"}),    # build, show, the Python API
    ("commands", {"commands"}),    # the command line and the benchmarks
)
LEVEL = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> set[str]:
    """The package's own top-level modules that a file imports (relative or absolute)."""
    inner = path.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):  # import matderiv.pipeline.build as B
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("matderiv.")}
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            parts = (node.module or "").split(".")
            if parts[0] != "matderiv":
                continue
            found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            continue
        base = list(inner[:-1])[: len(inner) - node.level]
        if node.module:
            found.add((base + node.module.split("."))[0])
        else:
            found |= {(base + [a.name])[0] for a in node.names}
    return found - {"__version__"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).parts[0].removesuffix(".py"), path


def test_every_module_has_a_place():
    assert {top for top, _ in _modules()} <= set(LEVEL), "place new modules in LAYERS"


def test_imports_point_down():
    upward = [f"{path.relative_to(PACKAGE)} imports {target} ({LAYERS[LEVEL[target]][0]}, "
              f"above {LAYERS[LEVEL[top]][0]})"
              for top, path in _modules() for target in _imports(path)
              if target != top and LEVEL[target] > LEVEL[top]]
    assert upward == []


def test_the_check_catches_an_upward_import(tmp_path):
    """The test itself can fail: a rendering module importing the pipeline is caught."""
    fake = PACKAGE / "render" / "_probe_for_test.py"
    fake.write_text("from ..pipeline.build import document\n")
    try:
        assert "pipeline" in _imports(fake)
        fake.write_text("def later():\n    import matderiv.pipeline.build as B\n")
        assert "pipeline" in _imports(fake)  # a plain import, inside a function
        assert LEVEL["pipeline"] > LEVEL["render"]
    finally:
        fake.unlink()
