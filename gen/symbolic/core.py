"""What every stage of the engine shares: the context of one derivation (declarations,
the variable, shapes with a cache), the refusal, and products of factors.

A product is `coef * atoms * chain`: a rational coefficient, a monomial of scalar atoms
(1 x 1 subtrees with rational exponents, so norm(x)**-1 * norm(x)**3 merges), and a chain
of non-scalar factors multiplied as matrices. Every stage works on these and on parse
trees of matderiv.lang.expr; nothing here evaluates catalog text.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy
from matderiv.lang import expr as E
from matderiv.lang import shapes as S

ONE = Fraction(1)


class Refused(Exception):
    """The engine cannot derive this: `construct` names what, `reason` says why."""

    def __init__(self, construct: str, reason: str):
        super().__init__(f"{construct}: {reason}")
        self.construct = construct
        self.reason = reason


@dataclass(frozen=True)
class Prod:
    coef: Fraction
    mono: tuple  # ((atom, exponent), ...), canonical order
    chain: tuple  # non-scalar factors, matrix product order

    def scaled(self, coef=ONE, mono=()) -> Prod:
        return Prod(self.coef * coef, mono_mul(self.mono, mono), self.chain)


UNIT = Prod(ONE, (), ())


def mono_mul(a: tuple, b: tuple, power: Fraction = ONE) -> tuple:
    if not b:
        return a
    out = dict(a)
    for atom, e in b:
        out[atom] = out.get(atom, 0) + e * power
    return _canon(out)


def _canon(d: dict) -> tuple:
    items = [(atom, e) for atom, e in d.items() if e != 0]
    items.sort(key=lambda item: E.to_text(item[0]))
    return tuple(items)


def prod_mul(a: Prod, b: Prod) -> Prod:
    return Prod(a.coef * b.coef, mono_mul(a.mono, b.mono), a.chain + b.chain)


class Ctx:
    """One derivation: declarations, the variable, shapes (cached per layout)."""

    def __init__(self, decls: dict, wrt: str):
        self.decls = decls
        self.wrt = wrt
        self.layout = "numerator"
        self._shapes: dict = {}
        self._hasd: dict = {}

    def shape(self, node):
        key = (self.layout, node)
        got = self._shapes.get(key)
        if got is None:
            got = S.infer(node, S.ShapeEnv(self.decls, self.wrt, self.layout, "derived"))
            self._shapes[key] = got
        return got

    def scalar(self, node) -> bool:
        return S.is_scalar(self.shape(node))

    def has_d(self, node) -> bool:
        got = self._hasd.get(node)
        if got is None:
            got = any(isinstance(n, E.Differential) for n in E.walk(node))
            self._hasd[node] = got
        return got

    def decl(self, name: str):
        return self.decls[name]

    def symmetric_symbol(self, name: str) -> bool:
        decl = self.decls[name]
        return decl.kind == "scalar" or bool(
            decl.props & {"symmetric", "positive-definite", "diagonal"})


def size_node(dim):
    """A size as it may be written inside eye/ones/zeros, or None (n*m cannot be)."""
    if isinstance(dim, sympy.Symbol):
        return E.Size(str(dim))
    if isinstance(dim, sympy.Integer) and 1 <= int(dim) <= 64:
        return E.Num(Fraction(int(dim)))
    return None


def eye(ctx: Ctx, dim):
    node = size_node(dim)
    if node is None:
        raise Refused("eye", f"an identity of size {dim} cannot be written in the format")
    return E.Call("eye", (node,))


def ones(ctx: Ctx, rows, cols=S.ONE):
    r = size_node(rows)
    if r is None:
        raise Refused("ones", f"a vector of ones of size {rows} cannot be written")
    if cols == 1:
        return E.Call("ones", (r,))
    c = size_node(cols)
    if c is None:
        raise Refused("ones", f"a matrix of ones of size {rows} x {cols} cannot be written")
    return E.Call("ones", (r, c))


def count(node) -> int:
    return sum(1 for _ in E.walk(node))


def num(value):
    """A rational literal that prints and re-parses exactly (1/3 as 1/3, never 0.333)."""
    value = Fraction(value)
    if value.denominator == 1 or value.denominator in (2, 4, 5, 8, 10):
        return E.Num(value)
    return E.Bin("/", E.Num(Fraction(value.numerator)), E.Num(Fraction(value.denominator)))
