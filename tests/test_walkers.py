"""Every walk over a parse tree dispatches through the one Visitor base (lang/expr): each
walker has a rule for every kind of node, a forgotten kind is reported by name, and no
module outside lang/expr dispatches on many node kinds with isinstance chains."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import matderiv
import pytest
from matderiv.lang import expr as E

KINDS = ("Num", "Sym", "Differential", "Size", "Const", "Neg", "Bin", "Transpose", "Call",
         "Apply", "DiffOf")
PACKAGE = Path(matderiv.__file__).parent
MAX_KINDS = 5  # a function testing more node kinds than this is a walker: write a Visitor


def _all_modules():
    for info in pkgutil.walk_packages([str(PACKAGE)], "matderiv."):
        importlib.import_module(info.name)


def _visitors(base=E.Visitor):
    for cls in base.__subclasses__():
        yield cls
        yield from _visitors(cls)


def test_the_node_kinds_are_the_parse_tree_classes():
    found = {name for name, value in vars(E).items()
             if isinstance(value, type) and getattr(value, "__dataclass_fields__", None)
             and value.__module__ == E.__name__ and name not in ("Context",)}
    assert found == set(KINDS)


def test_every_walker_has_a_rule_for_every_kind():
    _all_modules()
    walkers = [cls for cls in _visitors() if cls is not E.Transformer]
    assert len(walkers) >= 12, [w.__name__ for w in walkers]
    missing = {f"{cls.__module__}.{cls.__qualname__}": [k for k in KINDS
                                                         if not hasattr(cls, "_" + k)]
               for cls in walkers}
    assert {k: v for k, v in missing.items() if v} == {}


def test_a_forgotten_kind_is_reported_by_name():
    class Partial(E.Visitor):
        def _Num(self, node):
            return 0

    assert Partial().visit(E.Num(E.Fraction(1))) == 0
    with pytest.raises(TypeError, match="Partial has no rule for Sym"):
        Partial().visit(E.Sym("X"))


def test_the_transformer_rebuilds_what_it_does_not_change():
    class Rename(E.Transformer):
        def _Sym(self, node):
            return E.Sym(node.name.lower())

    tree = E.Bin("*", E.Transpose(E.Sym("A")), E.Call("tr", (E.Neg(E.Sym("B")),)))
    assert E.to_text(Rename().visit(tree)) == "a.T*tr(-b)"


def _kinds_tested(function: ast.AST) -> set[str]:
    kinds = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            for part in ast.walk(node.args[1]):
                name = part.attr if isinstance(part, ast.Attribute) else getattr(part, "id", "")
                if name in KINDS:
                    kinds.add(name)
    return kinds


def isinstance_walkers(source: str) -> list[str]:
    tree = ast.parse(source)
    return [f"{f.name} tests {len(k)} kinds" for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            and len(k := _kinds_tested(f)) > MAX_KINDS]


def test_no_isinstance_chain_walks_a_tree():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "lang" / "expr.py":  # the base and its `children`
            continue
        hits = isinstance_walkers(path.read_text(encoding="utf-8"))
        if hits:
            found[str(path.relative_to(PACKAGE))] = hits
    assert found == {}


def test_the_chain_probe_sees_an_isinstance_walker():
    probe = '''
def shape(node):
    if isinstance(node, E.Num): return 1
    if isinstance(node, E.Sym | E.Size): return 2
    if isinstance(node, E.Neg): return 3
    if isinstance(node, E.Bin): return 4
    if isinstance(node, Call): return 5
    if isinstance(node, E.Apply): return 6
'''
    assert isinstance_walkers(probe) == ["shape tests 7 kinds"]


def test_each_walker_class_keeps_its_own_rules():
    """Rules are looked up once per walker class: a subclass that overrides a rule uses
    its own even after the base class has met that kind, and the base keeps its own."""

    class Base(E.Visitor):
        def _Num(self, node):
            return "base"

    class Child(Base):
        def _Num(self, node):
            return "child"

    one = E.Num(E.Fraction(1))
    assert Base().visit(one) == "base"
    assert Child().visit(one) == "child"
    assert Base().visit(one) == "base"
    with pytest.raises(TypeError, match="Child has no rule for Sym"):
        Child().visit(E.Sym("X"))
