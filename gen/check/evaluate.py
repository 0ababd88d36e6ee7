"""One walk over an expression tree, with the arithmetic supplied by a backend.

The exact backend (derive.py) and the floating-point backend (numeric.py) implement the
same small set of operations, so both read a formula the same way.
"""

from __future__ import annotations

from fractions import Fraction

from matderiv.lang import expr as E
from matderiv.lang.shapes import integer_exponent


class DomainError(Exception):
    """The expression is undefined at this point (log of a negative, singular inverse...)."""


class KinkError(DomainError):
    """An argument of relu, sign, step or abs is at (or, numerically, too near) 0, where the
    function is not differentiable: the point is redrawn, never counted."""


_RULES: dict = {}  # (Evaluator class, node class) -> the rule (a function of the class)


class Evaluator(E.Visitor):
    """Reads a tree with the arithmetic of `alg` (exact or float); see the module doc."""

    def __init__(self, alg, values: dict, sizes: dict, diffs=None, differentials=None):
        self.alg = alg
        self.values = values
        self.sizes = sizes
        self.diffs = diffs or {}
        self.differentials = differentials or {}

    def __call__(self, node):
        """visit(node) through a table from (walker class, node class) to the rule, filled
        as kinds are met: the rule the Visitor's lookup by name finds, without the lookup
        (a tree is walked once per complex step of the numeric check: half a million
        walks over the catalog)."""
        try:
            rule = _RULES[type(self), type(node)]
        except KeyError:
            rule = getattr(type(self), "_" + type(node).__name__, None)
            if rule is None:
                return self.visit(node)  # the Visitor's own error for a kind with no rule
            _RULES[type(self), type(node)] = rule
        return rule(self, node)

    def _Num(self, node):
        return self.alg.const(node.value)

    def _Size(self, node):
        """A size name standing for its value (format 1.1)."""
        return self.alg.const(Fraction(self.sizes[node.name]))

    def _Const(self, node):
        return self.alg.constant(node.name)

    def _Sym(self, node):
        return self.values[node.name]

    def _Differential(self, node):
        return self.differentials[node.name]

    def _DiffOf(self, node):
        return self.diffs[node.name]

    def _Neg(self, node):
        return self.alg.neg(self(node.arg))

    def _Transpose(self, node):
        return self.alg.transpose(self(node.arg))

    def _Bin(self, node):
        left, right = self(node.left), self(node.right)
        alg = self.alg
        if node.op == "+":
            return alg.add(left, right)
        if node.op == "-":
            return alg.sub(left, right)
        if node.op == "*":
            return alg.mul(left, right)
        if node.op == "/":
            return alg.div(left, right)
        return alg.power(left, right, integer_exponent(node.right, self.sizes))

    def _Call(self, node):
        if node.fn in ("eye", "ones", "zeros", "commutation"):
            dims = [self._size(a) for a in node.args]
            if node.fn == "commutation":
                return self.alg.commutation(*dims)
            if node.fn == "eye":
                return self.alg.eye(dims[0])
            rows, cols = (dims[0], 1) if len(dims) == 1 else dims
            return self.alg.full(rows, cols, 1 if node.fn == "ones" else 0)
        return self.alg.call(node.fn, [self(a) for a in node.args])

    def _size(self, node):
        return int(node.value) if isinstance(node, E.Num) else self.sizes[node.name]

    def _Apply(self, node):
        return self.alg.apply(node.fn, self(node.arg), node.order)
